using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;

namespace Mesh.CircuitBreaking;

/// <summary>
/// The breaker of one service. Attempts that fail against the service (5xx, a broken exchange, an attempt timeout)
/// are counted over <see cref="CircuitBreakerOptions.SamplingDuration"/> in ten rolling windows; once at least
/// <see cref="CircuitBreakerOptions.MinimumThroughput"/> attempts were counted and the failed share reaches
/// <see cref="CircuitBreakerOptions.FailureRatio"/>, it opens: for <see cref="CircuitBreakerOptions.BreakDuration"/>
/// every attempt is refused at once with a <see cref="BrokenCircuitException"/>. Then it is half-open: one probe goes
/// through (another only if that one has not ended within a break duration); its success closes the breaker and its
/// failure opens it again. These are the rules of Polly's advanced circuit breaker, which the mesh used before; the
/// breaker is its own so that an attempt costs a read of the state before it and one short lock after it, with no
/// asynchronous layer and no allocation. Keeps its state for <c>/mesh/stats</c> and counts its transitions.
/// </summary>
internal sealed partial class BreakerStrategy
{
    public const string Closed = "closed";
    public const string Open = "open";
    public const string HalfOpen = "half_open";

    private const int Windows = 10;

    private readonly string _service;
    private readonly CircuitBreakerOptions _options;
    private readonly ServiceCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly long _windowTicks;
    private readonly long _breakTicks;
    private readonly Lock _gate = new();

    // Per rolling window: the window's number (time / window length), its successes and failures.
    private readonly long[] _windowNumber = new long[Windows];
    private readonly int[] _successes = new int[Windows];
    private readonly int[] _failures = new int[Windows];

    private volatile string _state = Closed;

    // While open or half-open: the timestamp until which attempts are refused.
    private long _blockedUntil;

    public BreakerStrategy(string service, CircuitBreakerOptions options, ServiceCounters counters, TimeProvider time, ILogger logger)
    {
        _service = service;
        _options = options;
        _counters = counters;
        _time = time;
        _logger = logger;
        _windowTicks = Math.Max(1, (long)(options.SamplingDuration.TotalSeconds * time.TimestampFrequency / Windows));
        _breakTicks = (long)(options.BreakDuration.TotalSeconds * time.TimestampFrequency);
        Array.Fill(_windowNumber, long.MinValue);
    }

    /// <summary>Gets the state as of the last transition: <c>closed</c>, <c>open</c> or <c>half_open</c>.</summary>
    public string State => _state;

    /// <summary>
    /// Asks to send an attempt: <see langword="null"/> when it may go (closed, or the half-open probe), else the
    /// refusal, with how long the breaker stays open.
    /// </summary>
    public BrokenCircuitException? TryEnter()
    {
        if (ReferenceEquals(_state, Closed))
        {
            return null;
        }

        string? halfOpened = null;
        BrokenCircuitException? refused = null;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            if (ReferenceEquals(_state, Closed))
            {
                return null;
            }

            if (now >= _blockedUntil)
            {
                // The break is over (or the last probe did not end within one): this attempt is the probe.
                _blockedUntil = now + _breakTicks;
                if (ReferenceEquals(_state, Open))
                {
                    _state = HalfOpen;
                    halfOpened = HalfOpen;
                }
            }
            else
            {
                refused = new BrokenCircuitException(_time.GetElapsedTime(now, _blockedUntil));
            }
        }

        if (halfOpened is not null)
        {
            _counters.BreakerTransition(HalfOpen);
            LogHalfOpen(_logger, _service);
        }

        return refused;
    }

    /// <summary>Records the outcome of an attempt <see cref="TryEnter"/> let through.</summary>
    public void Record(Outcome<HttpResponseMessage> outcome, MeshCall call)
    {
        var failed = Failures.CountsAgainstService(Failures.Classify(outcome, call.Protocol));
        string? transition = null;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            var state = _state;
            if (ReferenceEquals(state, HalfOpen))
            {
                transition = failed ? OpenNow(now) : CloseNow();
            }
            else if (ReferenceEquals(state, Closed) && Count(now, failed))
            {
                transition = OpenNow(now);
            }
        }

        if (transition is not null)
        {
            _counters.BreakerTransition(transition);
            if (ReferenceEquals(transition, Open))
            {
                LogOpened(_logger, _service, _options.BreakDuration.TotalSeconds);
            }
            else
            {
                LogClosed(_logger, _service);
            }
        }
    }

    /// <summary>The Polly strategy that puts this breaker inside a Polly pipeline (hedging's), sharing its state.</summary>
    public ResilienceStrategy<HttpResponseMessage> AsPollyStrategy() => new PollyBreaker(this);

    /// <summary>The exception a caller gets for a call the open breaker refused, naming the service.</summary>
    public static MeshCircuitOpenException Refused(string service, BrokenCircuitException broken) => new(service, broken.RetryAfter, broken);

    // Counts an outcome in the current window; whether the breaker must open. Under the lock.
    private bool Count(long now, bool failed)
    {
        var number = now / _windowTicks;
        var slot = (int)(number % Windows);
        if (_windowNumber[slot] != number)
        {
            _windowNumber[slot] = number;
            _successes[slot] = 0;
            _failures[slot] = 0;
        }

        if (!failed)
        {
            _successes[slot]++;
            return false;
        }

        _failures[slot]++;
        int total = 0, failures = 0;
        for (var i = 0; i < Windows; i++)
        {
            if (_windowNumber[i] > number - Windows)
            {
                total += _successes[i] + _failures[i];
                failures += _failures[i];
            }
        }

        return total >= _options.MinimumThroughput && failures >= _options.FailureRatio * total;
    }

    private string OpenNow(long now)
    {
        _state = Open;
        _blockedUntil = now + _breakTicks;
        return Open;
    }

    private string CloseNow()
    {
        _state = Closed;
        Array.Fill(_windowNumber, long.MinValue);
        return Closed;
    }

    /// <summary>Polly's options type for the breaker inside a Polly pipeline: it has none of its own.</summary>
    internal sealed class PollyOptions : ResilienceStrategyOptions
    {
        public PollyOptions() => Name = "mesh-breaker";
    }

    private sealed class PollyBreaker(BreakerStrategy breaker) : ResilienceStrategy<HttpResponseMessage>
    {
        protected override async ValueTask<Outcome<HttpResponseMessage>> ExecuteCore<TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<HttpResponseMessage>>> callback, ResilienceContext context, TState state)
        {
            if (breaker.TryEnter() is { } refused)
            {
                return Outcome.FromException<HttpResponseMessage>(refused);
            }

            Outcome<HttpResponseMessage> outcome;
            try
            {
                outcome = await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
            }
#pragma warning disable CA1031 // As Polly's breaker: every failure of an attempt becomes its outcome.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                outcome = Outcome.FromException<HttpResponseMessage>(ex);
            }

            breaker.Record(outcome, CallProperties.CallOf(context));
            return outcome;
        }
    }
}
