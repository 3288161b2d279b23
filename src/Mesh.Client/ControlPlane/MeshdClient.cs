using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.ControlPlane.Contract;
using Mesh.Utilities;

namespace Mesh.ControlPlane;

/// <summary>
/// The one client of meshd's HTTP API: its addresses, tried in turn (a failure moves every user of the client to the
/// next one), the bearer token (never logged), the contract's documents, and full-jitter back-off between failures.
/// Used by the snapshot watcher and by registration.
/// </summary>
internal sealed class MeshdClient : IDisposable
{
    internal static readonly TimeSpan BackoffBase = TimeSpan.FromMilliseconds(100);
    internal static readonly TimeSpan BackoffCap = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait a <c>Retry-After</c> from meshd is followed for; past it, the client tries again anyway.</summary>
    internal static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpClient _http;
    private readonly MeshRandom _random;
    private readonly TimeProvider _time;
    private int _index;

    public MeshdClient(ControlPlaneOptions options, MeshRandom random, TimeProvider time)
    {
        _random = random;
        _time = time;
        Addresses = [.. options.AllAddresses().Select(a => new Uri(a.EndsWith('/') ? a : a + "/", UriKind.Absolute))];
        var handler = new SocketsHttpHandler { ConnectTimeout = s_connectTimeout, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2) };
        if (options.TrustedCertificatesPath is { } trusted && File.Exists(trusted))
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(trusted);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => IsTrusted(roots, certificate, chain, errors);
        }

        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(options.Token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        }
    }

    /// <summary>Gets the addresses of meshd, in the order they are tried; each ends with a slash.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>Gets whether meshd is configured.</summary>
    public bool IsEnabled => Addresses.Count > 0;

    /// <summary>Gets the address requests go to now.</summary>
    public Uri Current => Addresses[(int)((uint)Volatile.Read(ref _index) % (uint)Addresses.Count)];

    /// <summary>Moves to the next address, after a failure of <paramref name="failed"/> (unless another caller moved on already).</summary>
    public void Rotate(Uri failed)
    {
        var index = Volatile.Read(ref _index);
        if (Addresses[(int)((uint)index % (uint)Addresses.Count)] == failed)
        {
            Interlocked.CompareExchange(ref _index, index + 1, index);
        }
    }

    /// <summary>Full jitter: a random wait between 0 and <c>min(cap, base · 2^(failures-1))</c>, so reconnecting clients spread out.</summary>
    public static TimeSpan Backoff(int failures, MeshRandom random) => Utilities.Backoff.FullJitter(failures - 1, BackoffBase, BackoffCap, random);

    /// <summary>
    /// The wait before trying again after <paramref name="failures"/> failures in a row: the jittered back-off, or
    /// longer when meshd asked for it (<c>Retry-After</c> on a 429 or 503, at most <see cref="MaxRetryAfter"/>).
    /// </summary>
    public TimeSpan Backoff(int failures, TimeSpan? retryAfter = null)
    {
        var backoff = Backoff(failures, _random);
        return retryAfter is { } asked && asked > backoff ? (asked < MaxRetryAfter ? asked : MaxRetryAfter) : backoff;
    }

    /// <summary>
    /// <c>GET /v1/snapshot</c>: the whole snapshot, or with <paramref name="since"/> a long poll of up to
    /// <paramref name="wait"/> that ends with the next snapshot or with <c>304</c>.
    /// </summary>
    public async Task<MeshdAnswer<byte[]>> GetSnapshotAsync(long? since, TimeSpan wait, CancellationToken cancellationToken)
    {
        var address = Current;
        var query = since is { } v
            ? $"v1/snapshot?since={v.ToString(CultureInfo.InvariantCulture)}&wait={((int)wait.TotalSeconds).ToString(CultureInfo.InvariantCulture)}"
            : "v1/snapshot";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // meshd answers within the wait plus its 10% jitter; past that, the connection is presumed dead.
        timeout.CancelAfter(wait * 1.1 + TimeSpan.FromSeconds(5));
        using var response = await _http.GetAsync(new Uri(address, query), HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
        var body = response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false) : null;
        return new MeshdAnswer<byte[]>(address, response.StatusCode, body, RetryAfter(response, _time));
    }

    /// <summary><c>PUT /v1/services/{service}/instances/{instanceId}</c>: registers an instance, or renews it when nothing changed.</summary>
    public Task<MeshdAnswer<LeaseDocument>> RegisterAsync(string service, string instanceId, RegistrationRequest registration, CancellationToken cancellationToken) =>
        SendForLeaseAsync(HttpMethod.Put, InstancePath(service, instanceId), JsonContent.Create(registration, ControlPlaneJson.Default.RegistrationRequest), cancellationToken);

    /// <summary><c>POST …/renew</c>: renews an instance's lease; <c>404</c> when its lease lapsed.</summary>
    public Task<MeshdAnswer<LeaseDocument>> RenewAsync(string service, string instanceId, CancellationToken cancellationToken) =>
        RenewAsync(service, instanceId, null, cancellationToken);

    /// <summary>
    /// <c>POST …/renew</c>: renews an instance's lease, with what the instance runs as the body when a
    /// <paramref name="report"/> is given; <c>404</c> when its lease lapsed, <c>400</c> when meshd refuses the report.
    /// </summary>
    public Task<MeshdAnswer<LeaseDocument>> RenewAsync(string service, string instanceId, InstanceReportDocument? report, CancellationToken cancellationToken) =>
        SendForLeaseAsync(
            HttpMethod.Post,
            InstancePath(service, instanceId) + "/renew",
            report is null ? null : JsonContent.Create(report, ControlPlaneJson.Default.InstanceReportDocument),
            cancellationToken);

    /// <summary><c>POST /v1/services/{service}/svid</c>: asks meshd's certificate authority for this workload's X.509-SVID.</summary>
    public async Task<MeshdAnswer<SvidDocument>> RequestSvidAsync(string service, SvidRequest request, CancellationToken cancellationToken)
    {
        var address = Current;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_requestTimeout);
        try
        {
            using var response = await _http.PostAsync(
                new Uri(address, $"v1/services/{Uri.EscapeDataString(service)}/svid"),
                JsonContent.Create(request, ControlPlaneJson.Default.SvidRequest),
                timeout.Token).ConfigureAwait(false);
            var svid = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument, timeout.Token).ConfigureAwait(false) : null;
            return new MeshdAnswer<SvidDocument>(address, response.StatusCode, svid, RetryAfter(response, _time));
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException($"meshd at {address} did not answer within {s_requestTimeout.TotalSeconds:0} s.", ex);
        }
    }

    /// <summary><c>DELETE</c> an instance, at the current address and then at each other one until one answers.</summary>
    /// <exception cref="HttpRequestException">No address answered.</exception>
    public async Task<MeshdAnswer<LeaseDocument>> DeregisterAsync(string service, string instanceId, CancellationToken cancellationToken)
    {
        MeshdAnswer<LeaseDocument>? last = null;
        HttpRequestException? unreachable = null;
        for (var i = 0; i < Addresses.Count; i++)
        {
            var address = Current;
            try
            {
                var answer = await SendForLeaseAsync(HttpMethod.Delete, InstancePath(service, instanceId), null, cancellationToken).ConfigureAwait(false);
                if (answer.IsSuccess || answer.Status == HttpStatusCode.NotFound)
                {
                    return answer;
                }

                last = answer;
            }
            catch (HttpRequestException ex)
            {
                unreachable = ex;
            }

            Rotate(address);
        }

        return last ?? throw unreachable!;
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Whether meshd's certificate chains to one of <paramref name="roots"/> and names the host it was reached at.</summary>
    private static bool IsTrusted(X509Certificate2Collection roots, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    /// <summary>How long meshd asks to wait, on a 429 or a 503: <c>Retry-After</c> in seconds or as a date.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        if (response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable) || response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        return header.Delta ?? (header.Date is { } date ? date - time.GetUtcNow() : null);
    }

    private static string InstancePath(string service, string instanceId) =>
        $"v1/services/{Uri.EscapeDataString(service)}/instances/{Uri.EscapeDataString(instanceId)}";

    private async Task<MeshdAnswer<LeaseDocument>> SendForLeaseAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        var address = Current;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_requestTimeout);
        using var request = new HttpRequestMessage(method, new Uri(address, path)) { Content = content };
        try
        {
            if (content is not null)
            {
                // Buffered, so the body goes with its Content-Length (meshd can refuse one too big before reading it), not chunked.
                await content.LoadIntoBufferAsync(timeout.Token).ConfigureAwait(false);
            }

            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            LeaseDocument? lease = null;
            if (response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.NoContent)
            {
                try
                {
                    lease = await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.LeaseDocument, timeout.Token).ConfigureAwait(false);
                }
                catch (JsonException)
                {
                    // An answer without a readable lease still succeeded; the caller keeps the lease time it knew.
                }
            }

            return new MeshdAnswer<LeaseDocument>(address, response.StatusCode, lease, RetryAfter(response, _time));
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException($"meshd at {address} did not answer within {s_requestTimeout.TotalSeconds:0} s.", ex);
        }
    }
}

/// <summary>What meshd answered: the address asked, the status, the document read from a successful answer, and the wait it asked for.</summary>
internal readonly record struct MeshdAnswer<T>(Uri Address, HttpStatusCode Status, T? Document, TimeSpan? RetryAfter = null)
    where T : class
{
    public bool IsSuccess => (int)Status is >= 200 and < 300;

    /// <summary>Gets whether meshd refused the token: missing, wrong, or not allowed here.</summary>
    public bool IsRefused => Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;
}
