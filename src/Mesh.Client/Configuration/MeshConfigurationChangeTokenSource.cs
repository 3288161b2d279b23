using Microsoft.Extensions.Configuration;
using Mesh.Discovery;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Configuration;

/// <summary>Signals a change of the <c>Mesh</c> configuration section to the options system.</summary>
internal sealed class MeshConfigurationChangeTokenSource(IConfiguration? configuration = null) : IOptionsChangeTokenSource<MeshOptions>
{
    public string Name => Options.DefaultName;

    public IChangeToken GetChangeToken() =>
        configuration?.GetSection(MeshOptionsValidator.Section).GetReloadToken() ?? NeverChangeToken.Instance;
}
