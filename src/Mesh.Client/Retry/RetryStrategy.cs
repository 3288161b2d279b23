using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Telemetry;
using Mesh.Utilities;
using Microsoft.Extensions.Logging;
using Polly;

namespace Mesh.Retry;

/// <summary>
/// The retry decision of one service: its rules and its budget, and the Polly retry strategy built from them. Also
/// decides, for hedging, which failed attempts call for the next one.
/// </summary>
internal sealed partial class RetryStrategy
{
    private readonly string _service;
    private readonly ServiceCounters _counters;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ILogger _logger;
    private readonly TimeSpan _budgetWindow;

    // shared: a budget to draw on, with its window (a route's retry draws on its service's); none for a budget of its own.
    public RetryStrategy(string service, RetryOptions options, ServiceCounters counters, TimeProvider time, MeshRandom random, ILogger logger, (RetryBudget Budget, TimeSpan Window)? shared = null)
    {
        _service = service;
        _counters = counters;
        _time = time;
        _random = random;
        _logger = logger;
        Rules = new RetryRules(options);
        Budget = shared?.Budget ?? new RetryBudget(options.Budget, time);
        _budgetWindow = shared?.Window ?? options.Budget.Window;
    }

    public RetryRules Rules { get; }

    public RetryBudget Budget { get; }

    /// <summary>Counts and logs the retry of <paramref name="call"/> after its attempt <paramref name="attempt"/> (0 for the first), to be made after <paramref name="delay"/>.</summary>
    internal void OnRetry(Outcome<HttpResponseMessage> outcome, MeshCall call, int attempt, TimeSpan delay)
    {
        _counters.Retry();
        LogRetry(_logger, _service, attempt + 2, Describe(outcome, call.Protocol), delay.TotalMilliseconds);
    }

    /// <summary>
    /// Decides whether a failed attempt is tried again, and after how long. Applies, in order: the failure classes of
    /// the service, the attempt limit, idempotency and a replayable body (unless the request was never sent),
    /// Retry-After and the server's pushback within the deadline, and the retry budget. For hedging
    /// (<paramref name="hedge"/>) only the first three apply: the hedging strategy starts the next attempt at once and
    /// pays the budget when it does.
    /// </summary>
    internal bool ShouldRetry(Outcome<HttpResponseMessage> outcome, MeshCall call, int attempt, bool hedge)
    {
        var protocol = call.Protocol;
        var kind = Failures.Classify(outcome, protocol);
        if (!Rules.Matches(kind, outcome.Result, protocol.RpcStatus(kind, outcome.Result)) || (!hedge && attempt + 1 >= Rules.MaxAttempts))
        {
            return false;
        }

        var neverSent = kind is FailureKind.ConnectFailure or FailureKind.RefusedStream;
        if (!neverSent && !(call.Idempotent && call.Replayable))
        {
            return NotRetried(call, call.Idempotent ? "its body cannot be sent twice" : "it is not idempotent");
        }

        if (hedge)
        {
            call.SetNextReason($"hedge after {Describe(outcome, protocol)}");
            return true;
        }

        // A request that never reached a server added no load to it, so trying it elsewhere spends no budget.
        if (neverSent)
        {
            call.NextDelay = TimeSpan.Zero;
            call.NotRetriedReason = null;
            call.SetNextReason($"retry after {Describe(outcome, protocol)}");
            return true;
        }

        var now = _time.GetUtcNow();
        var delay = Rules.Backoff(attempt, _random);
        if (outcome.Result is { } response)
        {
            if (RetryRules.RetryAfter(response, now) is { } retryAfter)
            {
                delay = retryAfter;
            }

            if (protocol.Pushback(response) is { } pushback)
            {
                if (pushback == Timeout.InfiniteTimeSpan)
                {
                    return NotRetried(call, "the server's grpc-retry-pushback-ms asks not to retry");
                }

                delay = pushback;
            }
        }

        if (now + delay >= call.Deadline)
        {
            return NotRetried(call, $"the wait before a retry ({delay.TotalMilliseconds:0} ms) would pass the call's deadline");
        }

        if (!TryWithdraw(call))
        {
            return false;
        }

        call.NextDelay = delay;
        call.SetNextReason($"retry after {Describe(outcome, protocol)}");
        return true;
    }

    /// <summary>Takes one retry (or hedge) from the budget; when it is exhausted, says so on the call and in the log.</summary>
    internal bool TryWithdraw(MeshCall call)
    {
        if (Budget.TryWithdraw(out var firstDenialInWindow))
        {
            call.NotRetriedReason = null;
            return true;
        }

        _counters.BudgetExhaust();
        if (firstDenialInWindow)
        {
            LogBudgetExhausted(_logger, _service, _budgetWindow.TotalSeconds);
        }

        return NotRetried(call, $"the retry budget of service '{_service}' is exhausted");
    }

    /// <summary>Describes an outcome for logs and spans: the exception, or the answer as its protocol reads it.</summary>
    internal static string Describe(Outcome<HttpResponseMessage> outcome, IProtocol protocol) =>
        outcome.Exception is { } exception ? $"{exception.GetType().Name}: {exception.Message}"
        : outcome.Result is { } response ? protocol.Describe(response)
        : "no result";

    private bool NotRetried(MeshCall call, string reason)
    {
        call.NotRetriedReason = reason;
        LogNotRetried(_logger, _service, reason);
        return false;
    }
}
