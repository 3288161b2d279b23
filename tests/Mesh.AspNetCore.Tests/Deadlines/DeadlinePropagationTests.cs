using System.Globalization;
using Mesh.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Deadlines;

/// <summary>
/// A real ASP.NET Core service in the middle of a call chain: its inbound deadline (request timeout, or the caller's
/// remaining time) bounds the meshed calls it makes.
/// </summary>
public sealed class DeadlinePropagationTests : IAsyncLifetime
{
    private TestBackend _slow = null!;
    private TestBackend _echo = null!;

    public async Task InitializeAsync()
    {
        _slow = await TestBackend.StartAsync("slow", delay: TimeSpan.FromSeconds(30));
        _echo = await TestBackend.StartAsync("echo");
    }

    public async Task DisposeAsync()
    {
        await _slow.DisposeAsync();
        await _echo.DisposeAsync();
    }

    [Fact]
    public async Task An_endpoint_request_timeout_bounds_the_meshed_calls_it_makes()
    {
        await using var front = await FrontAsync(app => app.MapGet("/checkout", CallAsync("http://slow/items")).WithRequestTimeout(TimeSpan.FromMilliseconds(300)));
        using var caller = new HttpClient();

        using var answer = await caller.GetAsync(new Uri(front.Address, "/checkout"));

        Assert.Equal(StatusCodes.Status504GatewayTimeout, (int)answer.StatusCode);
        Assert.Contains("inherited", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await Eventually.WaitAsync(() => _slow.Aborted == _slow.Requests, "the slow call to be cancelled at the inherited deadline");
    }

    [Fact]
    public async Task The_time_a_meshed_caller_has_left_travels_to_the_next_hop()
    {
        await using var front = await FrontAsync(app => app.MapGet("/checkout", CallAsync("http://echo/items")));
        var services = new ServiceCollection();
        services.AddMesh(o => o.Services["front"] = new MeshServiceOptions { Endpoints = { new(front.Address.ToString()) }, Timeout = TimeSpan.FromMilliseconds(2000) });
        services.AddHttpClient("front").AddMesh();
        await using var provider = services.BuildServiceProvider();

        using var answer = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("front").GetAsync("http://front/checkout");

        // The front service received 2000 ms and passed on what it had left when it called the echo service.
        Assert.Equal(StatusCodes.Status200OK, (int)answer.StatusCode);
        var passedOn = long.Parse(await answer.Content.ReadAsStringAsync(), CultureInfo.InvariantCulture);
        Assert.InRange(passedOn, 1, 2000);
    }

    [Fact]
    public async Task An_endpoint_without_a_deadline_gives_its_calls_their_own_timeout()
    {
        await using var front = await FrontAsync(app => app.MapGet("/checkout", CallAsync("http://echo/items")).DisableRequestTimeout());
        using var caller = new HttpClient();

        using var answer = await caller.GetAsync(new Uri(front.Address, "/checkout"));

        Assert.Equal("10000", await answer.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5")]
    [InlineData("99999999999999999999")]
    public void A_malformed_mesh_timeout_header_is_ignored(string value)
    {
        var headers = new HeaderDictionary { [MeshHeaders.Timeout] = value };

        Assert.Null(Mesh.AspNetCore.Deadlines.MeshDeadlineMiddleware.CallerTimeout(headers));
    }

    private static Func<IHttpClientFactory, Task<IResult>> CallAsync(string uri) => async clients =>
    {
        try
        {
            using var response = await clients.CreateClient("meshed").GetAsync(uri);
            var echo = await TestBackend.ReadEchoAsync(response);
            return Results.Text(echo.Headers[MeshHeaders.Timeout]);
        }
        catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            return Results.Text(ex.Message, statusCode: StatusCodes.Status504GatewayTimeout);
        }
    };

    private Task<TestApp> FrontAsync(Action<WebApplication> map) => TestApp.StartAsync(
        services =>
        {
            services.AddRequestTimeouts();
            services.AddMesh(o =>
            {
                o.Services["slow"] = new MeshServiceOptions { Endpoints = { new(_slow.Address.ToString()) } };
                o.Services["echo"] = new MeshServiceOptions { Endpoints = { new(_echo.Address.ToString()) } };
            });
            services.AddHttpClient("meshed").AddMesh();
        },
        app =>
        {
            app.UseMeshDeadlines();
            map(app);
        });
}
