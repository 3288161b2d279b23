using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Mesh.Identity;

/// <summary>
/// The identity each endpoint of the mesh must present, by host and port: what the transport checks a peer against when
/// it opens a connection. Replaced whole by the mesh's catalog when its endpoints change; read once per new connection.
/// </summary>
internal sealed class EndpointIdentities
{
    private volatile FrozenDictionary<string, SpiffeId> _byEndpoint = FrozenDictionary<string, SpiffeId>.Empty;

    /// <summary>Replaces every expectation at once.</summary>
    public void Replace(IEnumerable<(string Host, int Port, SpiffeId Identity)> endpoints) =>
        _byEndpoint = endpoints
            .GroupBy(e => Key(e.Host, e.Port), StringComparer.OrdinalIgnoreCase)
            .ToFrozenDictionary(g => g.Key, g => g.First().Identity, StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the identity the endpoint at <paramref name="host"/>:<paramref name="port"/> must present, if it is a mesh endpoint with one.</summary>
    public bool TryGet(string host, int port, [NotNullWhen(true)] out SpiffeId? identity) =>
        _byEndpoint.TryGetValue(Key(host, port), out identity);

    private static string Key(string host, int port) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{host}:{port}");
}
