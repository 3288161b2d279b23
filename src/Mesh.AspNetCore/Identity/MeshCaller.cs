using System.Security.Claims;
using Mesh.Identity;

namespace Mesh.AspNetCore.Identity;

/// <summary>A caller verified by mutual TLS; one per connection, shared by its requests.</summary>
internal sealed class MeshCaller(SpiffeId id) : IMeshCallerFeature
{
    public SpiffeId Id { get; } = id;

    public string? ServiceName { get; } = id.ServiceName;

    /// <summary>Gets what metrics tag the caller as: its service name, or its whole SPIFFE ID when it has none.</summary>
    public string MetricName => ServiceName ?? Id.ToString();

    /// <summary>Makes a new principal for one request, so a request that changes its own principal changes no other.</summary>
    public ClaimsPrincipal ToPrincipal()
    {
        var claims = new List<Claim>(2) { new(MeshCallerClaims.SpiffeId, Id.ToString()) };
        if (ServiceName is not null)
        {
            claims.Add(new Claim(MeshCallerClaims.Service, ServiceName));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, MeshCallerClaims.AuthenticationType, MeshCallerClaims.SpiffeId, roleType: null));
    }
}
