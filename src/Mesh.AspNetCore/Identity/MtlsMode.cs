namespace Mesh.AspNetCore.Identity;

/// <summary>The server's mode, parsed once from <c>Mesh:Services:{self}:Mtls:Mode</c> or the mesh-wide <c>Mesh:Mtls:Mode</c>.</summary>
internal enum MtlsMode
{
    /// <summary>Mesh mutual TLS only.</summary>
    Strict,

    /// <summary>Mesh TLS and plaintext on the same port.</summary>
    Permissive,

    /// <summary>Plaintext only.</summary>
    Off,
}
