using Mesh.Identity;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// What this server proves to its callers, read once at start as the workload's identity is: whether it has an identity
/// (<c>Mesh:Identity:Source</c>), its service name and the SPIFFE ID it must present, <c>spiffe://{trust domain}/svc/{service}</c>.
/// </summary>
internal sealed class ServerIdentity
{
    public ServerIdentity(IOptionsFactory<MeshOptions> options)
    {
        var mesh = options.Create(Options.DefaultName);
        IsEnabled = mesh.Identity.IsEnabled;
        ServiceName = mesh.ServiceName;
        TrustDomain = mesh.Identity.TrustDomain;
        if (IsEnabled && ServiceName is not null && SpiffeId.CheckTrustDomain(TrustDomain) is null)
        {
            try
            {
                ExpectedId = SpiffeId.ForService(TrustDomain, ServiceName);
            }
            catch (ArgumentException)
            {
                // A service name that cannot be a SPIFFE ID is the validator's to report.
            }
        }
    }

    /// <summary>Gets whether the workload has an identity, so the server serves the mesh's TLS.</summary>
    public bool IsEnabled { get; }

    /// <summary>Gets <c>Mesh:ServiceName</c>.</summary>
    public string? ServiceName { get; }

    /// <summary>Gets <c>Mesh:Identity:TrustDomain</c>.</summary>
    public string TrustDomain { get; }

    /// <summary>Gets the identity callers expect of this server; <see langword="null"/> without an identity or a service name.</summary>
    public SpiffeId? ExpectedId { get; }
}
