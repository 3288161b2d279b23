using System.Text.Json;

namespace Mesh.Sdk;

/// <summary>One version of a service's policy.</summary>
/// <param name="Service">The service.</param>
/// <param name="Version">The version; each write makes the next one.</param>
/// <param name="Policy">The document (the schema of <c>Mesh:Services:{name}</c>); <see langword="null"/> for a deletion.</param>
/// <param name="UpdatedAt">When the version was written; <see langword="null"/> when meshd did not say.</param>
public sealed record PolicyRecord(string Service, long Version, JsonElement? Policy, DateTimeOffset? UpdatedAt);

/// <summary>Would a caller be let in? The question of <c>POST /v1/authorization/check</c>.</summary>
/// <param name="Service">The called service.</param>
/// <param name="Caller">A service name, a SPIFFE ID, or <c>unauthenticated</c>.</param>
/// <param name="Method">The HTTP method, such as <c>POST</c>.</param>
/// <param name="Path">The path as the server's routing sees it, starting with <c>/</c>.</param>
/// <param name="MeshDefault">The mesh-wide <c>Mesh:Authorization:Default</c> the service's servers run with; <c>allow</c> when <see langword="null"/>.</param>
public sealed record AuthorizationQuestion(string Service, string Caller, string Method, string Path, string? MeshDefault = null);

/// <summary>meshd's answer to an <see cref="AuthorizationQuestion"/>.</summary>
/// <param name="Service">The service.</param>
/// <param name="Caller">The caller as a SPIFFE ID, or <c>unauthenticated</c>.</param>
/// <param name="Method">The method.</param>
/// <param name="Path">The path.</param>
/// <param name="Allowed">Whether the caller would be let in.</param>
/// <param name="Decision">The decision's name (<c>allow</c>, <c>deny</c>).</param>
/// <param name="Rule">The rule that decided, <c>(no-match)</c>, or the default that did.</param>
/// <param name="PolicyVersion">The policy version asked; <see langword="null"/> when the service has none.</param>
public sealed record AuthorizationDecision(string Service, string Caller, string Method, string Path, bool Allowed, string Decision, string Rule, long? PolicyVersion);

/// <summary>What <c>/healthz</c> or <c>/readyz</c> said.</summary>
/// <param name="Serving">Whether meshd answered 200 (<c>serving</c>) rather than 503 (<c>failing</c>).</param>
/// <param name="Checks">Each check: <c>ok</c>, or the reason it fails.</param>
public sealed record MeshdHealth(bool Serving, IReadOnlyDictionary<string, string> Checks);

/// <summary>What <c>GET /v1/status</c> said: meshd's limits and their use now.</summary>
/// <param name="SnapshotVersion">The current snapshot version.</param>
/// <param name="Document">The whole answer, as meshd wrote it.</param>
public sealed record MeshdStatus(long SnapshotVersion, JsonElement Document);

/// <summary>One version of the mesh as <c>GET /v1/snapshot</c> serves it.</summary>
/// <param name="Version">The snapshot's version.</param>
/// <param name="Services">The services by name.</param>
/// <param name="TrustDomain">The trust domain of meshd's certificate authority, when it runs one.</param>
public sealed record MeshSnapshot(long Version, IReadOnlyDictionary<string, SnapshotService> Services, string? TrustDomain);

/// <summary>One service in a <see cref="MeshSnapshot"/>.</summary>
/// <param name="PolicyVersion">Its policy's version; 0 without one.</param>
/// <param name="Policy">Its policy; an empty object without one.</param>
/// <param name="Instances">Its registered instances as callers see them.</param>
public sealed record SnapshotService(long PolicyVersion, JsonElement Policy, IReadOnlyList<SnapshotInstance> Instances);

/// <summary>One instance in a <see cref="MeshSnapshot"/>.</summary>
/// <param name="InstanceId">Its id.</param>
/// <param name="Address">Its address.</param>
/// <param name="Zone">Its zone, when known.</param>
/// <param name="Labels">Its labels.</param>
/// <param name="Weight">Its weight.</param>
/// <param name="Identity">Its SPIFFE ID, when it has one.</param>
public sealed record SnapshotInstance(string InstanceId, string Address, string? Zone, IReadOnlyDictionary<string, string> Labels, int Weight, string? Identity);
