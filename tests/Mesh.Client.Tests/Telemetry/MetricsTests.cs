using System.Diagnostics.Metrics;
using System.Net;
using Mesh.Balancing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>The mesh's metrics match the traffic a test sends, per outcome.</summary>
public sealed class MetricsTests : IAsyncLifetime
{
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(2);

    public async Task DisposeAsync() => await _backends.DisposeAllAsync();

    [Fact]
    public async Task Call_durations_count_every_call_once_with_its_service_status_and_outcome()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends);
        config["Mesh:Services:inventory:Retry:Enabled"] = "false";
        config["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false";
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        using var durations = Collector<double>(host, "mesh.client.request.duration");
        using var attempts = Collector<double>(host, "mesh.client.attempt.duration");
        var client = host.Client;
        _backends[1].Status = HttpStatusCode.InternalServerError;

        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
        }

        var calls = durations.GetMeasurementSnapshot();
        Assert.Equal(20, calls.Count);
        Assert.Equal(10, calls.Count(m => m.Tags["mesh.outcome"] is "success" && m.Tags["http.response.status_code"] is 200));
        Assert.Equal(10, calls.Count(m => m.Tags["mesh.outcome"] is "server_error" && m.Tags["http.response.status_code"] is 500));
        Assert.All(calls, m => Assert.Equal("inventory", m.Tags["mesh.service"]));
        Assert.All(calls, m => Assert.True(m.Value > 0));
        Assert.Equal(10, attempts.GetMeasurementSnapshot().Count(m => m.Tags["server.address"] is string a && a == _backends[1].Address.GetLeftPart(UriPartial.Authority)));
    }

    [Fact]
    public async Task Retries_ejections_and_failures_without_an_answer_are_counted()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends);
        config["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "2";
        config["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        using var retries = Collector<long>(host, "mesh.client.retries");
        using var ejections = Collector<long>(host, "mesh.client.ejections");
        using var endpoints = Collector<int>(host, "mesh.client.endpoints");
        var client = host.Client;
        _backends[0].Status = HttpStatusCode.ServiceUnavailable;

        for (var i = 0; i < 10; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(host.Catalog.CountersOf("inventory").Retries, retries.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.True(retries.GetMeasurementSnapshot().EvaluateAsCounter() >= 2);
        Assert.Equal(1, ejections.GetMeasurementSnapshot().EvaluateAsCounter());
        endpoints.RecordObservableInstruments();
        var gauges = endpoints.GetMeasurementSnapshot();
        Assert.Equal(1, gauges.Last(m => m.Tags["mesh.endpoint.state"] is "ejected").Value);
        Assert.Equal(1, gauges.Last(m => m.Tags["mesh.endpoint.state"] is "available").Value);
    }

    [Fact]
    public async Task A_call_that_no_endpoint_could_take_is_counted_as_unavailable()
    {
        using var closed = LoopbackPorts.Closed();
        using var host = MeshTestHost.Create(new Dictionary<string, string?> { ["Mesh:Services:inventory:Endpoints:0"] = closed.ToString() });
        using var durations = Collector<double>(host, "mesh.client.request.duration");

        await Assert.ThrowsAsync<Mesh.Discovery.MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/"));

        var call = Assert.Single(durations.GetMeasurementSnapshot());
        Assert.Equal("unavailable", call.Tags["mesh.outcome"]);
        Assert.False(call.Tags.ContainsKey("http.response.status_code"));
    }

    private static MetricCollector<T> Collector<T>(MeshTestHost host, string instrument)
        where T : struct =>
        new(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", instrument);
}
