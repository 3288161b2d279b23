namespace Mesh.Balancing;

/// <summary>Draws two distinct endpoints uniformly at random: constant work whatever the size of the set.</summary>
internal static class PowerOfTwoChoices
{
    public static (EndpointState First, EndpointState Second) Draw(EndpointState[] endpoints, MeshRandom random)
    {
        var i = random.Next(endpoints.Length);
        var j = random.Next(endpoints.Length - 1);
        if (j >= i)
        {
            j++;
        }

        return (endpoints[i], endpoints[j]);
    }
}
