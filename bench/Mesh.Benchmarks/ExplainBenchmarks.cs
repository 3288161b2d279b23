using System.Net;
using BenchmarkDotNet.Attributes;
using Mesh.Resilience;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks;

/// <summary>
/// What <c>mesh-explain</c> costs: the same meshed call (PeakEwma over three endpoints, a weighted route, retries,
/// breaker, outlier detection) not explained, and explained by its header; the in-memory handler answers at once.
/// </summary>
[MemoryDiagnoser]
public class ExplainBenchmarks
{
    private static readonly Uri s_uri = new("http://inventory/items/1");
    private HttpClient _client = null!;
    private ServiceProvider _provider = null!;

    [GlobalSetup]
    public void Setup()
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:LoadBalancer"] = "PeakEwma",
            ["Mesh:Services:inventory:Routes:0:Name"] = "split",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Weight"] = "90",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Labels:version"] = "v2",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Weight"] = "10",
        };
        for (var i = 0; i < 3; i++)
        {
            config[$"Mesh:Services:inventory:Endpoints:{i}:Address"] = $"http://127.0.0.1:{10000 + i}";
            config[$"Mesh:Services:inventory:Endpoints:{i}:Labels:version"] = i == 2 ? "v2" : "v1";
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();
        services.AddHttpClient("meshed").AddMesh().RemoveAllLoggers().ConfigurePrimaryHttpMessageHandler(() => new TerminalHandler());
        _provider = services.BuildServiceProvider();
        _client = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _provider.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<HttpStatusCode> ExplainOff()
    {
        using var response = await _client.GetAsync(s_uri);
        return response.StatusCode;
    }

    [Benchmark]
    public async Task<HttpStatusCode> ExplainOn()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, s_uri);
        request.Headers.TryAddWithoutValidation(MeshExplanation.RequestHeader, "1");
        using var response = await _client.SendAsync(request);
        return response.StatusCode;
    }
}
