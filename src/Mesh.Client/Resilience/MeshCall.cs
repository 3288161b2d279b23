using System.Net.Http.Json;
using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Grpc;

namespace Mesh.Resilience;

/// <summary>
/// One logical call through the mesh, shared by its attempts (retries and hedges) through the request's options:
/// its service, its deadline and the endpoints already tried.
/// </summary>
internal sealed class MeshCall
{
    public static readonly HttpRequestOptionsKey<MeshCall> Key = new("Mesh.Call");

    private static readonly HashSet<HttpMethod> s_idempotentMethods =
        [HttpMethod.Get, HttpMethod.Head, HttpMethod.Options, HttpMethod.Trace, HttpMethod.Put, HttpMethod.Delete];

    // Hedged attempts share the call, so the endpoints tried are guarded (by the call itself, which nothing else can
    // lock: it is internal); the list holds the endpoints after the first.
    private EndpointState? _first;
    private List<EndpointState>? _more;
    private int _attempts;
    private string? _nextReason;

    public MeshCall(ServiceState service, HttpRequestMessage request, DateTimeOffset deadline)
    {
        Service = service;
        LogicalUri = request.RequestUri!;
        Deadline = deadline;
        IsGrpc = GrpcProtocol.IsGrpc(request);

        // A gRPC call is a POST whose idempotency is the method's business; gRFC A6 retries it by status alone.
        Idempotent = IsGrpc || IsIdempotent(request);
        Replayable = IsReplayable(request.Content);
    }

    public ServiceState Service { get; }

    /// <summary>Gets the address the caller asked for, before any endpoint was chosen.</summary>
    public Uri LogicalUri { get; }

    /// <summary>Gets whether the call is a gRPC call (status in trailers, deadline in grpc-timeout).</summary>
    public bool IsGrpc { get; }

    public DateTimeOffset Deadline { get; }

    /// <summary>Gets whether the request may be sent twice: by method, an Idempotency-Key header or <see cref="MeshRequestOptions.Idempotent"/>.</summary>
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

    public void AddTried(EndpointState endpoint)
    {
        lock (this)
        {
            if (_first is null)
            {
                _first = endpoint;
            }
            else
            {
                (_more ??= new List<EndpointState>(2)).Add(endpoint);
            }
        }
    }

    public bool HasTried(EndpointState endpoint)
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
            IEnumerable<EndpointState> all = _first is null ? [] : [_first, .. _more ?? []];
            return all.Distinct().Select(e => e.Endpoint.Address).ToList();
        }
    }

    private static bool IsIdempotent(HttpRequestMessage request) =>
        s_idempotentMethods.Contains(request.Method)
        || request.Headers.Contains("Idempotency-Key")
        || (request.Options.TryGetValue(MeshRequestOptions.Idempotent, out var marked) && marked);

    internal static bool IsReplayable(HttpContent? content) => content switch
    {
        null or ByteArrayContent or ReadOnlyMemoryContent or JsonContent => true,
        _ when GrpcProtocol.IsReplayable(content) => true,
        MultipartContent multipart => multipart.All(IsReplayable),
        _ => false,
    };

}
