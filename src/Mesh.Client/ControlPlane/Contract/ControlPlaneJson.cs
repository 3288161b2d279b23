using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The serializer of every document exchanged between meshd and its clients, generated at build time: meshd writes
/// with it, clients read with it, so both sides always agree on every field.
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(SnapshotDocument))]
[JsonSerializable(typeof(InstanceDocument))]
[JsonSerializable(typeof(RegistrationRequest))]
[JsonSerializable(typeof(LeaseDocument))]
internal sealed partial class ControlPlaneJson : JsonSerializerContext;
