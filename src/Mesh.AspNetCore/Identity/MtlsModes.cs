using Mesh.Identity;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// Reads the mode of this server's own service, <c>Mesh:Services:{Mesh:ServiceName}:Mtls:Mode</c>, from the options in
/// force now (local or pushed by meshd), so a change applies to the next connection. A value no mode has (a reload the
/// validator refuses) leaves the last good mode in force.
/// </summary>
internal sealed class MtlsModes
{
    private readonly IOptionsMonitor<MeshOptions> _options;
    private readonly string? _service;
    private volatile MtlsMode _lastGood;

    public MtlsModes(IOptionsMonitor<MeshOptions> options, ServerIdentity identity)
    {
        _options = options;
        _service = identity.ServiceName;

        // At start the catalog has validated the mode; were it unreadable, fail closed.
        _lastGood = Read(out var mode) ? mode : MtlsMode.Strict;
    }

    /// <summary>Gets the mode for a connection accepted now.</summary>
    public MtlsMode Current
    {
        get
        {
            if (Read(out var mode))
            {
                _lastGood = mode;
                return mode;
            }

            return _lastGood;
        }
    }

    /// <summary>Gets the name of a mode as metrics and logs show it.</summary>
    public static string Name(MtlsMode mode) => mode switch
    {
        MtlsMode.Strict => "strict",
        MtlsMode.Permissive => "permissive",
        _ => "off",
    };

    private bool Read(out MtlsMode mode)
    {
        var text = _service is not null && _options.CurrentValue.Services.TryGetValue(_service, out var service) ? service.Mtls.Mode : MtlsModeNames.Permissive;
        if (string.Equals(text, MtlsModeNames.Strict, StringComparison.OrdinalIgnoreCase))
        {
            mode = MtlsMode.Strict;
        }
        else if (string.Equals(text, MtlsModeNames.Permissive, StringComparison.OrdinalIgnoreCase))
        {
            mode = MtlsMode.Permissive;
        }
        else if (string.Equals(text, MtlsModeNames.Off, StringComparison.OrdinalIgnoreCase))
        {
            mode = MtlsMode.Off;
        }
        else
        {
            mode = default;
            return false;
        }

        return true;
    }
}
