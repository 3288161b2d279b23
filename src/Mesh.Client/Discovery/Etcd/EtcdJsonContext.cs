using System.Text.Json.Serialization;

namespace Mesh.Discovery.Etcd;

/// <summary>The JSON the etcd gateway is sent, written without reflection.</summary>
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext;
