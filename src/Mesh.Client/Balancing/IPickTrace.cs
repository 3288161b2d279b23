namespace Mesh.Balancing;

/// <summary>
/// Told the candidates a balancer compared and their scores, for a call whose decisions are being explained. A call
/// that is not explained does not implement it, so a balancer pays one type test per pick and nothing more.
/// </summary>
internal interface IPickTrace
{
    /// <summary>Records that <paramref name="a"/> and <paramref name="b"/> were compared on a score, the lower winning.</summary>
    /// <param name="a">The first candidate.</param>
    /// <param name="scoreA">Its score, as the balancer reads it (such as <c>cost=1.2ms</c>).</param>
    /// <param name="b">The second candidate.</param>
    /// <param name="scoreB">Its score.</param>
    void Compared(EndpointLoad a, string scoreA, EndpointLoad b, string scoreB);
}
