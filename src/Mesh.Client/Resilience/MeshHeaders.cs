namespace Mesh.Resilience;

/// <summary>The headers meshed clients add to requests, read by meshed servers.</summary>
public static class MeshHeaders
{
    /// <summary>
    /// The time the caller will still wait for the answer, in whole milliseconds, when the call started; a meshed
    /// server makes it the deadline of the calls it makes in turn.
    /// </summary>
    public const string Timeout = "mesh-timeout";

    /// <summary>The name of the calling service (<see cref="MeshOptions.ServiceName"/>), for the callee's metrics.</summary>
    public const string Caller = "mesh-caller";

    /// <summary>Set to <c>1</c> on a copy of a request that a route mirrors, so its receiver can tell the copy from real traffic.</summary>
    public const string Mirror = "mesh-mirror";
}
