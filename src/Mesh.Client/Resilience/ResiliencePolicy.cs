using System.Text.Json;
using System.Threading.RateLimiting;
using Mesh.Balancing;
using Mesh.Grpc;
using Mesh.Outliers;
using Mesh.Retry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Hedging;
using Polly.Retry;

namespace Mesh.Resilience;

/// <summary>
/// Everything that decides the fate of one service's calls, built once from its options and kept across
/// configuration reloads while those options stay the same: the retry rules and budget, the Polly pipelines (retry or
/// hedging, then the service breaker), the rate limiter and the outlier detector.
/// </summary>
internal sealed partial class ResiliencePolicy : IDisposable
{
    /// <summary>The log category of every resilience decision.</summary>
    internal const string LogCategory = "Mesh.Resilience";

    internal static readonly ResiliencePropertyKey<MeshCall> CallKey = new("Mesh.Call");
    internal static readonly ResiliencePropertyKey<HttpRequestMessage> RequestKey = new("Mesh.Request");

    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ILogger _logger;
    private readonly TimeSpan _budgetWindow;
    private readonly TimeSpan _hedgingDelay;
    private volatile string _breakerState;

    public ResiliencePolicy(string service, MeshServiceOptions options, ResilienceCounters counters, TimeProvider time, MeshRandom random, ILogger logger, Action<string> refresh)
    {
        Service = service;
        Fingerprint = FingerprintOf(options);
        Timeout = options.Timeout;
        TimeoutHeader = ((long)Math.Ceiling(options.Timeout.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        AttemptTimeout = options.AttemptTimeout;
        Counters = counters;
        _time = time;
        _random = random;
        _logger = logger;
        Rules = new RetryRules(options.Retry);
        Budget = new RetryBudget(options.Retry.Budget, time);
        _budgetWindow = options.Retry.Budget.Window;
        Outliers = new OutlierDetector(service, options.OutlierDetection, time, random, counters, logger, refresh);

        if (options.RateLimit is { } limit)
        {
            PermitsPerSecond = limit.PermitsPerSecond;
            Limiter = CreateLimiter(limit.PermitsPerSecond, limit.Burst, limit.QueueLimit);
        }

        _breakerState = options.CircuitBreaker.Enabled ? "closed" : "disabled";
        var breaker = options.CircuitBreaker.Enabled ? CreateBreakerOptions(options.CircuitBreaker) : null;
        Pipeline = BuildPipeline(builder =>
        {
            if (Rules.MaxAttempts > 1)
            {
                builder.AddRetry(CreateRetryOptions());
            }
        }, breaker);

        if (options.Hedging is { } hedging)
        {
            _hedgingDelay = hedging.Delay;
            HedgingPipeline = BuildPipeline(builder => builder.AddHedging(CreateHedgingOptions(hedging.Delay, hedging.MaxAttempts)), breaker);
        }
    }

    public string Service { get; }

    /// <summary>Gets a canonical form of the options the policy was built from, to tell whether a reload changed them.</summary>
    public string Fingerprint { get; }

    public TimeSpan Timeout { get; }

    /// <summary>Gets <see cref="Timeout"/> as the <c>mesh-timeout</c> header's value, made once.</summary>
    public string TimeoutHeader { get; }

    public TimeSpan? AttemptTimeout { get; }

    public ResilienceCounters Counters { get; }

    /// <summary>Gets the service breaker's state as of its last transition: <c>closed</c>, <c>open</c>, <c>half_open</c> or <c>disabled</c>.</summary>
    public string BreakerState => _breakerState;

    public RetryRules Rules { get; }

    public RetryBudget Budget { get; }

    public OutlierDetector Outliers { get; }

    public RateLimiter? Limiter { get; }

    public int PermitsPerSecond { get; }

    /// <summary>Gets retries (when enabled) over the breaker (when enabled).</summary>
    public ResiliencePipeline<HttpResponseMessage> Pipeline { get; }

    /// <summary>Gets hedging over the breaker, when hedging is configured.</summary>
    public ResiliencePipeline<HttpResponseMessage>? HedgingPipeline { get; }

    public static string FingerprintOf(MeshServiceOptions options) => JsonSerializer.Serialize(new
    {
        options.Timeout,
        options.AttemptTimeout,
        options.Retry,
        options.OutlierDetection,
        options.CircuitBreaker,
        options.Hedging,
        options.RateLimit,
    });

    public void Dispose()
    {
        Limiter?.Dispose();
        Outliers.Dispose();
    }

    /// <summary>
    /// Decides whether a failed attempt is tried again, and after how long. Applies, in order: the failure classes of
    /// the service, the attempt limit, idempotency and a replayable body (unless the request was never sent),
    /// Retry-After within the deadline, and the retry budget. For hedging (<paramref name="hedge"/>) only the first
    /// three apply: the hedging strategy starts the next attempt at once and pays the budget when it does.
    /// </summary>
    internal bool ShouldRetry(Outcome<HttpResponseMessage> outcome, MeshCall call, int attempt, bool hedge)
    {
        var kind = Failures.Classify(outcome);
        if (!Rules.Matches(kind, outcome.Result, call.IsGrpc) || (!hedge && attempt + 1 >= Rules.MaxAttempts))
        {
            return false;
        }

        var neverSent = kind is FailureKind.ConnectFailure or FailureKind.RefusedStream;
        if (!neverSent && !(call.Idempotent && call.Replayable))
        {
            call.NotRetriedReason = call.Idempotent ? "its body cannot be sent twice" : "it is not idempotent";
            LogNotRetried(_logger, Service, call.NotRetriedReason);
            return false;
        }

        if (hedge)
        {
            call.SetNextReason($"hedge after {Describe(outcome)}");
            return true;
        }

        // A request that never reached a server added no load to it, so trying it elsewhere spends no budget.
        if (neverSent)
        {
            call.NextDelay = TimeSpan.Zero;
            call.NotRetriedReason = null;
            call.SetNextReason($"retry after {Describe(outcome)}");
            return true;
        }

        var now = _time.GetUtcNow();
        var delay = Rules.Backoff(attempt, _random);
        if (outcome.Result is { } response && RetryRules.RetryAfter(response, now) is { } retryAfter)
        {
            delay = retryAfter;
        }

        if (outcome.Result is { } answer && GrpcProtocol.Pushback(answer) is { } pushback)
        {
            if (pushback == System.Threading.Timeout.InfiniteTimeSpan)
            {
                call.NotRetriedReason = "the server's grpc-retry-pushback-ms asks not to retry";
                LogNotRetried(_logger, Service, call.NotRetriedReason);
                return false;
            }

            delay = pushback;
        }

        if (now + delay >= call.Deadline)
        {
            call.NotRetriedReason = $"the wait before a retry ({delay.TotalMilliseconds:0} ms) would pass the call's deadline";
            LogNotRetried(_logger, Service, call.NotRetriedReason);
            return false;
        }

        if (!TryWithdraw(call))
        {
            return false;
        }

        call.NextDelay = delay;
        call.SetNextReason($"retry after {Describe(outcome)}");
        return true;
    }

    private bool TryWithdraw(MeshCall call)
    {
        if (Budget.TryWithdraw(out var firstDenialInWindow))
        {
            call.NotRetriedReason = null;
            return true;
        }

        call.NotRetriedReason = $"the retry budget of service '{Service}' is exhausted";
        Counters.BudgetExhaust();
        if (firstDenialInWindow)
        {
            LogBudgetExhausted(_logger, Service, _budgetWindow.TotalSeconds);
        }

        LogNotRetried(_logger, Service, call.NotRetriedReason);
        return false;
    }

    private ResiliencePipeline<HttpResponseMessage> BuildPipeline(Action<ResiliencePipelineBuilder<HttpResponseMessage>> outer, CircuitBreakerStrategyOptions<HttpResponseMessage>? breaker)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time };
        outer(builder);
        if (breaker is not null)
        {
            builder.AddCircuitBreaker(breaker);
        }

        return builder.Build();
    }

