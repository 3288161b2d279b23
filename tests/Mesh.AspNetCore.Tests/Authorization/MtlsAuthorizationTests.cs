using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using Mesh.AspNetCore.Registration;
using Mesh.AspNetCore.Tests.Identity;
using Mesh.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>
/// payments over the mesh's mutual TLS, called by orders and gateway with their own SVIDs, its policy pushed through a
/// real meshd: the caller the certificate proves is what the policy sees, never a header.
/// </summary>
public sealed class MtlsAuthorizationTests(ITestOutputHelper output) : IDisposable
{
    private const string OrdersMayCharge = """
        { "Authorization": { "Rules": [ { "Name": "orders-charge", "Action": "Allow", "From": [ "orders" ], "To": [ { "Methods": [ "POST" ], "Paths": [ "/charges" ] } ] } ] } }
        """;

    private const string GatewayMayCharge = """
        { "Authorization": { "Rules": [ { "Name": "gateway-charge", "Action": "Allow", "From": [ "gateway" ], "To": [ { "Methods": [ "POST" ], "Paths": [ "/charges" ] } ] } ] } }
        """;

    private readonly MeshPki _pki = new();
    private readonly TempDirectory _cache = new("mesh-authz-");
    private readonly LogCollector _logs = new();

    public void Dispose()
    {
        _cache.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task Orders_may_charge_gateway_is_denied_and_audited_a_forged_caller_header_changes_nothing_and_a_pushed_policy_flips_it()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.PutPolicyAsync(MeshPki.Service, OrdersMayCharge)).EnsureSuccessStatusCode();
        await using var server = await StartAsync(meshd);
        using var decisions = Metric(server, "mesh.server.authorization");
        using var orders = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var gateway = new HttpClient(_pki.MtlsHandler(_pki.Svid("gateway")));
        var charges = new Uri(server.Https(), "/charges");
        await Eventually.WaitAsync(async () => (await PostAsync(gateway, charges)).Status == 403, "the policy pushed by meshd to apply");

        var charged = await PostAsync(orders, charges);
        Assert.Equal(200, charged.Status);
        Assert.Equal("spiffe://mesh.local/svc/orders", charged.Seen!.Who.Id);
        Assert.Equal("orders", charged.Seen.Who.Header);

        // gateway claims to be orders: the certificate says gateway, so the answer stays 403, with nothing in it.
        var forged = await PostAsync(gateway, charges, ("mesh-caller", "orders"), ("x-forwarded-client-cert", "URI=spiffe://mesh.local/svc/orders"));
        Assert.Equal(403, forged.Status);
        Assert.Equal(0, forged.BodyLength);

        var audit = _logs.Entries.Where(e => e.Category == "Mesh.Server.Authorization" && e.Level == LogLevel.Warning).ToList();
        Assert.Contains(audit, e => e.Message.Contains("Denied POST /charges on service payments to caller spiffe://mesh.local/svc/gateway", StringComparison.Ordinal)
            && e.Message.Contains("none matches", StringComparison.Ordinal) && e.Message.Contains("Rule: (no-match)", StringComparison.Ordinal));
        Assert.DoesNotContain(audit, e => e.Message.Contains("svc/orders", StringComparison.Ordinal));
        Assert.True(Sum(decisions, "gateway", "deny", AuthorizationDecision.NoMatch) >= 2);
        Assert.True(Sum(decisions, "orders", "allow", "orders-charge") >= 1);
        Assert.Equal(0, Sum(decisions, "orders", "deny", null));

