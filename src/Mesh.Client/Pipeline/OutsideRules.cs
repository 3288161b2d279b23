using System.Net;
using Mesh.ControlPlane;
using Mesh.Discovery;

namespace Mesh.Pipeline;

/// <summary>
/// Which requests to hosts that are not services of the mesh are sent outside it, and which fail instead: every one
/// under <c>RegistryOnly</c>; under <c>AllowAny</c>, a host in one of <c>Mesh:ServiceDomains</c>, a host the control
/// plane named as a service earlier in this process, and a one-label host (not <c>localhost</c>) while a configured
/// control plane has delivered no snapshot. Fixed per options snapshot; read on the pass-through path only.
/// </summary>
internal sealed class OutsideRules(bool registryOnly, string[] domains)
{
    private static readonly OutsideRules s_allowAny = new(false, []);

    public static OutsideRules Of(MeshOptions options)
    {
        var registryOnly = OutboundTrafficPolicyNames.Is(options.OutboundTrafficPolicy, OutboundTrafficPolicyNames.RegistryOnly);
        return !registryOnly && options.ServiceDomains.Count == 0
            ? s_allowAny
            : new OutsideRules(registryOnly, [.. options.ServiceDomains.Select(d => "." + d.TrimStart('.').ToLowerInvariant())]);
    }

    /// <summary>Why a request to <paramref name="host"/>, which is not a service now, must not leave the mesh; <see langword="null"/> when it may.</summary>
    public MeshServiceUnknownException? Refuse(string host, ControlPlaneWatcher controlPlane)
    {
        string? why = null;
        if (registryOnly)
        {
            why = $"'{host}' is not a service of the mesh, and Mesh:OutboundTrafficPolicy is RegistryOnly";
        }
        else if (DomainOf(host) is { } domain)
        {
            why = $"'{host}' ends in '{domain[1..]}' (Mesh:ServiceDomains), so it names a service of the mesh, but the mesh knows no such service";
        }
        else if (controlPlane.IsConfigured && controlPlane.HasNamed(host))
        {
            why = $"'{host}' was a service of the mesh earlier and is not known to it now";
        }
        else if (controlPlane.IsConfigured && controlPlane.Current.Version == 0 && IsOneLabel(host))
        {
            why = $"the control plane has delivered no snapshot yet, so '{host}' cannot be told apart from a service of the mesh";
        }

        if (why is null)
        {
            return null;
        }

        var state = !controlPlane.IsConfigured ? " No control plane is configured (Mesh:ControlPlane:Address)."
            : controlPlane.Problem is { } problem ? $" The control plane: {problem}."
            : controlPlane.Current.Version == 0 ? " The control plane has delivered no snapshot yet."
            : $" The control plane's snapshot {controlPlane.Current.Version} is in force.";
        return new MeshServiceUnknownException(host, $"The request to '{host}' was not sent, so that it does not leave the mesh: {why}.{state}");
    }

    private string? DomainOf(string host)
    {
        foreach (var domain in domains)
        {
            if (host.EndsWith(domain, StringComparison.OrdinalIgnoreCase) || string.Equals(host, domain[1..], StringComparison.OrdinalIgnoreCase))
            {
                return domain;
            }
        }

        return null;
    }

    // A name such as "back": no dot, not an address, not localhost, so it was never a name outside the mesh would resolve.
    private static bool IsOneLabel(string host) =>
        !host.Contains('.', StringComparison.Ordinal)
        && !host.Contains(':', StringComparison.Ordinal)
        && !string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        && !IPAddress.TryParse(host, out _);
}
