using System.Net.Http.Json;
using Mesh.Balancing;
using Mesh.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Pipeline;

/// <summary>How AddMesh() wires the handlers, and what the endpoint handler changes in a request.</summary>
public sealed class PipelineTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("only");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public void The_mesh_is_one_handler_that_sits_where_AddMesh_is_called()
    {
        var services = Services();
        services.AddHttpClient("ordered")
            .AddHttpMessageHandler(() => new MarkerHandler("before"))
            .AddMesh()
            .AddHttpMessageHandler(() => new MarkerHandler("after"));
        using var provider = services.BuildServiceProvider();

        Assert.Equal(["before", nameof(MeshHandler), "after"], Chain(provider, "ordered"));
    }

    [Fact]
    public async Task A_typed_client_reaches_the_service()
    {
        var services = Services();
        services.AddHttpClient<InventoryClient>(c => c.BaseAddress = new Uri("http://inventory")).AddMesh();
        using var provider = services.BuildServiceProvider();

        var echo = await provider.GetRequiredService<InventoryClient>().GetItemAsync(1);

        Assert.Equal("only", echo.Backend);
        Assert.Equal("/items/1", echo.Path);
    }

    [Fact]
    public async Task ConfigureHttpClientDefaults_meshes_every_client_once()
    {
        var services = Services();
        services.ConfigureHttpClientDefaults(b => b.AddMesh());
        services.AddHttpClient("twice").AddMesh();
        using var provider = services.BuildServiceProvider();

        using var response = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("any").GetAsync("http://inventory/x");

        Assert.Equal("only", response.Headers.GetValues("x-backend").Single());
        Assert.Single(Chain(provider, "twice"), n => n == nameof(MeshHandler));
    }

    [Fact]
    public async Task Only_scheme_host_and_port_are_rewritten()
    {
        using var host = Host();
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://inventory/items/42/reserve?count=3&note=a%20b")
        {
            Content = JsonContent.Create(new { Sku = "ABC-1" }),
        };
        request.Headers.Add("x-custom", "kept");

        using var response = await host.Client.SendAsync(request);
        var echo = await TestBackend.ReadEchoAsync(response);

        Assert.Equal("POST", echo.Method);
        Assert.Equal("/items/42/reserve", echo.Path);
        Assert.Equal("?count=3&note=a%20b", echo.Query);
        Assert.Equal("kept", echo.Headers["x-custom"]);
        Assert.Equal("""{"sku":"ABC-1"}""", echo.Body);
        Assert.Equal(_backend.Address.Authority, echo.Headers["Host"]);
        Assert.Equal(new Uri("http://inventory/items/42/reserve?count=3&note=a%20b"), response.RequestMessage!.RequestUri);
    }

    [Fact]
    public async Task A_host_that_is_not_a_service_passes_through_unchanged()
    {
        using var host = Host();
        await using var other = await TestBackend.StartAsync("elsewhere");

        using var response = await host.Client.GetAsync(new Uri(other.Address, "/direct?x=1"));
        var echo = await TestBackend.ReadEchoAsync(response);

        Assert.Equal("elsewhere", echo.Backend);
        Assert.Equal("?x=1", echo.Query);
        Assert.Equal(0, _backend.Requests);
    }

    [Fact]
    public async Task Service_names_match_the_host_whatever_its_case_and_port()
    {
        using var host = Host();

        using var response = await host.Client.GetAsync("http://INVENTORY:8080/items");

        Assert.Equal("only", response.Headers.GetValues("x-backend").Single());
    }

    [Fact]
    public async Task A_handler_added_after_the_mesh_sees_every_attempt_at_its_endpoint_and_retries_still_move_on()
    {
        await using var second = await TestBackend.StartAsync("second");
        _backend.Status = System.Net.HttpStatusCode.ServiceUnavailable;
        second.Status = System.Net.HttpStatusCode.ServiceUnavailable;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RingHash, [_backend, second]))
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Mesh:Services:inventory:RingHash:Header"] = "x-user",
                ["Mesh:Services:inventory:Retry:MaxAttempts"] = "2",
                ["Mesh:Services:inventory:Retry:Backoff"] = "00:00:00",
            })
            .Build());
        services.AddMesh();
        var after = new List<string>();
        services.AddHttpClient("after").AddMesh().AddHttpMessageHandler(() => new MarkerHandler("after") { Seen = after });
        using var provider = services.BuildServiceProvider();
        Assert.Equal([nameof(MeshHandler), "after"], Chain(provider, "after"));

        using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
        request.Headers.Add("x-user", "42");
        using var response = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("after").SendAsync(request);

        // Two attempts, each seen at its endpoint; the same key hashes to one endpoint, yet the retry went to the other:
        // the call remembered the endpoint it had tried.
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(2, after.Count);
        Assert.Equal(
            new[] { _backend.Address.Authority, second.Address.Authority }.Order(),
            after.Select(u => new Uri(u).Authority).Order());
        Assert.All(after, u => Assert.EndsWith("/items", u, StringComparison.Ordinal));
        Assert.Equal(1, _backend.Requests);
        Assert.Equal(1, second.Requests);
    }

    private MeshTestHost Host() => MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.PeakEwma, [_backend]));

    private ServiceCollection Services()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.PeakEwma, [_backend]))
            .Build());
        services.AddMesh();
        return services;
    }

    private static List<string> Chain(IServiceProvider provider, string name)
    {
        var names = new List<string>();
        HttpMessageHandler? handler = provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(name);
        while (handler is DelegatingHandler delegating)
        {
            if (delegating is MarkerHandler marker)
            {
                names.Add(marker.Name);
            }
            else if (delegating.GetType().Assembly == typeof(MeshHandler).Assembly)
            {
                names.Add(delegating.GetType().Name);
            }

            handler = delegating.InnerHandler;
        }

        return names;
    }

    private sealed class MarkerHandler(string name) : DelegatingHandler
    {
        public string Name { get; } = name;

        public List<string>? Seen { get; init; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen?.Add(request.RequestUri!.ToString());
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class InventoryClient(HttpClient client)
    {
        public async Task<TestBackend.Echo> GetItemAsync(int id)
        {
            using var response = await client.GetAsync(new Uri($"/items/{id}", UriKind.Relative));
            return await TestBackend.ReadEchoAsync(response);
        }
    }
}
