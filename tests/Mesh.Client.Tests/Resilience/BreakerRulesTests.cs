using System.Net;
using Mesh.CircuitBreaking;
using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Polly;

namespace Mesh.Client.Tests.Resilience;

/// <summary>
/// The service breaker's rules on an injected clock: the failed share over the minimum throughput in the rolling
/// sampling window opens it, an open breaker refuses with the time it stays open, one probe when the break is over,
/// its success closes and its failure opens again, and outcomes older than the window no longer count.
/// </summary>
public sealed class BreakerRulesTests : IDisposable
{
    private static readonly CircuitBreakerOptions s_options = new()
    {
        FailureRatio = 0.5,
        MinimumThroughput = 4,
        SamplingDuration = TimeSpan.FromSeconds(10),
        BreakDuration = TimeSpan.FromSeconds(5),
    };

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();
    private readonly ServiceCounters _counters;
    private readonly BreakerStrategy _breaker;
    private readonly MeshCall _call;

    public BreakerRulesTests()
    {
        _counters = new ServiceCounters("inventory", new MeshMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        _breaker = new BreakerStrategy("inventory", s_options, _counters, _time, NullLogger.Instance);
        var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
        _call = new MeshCall("inventory", request, Protocols.Of(request), _time.GetUtcNow().AddMinutes(1));
    }

    public void Dispose() => _services.Dispose();

    [Fact]
    public void It_opens_once_the_minimum_throughput_is_reached_with_the_failed_share_at_the_ratio()
    {
        Fail(3);
        Assert.Equal(BreakerStrategy.Closed, _breaker.State);

        // Four outcomes, three failed: a success never opens it; the next failure does (4 of 5).
        Succeed(1);
        Assert.Equal(BreakerStrategy.Closed, _breaker.State);
        Fail(1);

        Assert.Equal(BreakerStrategy.Open, _breaker.State);
        Assert.Equal(1, _counters.BreakerOpened);
        var refused = _breaker.TryEnter();
        Assert.NotNull(refused);
        Assert.Equal(TimeSpan.FromSeconds(5), refused.RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(3), _breaker.TryEnter()!.RetryAfter);
    }

    [Fact]
    public void Below_the_ratio_it_stays_closed()
    {
        Succeed(5);
        Fail(4);

        // 4 of 9 failed: below the ratio. The next failure makes it 5 of 10: open.
        Assert.Equal(BreakerStrategy.Closed, _breaker.State);
        Fail(1);
        Assert.Equal(BreakerStrategy.Open, _breaker.State);
    }

    [Fact]
    public void After_the_break_one_probe_goes_through_and_its_success_closes_the_breaker()
    {
        Fail(4);
        Assert.Equal(BreakerStrategy.Open, _breaker.State);

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(_breaker.TryEnter());
        Assert.Equal(BreakerStrategy.HalfOpen, _breaker.State);
        Assert.NotNull(_breaker.TryEnter());

        _breaker.Record(Ok(), _call);
        Assert.Equal(BreakerStrategy.Closed, _breaker.State);
        Assert.Null(_breaker.TryEnter());

        // Closing forgot the failures before: three more do not open it.
        Fail(3);
        Assert.Equal(BreakerStrategy.Closed, _breaker.State);
    }

    [Fact]
    public void A_failed_probe_opens_it_again_and_a_probe_that_never_ends_lets_another_through_after_a_break()
    {
        Fail(4);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(_breaker.TryEnter());
        _breaker.Record(Failed(), _call);
        Assert.Equal(BreakerStrategy.Open, _breaker.State);
        Assert.Equal(TimeSpan.FromSeconds(5), _breaker.TryEnter()!.RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(_breaker.TryEnter());

        // That probe hangs: refused meanwhile, another probe once a break duration has passed.
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.NotNull(_breaker.TryEnter());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(_breaker.TryEnter());
        Assert.Equal(BreakerStrategy.HalfOpen, _breaker.State);
    }

    [Fact]
    public void Outcomes_older_than_the_sampling_window_no_longer_count()
    {
        Fail(3);
        _time.Advance(TimeSpan.FromSeconds(11));
        Fail(3);
        Assert.Equal(BreakerStrategy.Closed, _breaker.State);

        // Within the window they add up.
        _time.Advance(TimeSpan.FromSeconds(5));
        Fail(1);
        Assert.Equal(BreakerStrategy.Open, _breaker.State);
    }

    [Fact]
    public void Cancellations_and_unreachable_endpoints_do_not_count_against_the_service()
    {
        for (var i = 0; i < 10; i++)
        {
            _breaker.Record(Outcome.FromException<HttpResponseMessage>(new OperationCanceledException()), _call);
            _breaker.Record(Outcome.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused")), _call);
        }

        Assert.Equal(BreakerStrategy.Closed, _breaker.State);
    }

    private static Outcome<HttpResponseMessage> Ok() => Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.OK));

    private static Outcome<HttpResponseMessage> Failed() => Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));

    private void Record(bool success)
    {
        Assert.Null(_breaker.TryEnter());
        _breaker.Record(success ? Ok() : Failed(), _call);
    }

    private void Fail(int times)
    {
        for (var i = 0; i < times; i++)
        {
            Record(success: false);
        }
    }

    private void Succeed(int times)
    {
        for (var i = 0; i < times; i++)
        {
            Record(success: true);
        }
    }
}
