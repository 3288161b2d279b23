namespace Mesh.Balancing;

/// <summary>
/// One request in flight on an endpoint. Completing it records the latency and outcome the balancers learn
/// from; it must be completed on every path (success, failure, cancellation).
/// </summary>
internal readonly struct EndpointLease
{
    private readonly long _startedAt;

    internal EndpointLease(EndpointLoad endpoint, long startedAt)
    {
        Endpoint = endpoint;
        _startedAt = startedAt;
    }

    public EndpointLoad Endpoint { get; }

    public void Complete(EndpointOutcome outcome, long endedAt) => Endpoint.Complete(_startedAt, endedAt, outcome);
}
