using Mesh.Balancing;
using Mesh.Protocol;

namespace Mesh.Resilience;

/// <summary>
/// One logical call through the mesh, shared by its attempts (retries and hedges): its service, protocol, deadline,
/// what may be done with it, and the endpoints already tried, which the pick of the next attempt avoids. A call whose
/// decisions are explained is an <see cref="ExplainedCall"/>, so the others carry no field for it.
/// </summary>
internal class MeshCall : IPickHistory
{
    // Hedged attempts share the call, so the endpoints tried are guarded (by the call itself, which nothing else can
    // lock: it is internal); the list holds the endpoints after the first.
    private EndpointLoad? _first;
    private List<EndpointLoad>? _more;
    private readonly bool _isGrpc;
    private int _attempts;
    private string? _nextReason;

    public MeshCall(string service, HttpRequestMessage request, IProtocol protocol, DateTimeOffset deadline)
    {
        Service = service;
        LogicalUri = request.RequestUri!;
        _isGrpc = protocol == Protocols.Grpc;
        Deadline = deadline;

        // The request's options are read only when the protocol does not already allow it: reading them allocates.
        Idempotent = protocol.IsIdempotent(request)
            || (request.Options.TryGetValue(MeshRequestOptions.Idempotent, out var marked) && marked);
        Replayable = protocol.IsReplayable(request.Content);
    }

    /// <summary>Gets the record of the call's decisions, or <see langword="null"/> when the call is not explained.</summary>
    public Explanation? Explanation => (this as ExplainedCall)?.Explanation;

    /// <summary>Gets the logical name of the service called.</summary>
    public string Service { get; }

    /// <summary>Gets the address the caller asked for, before any endpoint was chosen.</summary>
    public Uri LogicalUri { get; }

    /// <summary>Gets the protocol of the call.</summary>
    // Kept as a flag beside the call's other flags: a reference would add eight bytes to every call.
    public IProtocol Protocol => _isGrpc ? Protocols.Grpc : Protocols.Http;

    public DateTimeOffset Deadline { get; }

    /// <summary>Gets whether the request may be sent twice: by the protocol's rule or <see cref="MeshRequestOptions.Idempotent"/>.</summary>
    public bool Idempotent { get; }

    /// <summary>Gets whether the body can be sent again.</summary>
    public bool Replayable { get; }

    /// <summary>Gets or sets the delay the retry decision chose for the next attempt.</summary>
    public TimeSpan NextDelay { get; set; }

    /// <summary>Gets or sets why the last failure was not retried, when the reason is worth telling the caller.</summary>
    public string? NotRetriedReason { get; set; }

    /// <summary>Gets how many attempts the call made, endpoints replaced after a refused connection included.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>Counts an attempt and returns its number (1 for the first) and why it is made (null for the first).</summary>
    public (int Number, string? Reason) BeginAttempt() =>
        (Interlocked.Increment(ref _attempts), Interlocked.Exchange(ref _nextReason, null));

    /// <summary>Records why the next attempt will be made, for its span.</summary>
    public void SetNextReason(string reason) => Volatile.Write(ref _nextReason, reason);

    /// <summary>Records why the next attempt will be made, unless a reason is already waiting.</summary>
    public void SetNextReasonIfNone(string reason) => Interlocked.CompareExchange(ref _nextReason, reason, null);

    public void AddTried(EndpointLoad endpoint)
    {
        lock (this)
        {
            if (_first is null)
            {
                _first = endpoint;
            }
            else
            {
                (_more ??= new List<EndpointLoad>(2)).Add(endpoint);
            }
        }
    }

    public bool HasTried(EndpointLoad endpoint)
    {
        lock (this)
        {
            return ReferenceEquals(_first, endpoint) || (_more is not null && _more.Contains(endpoint));
        }
    }

    /// <summary>Gets the addresses of the endpoints tried, each once, in the order first tried.</summary>
    public List<Uri> TriedAddresses()
    {
        lock (this)
        {
            IEnumerable<EndpointLoad> all = _first is null ? [] : [_first, .. _more ?? []];
            return all.Distinct().Select(e => e.Endpoint.Address).ToList();
        }
    }
}