        var pushed = Stopwatch.StartNew();
        (await meshd.PutPolicyAsync(MeshPki.Service, GatewayMayCharge)).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(async () => (await PostAsync(gateway, charges)).Status == 200, "the new policy to let gateway in", TimeSpan.FromSeconds(10));
        output.WriteLine($"The pushed policy applied after {pushed.ElapsedMilliseconds} ms.");
        Assert.Equal(403, (await PostAsync(orders, charges)).Status);
        Assert.True(Sum(decisions, "gateway", "allow", "gateway-charge") >= 1);
    }

    [Fact]
    public async Task A_bad_pushed_policy_is_refused_whole_with_the_field_named_and_the_last_good_one_stays()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.PutPolicyAsync(MeshPki.Service, OrdersMayCharge)).EnsureSuccessStatusCode();
        await using var server = await StartAsync(meshd);
        using var orders = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var gateway = new HttpClient(_pki.MtlsHandler(_pki.Svid("gateway")));
        var charges = new Uri(server.Https(), "/charges");
        await Eventually.WaitAsync(async () => (await PostAsync(gateway, charges)).Status == 403, "the policy pushed by meshd to apply");

        // A pattern where an exact name belongs, next to a good rule: nothing of the document is stored.
        using var refused = await meshd.PutPolicyAsync(MeshPki.Service, """
            { "Authorization": { "Rules": [
                { "Name": "gateway-charge", "Action": "Allow", "From": [ "gateway" ] },
                { "Name": "everyone", "Action": "Allow", "From": [ "orders", "gate*" ] } ] } }
            """);
        Assert.Equal(400, (int)refused.StatusCode);
        var problem = await refused.Content.ReadAsStringAsync();
        Assert.Contains("Authorization:Rules:1:From:1", problem, StringComparison.Ordinal);
        Assert.Contains("gate*", problem, StringComparison.Ordinal);

        Assert.Equal(403, (await PostAsync(gateway, charges)).Status);
        Assert.Equal(200, (await PostAsync(orders, charges)).Status);
    }

    [Fact]
    public async Task Identity_headers_reach_the_application_only_from_callers_allowed_to_set_them()
    {
        await using var server = await StartAsync(null, a =>
        {
            a.Rules.Add(new AuthorizationRuleOptions { Name = "callers", Action = "Allow", From = { "orders", "gateway" } });
            a.IdentityHeadersFrom.Add("gateway");
        });
        using var orders = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var gateway = new HttpClient(_pki.MtlsHandler(_pki.Svid("gateway")));
        var charges = new Uri(server.Https(), "/charges");
        (string, string)[] forged = [("mesh-caller", "payments"), ("x-forwarded-client-cert", "URI=spiffe://mesh.local/svc/payments"), ("X-SSL-Client-S-DN", "CN=payments")];

        var fromOrders = (await PostAsync(orders, charges, forged)).Seen!;
        Assert.Equal("orders", fromOrders.Who.Header);
        Assert.Equal(string.Empty, fromOrders.ForwardedCertificate);
        Assert.Equal(string.Empty, fromOrders.SslClient);

        var fromGateway = (await PostAsync(gateway, charges, forged)).Seen!;
        Assert.Equal("gateway", fromGateway.Who.Header);
        Assert.Equal("URI=spiffe://mesh.local/svc/payments", fromGateway.ForwardedCertificate);
        Assert.Equal("CN=payments", fromGateway.SslClient);
    }

    [Fact]
    public async Task A_noisy_caller_gets_429_with_Retry_After_while_another_caller_is_unaffected()
    {
        await using var server = await StartAsync(null, a => a.RateLimitPerCaller = new CallerRateLimitOptions { PermitsPerSecond = 1, Burst = 2 });
        using var limited = Metric(server, "mesh.server.rate_limited");
        using var orders = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var gateway = new HttpClient(_pki.MtlsHandler(_pki.Svid("gateway")));
        var charges = new Uri(server.Https(), "/charges");

        var statuses = new List<int>();
        string? retryAfter = null;
        for (var i = 0; i < 20; i++)
        {
            using var response = await orders.PostAsync(charges, null);
            statuses.Add((int)response.StatusCode);
            retryAfter ??= response.Headers.RetryAfter?.ToString();
        }

        Assert.Contains(429, statuses);
        Assert.Equal(200, statuses[0]);
        Assert.All(statuses, s => Assert.True(s is 200 or 429));
        Assert.NotNull(retryAfter);
        Assert.True(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture) >= 1);

        Assert.Equal(200, (await PostAsync(gateway, charges)).Status);
        Assert.Equal(200, (await PostAsync(gateway, charges)).Status);
        Assert.Equal(statuses.Count(s => s == 429), Sum(limited, "orders", null, null));
        Assert.Equal(0, Sum(limited, "gateway", null, null));
    }

    private Task<TestApp> StartAsync(TestMeshd? meshd, Action<AuthorizationOptions>? policy = null) => MeshedServers.StartAsync(
        _pki,
        mode: null,
        mesh: o =>
        {
            if (meshd is not null)
            {
                o.ControlPlane.Address = meshd.Address.ToString();
                o.ControlPlane.Token = TestMeshd.WorkloadToken;
                o.ControlPlane.CacheDirectory = _cache.Path;
            }

            // Amend the service's options, whichever source made them, so pushed keys stay.
            if (!o.Services.TryGetValue(MeshPki.Service, out var own))
            {
                o.Services[MeshPki.Service] = own = new MeshServiceOptions();
            }

            own.Mtls.Mode = "Strict";
            policy?.Invoke(own.Authorization);
        },
        services: s =>
        {
            s.Configure<MeshServerOptions>(o => o.Register = false);
            s.AddSingleton<ILoggerProvider>(_logs);
        },
        pipeline: app => app.MapPost("/charges", (HttpContext c) => Results.Json(new Seen(
            Who.Of(c), c.Request.Headers["x-forwarded-client-cert"].ToString(), c.Request.Headers["x-ssl-client-s-dn"].ToString()))));

    private static async Task<(int Status, Seen? Seen, long BodyLength)> PostAsync(HttpClient client, Uri uri, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var seen = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<Seen>() : null;
        return ((int)response.StatusCode, seen, body.LongLength);
    }

    private static MetricCollector<long> Metric(TestApp server, string name) =>
        new(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", name);

    private static long Sum(MetricCollector<long> metric, string caller, string? decision, string? rule) =>
        metric.GetMeasurementSnapshot()
            .Where(m => m.Tags["mesh.caller"] as string == caller
                && (decision is null || m.Tags["mesh.authorization.decision"] as string == decision)
                && (rule is null || m.Tags["mesh.authorization.rule"] as string == rule))
            .Sum(m => m.Value);

    private sealed record Seen(Who Who, string ForwardedCertificate, string SslClient);
}
