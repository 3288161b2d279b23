using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>Every service meshd knows, from its registry or its policies: the answer of <c>GET /v1/services</c>.</summary>
/// <param name="Services">The services, ordered by name.</param>
internal sealed record ServiceListDocument(IReadOnlyList<ServiceStatusDocument> Services);

/// <summary>One service as meshd knows it now: the answer of <c>GET /v1/services/{name}</c>.</summary>
/// <param name="Name">The service's name, as meshd stores it (lower case).</param>
/// <param name="PolicyVersion">The version of the service's policy; <see langword="null"/> when it has none.</param>
/// <param name="Instances">The registered instances, ordered by instance id; empty when none is registered.</param>
/// <param name="Callers">
/// The services that called this one in the last minute, by the reports of its instances (inbound) and of the callers'
/// instances (outbound), ordered by name.
/// </param>
/// <param name="Converged">
/// Whether every instance has reported and runs the current version of every policy (none lags); true without instances.
/// </param>
internal sealed record ServiceStatusDocument(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] long? PolicyVersion,
    IReadOnlyList<InstanceStatusDocument> Instances,
    IReadOnlyList<string>? Callers = null,
    bool Converged = true);

/// <summary>One registered instance with its lease.</summary>
/// <param name="InstanceId">The instance's id, unique within its service.</param>
/// <param name="Address">The address callers send requests to: scheme, host and port.</param>
/// <param name="LeaseExpiresAt">When the instance is removed unless its lease is renewed before.</param>
/// <param name="Zone">The zone the instance runs in, when known.</param>
/// <param name="Labels">The instance's labels, such as <c>version=v2</c>.</param>
/// <param name="Weight">The instance's share of traffic relative to the others of its service; 0 drains it.</param>
/// <param name="Identity">The SPIFFE ID the instance presents over mutual TLS; <see langword="null"/> without mesh identity.</param>
/// <param name="Report">What the instance said it runs with its last renewal; <see langword="null"/> before it sent a report.</param>
/// <param name="EjectedBy">
/// The reporting instances (<c>{service}/{instanceId}</c>) whose outlier detection keeps this instance ejected now; empty
/// when none does.
/// </param>
/// <param name="LeaseRenewedAt">
/// When the instance last registered or renewed its lease (its lease's end less meshd's lease TTL); <see langword="null"/>
/// when meshd holds no lease for it (seen in the store before its first renewal).
/// </param>
internal sealed record InstanceStatusDocument(
    string InstanceId,
    string Address,
    DateTimeOffset LeaseExpiresAt,
    string? Zone = null,
    IReadOnlyDictionary<string, string>? Labels = null,
    int Weight = 1,
    string? Identity = null,
    InstanceReportStatusDocument? Report = null,
    IReadOnlyList<string>? EjectedBy = null,
    DateTimeOffset? LeaseRenewedAt = null);

/// <summary>An instance's last report, as meshd serves it, compared with meshd's current policies.</summary>
/// <param name="ReportedAt">When meshd received the report.</param>
/// <param name="SnapshotVersion">The version of meshd's snapshot the instance applied.</param>
/// <param name="Converged">Whether the instance runs the current version of every policy meshd holds.</param>
/// <param name="Lagging">The policies it runs an older version of (or none of), by service.</param>
/// <param name="Policies">The policy version the instance runs, per service.</param>
/// <param name="OverriddenKeys">The configuration keys the instance sets itself over meshd's values (names only).</param>
/// <param name="CertificateExpiresAt">When the instance's X.509-SVID expires, when it has one.</param>
/// <param name="Outbound">Its calls over the last minute, per destination service.</param>
/// <param name="Inbound">The requests it served over the last minute, per caller.</param>
internal sealed record InstanceReportStatusDocument(
    DateTimeOffset ReportedAt,
    long SnapshotVersion,
    bool Converged,
    IReadOnlyList<PolicyLagDocument> Lagging,
    IReadOnlyList<AppliedPolicyDocument> Policies,
    IReadOnlyList<string> OverriddenKeys,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] DateTimeOffset? CertificateExpiresAt,
    IReadOnlyList<PeerMetricsDocument> Outbound,
    IReadOnlyList<PeerMetricsDocument> Inbound);

/// <summary>A policy an instance does not run the current version of.</summary>
/// <param name="Service">The service whose policy it is.</param>
/// <param name="Runs">The version the instance runs; 0 when it runs none.</param>
/// <param name="Current">The version meshd holds.</param>
internal sealed record PolicyLagDocument(string Service, long Runs, long Current);

/// <summary>One instance's golden metrics with one peer over the last minute.</summary>
/// <param name="Peer">The destination service (outbound) or the caller (inbound).</param>
/// <param name="Requests">Requests in the window.</param>
/// <param name="RequestsPerSecond">Requests per second over the window.</param>
/// <param name="SuccessRate">The share answered below 500, from 0 to 1.</param>
/// <param name="P50Ms">The median duration in milliseconds.</param>
/// <param name="P95Ms">The 95th percentile duration in milliseconds.</param>
/// <param name="P99Ms">The 99th percentile duration in milliseconds.</param>
internal sealed record PeerMetricsDocument(string Peer, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);
