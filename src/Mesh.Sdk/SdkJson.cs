using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.Sdk;

/// <summary>The answers of meshd's routes that are not documents of the shared contract (policies, health, checks, problems).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PolicyAnswer))]
[JsonSerializable(typeof(IReadOnlyList<PolicyAnswer>))]
[JsonSerializable(typeof(Dictionary<string, PolicyAnswer>))]
[JsonSerializable(typeof(ProblemAnswer))]
[JsonSerializable(typeof(HealthAnswer))]
[JsonSerializable(typeof(AuthorizationQuestion))]
[JsonSerializable(typeof(AuthorizationDecision))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class SdkJson : JsonSerializerContext;

/// <summary>A policy version as meshd writes it: <c>{ service, version, policy, updatedAt }</c> (history and lists leave out some).</summary>
internal sealed record PolicyAnswer(string? Service, long Version, JsonElement? Policy, DateTimeOffset? UpdatedAt, bool DryRun = false);

/// <summary>RFC 7807 problem details.</summary>
internal sealed record ProblemAnswer(string? Type, string? Title, int? Status, string? Detail, Dictionary<string, string[]>? Errors);

/// <summary><c>/healthz</c> and <c>/readyz</c>.</summary>
internal sealed record HealthAnswer(string Status, Dictionary<string, string> Checks);
