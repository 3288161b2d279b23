using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Mesh.AspNetCore.Identity;

/// <summary>The Kestrel endpoints the mesh built a pipeline for, and whether it serves its TLS on each (not on the application's own https).</summary>
internal sealed class MeshTlsEndpoints
{
    private readonly ConcurrentQueue<(ListenOptions Listen, bool Meshed)> _built = new();

    /// <summary>Gets whether the mesh serves its TLS on at least one endpoint.</summary>
    public bool AnyMeshed => _built.Any(e => e.Meshed);

    public void Add(ListenOptions listen, bool meshed) => _built.Enqueue((listen, meshed));

    /// <summary>
    /// Gets whether the mesh serves its TLS at <paramref name="address"/>, one of the server's bound addresses: the same
    /// port on an IP endpoint, or the same name on a socket or pipe. Read after the server bound, when ports are known.
    /// </summary>
    public bool IsMeshed(string address)
    {
        var port = Port(address);
        return _built.Any(e => e.Meshed && (port is { } p ? e.Listen.IPEndPoint?.Port == p : string.Equals(e.Listen.ToString(), address, StringComparison.OrdinalIgnoreCase)));
    }

    private static int? Port(string address)
    {
        var schemeEnd = address.IndexOf("://", StringComparison.Ordinal);
        var rest = schemeEnd < 0 ? address : address[(schemeEnd + 3)..].TrimEnd('/');
        var colon = rest.LastIndexOf(':');
        return colon > 0 && !rest.EndsWith(']') && int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : null;
    }
}
