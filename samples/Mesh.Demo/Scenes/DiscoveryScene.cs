using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Demo.Scenes;

/// <summary>
/// Endpoints come and go while traffic flows: one is added and one removed by a configuration reload, and one
/// backend process stops answering. Each phase shows where requests went and how many failed.
/// </summary>
internal sealed class DiscoveryScene : IScene
{
    private const int Concurrency = 8;

    public string Title => "Discovery: endpoints change under traffic, and a dead backend costs no request";

    public async Task RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var backends = new List<DemoBackend>();
        for (var i = 0; i < 4; i++)
        {
            backends.Add(await DemoBackend.StartAsync($"b{i}", TimeSpan.Zero));
        }

        try
        {
            var configuration = new ConfigurationManager();
            configuration.AddInMemoryCollection(Config(backends[0], backends[1], backends[2]));
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddMesh();
            services.AddHttpClient("orders", c => c.BaseAddress = new Uri("http://orders")).AddMesh();
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("orders");
            var requests = options.Requests(1500);

            output.WriteLine($"  {"phase",-44} {"b0",6} {"b1",6} {"b2",6} {"b3",6} {"failed",7}");
            await PhaseAsync("b0, b1, b2 configured", client, requests, output, cancellationToken);

            Replace(configuration, Config(backends[1], backends[2], backends[3]));
            await PhaseAsync("reload: b3 added, b0 removed", client, requests, output, cancellationToken);

            await backends[1].DisposeAsync();
            backends.RemoveAt(1);
            await PhaseAsync("b1 stopped (connections refused)", client, requests, output, cancellationToken);

            output.WriteLine();
            output.WriteLine("  The reload applies to the next request with no restart; a request refused by a dead endpoint moves");
            output.WriteLine("  to another one before it was ever sent, so callers see no failure.");
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    private static void Replace(ConfigurationManager configuration, Dictionary<string, string?> values)
    {
        // Replace the content whole, as a reloaded appsettings.json would; the manager raises the change.
        configuration.Sources.Clear();
        configuration.AddInMemoryCollection(values);
    }

    private static Dictionary<string, string?> Config(params DemoBackend[] backends)
    {
        var config = new Dictionary<string, string?> { ["Mesh:Services:orders:LoadBalancer"] = "RoundRobin" };
        for (var i = 0; i < backends.Length; i++)
        {
            config[$"Mesh:Services:orders:Endpoints:{i}"] = backends[i].Address.ToString();
        }

        return config;
    }

    private static async Task PhaseAsync(string phase, HttpClient client, int requests, TextWriter output, CancellationToken cancellationToken)
    {
        var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var failed = 0;
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < requests)
            {
                try
                {
                    using var response = await client.GetAsync("/orders/7", cancellationToken);
                    response.EnsureSuccessStatusCode();
                    counts.AddOrUpdate(response.Headers.GetValues("x-backend").Single(), 1, (_, n) => n + 1);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));

        string Count(string name) => counts.GetValueOrDefault(name).ToString(CultureInfo.InvariantCulture);
        output.WriteLine($"  {phase,-44} {Count("b0"),6} {Count("b1"),6} {Count("b2"),6} {Count("b3"),6} {failed,7}");
    }
}
