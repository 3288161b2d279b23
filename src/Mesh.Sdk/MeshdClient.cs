using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Mesh.ControlPlane.Contract;

namespace Mesh.Sdk;

/// <summary>
/// A typed client of meshd's HTTP API: services and what their instances run, policies, the snapshot watch, the fleet's
/// golden metrics, authorization checks, status and health. Every call is async and cancellable; a refusal becomes a
/// <see cref="MeshdException"/> of the kind that fits it, a meshd that cannot be reached at any address a
/// <see cref="MeshdUnreachableException"/>. Thread-safe; keep one per meshd.
/// </summary>
/// <example>
/// <code>
/// using var meshd = new MeshdClient(new MeshdClientOptions { Addresses = { new Uri("http://127.0.0.1:7070") }, Token = adminToken });
/// foreach (var service in await meshd.GetServicesAsync())
/// {
///     Console.WriteLine($"{service.Name}: policy v{service.PolicyVersion}, {service.Instances.Count} instance(s), converged: {service.Converged}");
/// }
///
/// var current = await meshd.GetPolicyAsync("orders");
/// using var patch = JsonDocument.Parse("""{ "Retry": { "MaxAttempts": 5 } }""");
/// await meshd.PatchPolicyAsync("orders", patch.RootElement, new PolicyWriteOptions { IfMatch = current.Version });
/// </code>
/// </example>
public sealed class MeshdClient : IDisposable
{
    private const int MaxProblemBytes = 64 * 1024;

    private static readonly TimeSpan s_defaultWait = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri[] _addresses;
    private readonly string? _token;
    private readonly TimeSpan _timeout;
    private readonly int _maxAnswerBytes;
    private int _current;

