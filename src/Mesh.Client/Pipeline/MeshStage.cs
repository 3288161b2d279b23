namespace Mesh.Pipeline;

/// <summary>
/// The stages of the outbound pipeline, outermost first. <see cref="MeshPipeline"/> adds the handlers in this order and
/// no other; a stage without a handler yet keeps its place.
/// </summary>
internal enum MeshStage
{
    /// <summary>One span and one set of golden metrics per logical call.</summary>
    Telemetry,

    /// <summary>Logical name to route: header match, weighted split, fault injection.</summary>
    Routing,

    /// <summary>Rate limit, total timeout, retry with budget, service breaker.</summary>
    Resilience,

    /// <summary>Balancer pick, per-try timeout, outlier detection, URI rewrite.</summary>
    Endpoint,
}
