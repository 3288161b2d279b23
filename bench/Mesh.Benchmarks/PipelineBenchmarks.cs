using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks;

/// <summary>
/// The cost a meshed HttpClient adds per call over a bare one, and what the .NET standard stack (service discovery plus
/// the standard resilience handler) costs for the same call, all ending in the same in-memory handler (no network).
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private HttpClient _bare = null!;
    private HttpClient _factory = null!;
    private HttpClient _meshed = null!;
    private HttpClient _standard = null!;
    private HttpClient _meshedQuiet = null!;
    private ServiceProvider _provider = null!;

    [Params(3, 100, 1000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _bare = new HttpClient(new TerminalHandler());

        // The full pipeline: discovery, PeakEwma, retries with their budget, outlier detection, the breaker (all on by
        // default), a rate limit too high to refuse anything, telemetry with nobody listening.
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:LoadBalancer"] = "PeakEwma",
            ["Mesh:Services:inventory:RateLimit:PermitsPerSecond"] = "1000000000",
            ["Mesh:Services:inventory:RateLimit:Burst"] = "1000000000",
        };
        for (var i = 0; i < Endpoints; i++)
        {
            config[$"Mesh:Services:inventory:Endpoints:{i}"] = $"http://127.0.0.1:{10000 + i}";
            config[$"services:inventory:http:{i}"] = $"http://127.0.0.1:{10000 + i}";
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();
        services.AddHttpClient("meshed").AddMesh().ConfigurePrimaryHttpMessageHandler(() => new TerminalHandler());
        services.AddHttpClient("factory").ConfigurePrimaryHttpMessageHandler(() => new TerminalHandler());
        services.AddHttpClient("meshed-quiet").AddMesh().RemoveAllLoggers().ConfigurePrimaryHttpMessageHandler(() => new TerminalHandler());
        services.AddServiceDiscovery();
        services.AddHttpClient("standard").AddServiceDiscovery().AddStandardResilienceHandler();
        services.AddHttpClient("standard").ConfigurePrimaryHttpMessageHandler(() => new TerminalHandler());
        _provider = services.BuildServiceProvider();
        _factory = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("factory");
        _meshed = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");
        _standard = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("standard");
        _meshedQuiet = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed-quiet");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _bare.Dispose();
        _meshed.Dispose();
        _factory.Dispose();
        _standard.Dispose();
        _meshedQuiet.Dispose();
        _provider.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<HttpStatusCode> Bare()
    {
        using var response = await _bare.GetAsync(new Uri("http://127.0.0.1:10000/items/1"));
        return response.StatusCode;
    }

    /// <summary>The same client from IHttpClientFactory without the mesh: the factory's own logging handlers, to tell them apart from the mesh's cost.</summary>
    [Benchmark]
    public async Task<HttpStatusCode> Factory()
    {
        using var response = await _factory.GetAsync(new Uri("http://127.0.0.1:10000/items/1"));
        return response.StatusCode;
    }

    [Benchmark]
    public async Task<HttpStatusCode> Meshed()
    {
        using var response = await _meshed.GetAsync(new Uri("http://inventory/items/1"));
        return response.StatusCode;
    }

    /// <summary>The meshed client without IHttpClientFactory's own request logging (<c>RemoveAllLoggers()</c>), whose cost <see cref="Factory"/> shows.</summary>
    [Benchmark]
    public async Task<HttpStatusCode> MeshedWithoutFactoryLogging()
    {
        using var response = await _meshedQuiet.GetAsync(new Uri("http://inventory/items/1"));
        return response.StatusCode;
    }

    /// <summary>What a .NET user picks today: Microsoft.Extensions.ServiceDiscovery plus AddStandardResilienceHandler().</summary>
    [Benchmark]
    public async Task<HttpStatusCode> Standard()
    {
        using var response = await _standard.GetAsync(new Uri("http://inventory/items/1"));
        return response.StatusCode;
    }
}
