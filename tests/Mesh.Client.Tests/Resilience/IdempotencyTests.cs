using System.Net;
using Mesh.Balancing;
using Mesh.Resilience;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Only requests that may be sent twice are retried, unless the failure proves the first never arrived.</summary>
public sealed class IdempotencyTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync()
    {
        _backend = await TestBackend.StartAsync("unavailable");
        _backend.Status = HttpStatusCode.ServiceUnavailable;
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task A_POST_that_gets_503_is_not_retried()
    {
        using var host = Host();

        using var response = await host.Client.PostAsync("http://payments/charge", new StringContent("{}"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, _backend.Requests);
    }

    [Fact]
    public async Task A_POST_with_an_Idempotency_Key_is_retried()
    {
        using var host = Host();
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://payments/charge") { Content = new StringContent("{}") };
        request.Headers.Add("Idempotency-Key", "charge-42");

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(3, _backend.Requests);
    }

    [Fact]
    public async Task A_POST_marked_idempotent_by_request_option_is_retried()
    {
        using var host = Host();
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://payments/charge") { Content = new StringContent("{}") };
        request.Options.Set(MeshRequestOptions.Idempotent, true);

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(3, _backend.Requests);
    }

    [Fact]
    public async Task A_GET_that_gets_503_is_retried_up_to_MaxAttempts()
    {
        using var host = Host();

        using var response = await host.Client.GetAsync("http://payments/charges");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(3, _backend.Requests);
        Assert.Equal(2, host.Catalog.CountersOf("payments").Retries);
    }

    [Fact]
    public async Task A_PUT_whose_body_cannot_be_sent_twice_is_not_retried()
    {
        using var host = Host();

        using var response = await host.Client.PutAsync("http://payments/charge", new StreamContent(new MemoryStream([1, 2, 3])));

        Assert.Equal(1, _backend.Requests);
    }

    [Fact]
    public async Task A_POST_to_a_refused_port_is_retried()
    {
        using var closed = LoopbackPorts.Closed();
        using var host = MeshTestHost.Create(new Dictionary<string, string?> { ["Mesh:Services:payments:Endpoints:0"] = closed.ToString() });

        var error = await Assert.ThrowsAsync<Mesh.Discovery.MeshEndpointUnavailableException>(
            () => host.Client.PostAsync("http://payments/charge", new StringContent("charge")));

        Assert.Equal(2, host.Catalog.CountersOf("payments").Retries);
        Assert.Equal([closed.Address], error.EndpointsTried);
    }

    [Fact]
    public async Task A_POST_refused_by_one_endpoint_is_sent_to_another()
    {
        using var closed = LoopbackPorts.Closed();
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:payments:LoadBalancer"] = LoadBalancerNames.RoundRobin,
            ["Mesh:Services:payments:Endpoints:0"] = closed.ToString(),
            ["Mesh:Services:payments:Endpoints:1"] = _backend.Address.ToString(),
        };
        _backend.Status = HttpStatusCode.OK;
        using var host = MeshTestHost.Create(config);

        for (var i = 0; i < 10; i++)
        {
            using var response = await host.Client.PostAsync("http://payments/charge", new StringContent($"charge {i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"charge {i}", (await TestBackend.ReadEchoAsync(response)).Body);
        }

        Assert.Equal(10, _backend.Requests);
    }

    private MeshTestHost Host()
    {
        var config = MeshTestHost.ServiceConfig("payments", LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:Services:payments:CircuitBreaker:Enabled"] = "false";
        config["Mesh:Services:payments:OutlierDetection:Enabled"] = "false";
        return MeshTestHost.Create(config);
    }
}
