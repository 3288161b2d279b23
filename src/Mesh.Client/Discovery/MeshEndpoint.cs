using System.Collections.Frozen;
using Mesh.Configuration;
using Mesh.Identity;

namespace Mesh.Discovery;

/// <summary>One instance of a service, as an endpoint source yields it. Immutable.</summary>
public sealed class MeshEndpoint
{
    private static readonly IReadOnlyDictionary<string, string> s_noLabels = FrozenDictionary<string, string>.Empty;

    /// <summary>Initializes a new endpoint.</summary>
    /// <param name="address">An absolute <c>http</c> or <c>https</c> URI with no path, query or fragment.</param>
    /// <param name="zone">The zone the endpoint runs in, if known.</param>
    /// <param name="weight">The endpoint's share of traffic relative to the others of its service; 0 or more.</param>
    /// <param name="labels">Labels such as <c>version=v2</c>; copied.</param>
    /// <param name="identity">The identity the endpoint presents over mutual TLS, if it has one.</param>
    /// <exception cref="ArgumentException"><paramref name="address"/> is not an absolute http or https URI without a path.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is negative.</exception>
    public MeshEndpoint(Uri address, string? zone = null, int weight = 1, IEnumerable<KeyValuePair<string, string>>? labels = null, SpiffeId? identity = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        if (EndpointAddress.Check(address) is { } problem)
        {
            throw new ArgumentException($"Endpoint address '{address.OriginalString}' {problem}.", nameof(address));
        }

        Address = address;
        Zone = zone;
        Weight = weight;
        Labels = labels is null ? s_noLabels : labels.ToFrozenDictionary(StringComparer.Ordinal);
        Identity = identity;
    }

    /// <summary>Gets the address requests are sent to: scheme, host and port.</summary>
    public Uri Address { get; }

    /// <summary>Gets the zone the endpoint runs in, or <see langword="null"/> when unknown.</summary>
    public string? Zone { get; }

    /// <summary>Gets the endpoint's share of traffic relative to the others of its service.</summary>
    public int Weight { get; }

    /// <summary>
    /// Gets the identity the endpoint presents over mutual TLS: a workload with an identity of its own calls it over
    /// mutual TLS and refuses any other; a workload without one calls it in plaintext.
    /// </summary>
    public SpiffeId? Identity { get; }

    /// <summary>Gets the labels of the endpoint.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; }

    /// <inheritdoc />
    public override string ToString() => Address.GetLeftPart(UriPartial.Authority);
}
