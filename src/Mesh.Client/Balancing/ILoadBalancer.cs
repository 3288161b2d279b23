namespace Mesh.Balancing;

/// <summary>
/// Picks one endpoint of one immutable endpoint set, by its index in that set, from what the pick context says of the
/// request. Picks are lock-free and allocation-free.
/// </summary>
internal interface ILoadBalancer
{
    /// <summary>Picks one of the set's endpoints and returns its index.</summary>
    int Pick(in PickContext context);
}
