using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The serializer of every document exchanged between meshd and its clients, generated at build time: meshd writes
/// with it, clients read with it, so both sides always agree on every field. Names are camel case; a missing field
/// that has no default, or a null where the contract allows none, is an error, never a silent default.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(SnapshotDocument))]
[JsonSerializable(typeof(InstanceDocument))]
[JsonSerializable(typeof(RegistrationRequest))]
[JsonSerializable(typeof(LeaseDocument))]
[JsonSerializable(typeof(TrustBundleDocument))]
[JsonSerializable(typeof(SvidRequest))]
[JsonSerializable(typeof(SvidDocument))]
[JsonSerializable(typeof(CredentialRequest))]
[JsonSerializable(typeof(CredentialDocument))]
[JsonSerializable(typeof(IReadOnlyList<CredentialDocument>))]
[JsonSerializable(typeof(AuthorityRequest))]
[JsonSerializable(typeof(AuthorityDocument))]
[JsonSerializable(typeof(IReadOnlyList<AuthorityDocument>))]
[JsonSerializable(typeof(ServiceListDocument))]
[JsonSerializable(typeof(ServiceStatusDocument))]
[JsonSerializable(typeof(InstanceReportDocument))]
[JsonSerializable(typeof(FleetStatsDocument))]
internal sealed partial class ControlPlaneJson : JsonSerializerContext;
