namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The optional body of <c>POST /v1/services/{service}/instances/{instanceId}/renew</c>: what the instance runs and how
/// its traffic went over the last minute, sent with every lease renewal. meshd keeps the last one per instance in
/// memory only and refuses one over its bounds with 400 naming the field (<see cref="InstanceReportLimits"/>); a
/// renewal without a body keeps the lease and forgets nothing.
/// </summary>
/// <param name="SnapshotVersion">The version of meshd's snapshot the instance's mesh applied; 0 before it applied one.</param>
/// <param name="Policies">Per service in the instance's catalog that has a policy in the snapshot it applied: the policy version it runs.</param>
/// <param name="OverriddenKeys">
/// The configuration keys the instance sets itself over a value meshd pushed (<c>Mesh:Services:back:Retry:MaxAttempts</c>):
/// names only, never values.
/// </param>
/// <param name="CertificateExpiresAt">When the instance's X.509-SVID expires, when it has one.</param>
/// <param name="Outbound">The calls the instance made over the last minute, per destination service.</param>
/// <param name="Inbound">The requests the instance served over the last minute, per caller.</param>
/// <param name="Ejected">The endpoints the instance's outlier detection keeps ejected now, per destination service.</param>
internal sealed record InstanceReportDocument(
    long SnapshotVersion,
    IReadOnlyList<AppliedPolicyDocument>? Policies = null,
    IReadOnlyList<string>? OverriddenKeys = null,
    DateTimeOffset? CertificateExpiresAt = null,
    IReadOnlyList<TrafficDocument>? Outbound = null,
    IReadOnlyList<TrafficDocument>? Inbound = null,
    IReadOnlyList<EjectedEndpointDocument>? Ejected = null);

/// <summary>An endpoint an instance keeps ejected.</summary>
/// <param name="Service">The destination service.</param>
/// <param name="Address">The endpoint's address as the instance dials it: scheme, host and port, as in the snapshot.</param>
internal sealed record EjectedEndpointDocument(string Service, string Address);

/// <summary>The version of one service's policy an instance runs.</summary>
/// <param name="Service">The service, as named in the snapshot.</param>
/// <param name="PolicyVersion">The policy version the instance applied.</param>
internal sealed record AppliedPolicyDocument(string Service, long PolicyVersion);

/// <summary>
/// The last minute of traffic with one peer (a destination service for outbound, a caller for inbound), as counts that
/// meshd can add up across instances: <see cref="Latency"/>[i] counts the calls that took at most
/// 0.1 ms × 1.25<sup>i</sup> (the last bucket holds everything longer), trailing empty buckets left out.
/// </summary>
/// <param name="Peer">The destination service (outbound) or the caller (inbound).</param>
/// <param name="Requests">Calls in the window.</param>
/// <param name="Successes">Calls that got an answer below 500.</param>
/// <param name="Seconds">The seconds the window covers (60, or since the first call when sooner).</param>
/// <param name="Latency">Calls per latency bucket; at most <see cref="InstanceReportLimits.LatencyBuckets"/>.</param>
internal sealed record TrafficDocument(string Peer, long Requests, long Successes, double Seconds, IReadOnlyList<long>? Latency = null);

/// <summary>The bounds meshd holds a report to; a report past one is refused with 400 naming the field.</summary>
internal static class InstanceReportLimits
{
    /// <summary>The most entries in <see cref="InstanceReportDocument.Policies"/>.</summary>
    public const int Policies = 1024;

    /// <summary>The most entries in <see cref="InstanceReportDocument.OverriddenKeys"/>.</summary>
    public const int OverriddenKeys = 256;

    /// <summary>The most entries in each of <see cref="InstanceReportDocument.Outbound"/> and <see cref="InstanceReportDocument.Inbound"/>.</summary>
    public const int Peers = 256;

    /// <summary>The most entries in <see cref="InstanceReportDocument.Ejected"/>.</summary>
    public const int Ejected = 256;

    /// <summary>The most latency buckets of one <see cref="TrafficDocument"/>.</summary>
    public const int LatencyBuckets = 64;

    /// <summary>The longest key or peer name.</summary>
    public const int NameLength = 256;

    /// <summary>The first latency bucket's upper bound, in milliseconds.</summary>
    public const double FirstBucketMs = 0.1;

    /// <summary>The ratio between one latency bucket's upper bound and the previous one's.</summary>
    public const double BucketGrowth = 1.25;
}
