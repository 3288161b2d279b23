using Polly;

namespace Mesh.Resilience;

/// <summary>What the strategies of a call find in its Polly context: the call, and the request of the attempt to make.</summary>
internal static class CallProperties
{
    public static readonly ResiliencePropertyKey<MeshCall> Call = new("Mesh.Call");

    public static readonly ResiliencePropertyKey<HttpRequestMessage> Request = new("Mesh.Request");

    /// <summary>Gets the call a strategy runs for.</summary>
    public static MeshCall CallOf(ResilienceContext context) => context.Properties.GetValue(Call, null!);
}
