namespace Mesh;

/// <summary>The values of <see cref="MeshOptions.OutboundTrafficPolicy"/>: what a meshed client does with a host that is not a service.</summary>
public static class OutboundTrafficPolicyNames
{
    /// <summary>
    /// A host that is not a service of the mesh is called as it is, outside the mesh, with HttpClient's usual 100 s
    /// timeout, unless the mesh can tell it was meant for the mesh: it ends in one of <see cref="MeshOptions.ServiceDomains"/>,
    /// the control plane named it as a service earlier in this process, or it is a one-label name (such as <c>back</c>)
    /// while the control plane has delivered no snapshot yet. The default.
    /// </summary>
    public const string AllowAny = nameof(AllowAny);

    /// <summary>Only services of the mesh are called; a request to any other host fails without being sent.</summary>
    public const string RegistryOnly = nameof(RegistryOnly);

    /// <summary>Gets every name.</summary>
    public static IReadOnlyList<string> All { get; } = [AllowAny, RegistryOnly];

    internal static bool Is(string? value, string name) => string.Equals(value, name, StringComparison.OrdinalIgnoreCase);
}
