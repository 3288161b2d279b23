using Microsoft.Extensions.Logging;

namespace Mesh.Retry;

internal sealed partial class RetryStrategy
{
    [LoggerMessage(20, LogLevel.Debug, "Retrying a call to service '{Service}' (attempt {Attempt}) after {Outcome}, in {DelayMs:0.#} ms.")]
    private static partial void LogRetry(ILogger logger, string service, int attempt, string outcome, double delayMs);

    [LoggerMessage(21, LogLevel.Warning, "Retry budget of service '{Service}' exhausted: failed attempts are not retried while retries exceed the budget (said at most once per {WindowSeconds:0} s; each refusal is logged at Debug).")]
    private static partial void LogBudgetExhausted(ILogger logger, string service, double windowSeconds);

    [LoggerMessage(22, LogLevel.Debug, "A failed call to service '{Service}' is not retried: {Reason}.")]
    private static partial void LogNotRetried(ILogger logger, string service, string reason);
}
