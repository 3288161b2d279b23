namespace Mesh.Identity;

/// <summary>The names of the places a workload's certificate can come from, as written in <see cref="IdentityOptions.Source"/>.</summary>
public static class IdentitySourceNames
{
    /// <summary>
    /// The mesh's control plane: the workload makes its own key, sends a certificate signing request to meshd and is given an
    /// X.509-SVID for its service, renewed at about half its lifetime.
    /// </summary>
    public const string Meshd = "meshd";

    /// <summary>
    /// PEM files written by something else (SPIRE's helper, cert-manager, your own PKI): the certificate, its key and the trust
    /// bundle, read again when they change.
    /// </summary>
    public const string Files = "files";

    /// <summary>Gets every built-in name.</summary>
    public static IReadOnlyList<string> All { get; } = [Meshd, Files];
}
