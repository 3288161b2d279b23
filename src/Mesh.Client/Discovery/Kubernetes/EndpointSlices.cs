using System.Globalization;
using k8s.Models;

namespace Mesh.Discovery.Kubernetes;

/// <summary>Turns EndpointSlices into mesh endpoints: the conditions, the named port, the zone and the hints.</summary>
internal static class EndpointSlices
{
    /// <summary>The most slices taken for one service.</summary>
    public const int MaxSlices = 1000;

    /// <summary>The most endpoints taken for one service, across its slices.</summary>
    public const int MaxEndpoints = 10_000;

    /// <summary>The label an endpoint's <c>hints.forZones</c> is recorded under, as a comma-separated list.</summary>
    public const string ForZonesLabel = "kubernetes.io/hints-for-zones";

    /// <summary>
    /// The endpoints of one slice: a ready endpoint with weight 1; a serving, terminating one with weight 0 (it finishes what
    /// it has but gets nothing new); any other left out. Addresses of a type other than IPv4, IPv6 or FQDN, and slices without
    /// the port, give nothing.
    /// </summary>
    public static IEnumerable<MeshEndpoint> Endpoints(V1EndpointSlice slice, ServiceDiscoveryOptions service, string scheme)
    {
        if (slice.Endpoints is not { } endpoints || PortOf(slice, service) is not { } port)
        {
            yield break;
        }

        var type = slice.AddressType;
        if (type is not ("IPv4" or "IPv6" or "FQDN"))
        {
            yield break;
        }

        foreach (var endpoint in endpoints)
        {
            if (endpoint?.Addresses is not { Count: > 0 } addresses)
            {
                continue;
            }

            // As the API says: a ready condition left unset means ready, serving unset means as ready, terminating unset means not.
            var conditions = endpoint.Conditions;
            var ready = conditions?.Ready ?? true;
            var serving = conditions?.Serving ?? ready;
            var terminating = conditions?.Terminating ?? false;
            int weight;
            if (ready && !terminating)
            {
                weight = 1;
            }
            else if (serving && terminating)
            {
                weight = 0;
            }
            else
            {
                continue;
            }

            var labels = endpoint.Hints?.ForZones is { Count: > 0 } zones
                ? new Dictionary<string, string>(StringComparer.Ordinal) { [ForZonesLabel] = string.Join(',', zones.Where(z => !string.IsNullOrEmpty(z?.Name)).Select(z => z.Name)) }
                : null;
            var zone = string.IsNullOrEmpty(endpoint.Zone) || endpoint.Zone.Length > 128 ? null : endpoint.Zone;
            foreach (var address in addresses)
            {
                if (Address(address, type, port, scheme) is { } uri)
                {
                    yield return new MeshEndpoint(uri, zone, weight, labels);
                }
            }
        }
    }

    /// <summary>The slice's port the service asks for: by name, by number, or the only one.</summary>
    internal static int? PortOf(V1EndpointSlice slice, ServiceDiscoveryOptions service)
    {
        var ports = slice.Ports ?? [];
        Discoveryv1EndpointPort? found = null;
        if (service.PortName is { } name)
        {
            found = ports.FirstOrDefault(p => string.Equals(p?.Name, name, StringComparison.Ordinal));
        }
        else if (service.Port is { } number)
        {
            found = ports.FirstOrDefault(p => p?.Port == number);
        }
        else if (ports.Count == 1)
        {
            found = ports[0];
        }

        return found?.Port is { } port and >= 1 and <= 65535 ? port : null;
    }

    private static Uri? Address(string? address, string type, int port, string scheme)
    {
        if (string.IsNullOrEmpty(address) || address.Length > 253)
        {
            return null;
        }

        var ok = type switch
        {
            "IPv4" => System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork,
            "IPv6" => System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6,
            _ => DiscoveryOptionsValidator.IsDnsName(address),
        };
        if (!ok)
        {
            return null;
        }

        var host = type == "IPv6" ? $"[{address}]" : address;
        return Uri.TryCreate(string.Create(CultureInfo.InvariantCulture, $"{scheme}://{host}:{port}"), UriKind.Absolute, out var uri) ? uri : null;
    }
}
