using Mesh.Resilience;
using Mesh.Retry;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Polly.Hedging;

namespace Mesh.Hedging;

/// <summary>
/// Hedging for one service: after <see cref="HedgingOptions.Delay"/> without an answer, or at once after a failure the
/// retry rules would retry, another attempt goes to an endpoint not yet tried; the first answer wins. Every hedged
/// attempt is paid from the retry budget.
/// </summary>
internal sealed partial class HedgingStrategy(string service, HedgingOptions options, RetryStrategy retry, ServiceCounters counters, ILogger logger)
{
    /// <summary>The Polly strategy.</summary>
    public HedgingStrategyOptions<HttpResponseMessage> CreateOptions() => new()
    {
        MaxHedgedAttempts = options.MaxAttempts - 1,
        Delay = options.Delay,
        ShouldHandle = args => ValueTask.FromResult(retry.ShouldRetry(args.Outcome, CallProperties.CallOf(args.Context), 0, hedge: true)),
        ActionGenerator = args =>
        {
            // Every hedged attempt, whether the earlier ones are slow or failed, is paid from the retry budget.
            var call = CallProperties.CallOf(args.PrimaryContext);
            if (!retry.TryWithdraw(call))
            {
                return null;
            }

            call.SetNextReasonIfNone($"hedge: no answer within {options.Delay.TotalMilliseconds:0} ms");
            var original = args.PrimaryContext.Properties.GetValue(CallProperties.Request, null!);
            args.ActionContext.Properties.Set(CallProperties.Request, Clone(original, call.LogicalUri));
            return () => args.Callback(args.ActionContext);
        },
        OnHedging = args =>
        {
            counters.Hedge();
            LogHedge(logger, service, args.AttemptNumber + 1);
            return default;
        },
    };

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

        var cloned = (IDictionary<string, object?>)clone.Options;
        foreach (var option in request.Options)
        {
            cloned[option.Key] = option.Value;
        }

        return clone;
    }
}
