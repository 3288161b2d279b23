namespace Mesh.Sdk;

/// <summary>One service as meshd knows it now, from <c>GET /v1/services</c> or <c>GET /v1/services/{name}</c>.</summary>
/// <param name="Name">The service's name (lower case).</param>
/// <param name="PolicyVersion">The version of its policy; <see langword="null"/> when it has none.</param>
/// <param name="Instances">Its registered instances, ordered by instance id.</param>
/// <param name="Callers">The services that called it in the last minute, by the instances' reports.</param>
/// <param name="Converged">Whether every instance reported and runs the current version of every policy.</param>
public sealed record ServiceStatus(string Name, long? PolicyVersion, IReadOnlyList<InstanceStatus> Instances, IReadOnlyList<string> Callers, bool Converged);

/// <summary>One registered instance with its lease and its last report.</summary>
/// <param name="InstanceId">The instance's id, unique within its service.</param>
/// <param name="Address">The address callers send requests to.</param>
/// <param name="LeaseExpiresAt">When meshd removes it unless it renews its lease.</param>
/// <param name="Zone">Its zone, when known.</param>
/// <param name="Labels">Its labels.</param>
/// <param name="Weight">Its share of traffic; 0 drains it.</param>
/// <param name="Identity">The SPIFFE ID it presents, when it has one.</param>
/// <param name="Report">What it said it runs with its last renewal; <see langword="null"/> before its first report.</param>
/// <param name="EjectedBy">The instances (<c>{service}/{instanceId}</c>) whose outlier detection keeps it ejected now.</param>
/// <param name="LeaseRenewedAt">When it last registered or renewed its lease; <see langword="null"/> when meshd holds no lease for it.</param>
public sealed record InstanceStatus(
    string InstanceId,
    string Address,
    DateTimeOffset LeaseExpiresAt,
    string? Zone,
    IReadOnlyDictionary<string, string> Labels,
    int Weight,
    string? Identity,
    InstanceReport? Report,
    IReadOnlyList<string> EjectedBy,
    DateTimeOffset? LeaseRenewedAt = null);

/// <summary>An instance's last report, compared by meshd with its current policies.</summary>
/// <param name="ReportedAt">When meshd received it.</param>
/// <param name="SnapshotVersion">The snapshot version the instance applied.</param>
/// <param name="Converged">Whether it runs the current version of every policy.</param>
/// <param name="Lagging">The policies it runs an older version of (or none of).</param>
/// <param name="Policies">The policy version it runs, per service.</param>
/// <param name="OverriddenKeys">The configuration keys it sets itself over meshd's values (names only).</param>
/// <param name="CertificateExpiresAt">When its X.509-SVID expires, when it has one.</param>
/// <param name="Outbound">Its calls over the last minute, per destination.</param>
/// <param name="Inbound">The requests it served over the last minute, per caller.</param>
public sealed record InstanceReport(
    DateTimeOffset ReportedAt,
    long SnapshotVersion,
    bool Converged,
    IReadOnlyList<PolicyLag> Lagging,
    IReadOnlyDictionary<string, long> Policies,
    IReadOnlyList<string> OverriddenKeys,
    DateTimeOffset? CertificateExpiresAt,
    IReadOnlyList<PeerMetrics> Outbound,
    IReadOnlyList<PeerMetrics> Inbound);

/// <summary>A policy an instance does not run the current version of.</summary>
/// <param name="Service">The service whose policy it is.</param>
/// <param name="Runs">The version the instance runs; 0 for none.</param>
/// <param name="Current">The version meshd holds.</param>
public sealed record PolicyLag(string Service, long Runs, long Current);

/// <summary>An instance's golden metrics with one peer over the last minute.</summary>
/// <param name="Peer">The destination (outbound) or the caller (inbound).</param>
/// <param name="Requests">Requests in the window.</param>
/// <param name="RequestsPerSecond">Requests per second.</param>
/// <param name="SuccessRate">The share answered below 500, 0 to 1.</param>
/// <param name="P50Ms">Median duration, ms.</param>
/// <param name="P95Ms">95th percentile, ms.</param>
/// <param name="P99Ms">99th percentile, ms.</param>
public sealed record PeerMetrics(string Peer, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);

/// <summary>The fleet's golden metrics over the last minute (<c>GET /v1/fleet/stats</c>).</summary>
/// <param name="At">When meshd added the reports up.</param>
/// <param name="Services">Per service, what its instances served.</param>
/// <param name="Edges">Per caller → service pair.</param>
public sealed record FleetStats(DateTimeOffset At, IReadOnlyList<ServiceMetrics> Services, IReadOnlyList<EdgeMetrics> Edges);

/// <summary>One service's golden metrics over the last minute.</summary>
/// <param name="Service">The service.</param>
/// <param name="Instances">The instances whose reports were added up.</param>
/// <param name="Requests">Requests in the window.</param>
/// <param name="RequestsPerSecond">Requests per second.</param>
/// <param name="SuccessRate">The share answered below 500, 0 to 1.</param>
/// <param name="P50Ms">Median duration, ms.</param>
/// <param name="P95Ms">95th percentile, ms.</param>
/// <param name="P99Ms">99th percentile, ms.</param>
public sealed record ServiceMetrics(string Service, int Instances, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);

/// <summary>The golden metrics of one caller → service edge.</summary>
/// <param name="Caller">The calling service.</param>
/// <param name="Service">The called service.</param>
/// <param name="Source"><c>client</c> (from the caller's reports) or <c>server</c> (from the service's).</param>
/// <param name="Requests">Requests in the window.</param>
/// <param name="RequestsPerSecond">Requests per second.</param>
/// <param name="SuccessRate">The share answered below 500, 0 to 1.</param>
/// <param name="P50Ms">Median duration, ms.</param>
/// <param name="P95Ms">95th percentile, ms.</param>
/// <param name="P99Ms">99th percentile, ms.</param>
public sealed record EdgeMetrics(string Caller, string Service, string Source, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);
