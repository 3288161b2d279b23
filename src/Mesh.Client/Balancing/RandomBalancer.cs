using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>Weighted random: each pick draws an endpoint with probability weight / total weight.</summary>
internal sealed class RandomBalancer(EndpointLoad[] endpoints, MeshRandom random) : ILoadBalancer
{
    private readonly WeightTable _weights = new(endpoints);

    public int Pick(in PickContext context)
    {
        if (_weights.IsUniform)
        {
            return random.Next(endpoints.Length);
        }

        var slot = _weights.Total <= int.MaxValue
            ? random.Next((int)_weights.Total)
            : (long)(random.Next(int.MaxValue) / (double)int.MaxValue * _weights.Total);
        return _weights.IndexOf(slot);
    }
}
