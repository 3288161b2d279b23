using System.Diagnostics.Metrics;
using Mesh.AspNetCore.Registration;
using Mesh.AspNetCore.Tests.Identity;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>
/// payments' own policy in its local, reloadable configuration: a reload the validator refuses is logged with the field
/// named and leaves the last good policy deciding; a good reload decides the next request.
/// </summary>
public sealed class AuthorizationReloadTests : IDisposable
{
    private const string Rules = "Mesh:Services:payments:Authorization:Rules";

    private readonly MeshPki _pki = new();
    private readonly LogCollector _logs = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task A_refused_reload_names_the_field_and_keeps_the_last_good_policy_and_a_good_one_applies_to_the_next_request()
    {
        var configuration = new ReloadableConfiguration(Policy(
            (Rules + ":0:Name", "orders-charge"), (Rules + ":0:Action", "Allow"), (Rules + ":0:From:0", "orders"),
            (Rules + ":0:To:0:Methods:0", "POST"), (Rules + ":0:To:0:Paths:0", "/charges")));
        await using var server = await MeshedServers.StartAsync(
            _pki,
            mode: null,
            mesh: o =>
            {
                if (!o.Services.TryGetValue(MeshPki.Service, out var own))
                {
                    o.Services[MeshPki.Service] = own = new MeshServiceOptions();
                }

                own.Mtls.Mode = "Strict";
            },
            services: s =>
            {
                s.Configure<MeshServerOptions>(o => o.Register = false);
                s.AddSingleton<ILoggerProvider>(_logs);
            },
            pipeline: app =>
            {
                // The application's own configuration, as appsettings.json with reloadOnChange is.
                ((IConfigurationBuilder)app.Configuration).Add(configuration);
                app.MapPost("/charges", () => Results.Ok());
            });
        using var decisions = new MetricCollector<long>(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.authorization");
        using var orders = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var gateway = new HttpClient(_pki.MtlsHandler(_pki.Svid("gateway")));
        var charges = new Uri(server.Https(), "/charges");
        Assert.Equal(200, await PostAsync(orders, charges));
        Assert.Equal(403, await PostAsync(gateway, charges));

        // An action no one knows, on a rule that would let gateway in: refused whole, orders' rule still decides.
        configuration.Replace(Policy(
            (Rules + ":0:Name", "everyone-charge"), (Rules + ":0:Action", "Permit"), (Rules + ":0:From:0", "orders"), (Rules + ":0:From:1", "gateway")));
        await RefusedAsync($"{Rules}:0:Action: 'Permit' is not an action");
        Assert.Equal(403, await PostAsync(gateway, charges));
        Assert.Equal(200, await PostAsync(orders, charges));

        // A rule with no caller, next to a good rule for gateway: refused whole too.
        configuration.Replace(Policy(
            (Rules + ":0:Name", "nobody"), (Rules + ":0:Action", "Deny"), (Rules + ":0:To:0:Paths:0", "/charges"),
            (Rules + ":1:Name", "gateway-charge"), (Rules + ":1:Action", "Allow"), (Rules + ":1:From:0", "gateway")));
        await RefusedAsync($"{Rules}:0:From: the rule names no caller");
        Assert.Equal(403, await PostAsync(gateway, charges));
        Assert.Equal(200, await PostAsync(orders, charges));
        // A mesh-wide default no one knows, whatever the service says: refused whole as well.
        configuration.Replace(Policy(("Mesh:Authorization:Default", "open"), (Rules + ":0:Name", "gateway-charge"), (Rules + ":0:Action", "Allow"), (Rules + ":0:From:0", "gateway")));
        await RefusedAsync("Mesh:Authorization:Default: 'open' is not an authorization default");
        Assert.Equal(403, await PostAsync(gateway, charges));
        Assert.Equal(200, await PostAsync(orders, charges));
        Assert.Equal(0, Count(decisions, "everyone-charge") + Count(decisions, "gateway-charge") + Count(decisions, "nobody"));
        Assert.Equal(4, Count(decisions, "orders-charge"));

        // A good change decides the very next request, with no wait.
        configuration.Replace(Policy(
            (Rules + ":0:Name", "gateway-charge"), (Rules + ":0:Action", "Allow"), (Rules + ":0:From:0", "gateway"),
            (Rules + ":0:To:0:Methods:0", "POST"), (Rules + ":0:To:0:Paths:0", "/charges")));
        Assert.Equal(200, await PostAsync(gateway, charges));
        Assert.Equal(403, await PostAsync(orders, charges));
        Assert.Equal(1, Count(decisions, "gateway-charge"));
    }

    private async Task RefusedAsync(string failure) => await Eventually.WaitAsync(
        () => _logs.Entries.Any(e => e.Category == typeof(ServiceCatalog).FullName && e.Level == LogLevel.Error
            && e.Message.Contains("change refused", StringComparison.Ordinal) && e.Message.Contains(failure, StringComparison.Ordinal)),
        $"the refusal naming '{failure}' to be logged");

    private static Dictionary<string, string?> Policy(params (string Key, string Value)[] settings) =>
        settings.ToDictionary(s => s.Key, s => (string?)s.Value);

    private static async Task<int> PostAsync(HttpClient client, Uri uri)
    {
        using var response = await client.PostAsync(uri, null);
        return (int)response.StatusCode;
    }

    private static long Count(MetricCollector<long> metric, string rule) =>
        metric.GetMeasurementSnapshot().Where(m => m.Tags["mesh.authorization.rule"] as string == rule).Sum(m => m.Value);
}