    private RetryStrategyOptions<HttpResponseMessage> CreateRetryOptions() => new()
    {
        MaxRetryAttempts = Rules.MaxAttempts - 1,
        ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.Properties.GetValue(CallKey, null!), args.AttemptNumber, hedge: false)),
        DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Context.Properties.GetValue(CallKey, null!).NextDelay),
        OnRetry = args =>
        {
            Counters.Retry();
            LogRetry(_logger, Service, args.AttemptNumber + 2, Describe(args.Outcome), args.RetryDelay.TotalMilliseconds);
            return default;
        },
    };

    private HedgingStrategyOptions<HttpResponseMessage> CreateHedgingOptions(TimeSpan delay, int maxAttempts) => new()
    {
        MaxHedgedAttempts = maxAttempts - 1,
        Delay = delay,
        ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.Properties.GetValue(CallKey, null!), 0, hedge: true)),
        ActionGenerator = args =>
        {
            // Every hedged attempt, whether the earlier ones are slow or failed, is paid from the retry budget.
            var call = args.PrimaryContext.Properties.GetValue(CallKey, null!);
            if (!TryWithdraw(call))
            {
                return null;
            }

            call.SetNextReasonIfNone($"hedge: no answer within {_hedgingDelay.TotalMilliseconds:0} ms");
            var original = args.PrimaryContext.Properties.GetValue(RequestKey, null!);
            args.ActionContext.Properties.Set(RequestKey, Clone(original, call.LogicalUri));
            return () => args.Callback(args.ActionContext);
        },
        OnHedging = args =>
        {
            Counters.Hedge();
            LogHedge(_logger, Service, args.AttemptNumber + 1);
            return default;
        },
    };

    private CircuitBreakerStrategyOptions<HttpResponseMessage> CreateBreakerOptions(CircuitBreaking.CircuitBreakerOptions options) => new()
    {
        FailureRatio = options.FailureRatio,
        MinimumThroughput = options.MinimumThroughput,
        SamplingDuration = options.SamplingDuration,
        BreakDuration = options.BreakDuration,
        ShouldHandle = args => ValueTask.FromResult(Failures.CountsAgainstService(Failures.Classify(args.Outcome))),
        OnOpened = args =>
        {
            _breakerState = "open";
            Counters.BreakerTransition("open");
            LogBreakerOpened(_logger, Service, args.BreakDuration.TotalSeconds);
            return default;
        },
        OnHalfOpened = _ =>
        {
            _breakerState = "half_open";
            Counters.BreakerTransition("half_open");
            LogBreakerHalfOpen(_logger, Service);
            return default;
        },
        OnClosed = _ =>
        {
            _breakerState = "closed";
            Counters.BreakerTransition("closed");
            LogBreakerClosed(_logger, Service);
            return default;
        },
    };

    private static TokenBucketRateLimiter CreateLimiter(int permitsPerSecond, int burst, int queueLimit)
    {
        // Refill in small steps (at least every 20 ms) so the rate holds within a second, not only on average.
        var period = TimeSpan.FromMilliseconds(Math.Max(10, 1000.0 / permitsPerSecond));
        var tokens = Math.Max(1, (int)Math.Round(permitsPerSecond * period.TotalSeconds));
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / (double)permitsPerSecond),
            QueueLimit = queueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    /// <summary>A copy of a request for a concurrent hedged attempt; the body is shared, which replayable bodies allow.</summary>
    private static HttpRequestMessage Clone(HttpRequestMessage request, Uri logicalUri)
    {
        var clone = new HttpRequestMessage(request.Method, logicalUri)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
            Content = request.Content,
        };
        foreach (var header in request.Headers)
        {
            clone.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        var options = (IDictionary<string, object?>)clone.Options;
        foreach (var option in request.Options)
        {
            options[option.Key] = option.Value;
        }

        return clone;
    }

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } exception ? $"{exception.GetType().Name}: {exception.Message}"
        : outcome.Result is { } response ? GrpcProtocol.TrailersOnlyStatus(response) is { } grpc && grpc != GrpcProtocol.Ok
            ? $"gRPC status {GrpcProtocol.StatusNames[Math.Clamp(grpc, 0, GrpcProtocol.StatusNames.Length - 1)]}"
            : $"status {(int)response.StatusCode}"
        : "no result";

    [LoggerMessage(20, LogLevel.Debug, "Retrying a call to service '{Service}' (attempt {Attempt}) after {Outcome}, in {DelayMs:0.#} ms.")]
    private static partial void LogRetry(ILogger logger, string service, int attempt, string outcome, double delayMs);

    [LoggerMessage(21, LogLevel.Warning, "Retry budget of service '{Service}' exhausted: failed attempts are not retried while retries exceed the budget (said at most once per {WindowSeconds:0} s; each refusal is logged at Debug).")]
    private static partial void LogBudgetExhausted(ILogger logger, string service, double windowSeconds);

    [LoggerMessage(22, LogLevel.Debug, "A failed call to service '{Service}' is not retried: {Reason}.")]
    private static partial void LogNotRetried(ILogger logger, string service, string reason);

    [LoggerMessage(23, LogLevel.Debug, "Hedging a call to service '{Service}' (attempt {Attempt}).")]
    private static partial void LogHedge(ILogger logger, string service, int attempt);

    [LoggerMessage(24, LogLevel.Warning, "Circuit breaker of service '{Service}' opened for {Seconds:0.#} s: calls fail fast.")]
    private static partial void LogBreakerOpened(ILogger logger, string service, double seconds);

    [LoggerMessage(25, LogLevel.Information, "Circuit breaker of service '{Service}' half-open: one probe goes through.")]
    private static partial void LogBreakerHalfOpen(ILogger logger, string service);

    [LoggerMessage(26, LogLevel.Information, "Circuit breaker of service '{Service}' closed.")]
    private static partial void LogBreakerClosed(ILogger logger, string service);
}
