using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.AspNetCore.Registration;
using Mesh.ControlPlane.Contract;
using Mesh.Discovery;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// The operator rotates meshd's root A → A+B → B signs → B only, through meshd's API as docs/control-plane.md tells it,
/// while a meshed client with a certificate from meshd calls a strict server with a certificate from meshd without pause,
/// both renewing every few seconds.
/// </summary>
public sealed class RootRotationTests(ITestOutputHelper output) : IDisposable
{
    private const string TrustDomain = "mesh.local";
    private static readonly TimeSpan s_phase = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _serverCache = new("mesh-root-server-");
    private readonly TempDirectory _clientCache = new("mesh-root-client-");

    public void Dispose()
    {
        _clientCache.Dispose();
        _serverCache.Dispose();
    }

    [Fact]
    public async Task Root_rotation_A_then_A_and_B_then_B_only_under_continuous_mutual_TLS_traffic_fails_no_request_and_no_handshake()
    {
        var clock = Stopwatch.StartNew();
        await using var meshd = await TestMeshd.StartWithIdentityAsync(("Meshd:Identity:MaxTtl", "00:05:00"), ("Meshd:Identity:DefaultTtl", "00:00:08"));
        var (_, paymentsToken) = await meshd.CreateCredentialAsync("payments");
        var (_, ordersToken) = await meshd.CreateCredentialAsync("orders");
        var a = Assert.Single(await AuthoritiesAsync(meshd)).Id;

        // A certificate of orders signed by A that outlives the test, to be presented once A is gone.
        using var ordersApi = TestMeshd.Client(meshd.Address, ordersToken);
        var fromA = await IssueAsync(ordersApi, "orders", "00:03:00");

        await using var server = await StartServerAsync(meshd, paymentsToken);
        using var serverHandshakes = new MetricCollector<long>(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.tls.handshakes");
        var serverHolder = server.App.Services.GetRequiredService<WorkloadCertificate>();
        using var serverInstalls = new Installs(serverHolder);
        await server.App.Services.GetRequiredService<MeshRegistration>().Registered.WaitAsync(TimeSpan.FromSeconds(30));

        // Registered in meshd's registry at https with the identity it presents, which is how the client finds it.
        var snapshot = (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/snapshot", UriKind.Relative), ControlPlaneJson.Default.SnapshotDocument))!;
        var instance = Assert.Single(snapshot.Services["payments"].Instances!);
        Assert.Equal(server.Https().GetLeftPart(UriPartial.Authority), instance.Address);
        Assert.Equal("spiffe://mesh.local/svc/payments", instance.Identity);

        using var client = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "orders",
            ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = ordersToken,
            ["Mesh:ControlPlane:CacheDirectory"] = _clientCache.Path,
            ["Mesh:ControlPlane:WaitTime"] = "00:00:05",
            ["Mesh:Identity:Source"] = "meshd",
            ["Mesh:Identity:CertificateTtl"] = "00:00:08",
            ["Mesh:Identity:RenewalBackoff"] = "00:00:00.200",
            ["Mesh:Identity:MaxRenewalBackoff"] = "00:00:01",
        });
        using var clientHandshakes = new MetricCollector<long>(client.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.identity.client.handshakes");
        await client.StartAsync();
        var clientHolder = client.Services.GetRequiredService<WorkloadCertificate>();
        using var clientInstalls = new Installs(clientHolder);
        var http = client.Client;

        // The certificate kept for the end is good while A is trusted: its refusal at the end is A's removal, nothing else.
        Assert.Equal("spiffe://mesh.local/svc/orders", (await MtlsGetAsync(server, fromA, clientHolder))!.Id);

        // Load: one caller on pooled connections, two that open a new connection (a new handshake) for every request.
        var failures = new ConcurrentQueue<string>();
        long pooled = 0;
        long fresh = 0;
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(
            Loop(async () =>
            {
                (await http.GetFromJsonAsync<Who>("http://payments/who"))!.Id.ShouldBeOrders();
                Interlocked.Increment(ref pooled);
            }),
            Loop(FreshAsync),
            Loop(FreshAsync));

        var b = string.Empty;
        var root = new Dictionary<string, X509Certificate2>();
        try
        {
            // A: traffic flows and both ends renew under A.
            await Eventually.WaitAsync(() => Interlocked.Read(ref pooled) > 0 && Interlocked.Read(ref fresh) > 0, "traffic under A", s_phase);
            await RenewedAsync("renewed under A");

            // 1. Add B: the bundle holds A and B; A still signs. Wait until both ends trust B, and renew once with it.
            using var added = await meshd.Admin.PostAsync(new Uri("/v1/identity/authorities", UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
            b = (await added.Content.ReadFromJsonAsync(ControlPlaneJson.Default.AuthorityDocument))!.Id;
            await Eventually.WaitAsync(() => Roots(serverHolder).SetEquals([a, b]) && Roots(clientHolder).SetEquals([a, b]), "both ends to trust A and B", s_phase);
            await RenewedAsync("renewed under A with A and B trusted");
            root = await RootsAsync(meshd);

            // 2. Activate B: new certificates chain to B. Each end renews twice with it.
            using (var activated = await meshd.Admin.PostAsync(new Uri($"/v1/identity/authorities/{b}/activate", UriKind.Relative), null))
            {
                Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
            }

            await Eventually.WaitAsync(
                () => serverInstalls.Count(s => IssuerOf(s, root) == b) >= 2 && clientInstalls.Count(s => IssuerOf(s, root) == b) >= 2,
                "both ends to renew twice from B",
                s_phase);

            // 3. Every workload renewed: remove A sooner than its certificates' lifetime, as the guide allows with force.
            using (var removed = await meshd.Admin.DeleteAsync(new Uri($"/v1/identity/authorities/{a}?force=true", UriKind.Relative)))
            {
                Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
            }

            await Eventually.WaitAsync(() => Roots(serverHolder).SetEquals([b]) && Roots(clientHolder).SetEquals([b]), "both ends to trust B only", s_phase);
            await RenewedAsync("renewed with B only trusted");
            var freshBefore = Interlocked.Read(ref fresh);
            await Eventually.WaitAsync(() => Interlocked.Read(ref fresh) >= freshBefore + 50, "new connections with B only trusted", s_phase);
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }

        var serverCounts = serverHandshakes.GetMeasurementSnapshot()
            .GroupBy(m => $"{m.Tags["mesh.tls.result"]}/{m.Tags["mesh.tls.reason"]}")
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        var clientCounts = clientHandshakes.GetMeasurementSnapshot()
            .GroupBy(m => (string)m.Tags["mesh.identity.outcome"]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        output.WriteLine(
            $"{clock.Elapsed.TotalSeconds:0.0} s; {pooled + fresh} requests ({pooled} pooled, {fresh} each on a new connection), {failures.Count} failed; " +
            $"server handshakes {string.Join(", ", serverCounts.Select(c => $"{c.Key} {c.Value}"))}; client handshakes {string.Join(", ", clientCounts.Select(c => $"{c.Key} {c.Value}"))}; " +
            $"server certificates {serverInstalls.Describe(root)}; client certificates {clientInstalls.Describe(root)}");

        Assert.Empty(failures);
        Assert.Equal(["accepted/client_certificate"], serverCounts.Keys);
        Assert.Equal(["ok"], clientCounts.Keys);

        // Every request that asked for a new connection had its own handshake, and no other handshake failed or was refused.
        Assert.True(clientCounts["ok"] >= fresh, $"{clientCounts["ok"]} client handshakes for {fresh} new connections");
        Assert.True(serverCounts["accepted/client_certificate"] >= fresh + 1);

        // Each end's certificates: from A until B signs, then from B only; each renewed in every phase.
        foreach (var installs in new[] { serverInstalls, clientInstalls })
        {
            var issuers = installs.Snapshot().Select(s => IssuerOf(s, root)).ToList();
            Assert.All(issuers, issuer => Assert.True(issuer == a || issuer == b, "a certificate chained to neither root"));
            var firstFromB = issuers.IndexOf(b);
            Assert.True(firstFromB >= 3, $"renewals under A before B signs: {string.Join(", ", issuers)}");
            Assert.All(issuers.Skip(firstFromB), issuer => Assert.Equal(b, issuer));
            Assert.True(issuers.Count - firstFromB >= 3, $"renewals from B: {string.Join(", ", issuers)}");
        }

        // At the end a certificate chained to A is refused: by the server's handshake, and by the client's bundle.
        await Assert.ThrowsAsync<HttpRequestException>(() => MtlsGetAsync(server, fromA, clientHolder));
        await Eventually.WaitAsync(
            () => serverHandshakes.GetMeasurementSnapshot().Any(m => m.Tags["mesh.tls.result"] as string == "refused"),
            "the server to count the refusal");

        // HttpClient may try the request again on a new connection; each such handshake is refused for the same reason.
        var refusals = serverHandshakes.GetMeasurementSnapshot().Where(m => m.Tags["mesh.tls.result"] as string == "refused").ToList();
        output.WriteLine($"The certificate from A, presented after A's removal: {refusals.Count} handshake(s) refused, each {string.Join(", ", refusals.Select(m => m.Tags["mesh.tls.reason"]).Distinct())}.");
        Assert.All(refusals, m => Assert.Equal("untrusted", m.Tags["mesh.tls.reason"]));
        Assert.Equal(SvidFailure.Untrusted, new X509SvidValidator(TimeProvider.System).Validate(fromA.Certificate, fromA.Intermediates, clientHolder.Bundle).Failure);

        Task RenewedAsync(string what)
        {
            var server = serverInstalls.Count();
            var client = clientInstalls.Count();
            return Eventually.WaitAsync(() => serverInstalls.Count() > server && clientInstalls.Count() > client, $"both ends {what}", s_phase);
        }

        async Task FreshAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://payments/who");
            request.Headers.ConnectionClose = true;
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            (await response.Content.ReadFromJsonAsync<Who>())!.Id.ShouldBeOrders();
            Interlocked.Increment(ref fresh);
        }

        async Task Loop(Func<Task> send)
        {
            // Bounded by the phases' deadlines: the test stops the load whatever happens.
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await send();
                }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException or MeshEndpointUnavailableException)
                {
                    failures.Enqueue($"{ex.GetType().Name}: {ex.Message}");
                }
            }
        }
    }

