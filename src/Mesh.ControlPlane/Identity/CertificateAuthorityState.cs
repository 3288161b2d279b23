using System.Text.Json.Serialization;

namespace Meshd.Identity;

/// <summary>What the CA keeps in <c>state.json</c> besides its PEM files: which authorities exist (all of them in the trust bundle) and which one signs.</summary>
internal sealed record CertificateAuthorityState(int Version, string TrustDomain, string Active, IReadOnlyList<AuthorityRecord> Authorities)
{
    public const int CurrentVersion = 1;
}

/// <summary>One authority in <c>state.json</c>; its certificate and key are in <c>authorities/{Id}/</c>.</summary>
internal sealed record AuthorityRecord(string Id, string Origin, DateTimeOffset AddedAt, DateTimeOffset? DeactivatedAt);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(CertificateAuthorityState))]
internal sealed partial class CertificateAuthorityJson : JsonSerializerContext;
