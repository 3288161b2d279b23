using System.Net;
using System.Net.Sockets;

namespace Meshd.Registry;

/// <summary>
/// Where registered instances may point (<c>Meshd:Registry:*</c>). Link-local (cloud metadata services), unspecified,
/// multicast and broadcast addresses are refused unless a listed network holds them; the rest is open unless
/// <c>AllowedNetworks</c>, <c>AllowedHostNames</c> or <c>AddressMustMatchCaller</c> narrow it.
/// </summary>
internal sealed class AddressRules
{
    public static readonly AddressRules Default = new([], ["*"], mustMatchCaller: false);

    private readonly IReadOnlyList<IPNetwork> _networks;
    private readonly IReadOnlyList<string> _hostNames;

    private AddressRules(IReadOnlyList<IPNetwork> networks, IReadOnlyList<string> hostNames, bool mustMatchCaller)
    {
        _networks = networks;
        _hostNames = hostNames;
        MustMatchCaller = mustMatchCaller;
    }

    public bool MustMatchCaller { get; }

    public static AddressRules Read(MeshdSettings.Reader reader)
    {
        var networks = new List<IPNetwork>();
        foreach (var text in reader.List("Registry:AllowedNetworks"))
        {
            if (!IPNetwork.TryParse(text, out var network))
            {
                throw MeshdSettings.Reader.Fail("Registry:AllowedNetworks", $"'{text}' is not a network such as 10.0.0.0/8 or fd00::/8.");
            }

            networks.Add(network);
        }

        var hostNames = reader.List("Registry:AllowedHostNames");
        foreach (var pattern in hostNames)
        {
            var name = pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern;
            if (pattern != "*" && !Mesh.Configuration.MeshOptionsValidator.IsServiceName(name))
            {
                throw MeshdSettings.Reader.Fail("Registry:AllowedHostNames", $"'{pattern}' is not a host name, '*.' and a domain, or '*'.");
            }
        }

        return new AddressRules(networks, hostNames.Count == 0 ? ["*"] : hostNames, reader.Boolean("Registry:AddressMustMatchCaller", false));
    }

    /// <summary>Returns why <paramref name="address"/> may not be registered by <paramref name="caller"/>, or null.</summary>
    public string? Check(Uri address, IPAddress? caller)
    {
        if (IPAddress.TryParse(address.IdnHost.Trim('[', ']'), out var ip))
        {
            ip = Normalize(ip);
            if (MustMatchCaller && (caller is null || !Normalize(caller).Equals(ip)))
            {
                return $"is not the address this registration comes from ({caller}); meshd only takes an instance's own address (Meshd:Registry:AddressMustMatchCaller).";
            }

            var listed = _networks.Any(n => n.Contains(ip));
            if (!listed && IsNeverAnInstance(ip))
            {
                return "is a link-local, unspecified, multicast or broadcast address, which no instance serves on (list its network in Meshd:Registry:AllowedNetworks to allow it).";
            }

            if (_networks.Count > 0 && !listed)
            {
                return $"is outside the networks instances may use ({string.Join(", ", _networks)}; Meshd:Registry:AllowedNetworks).";
            }

            return null;
        }

        if (MustMatchCaller)
        {
            return "is a host name; meshd only takes an instance's own IP address (Meshd:Registry:AddressMustMatchCaller).";
        }

        var host = address.IdnHost.TrimEnd('.');
        var allowed = _hostNames.Any(p => p == "*"
            || (p.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(p[1..], StringComparison.OrdinalIgnoreCase) && host.Length > p.Length - 1)
            || string.Equals(p, host, StringComparison.OrdinalIgnoreCase));
        return allowed ? null : $"has a host name outside those instances may use ({string.Join(", ", _hostNames)}; Meshd:Registry:AllowedHostNames).";
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    private static bool IsNeverAnInstance(IPAddress ip)
    {
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = ip.GetAddressBytes();
            return b[0] == 169 && b[1] == 254 // link-local, cloud metadata services
                || b[0] == 0 // "this network", 0.0.0.0
                || b[0] >= 224; // multicast, reserved, broadcast
        }

        return ip.IsIPv6LinkLocal || ip.IsIPv6Multicast || ip.Equals(IPAddress.IPv6Any);
    }
}
