using Mesh.Identity;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// The verified identity of a request's caller, read as <c>HttpContext.Features.Get&lt;IMeshCallerFeature&gt;()</c>. It is
/// present only when the request came over the mesh's mutual TLS and the caller's certificate was verified against the
/// mesh's trust bundle; a plaintext request, or a TLS request without a client certificate, has none. It never comes from
/// a header: a <c>mesh-caller</c> header the caller sends is not read for it.
/// </summary>
public interface IMeshCallerFeature
{
    /// <summary>Gets the SPIFFE ID the caller's certificate proves, such as <c>spiffe://mesh.local/svc/orders</c>.</summary>
    SpiffeId Id { get; }

    /// <summary>Gets the caller's service name when its ID has the mesh's form <c>spiffe://{trust domain}/svc/{service}</c>, such as <c>orders</c>; otherwise <see langword="null"/>.</summary>
    string? ServiceName { get; }
}
