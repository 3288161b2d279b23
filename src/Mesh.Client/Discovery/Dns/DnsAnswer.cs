namespace Mesh.Discovery.Dns;

/// <summary>The outcome of one lookup: the endpoints and how long they hold, or why there are none.</summary>
internal sealed class DnsAnswer
{
    private DnsAnswer(DnsAnswerKind kind, IReadOnlyList<MeshEndpoint> endpoints, TimeSpan ttl, string? problem)
    {
        Kind = kind;
        Endpoints = endpoints;
        Ttl = ttl;
        Problem = problem;
    }

    public DnsAnswerKind Kind { get; }

    /// <summary>Gets the endpoints; empty unless <see cref="Kind"/> is <see cref="DnsAnswerKind.Found"/>.</summary>
    public IReadOnlyList<MeshEndpoint> Endpoints { get; }

    /// <summary>Gets the smallest time to live of the records used, or of the negative answer.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>Gets why the lookup failed, for the log; never holds record data beyond names and codes.</summary>
    public string? Problem { get; }

    public static DnsAnswer Found(IReadOnlyList<MeshEndpoint> endpoints, TimeSpan ttl) => new(DnsAnswerKind.Found, endpoints, ttl, null);

    public static DnsAnswer None(TimeSpan ttl, string why) => new(DnsAnswerKind.None, [], ttl, why);

    public static DnsAnswer Failed(string problem) => new(DnsAnswerKind.Failed, [], TimeSpan.Zero, problem);
}

/// <summary>What kind of answer a lookup got.</summary>
internal enum DnsAnswerKind
{
    /// <summary>Records, and endpoints made of them.</summary>
    Found,

    /// <summary>An authoritative answer that the name has no such records (<c>NXDOMAIN</c>, no data, or an SRV target of <c>.</c>).</summary>
    None,

    /// <summary>No usable answer: a timeout, a server failure, a refusal or records that cannot be used.</summary>
    Failed,
}
