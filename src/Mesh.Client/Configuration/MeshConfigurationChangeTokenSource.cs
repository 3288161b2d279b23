using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Configuration;

/// <summary>Signals a change of the <c>Mesh</c> configuration section, local or pushed by the control plane, to the options system.</summary>
internal sealed class MeshConfigurationChangeTokenSource(MeshConfigurationRoot root) : IOptionsChangeTokenSource<MeshOptions>
{
    public string Name => Options.DefaultName;

    public IChangeToken GetChangeToken() => root.Configuration.GetSection(MeshOptionsValidator.Section).GetReloadToken();
}
