namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The fleet's golden metrics over the last minute, added up by meshd from the reports its instances sent with their
/// lease renewals: the answer of <c>GET /v1/fleet/stats</c>.
/// </summary>
/// <param name="At">When meshd added the reports up.</param>
/// <param name="Services">Per service, the requests its instances served (from their inbound reports), ordered by name.</param>
/// <param name="Edges">Per caller → service pair, ordered by caller then service.</param>
internal sealed record FleetStatsDocument(DateTimeOffset At, IReadOnlyList<GoldenMetricsDocument> Services, IReadOnlyList<EdgeDocument> Edges);

/// <summary>One service's golden metrics over the last minute.</summary>
/// <param name="Service">The service.</param>
/// <param name="Instances">The instances whose reports were added up.</param>
/// <param name="Requests">Requests in the window.</param>
/// <param name="RequestsPerSecond">Requests per second, the instances' rates added up.</param>
/// <param name="SuccessRate">The share of requests answered below 500, from 0 to 1 (1 without requests).</param>
/// <param name="P50Ms">The median duration, as the upper bound of its latency bucket, in milliseconds.</param>
/// <param name="P95Ms">The 95th percentile duration, in milliseconds.</param>
/// <param name="P99Ms">The 99th percentile duration, in milliseconds.</param>
internal sealed record GoldenMetricsDocument(string Service, int Instances, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);

/// <summary>
/// The golden metrics of one caller → service edge. <paramref name="Source"/> says whose reports they come from:
/// <c>client</c> when instances of the caller reported their calls to the service (what the caller saw, retries and
/// failovers included), else <c>server</c> (what the service's instances saw from that caller).
/// </summary>
/// <param name="Caller">The calling service (<c>unknown</c> or <c>unauthenticated</c> on the server side when none was named or proved).</param>
/// <param name="Service">The called service.</param>
/// <param name="Source"><c>client</c> or <c>server</c>.</param>
/// <param name="Requests">Requests in the window.</param>
/// <param name="RequestsPerSecond">Requests per second.</param>
/// <param name="SuccessRate">The share answered below 500, from 0 to 1.</param>
/// <param name="P50Ms">The median duration in milliseconds.</param>
/// <param name="P95Ms">The 95th percentile duration in milliseconds.</param>
/// <param name="P99Ms">The 99th percentile duration in milliseconds.</param>
internal sealed record EdgeDocument(string Caller, string Service, string Source, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);
