using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Outliers;

namespace Mesh.Endpoint;

/// <summary>
/// One endpoint of a service as an attempt needs it: where it is, its load (whose lease teaches the balancer) and its
/// ejection state (which outlier detection judges).
/// </summary>
internal sealed class EndpointTarget(MeshEndpoint endpoint, EndpointLoad load, EjectionState ejection)
{
    // The path and query come from a parsed Uri, so they are already canonical: parsing them again is wasted work.
    private static readonly UriCreationOptions s_canonical = new() { DangerousDisablePathAndQueryCanonicalization = true };

    // The last address made for this endpoint, kept whole so a reader never sees the parts of two: calls to the same
    // logical address (the same Uri, or one with the same path and query) share one immutable Uri instead of building
    // and parsing a string on every attempt.
    private Rewritten? _last;

    public MeshEndpoint Endpoint { get; } = endpoint;

    public EndpointLoad Load { get; } = load;

    public EjectionState Ejection { get; } = ejection;

    /// <summary>Gets <c>scheme://host:port</c>, ready to prefix a path.</summary>
    public string Authority => Load.Authority;

    /// <summary>
    /// Gets the address of this endpoint for <paramref name="logical"/>: scheme, host and port this endpoint's, path and
    /// query the caller's (its fragment dropped, as HttpClient never sends it).
    /// </summary>
    public Uri AddressFor(Uri logical)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && ReferenceEquals(last.Logical, logical))
        {
            return last.Address;
        }

        var pathAndQuery = logical.GetComponents(UriComponents.PathAndQuery, UriFormat.UriEscaped);
        if (last is not null && string.Equals(last.PathAndQuery, pathAndQuery, StringComparison.Ordinal))
        {
            return last.Address;
        }

        var address = new Uri(Authority + pathAndQuery, in s_canonical);
        Volatile.Write(ref _last, new Rewritten(logical, pathAndQuery, address));
        return address;
    }

    public override string ToString() => Authority;

    private sealed record Rewritten(Uri Logical, string PathAndQuery, Uri Address);
}
