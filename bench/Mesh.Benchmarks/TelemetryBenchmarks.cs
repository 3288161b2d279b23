using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Mesh.Benchmarks;

/// <summary>
/// The cost of the mesh's instrumentation per call: the full meshed pipeline with nobody listening (baseline), and with
/// the OpenTelemetry SDK collecting the mesh's spans and metrics (no exporter, so only collection is measured).
/// </summary>
[MemoryDiagnoser]
public class TelemetryBenchmarks
{
    private ServiceProvider _provider = null!;
    private HttpClient _client = null!;
    private TracerProvider? _tracing;
    private MeterProvider? _metrics;

    [Params(false, true)]
    public bool OpenTelemetry { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0"] = "http://127.0.0.1:10000",
            ["Mesh:Services:inventory:Endpoints:1"] = "http://127.0.0.1:10001",
            ["Mesh:Services:inventory:Endpoints:2"] = "http://127.0.0.1:10002",
            ["Mesh:Services:inventory:LoadBalancer"] = "PeakEwma",
            ["Mesh:Services:inventory:RateLimit:PermitsPerSecond"] = "1000000000",
            ["Mesh:Services:inventory:RateLimit:Burst"] = "1000000000",
        };
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();
        services.AddHttpClient("meshed").AddMesh().ConfigurePrimaryHttpMessageHandler(() => new TerminalHandler());
        _provider = services.BuildServiceProvider();
        _client = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");
        if (OpenTelemetry)
        {
            _tracing = Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().Build();
            _metrics = Sdk.CreateMeterProviderBuilder().AddMeshInstrumentation().Build();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tracing?.Dispose();
        _metrics?.Dispose();
        _client.Dispose();
        _provider.Dispose();
    }

    [Benchmark]
    public async Task<HttpStatusCode> MeshedCall()
    {
        using var response = await _client.GetAsync(new Uri("http://inventory/items/1"));
        return response.StatusCode;
    }
}
