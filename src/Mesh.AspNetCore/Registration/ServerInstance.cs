using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// What every registry is told of this instance: its id (<c>Mesh:Server:InstanceId</c>, else <c>{service}-{8 hex digits}</c>
/// made once per process, so meshd and Consul see the same id) and its address (<c>Mesh:Server:AdvertisedAddress</c>,
/// else Kestrel's first bound address with a wildcard or <c>localhost</c> host made <c>127.0.0.1</c>).
/// </summary>
internal sealed class ServerInstance(IServer server, IOptions<MeshServerOptions> options)
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    /// <summary>The id of this instance of <paramref name="service"/>.</summary>
    public string InstanceId(string service) => options.Value.InstanceId ?? $"{service}-{_suffix}";

    /// <summary>The advertised address, else the bound one; <see langword="null"/> when the server reports none.</summary>
    public Uri? Address() => options.Value.AdvertisedAddress is { } advertised ? new Uri(advertised) : BoundAddress();

    /// <summary>Kestrel's first bound address, a wildcard or <c>localhost</c> host made <c>127.0.0.1</c>.</summary>
    public Uri? BoundAddress()
    {
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return bound is null ? null : Advertise(bound);
    }

    internal static Uri? Advertise(string bound)
    {
        // Kestrel reports wildcards as given ("http://+:80", "http://*:80"), which Uri cannot parse: swap the host first.
        var schemeEnd = bound.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return null;
        }

        var rest = bound[(schemeEnd + 3)..];
        var portStart = rest.LastIndexOf(':');
        if (portStart < 0 || rest.EndsWith(']'))
        {
            return null;
        }

        var host = rest[..portStart];
        var port = rest[(portStart + 1)..].TrimEnd('/');
        if (host is "+" or "*" or "0.0.0.0" or "[::]" or "localhost" or "[::1]")
        {
            host = "127.0.0.1";
        }

        return Uri.TryCreate($"{bound[..schemeEnd]}://{host}:{port}", UriKind.Absolute, out var uri) ? uri : null;
    }
}
