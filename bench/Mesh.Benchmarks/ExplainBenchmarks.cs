using System.Net;
using BenchmarkDotNet.Attributes;
using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Utilities;
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
    private readonly HttpRequestMessage _plain = new(HttpMethod.Get, s_uri);
    private HttpClient _client = null!;
    private ILoadBalancer _peakEwma = null!;
    private PickContext _withoutCall;
    private PickContext _withCall;
    private ServiceProvider _provider = null!;

    [GlobalSetup]
    public void Setup()
    {
        _plain.Headers.TryAddWithoutValidation("x-request-id", "42");
        _plain.Headers.TryAddWithoutValidation("accept", "application/json");
        var loads = Enumerable.Range(0, 3).Select(i => new EndpointLoad(new MeshEndpoint(new Uri($"http://127.0.0.1:{10000 + i}")), TimeProvider.System)).ToArray();
        _peakEwma = LoadBalancerFactory.Create(LoadBalancerNames.PeakEwma, new RingHashOptions(), loads, MeshRandom.Shared, TimeProvider.System);
        _withoutCall = new PickContext(null, null);
        _withCall = new PickContext(null, new MeshCall("inventory", _plain, Protocols.Http, DateTimeOffset.MaxValue));

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
        _plain.Dispose();
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

    /// <summary>What a call not explained pays for the feature: the header lookup and the options field read, alone.</summary>
    [Benchmark]
    public bool OffChecksAlone()
    {
        Explanation.Detect(_plain);
        return Explanation.Of(_plain) is not null;
    }

    /// <summary>A PeakEwma pick with no call to test, the floor of <see cref="PeakEwmaPickForACallNotExplained"/>.</summary>
    [Benchmark]
    public int PeakEwmaPickWithoutCall() => _peakEwma.Pick(_withoutCall);

    /// <summary>A PeakEwma pick for a call not explained: the balancer tests whether the call wants the candidates.</summary>
    [Benchmark]
    public int PeakEwmaPickForACallNotExplained() => _peakEwma.Pick(_withCall);
}
