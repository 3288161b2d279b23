using Mesh.Configuration;
using Mesh.Identity;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// Reads the mode of this server's own service, <c>Mesh:Services:{Mesh:ServiceName}:Mtls:Mode</c> or else the mesh-wide
/// <c>Mesh:Mtls:Mode</c> (permissive when neither is set), from the options in force now (local or pushed by meshd), so a
/// change applies to the next connection. Options the one validator refuses
/// (a bad reload, whatever its mistake) leave the last good mode in force: a typo elsewhere never turns strict into the
/// default. Each new set of options is validated once; a connection pays one reference comparison.
/// </summary>
internal sealed class MtlsModes
{
    private readonly IOptionsMonitor<MeshOptions> _options;
    private readonly MeshOptionsValidator _validator;
    private readonly string? _service;
    private volatile Entry _current;

    public MtlsModes(IOptionsMonitor<MeshOptions> options, MeshOptionsValidator validator, ServerIdentity identity)
    {
        _options = options;
        _validator = validator;
        _service = identity.ServiceName;

        // At start the catalog has refused invalid options already; were they unreadable, fail closed.
        var first = options.CurrentValue;
        _current = new Entry(first, TryRead(first, out var mode) ? mode : MtlsMode.Strict);
    }

    /// <summary>Gets the mode for a connection accepted now.</summary>
    public MtlsMode Current
    {
        get
        {
            var options = _options.CurrentValue;
            var current = _current;
            if (ReferenceEquals(options, current.Options))
            {
                return current.Mode;
            }

            var next = new Entry(options, TryRead(options, out var mode) ? mode : current.Mode);
            _current = next;
            return next.Mode;
        }
    }

    /// <summary>Gets the name of a mode as metrics and logs show it.</summary>
    public static string Name(MtlsMode mode) => mode switch
    {
        MtlsMode.Strict => "strict",
        MtlsMode.Permissive => "permissive",
        _ => "off",
    };

    private bool TryRead(MeshOptions options, out MtlsMode mode)
    {
        mode = default;
        if (_validator.Validate(Options.DefaultName, options).Failed)
        {
            return false;
        }

        var text = MtlsModeNames.ModeOf(options, _service);
        if (MtlsModeNames.Is(text, MtlsModeNames.Strict))
        {
            mode = MtlsMode.Strict;
        }
        else if (MtlsModeNames.Is(text, MtlsModeNames.Permissive))
        {
            mode = MtlsMode.Permissive;
        }
        else if (MtlsModeNames.Is(text, MtlsModeNames.Off))
        {
            mode = MtlsMode.Off;
        }
        else
        {
            return false;
        }

        return true;
    }

    private sealed record Entry(MeshOptions Options, MtlsMode Mode);
}
