using System.Net;
using Mesh.Balancing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Retry-After is honoured within the deadline, on a fake clock.</summary>
public sealed class RetryAfterTests : IAsyncLifetime
{
    private readonly CountingTimeProvider _clock = new(new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero)));
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("busy");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Retry_After_of_one_second_is_waited_for_exactly(bool asDate)
    {
        using var host = Host(timeout: "00:00:10");
        var retryAfter = asDate ? _clock.GetUtcNow().AddSeconds(1).ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "1";
        _backend.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable, retryAfter));
        var client = host.Client;
        var timers = _clock.TimersCreated;

        var call = client.GetAsync("http://inventory/items");

        // One timer for the call's deadline, one for the wait before the retry.
        await Eventually.WaitAsync(() => _clock.TimersCreated >= timers + 2, "the retry to start waiting");
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("Retrying a call to service 'inventory' (attempt 2) after status 503, in 1000 ms", StringComparison.Ordinal));
        Assert.Equal(1, _backend.Requests);

        _clock.Fake.Advance(TimeSpan.FromSeconds(1));
        using var response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _backend.Requests);
    }

    [Fact]
    public async Task Retry_After_beyond_the_deadline_ends_the_call_with_the_answer_instead_of_waiting()
    {
        using var host = Host(timeout: "00:00:02");
        _backend.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable, "5"));

        using var response = await host.Client.GetAsync("http://inventory/items");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, _backend.Requests);
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("would pass the call's deadline", StringComparison.Ordinal));
    }

    private MeshTestHost Host(string timeout)
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:Services:inventory:Timeout"] = timeout;
        return MeshTestHost.Create(config, s => s.AddSingleton<TimeProvider>(_clock));
    }
}
