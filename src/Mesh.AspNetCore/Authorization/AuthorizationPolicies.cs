using Mesh.AspNetCore.Identity;
using Mesh.Authorization;
using Mesh.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Authorization;

/// <summary>
/// The authorization of this server's own service, <c>Mesh:Services:{Mesh:ServiceName}:Authorization</c> with the mesh-wide
/// <c>Mesh:Authorization</c>, from the options in force now (local or pushed by meshd), so a change applies to the next
/// request. Options the one validator refuses leave the last good policy in force; were the first ones refused, nothing is
/// let in. Each new set of options is validated and compiled once; a request pays one reference comparison.
/// </summary>
internal sealed class AuthorizationPolicies
{
    private readonly IOptionsMonitor<MeshOptions> _options;
    private readonly MeshOptionsValidator _validator;
    private readonly string? _service;
    private readonly string _trustDomain;
    private volatile Entry _current;

    public AuthorizationPolicies(IOptionsMonitor<MeshOptions> options, MeshOptionsValidator validator, ServerIdentity identity)
    {
        _options = options;
        _validator = validator;
        _service = identity.ServiceName;
        _trustDomain = identity.TrustDomain;
        var first = options.CurrentValue;
        _current = new Entry(first, TryCompile(first) ?? AuthorizationPolicy.DenyAll);
    }

    /// <summary>Gets the name of the service whose policy this is; <see langword="null"/> without <c>Mesh:ServiceName</c>.</summary>
    public string? Service => _service;

    /// <summary>Gets the policy for a request arriving now.</summary>
    public AuthorizationPolicy Current
    {
        get
        {
            var options = _options.CurrentValue;
            var current = _current;
            if (ReferenceEquals(options, current.Options))
            {
                return current.Policy;
            }

            var next = new Entry(options, TryCompile(options) ?? current.Policy);
            _current = next;
            return next.Policy;
        }
    }

    private AuthorizationPolicy? TryCompile(MeshOptions options)
    {
        if (_validator.Validate(Options.DefaultName, options).Failed)
        {
            return null;
        }

        var service = _service is not null && options.Services.TryGetValue(_service, out var own) ? own.Authorization : null;
        return AuthorizationPolicy.Create(service, options.Authorization, _trustDomain);
    }

    private sealed record Entry(MeshOptions Options, AuthorizationPolicy Policy);
}
