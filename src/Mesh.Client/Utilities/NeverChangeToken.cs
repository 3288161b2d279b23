using Microsoft.Extensions.Primitives;

namespace Mesh.Utilities;

/// <summary>A change token for things that never change.</summary>
internal static class NeverChangeToken
{
    public static IChangeToken Instance { get; } = new CancellationChangeToken(CancellationToken.None);
}
