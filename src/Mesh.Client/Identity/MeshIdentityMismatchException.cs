namespace Mesh.Identity;

/// <summary>
/// A connection to a mesh endpoint was refused because the endpoint did not prove the identity its service must have:
/// its certificate names another identity, or is not one the mesh's trust bundle vouches for. The attempt failed before
/// anything was sent; it counts against that endpoint and is never sent to it again within the call.
/// </summary>
public sealed class MeshIdentityMismatchException : HttpRequestException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="expected">The identity the endpoint must present.</param>
    /// <param name="presented">The identity it presented, when it presented a valid one.</param>
    /// <param name="problem">What was wrong with what it presented.</param>
    /// <param name="innerException">The TLS failure.</param>
    public MeshIdentityMismatchException(SpiffeId expected, SpiffeId? presented, string problem, Exception? innerException)
        : base(HttpRequestError.SecureConnectionError, $"The endpoint was refused: it must present the identity '{expected}'; {problem}.", innerException)
    {
        Expected = expected;
        Presented = presented;
    }

    /// <summary>Gets the identity the endpoint must present.</summary>
    public SpiffeId Expected { get; }

    /// <summary>Gets the identity it presented, when its certificate was a valid one of the mesh's.</summary>
    public SpiffeId? Presented { get; }
}
