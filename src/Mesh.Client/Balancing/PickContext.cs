namespace Mesh.Balancing;

/// <summary>What a pick may know of the request: the key a hashing balancer routes on, and the endpoints the call already tried.</summary>
/// <param name="HashKey">The request's hash key (the value of the ring hash header), or <see langword="null"/>.</param>
/// <param name="History">The call's tried endpoints, or <see langword="null"/> for a call with none to avoid.</param>
internal readonly record struct PickContext(string? HashKey, IPickHistory? History);

/// <summary>The endpoints a call already tried, which the pick of its next attempt avoids while it can.</summary>
internal interface IPickHistory
{
    /// <summary>Whether the call already tried <paramref name="endpoint"/>.</summary>
    bool HasTried(EndpointLoad endpoint);
}
