using Mesh.Resilience;

namespace Mesh.Retry;

/// <summary>
/// When and how a failed attempt is tried again. Bound from <c>Mesh:Services:{name}:Retry</c>.
/// </summary>
/// <remarks>
/// Only idempotent requests are retried (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any request with an
/// <c>Idempotency-Key</c> header or <see cref="MeshRequestOptions.Idempotent"/> set), except when the failure proves
/// the request never reached the server (<c>connect-failure</c>, <c>refused-stream</c>), which is retried for any method.
/// A request whose body cannot be sent twice is retried only in that case too.
/// </remarks>
public sealed class RetryOptions
{
    /// <summary>The failure classes retried when <see cref="On"/> is not set.</summary>
    public static IReadOnlyList<string> DefaultOn { get; } =
        [RetryOn.ConnectFailure, RetryOn.RefusedStream, "503", "502", "504", "429", "unavailable"];

    /// <summary>Gets or sets whether failed attempts are retried at all.</summary>
    /// <value><see langword="true"/> by default.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the most attempts one call makes, the first included.</summary>
    /// <value>3 by default; from 1 (no retry) to 10.</value>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Gets or sets the base of the exponential backoff: retry n waits a random time in [0, min(MaxBackoff, Backoff × 2^n)).</summary>
    /// <value>25 ms by default.</value>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromMilliseconds(25);

    /// <summary>Gets or sets the cap of the backoff.</summary>
    /// <value>250 ms by default; not less than <see cref="Backoff"/>.</value>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets the failures retried: <c>connect-failure</c>, <c>refused-stream</c>, <c>reset</c> (the connection
    /// broke after the request was sent), <c>5xx</c>, <c>gateway-error</c> (502, 503, 504) and status codes such as
    /// <c>503</c>. An attempt that exceeds its attempt timeout counts as <c>504</c>. For gRPC calls, whose HTTP status is
    /// 200, gRPC status names in lower case with dashes (<c>unavailable</c>, <c>resource-exhausted</c>, …) match the
    /// status of a trailers-only answer; an answer whose headers carry no status has committed the call.
    /// </summary>
    /// <value><see langword="null"/> by default, meaning <see cref="DefaultOn"/>.</value>
    public IList<string>? On { get; set; }

    /// <summary>Gets the retry budget, which caps retries to a share of recent traffic.</summary>
    public RetryBudgetOptions Budget { get; } = new();
}
