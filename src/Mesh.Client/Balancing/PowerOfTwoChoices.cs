using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>Draws two distinct endpoints uniformly at random: constant work whatever the size of the set.</summary>
internal static class PowerOfTwoChoices
{
    /// <summary>Returns the indexes of two distinct endpoints of a set of <paramref name="count"/> (two or more).</summary>
    public static (int First, int Second) Draw(int count, MeshRandom random)
    {
        var i = random.Next(count);
        var j = random.Next(count - 1);
        if (j >= i)
        {
            j++;
        }

        return (i, j);
    }
}
