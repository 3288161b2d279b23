using System.Text.Json;
using Mesh.ControlPlane.Contract;

namespace Meshd.Registry;

/// <summary>Instances as stored: the contract's <see cref="InstanceDocument"/>, the same JSON a snapshot serves.</summary>
internal static class Instances
{
    public static byte[] ToUtf8(InstanceDocument instance) => JsonSerializer.SerializeToUtf8Bytes(instance, ControlPlaneJson.Default.InstanceDocument);

    public static InstanceDocument FromUtf8(byte[] value) =>
        JsonSerializer.Deserialize(value, ControlPlaneJson.Default.InstanceDocument) ?? throw new JsonException("An instance is a JSON object, not null.");
}