    /// <summary>Initializes a new instance of the <see cref="MeshdClient"/> class with a connection pool of its own.</summary>
    /// <param name="options">meshd's addresses, the token and the timeout.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public MeshdClient(MeshdClientOptions options)
        : this(new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(20) }) { Timeout = Timeout.InfiniteTimeSpan }, options, ownsHttp: true)
    {
    }

    /// <summary>
    /// Initializes a new instance of the <see cref="MeshdClient"/> class over an <see cref="HttpClient"/> the caller owns
    /// (its handler decides TLS trust and connections); its base address is meshd's when <paramref name="options"/> has none.
    /// </summary>
    /// <param name="http">The client to send requests with; not disposed with this one.</param>
    /// <param name="options">The token, the timeout, and addresses that replace <paramref name="http"/>'s base address.</param>
    /// <exception cref="ArgumentException">An option is invalid, or there is no address at all; the message names it.</exception>
    public MeshdClient(HttpClient http, MeshdClientOptions? options = null)
        : this(http, options ?? new MeshdClientOptions(), ownsHttp: false)
    {
    }

    private MeshdClient(HttpClient http, MeshdClientOptions options, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        _http = http;
        _ownsHttp = ownsHttp;
        try
        {
            _addresses = options.Addresses.Count > 0 ? [.. options.Addresses] : http.BaseAddress is { } baseAddress ? [baseAddress] : [];
            if (_addresses.Length == 0)
            {
                throw new ArgumentException("MeshdClientOptions.Addresses: give at least one address of meshd, such as http://127.0.0.1:7070.", nameof(options));
            }

            foreach (var address in _addresses)
            {
                if (address is null || !address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
                {
                    throw new ArgumentException($"MeshdClientOptions.Addresses: '{address}' is not an absolute http:// or https:// address.", nameof(options));
                }
            }

            if (options.Timeout <= TimeSpan.Zero && options.Timeout != Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentException($"MeshdClientOptions.Timeout: {options.Timeout} is not positive.", nameof(options));
            }

            if (options.MaxResponseBytes <= 0)
            {
                throw new ArgumentException($"MeshdClientOptions.MaxResponseBytes: {options.MaxResponseBytes} is not positive.", nameof(options));
            }

            if (options.Token is { } token && (token.Length == 0 || token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
            {
                throw new ArgumentException("MeshdClientOptions.Token: a token is not empty and has no white space or control character.", nameof(options));
            }
        }
        catch when (ownsHttp)
        {
            http.Dispose();
            throw;
        }

        _token = options.Token;
        _timeout = options.Timeout;
        _maxAnswerBytes = options.MaxResponseBytes;
    }

    /// <summary>Gets the address the client sends to now (it moves to the next one when a request cannot connect).</summary>
    public Uri Address => _addresses[Volatile.Read(ref _current) % _addresses.Length];

    /// <summary>Every service meshd knows, with its instances, what each runs, and its callers (<c>GET /v1/services</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The services, ordered by name.</returns>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<IReadOnlyList<ServiceStatus>> GetServicesAsync(CancellationToken cancellationToken = default)
    {
        var list = await GetAsync("/v1/services", ControlPlaneJson.Default.ServiceListDocument, cancellationToken).ConfigureAwait(false);
        return [.. list.Services.Select(Map)];
    }

    /// <summary>One service (<c>GET /v1/services/{name}</c>).</summary>
    /// <param name="service">The service's name (any case).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The service, its instances and their reports.</returns>
    /// <exception cref="MeshdNotFoundException">meshd knows no such service.</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<ServiceStatus> GetServiceAsync(string service, CancellationToken cancellationToken = default) =>
        Map(await GetAsync($"/v1/services/{Segment(service)}", ControlPlaneJson.Default.ServiceStatusDocument, cancellationToken).ConfigureAwait(false));

    /// <summary>The current policy of every service that has one (<c>GET /v1/policies</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The policies, ordered by service.</returns>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<IReadOnlyList<PolicyRecord>> GetPoliciesAsync(CancellationToken cancellationToken = default)
    {
        var all = await GetAsync("/v1/policies", SdkJson.Default.DictionaryStringPolicyAnswer, cancellationToken).ConfigureAwait(false);
        return [.. all.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new PolicyRecord(p.Key, p.Value.Version, p.Value.Policy, p.Value.UpdatedAt))];
    }

    /// <summary>A service's current policy with its version (<c>GET /v1/policies/{service}</c>).</summary>
    /// <param name="service">The service.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The policy; its <see cref="PolicyRecord.Version"/> is what <see cref="PolicyWriteOptions.IfMatch"/> takes.</returns>
    /// <exception cref="MeshdNotFoundException">The service has no policy.</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<PolicyRecord> GetPolicyAsync(string service, CancellationToken cancellationToken = default) =>
        Map(service, await GetAsync($"/v1/policies/{Segment(service)}", SdkJson.Default.PolicyAnswer, cancellationToken).ConfigureAwait(false));

    /// <summary>Replaces a service's policy (<c>PUT /v1/policies/{service}</c>); with <see cref="PolicyWriteOptions.DryRun"/> only validates it.</summary>
    /// <param name="service">The service (lower case).</param>
    /// <param name="policy">The whole document: a JSON object of the schema of <c>Mesh:Services:{name}</c>.</param>
    /// <param name="options">The expected version and whether it is a dry run.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The version stored (or that would be).</returns>
    /// <exception cref="MeshdValidationException">The document is invalid; <see cref="MeshdException.Errors"/> names each field.</exception>
    /// <exception cref="MeshdConflictException">The <c>If-Match</c> version is no longer current (412).</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public Task<PolicyRecord> PutPolicyAsync(string service, JsonElement policy, PolicyWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        WritePolicyAsync(HttpMethod.Put, $"/v1/policies/{Segment(service)}", service, policy, "application/json", options, cancellationToken);

    /// <summary>Changes a few fields of a service's policy with a JSON merge patch (RFC 7396, <c>PATCH /v1/policies/{service}</c>); <c>null</c> removes a field.</summary>
    /// <param name="service">The service (lower case).</param>
    /// <param name="patch">The merge patch, such as <c>{ "Hedging": null, "Retry": { "MaxAttempts": 5 } }</c>.</param>
    /// <param name="options">The expected version and whether it is a dry run.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The version stored (the current one when the patch changed nothing).</returns>
    /// <exception cref="MeshdNotFoundException">The service has no policy to patch.</exception>
    /// <exception cref="MeshdValidationException">The merged document is invalid.</exception>
    /// <exception cref="MeshdConflictException">The <c>If-Match</c> version is no longer current (412).</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public Task<PolicyRecord> PatchPolicyAsync(string service, JsonElement patch, PolicyWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        WritePolicyAsync(HttpMethod.Patch, $"/v1/policies/{Segment(service)}", service, patch, "application/merge-patch+json", options, cancellationToken);

    /// <summary>Deletes a service's policy: it falls back to defaults, as a new version without a document (<c>DELETE /v1/policies/{service}</c>).</summary>
    /// <param name="service">The service (lower case).</param>
    /// <param name="ifMatch">The version expected to be current, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The new version, whose <see cref="PolicyRecord.Policy"/> is <see langword="null"/>.</returns>
    /// <exception cref="MeshdNotFoundException">The service has no policy.</exception>
    /// <exception cref="MeshdConflictException">The <c>If-Match</c> version is no longer current (412).</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public Task<PolicyRecord> DeletePolicyAsync(string service, long? ifMatch = null, CancellationToken cancellationToken = default) =>
        WritePolicyAsync(HttpMethod.Delete, $"/v1/policies/{Segment(service)}", service, null, null, new PolicyWriteOptions { IfMatch = ifMatch }, cancellationToken);

    /// <summary>Every version of a service's policy, newest first (<c>GET /v1/policies/{service}/history</c>).</summary>
    /// <param name="service">The service.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The versions; a deletion has no <see cref="PolicyRecord.Policy"/>.</returns>
    /// <exception cref="MeshdNotFoundException">The service never had a policy.</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<IReadOnlyList<PolicyRecord>> GetPolicyHistoryAsync(string service, CancellationToken cancellationToken = default)
    {
        var history = await GetAsync($"/v1/policies/{Segment(service)}/history", SdkJson.Default.IReadOnlyListPolicyAnswer, cancellationToken).ConfigureAwait(false);
        return [.. history.Select(r => Map(service, r))];
    }

    /// <summary>Writes an earlier version of a service's policy again, as a new version (<c>POST /v1/policies/{service}/restore/{version}</c>).</summary>
    /// <param name="service">The service (lower case).</param>
    /// <param name="version">The earlier version.</param>
    /// <param name="ifMatch">The version expected to be current, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The new version.</returns>
    /// <exception cref="MeshdNotFoundException">There is no such version.</exception>
    /// <exception cref="MeshdConflictException">The <c>If-Match</c> version is no longer current (412).</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public Task<PolicyRecord> RestorePolicyAsync(string service, long version, long? ifMatch = null, CancellationToken cancellationToken = default) =>
        WritePolicyAsync(HttpMethod.Post, $"/v1/policies/{Segment(service)}/restore/{version.ToString(CultureInfo.InvariantCulture)}", service, null, null, new PolicyWriteOptions { IfMatch = ifMatch }, cancellationToken);

    /// <summary>The current snapshot: every service with its policy and instances, as clients get it (<c>GET /v1/snapshot</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<MeshSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default) =>
        Map(await GetAsync("/v1/snapshot", ControlPlaneJson.Default.SnapshotDocument, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Watches the snapshot by long poll: yields the snapshot after <paramref name="since"/> (at once when there is none or
    /// it is not current), then each new version as meshd makes it, until cancelled.
    /// </summary>
    /// <param name="since">The version already known, or <see langword="null"/> to start with the current snapshot.</param>
    /// <param name="wait">How long one poll waits for a change (0 to 60 s); 30 s when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The snapshots, each newer than the one before.</returns>
    /// <exception cref="MeshdException">meshd refused a poll; the watch ends.</exception>
    /// <example>
    /// <code>
    /// await foreach (var snapshot in meshd.WatchSnapshotsAsync(cancellationToken: stopping))
    /// {
    ///     Console.WriteLine($"version {snapshot.Version}: {snapshot.Services.Count} service(s)");
    /// }
    /// </code>
    /// </example>
    public async IAsyncEnumerable<MeshSnapshot> WatchSnapshotsAsync(long? since = null, TimeSpan? wait = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var poll = wait ?? s_defaultWait;
        if (poll < TimeSpan.Zero || poll > TimeSpan.FromSeconds(60))
        {
            throw new ArgumentOutOfRangeException(nameof(wait), poll, "A poll waits 0 to 60 seconds.");
        }

        var version = since;
        var seconds = poll.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var path = version is { } known ? $"/v1/snapshot?since={known.ToString(CultureInfo.InvariantCulture)}&wait={seconds}" : "/v1/snapshot";
            using var response = await SendAsync(HttpMethod.Get, path, null, null, poll, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotModified)
            {
                continue;
            }

            var snapshot = Map(await ReadAsync(response, ControlPlaneJson.Default.SnapshotDocument, cancellationToken).ConfigureAwait(false));
            version = snapshot.Version;
            yield return snapshot;
        }
    }

    /// <summary>The fleet's golden metrics over the last minute, per service and per caller → service edge (<c>GET /v1/fleet/stats</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The metrics meshd added up from its instances' reports.</returns>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<FleetStats> GetFleetStatsAsync(CancellationToken cancellationToken = default)
    {
        var stats = await GetAsync("/v1/fleet/stats", ControlPlaneJson.Default.FleetStatsDocument, cancellationToken).ConfigureAwait(false);
        return new FleetStats(
            stats.At,
            [.. stats.Services.Select(s => new ServiceMetrics(s.Service, s.Instances, s.Requests, s.RequestsPerSecond, s.SuccessRate, s.P50Ms, s.P95Ms, s.P99Ms))],
            [.. stats.Edges.Select(e => new EdgeMetrics(e.Caller, e.Service, e.Source, e.Requests, e.RequestsPerSecond, e.SuccessRate, e.P50Ms, e.P95Ms, e.P99Ms))]);
    }

    /// <summary>Asks whether a caller would be let in, and by which rule, under the service's stored policy (<c>POST /v1/authorization/check</c>).</summary>
    /// <param name="question">The service, caller, method and path.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The decision and the rule that made it.</returns>
    /// <exception cref="MeshdValidationException">A field of the question is invalid; the exception names it.</exception>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<AuthorizationDecision> CheckAuthorizationAsync(AuthorizationQuestion question, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(question);
        var body = JsonSerializer.Serialize(question, SdkJson.Default.AuthorizationQuestion);
        using var response = await SendAsync(HttpMethod.Post, "/v1/authorization/check", () => new StringContent(body, Encoding.UTF8, "application/json"), null, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, SdkJson.Default.AuthorizationDecision, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>meshd's limits and their use now (<c>GET /v1/status</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The status.</returns>
    /// <exception cref="MeshdException">meshd refused the request.</exception>
    public async Task<MeshdStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var document = await GetAsync("/v1/status", SdkJson.Default.JsonElement, cancellationToken).ConfigureAwait(false);
        var version = document.TryGetProperty("snapshot", out var snapshot) && snapshot.TryGetProperty("version", out var v) && v.TryGetInt64(out var n) ? n : 0;
        return new MeshdStatus(version, document);
    }

    /// <summary>Whether meshd can persist to its store, follows it and sweeps leases (<c>GET /healthz</c>; no token needed).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The checks; a failing meshd (503) is an answer, not an exception.</returns>
    /// <exception cref="MeshdException">meshd answered something else.</exception>
    public Task<MeshdHealth> GetHealthAsync(CancellationToken cancellationToken = default) => HealthAsync("/healthz", cancellationToken);

    /// <summary>The checks of <see cref="GetHealthAsync"/>, plus whether the state is loaded and meshd is not stopping (<c>GET /readyz</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The checks; a meshd that is not ready (503) is an answer, not an exception.</returns>
    /// <exception cref="MeshdException">meshd answered something else.</exception>
    public Task<MeshdHealth> GetReadinessAsync(CancellationToken cancellationToken = default) => HealthAsync("/readyz", cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task<MeshdHealth> HealthAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, null, TimeSpan.Zero, cancellationToken, HttpStatusCode.ServiceUnavailable).ConfigureAwait(false);
        var answer = await ReadAsync(response, SdkJson.Default.HealthAnswer, cancellationToken).ConfigureAwait(false);
        return new MeshdHealth(response.StatusCode == HttpStatusCode.OK && answer.Status == "serving", answer.Checks);
    }

    private async Task<PolicyRecord> WritePolicyAsync(HttpMethod method, string path, string service, JsonElement? body, string? mediaType, PolicyWriteOptions? options, CancellationToken cancellationToken)
    {
        if (body is { } element && element.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("A policy or a merge patch is a JSON object.", method == HttpMethod.Patch ? "patch" : "policy");
        }

        var text = body?.GetRawText();
        if (options?.DryRun == true)
        {
            path += "?dryRun=true";
        }

        using var response = await SendAsync(
            method,
            path,
            text is null ? null : () => new StringContent(text, Encoding.UTF8, mediaType!),
            options?.IfMatch,
            TimeSpan.Zero,
            cancellationToken).ConfigureAwait(false);
        var answer = await ReadAsync(response, SdkJson.Default.PolicyAnswer, cancellationToken).ConfigureAwait(false);
        if (options?.DryRun == true && !answer.DryRun)
        {
            // A meshd from before dry runs ignores the parameter: say plainly that the write was made.
            throw new MeshdException($"meshd at {response.RequestMessage?.RequestUri?.GetLeftPart(UriPartial.Authority)} does not know dry runs: it STORED the policy of '{service}' as version {answer.Version}.");
        }

        return Map(service, answer);
    }

    private async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, null, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, type, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        var body = await ReadBoundedAsync(response, _maxAnswerBytes, cancellationToken).ConfigureAwait(false)
            ?? throw new MeshdException($"meshd's answer to {response.RequestMessage?.RequestUri?.AbsolutePath} is over MeshdClientOptions.MaxResponseBytes ({_maxAnswerBytes} bytes).");
        try
        {
            return JsonSerializer.Deserialize(body, type)
                ?? throw new MeshdException((int)response.StatusCode, "meshd answered null", $"{response.RequestMessage?.RequestUri?.AbsolutePath} answered null instead of a document.", null);
        }
        catch (JsonException e)
        {
            throw new MeshdException($"meshd's answer to {response.RequestMessage?.RequestUri?.AbsolutePath} is not the document expected: {e.Message}", e);
        }
    }

    /// <summary>The body, or <see langword="null"/> when it is longer than <paramref name="limit"/> (what came from the server is bounded before it is parsed).</summary>
    private static async Task<byte[]?> ReadBoundedAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > limit)
        {
            return null;
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
    }

    /// <summary>
    /// Sends to the current address, moving to the next on a failure to connect or a timeout, once round all of them.
    /// A refusal (any status but 2xx, 304 and <paramref name="alsoAccepted"/>) becomes the exception of its kind.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, Func<HttpContent>? content, long? ifMatch, TimeSpan extraTime, CancellationToken cancellationToken, HttpStatusCode? alsoAccepted = null)
    {
        var start = Volatile.Read(ref _current);
        Exception? last = null;
        for (var i = 0; i < _addresses.Length; i++)
        {
            var index = (start + i) % _addresses.Length;
            var address = _addresses[index];
            using var request = new HttpRequestMessage(method, new Uri(address, path)) { Content = content?.Invoke() };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (_token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            }

            if (ifMatch is { } version)
            {
                request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{version.ToString(CultureInfo.InvariantCulture)}\""));
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (_timeout != Timeout.InfiniteTimeSpan)
            {
                timeout.CancelAfter(_timeout + extraTime);
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = new HttpRequestException($"{address.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);
                continue;
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = new TimeoutException($"{address.GetLeftPart(UriPartial.Authority)} did not answer {method} {path} within {_timeout + extraTime}.", e);
                continue;
            }

            Interlocked.CompareExchange(ref _current, index, start);
            if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotModified || response.StatusCode == alsoAccepted)
            {
                return response;
            }

            using (response)
            {
                throw await ProblemAsync(response, cancellationToken).ConfigureAwait(false);
            }
        }

        Interlocked.CompareExchange(ref _current, start + 1, start);
        throw new MeshdUnreachableException(
            $"meshd could not be reached at {string.Join(", ", _addresses.Select(a => a.GetLeftPart(UriPartial.Authority)))}: {last?.Message}",
            last!);
    }

    private static async Task<MeshdException> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var retryAfter = response.Headers.RetryAfter?.Delta;
        string text;
        try
        {
            var bytes = await ReadBoundedAsync(response, MaxProblemBytes, cancellationToken).ConfigureAwait(false);
            text = bytes is null ? string.Empty : Encoding.UTF8.GetString(bytes);
        }
        catch (HttpRequestException)
        {
            text = string.Empty;
        }

        ProblemAnswer? problem = null;
        try
        {
            problem = text.Length > 0 && text[0] == '{' ? JsonSerializer.Deserialize(text, SdkJson.Default.ProblemAnswer) : null;
        }
        catch (JsonException)
        {
        }

        var title = problem?.Title ?? response.ReasonPhrase ?? "Refused";
        var detail = problem is null ? (text.Length == 0 ? null : text.Length > 200 ? text[..200] + "…" : text) : problem.Detail;
        IReadOnlyDictionary<string, IReadOnlyList<string>>? errors = problem?.Errors?.ToDictionary(e => e.Key, e => (IReadOnlyList<string>)e.Value, StringComparer.Ordinal);
        return MeshdException.For(status, title, detail, errors, retryAfter);
    }

    private static string Segment(string service)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        return Uri.EscapeDataString(service);
    }

    private static PolicyRecord Map(string service, PolicyAnswer answer) =>
        new(answer.Service ?? service.ToLowerInvariant(), answer.Version, answer.Policy is { ValueKind: JsonValueKind.Object } p ? p : null, answer.UpdatedAt);

    private static ServiceStatus Map(ServiceStatusDocument s) => new(
        s.Name,
        s.PolicyVersion,
        [.. s.Instances.Select(i => new InstanceStatus(
            i.InstanceId,
            i.Address,
            i.LeaseExpiresAt,
            i.Zone,
            i.Labels ?? new Dictionary<string, string>(),
            i.Weight,
            i.Identity,
            i.Report is { } r ? Map(r) : null,
            i.EjectedBy ?? [],
            i.LeaseRenewedAt))],
        s.Callers ?? [],
        s.Converged);

    private static InstanceReport Map(InstanceReportStatusDocument r) => new(
        r.ReportedAt,
        r.SnapshotVersion,
        r.Converged,
        [.. r.Lagging.Select(l => new PolicyLag(l.Service, l.Runs, l.Current))],
        r.Policies.GroupBy(p => p.Service, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last().PolicyVersion, StringComparer.Ordinal),
        r.OverriddenKeys,
        r.CertificateExpiresAt,
        [.. r.Outbound.Select(Map)],
        [.. r.Inbound.Select(Map)]);

    private static PeerMetrics Map(PeerMetricsDocument p) => new(p.Peer, p.Requests, p.RequestsPerSecond, p.SuccessRate, p.P50Ms, p.P95Ms, p.P99Ms);

    private static MeshSnapshot Map(SnapshotDocument s) => new(
        s.Version,
        s.Services.ToDictionary(
            e => e.Key,
            e => new SnapshotService(
                e.Value.PolicyVersion,
                e.Value.Policy ?? JsonDocument.Parse("{}").RootElement,
                [.. (e.Value.Instances ?? []).Select(i => new SnapshotInstance(i.InstanceId, i.Address, i.Zone, i.Labels ?? new Dictionary<string, string>(), i.Weight, i.Identity))]),
            StringComparer.Ordinal),
        s.TrustBundle?.TrustDomain);
}