    private async Task<TestApp> StartServerAsync(TestMeshd meshd, string token) =>
        await TestApp.StartAsync(
            s =>
            {
                s.AddMeshServer();
                s.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "payments";
                    o.ControlPlane.Address = meshd.Address.ToString();
                    o.ControlPlane.Token = token;
                    o.ControlPlane.CacheDirectory = _serverCache.Path;
                    o.ControlPlane.WaitTime = TimeSpan.FromSeconds(5);
                    o.Identity.Source = IdentitySourceNames.Meshd;
                    o.Identity.CertificateTtl = TimeSpan.FromSeconds(8);
                    o.Identity.RenewalBackoff = TimeSpan.FromMilliseconds(200);
                    o.Identity.MaxRenewalBackoff = TimeSpan.FromSeconds(1);
                    o.Services["payments"] = new MeshServiceOptions { Mtls = { Mode = MtlsModeNames.Strict } };
                });
                s.Configure<MeshServerOptions>(o => o.DrainTime = TimeSpan.Zero);
            },
            app => app.MapGet("/who", (HttpContext context) => Results.Json(Who.Of(context))));

    /// <summary>A call to the server over mutual TLS presenting <paramref name="svid"/>, checking the server against the client's bundle.</summary>
    private static async Task<Who?> MtlsGetAsync(TestApp server, WorkloadSvid svid, WorkloadCertificate trust)
    {
        var validator = new X509SvidValidator(TimeProvider.System);
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificateContext = svid.Context,
                RemoteCertificateValidationCallback = (_, certificate, chain, _) => validator.Validate(certificate, chain, trust.Bundle).IsValid,
            },
        };
        using var http = new HttpClient(handler);
        return await http.GetFromJsonAsync<Who>(new Uri(server.Https(), "/who"));
    }

    private static async Task<IReadOnlyList<AuthorityDocument>> AuthoritiesAsync(TestMeshd meshd) =>
        (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/identity/authorities", UriKind.Relative), ControlPlaneJson.Default.IReadOnlyListAuthorityDocument))!;

    /// <summary>Each root meshd's bundle holds now, by fingerprint.</summary>
    private static async Task<Dictionary<string, X509Certificate2>> RootsAsync(TestMeshd meshd)
    {
        var bundle = (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/identity/bundle", UriKind.Relative), ControlPlaneJson.Default.TrustBundleDocument))!;
        return TrustBundle.ReadPem(bundle.RootsPem, "the bundle").ToDictionary(Fingerprint);
    }

    private static async Task<WorkloadSvid> IssueAsync(HttpClient client, string service, string ttl)
    {
        using var csr = SvidSigningRequest.Create(SpiffeId.ForService(TrustDomain, service));
        using var response = await TestMeshd.RequestSvidAsync(client, service, csr.Pem, ttl);
        response.EnsureSuccessStatusCode();
        return csr.Complete((await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!.CertificateChainPem);
    }

    private static HashSet<string> Roots(WorkloadCertificate holder) => [.. holder.Bundle.GetRoots(TrustDomain).Select(Fingerprint)];

    /// <summary>The root (by fingerprint) <paramref name="svid"/> chains to, or null; checked within its lifetime, so an expired one has its issuer too.</summary>
    private static string? IssuerOf(WorkloadSvid svid, Dictionary<string, X509Certificate2> roots)
    {
        var validator = new X509SvidValidator(new FakeTimeProvider(svid.NotBefore + ((svid.NotAfter - svid.NotBefore) / 2)));
        return roots.FirstOrDefault(r => validator.Validate(svid.Certificate, svid.Intermediates, TrustBundle.Create(TrustDomain, [r.Value])).IsValid).Key;
    }

    private static string Fingerprint(X509Certificate2 certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    /// <summary>Every certificate a holder installed, in order, recorded as each is installed.</summary>
    private sealed class Installs : IDisposable
    {
        private readonly WorkloadCertificate _holder;
        private readonly List<WorkloadSvid> _installed = [];
        private readonly IDisposable _subscription;

        public Installs(WorkloadCertificate holder)
        {
            _holder = holder;
            _subscription = ChangeToken.OnChange(holder.GetChangeToken, Record);
            Record();
        }

        public int Count(Func<WorkloadSvid, bool>? which = null)
        {
            lock (_installed)
            {
                return which is null ? _installed.Count : _installed.Count(which);
            }
        }

        public List<WorkloadSvid> Snapshot()
        {
            lock (_installed)
            {
                return [.. _installed];
            }
        }

        public string Describe(Dictionary<string, X509Certificate2> roots) =>
            string.Join(" ", Snapshot().Select(s => IssuerOf(s, roots)?[..8] ?? "?"));

        public void Dispose() => _subscription.Dispose();

        private void Record()
        {
            if (_holder.Latest is not { } latest)
            {
                return;
            }

            lock (_installed)
            {
                // A change of the bundle alone signals too; a certificate is recorded once.
                if (!_installed.Exists(s => s.SerialNumber == latest.SerialNumber))
                {
                    _installed.Add(latest);
                }
            }
        }
    }
}

file static class WhoAssertions
{
    public static void ShouldBeOrders(this string? id)
    {
        if (id != "spiffe://mesh.local/svc/orders")
        {
            throw new InvalidOperationException($"the server saw '{id}', not orders");
        }
    }
}
