namespace Mesh.Identity;

/// <summary>The modes of <see cref="MtlsOptions.Mode"/>.</summary>
public static class MtlsModeNames
{
    /// <summary>Only callers presenting a certificate the mesh signed are served; plaintext and foreign certificates are refused.</summary>
    public const string Strict = nameof(Strict);

    /// <summary>Callers over mesh mutual TLS and plaintext callers are both served, on the same port.</summary>
    public const string Permissive = nameof(Permissive);

    /// <summary>The server serves plaintext only, as without an identity.</summary>
    public const string Off = nameof(Off);

    /// <summary>Gets every mode.</summary>
    public static IReadOnlyList<string> All { get; } = [Strict, Permissive, Off];

    /// <summary>Whether <paramref name="mode"/> is one of the modes, ignoring case.</summary>
    internal static bool IsKnown(string? mode) => mode is not null && All.Contains(mode, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The mode in force for <paramref name="service"/>: its own <c>Mesh:Services:{service}:Mtls:Mode</c>, else the mesh-wide
    /// <c>Mesh:Mtls:Mode</c>, else <see cref="Permissive"/>. Read from options the validator accepted.
    /// </summary>
    internal static string ModeOf(MeshOptions options, string? service) =>
        (service is not null && options.Services.TryGetValue(service, out var own) ? own?.Mtls.Mode : null)
        ?? options.Mtls.Mode
        ?? Permissive;

    /// <summary>Whether <paramref name="mode"/> is <paramref name="expected"/>, ignoring case.</summary>
    internal static bool Is(string mode, string expected) => string.Equals(mode, expected, StringComparison.OrdinalIgnoreCase);
}
