using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Meshd.Tests.Fleet;

/// <summary><c>GET /metrics</c>: Prometheus text exposition of meshd's own meters and of the fleet's golden metrics.</summary>
public sealed partial class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_expose_the_fleet_per_service_and_edge_next_to_meshds_own_and_need_a_token()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5201");
        await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5202");
        await meshd.ReportAsync("inventory", "inv-1", FleetReportTests.Report(inbound: [FleetReportTests.Traffic("orders", 30, 27, 60, bucket: 10)]));

        using var anonymous = TestMeshd.Client(meshd.Address, null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative))).StatusCode);
        using var workload = await meshd.Workload.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Forbidden, workload.StatusCode);

        // A refused token is counted on meshd's own meter, which the exposition shows too.
        var text = await meshd.Admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(0.5, Sample(text, "meshd_fleet_requests_rate", """meshd_service="inventory"""), 9);
        Assert.Equal(0.9, Sample(text, "meshd_fleet_success_ratio", """meshd_service="inventory"""), 9);
        Assert.Equal(FleetReportTests.Bound(10), Sample(text, "meshd_fleet_request_duration", """meshd_service="inventory",quantile="0.99"""), 9);
        Assert.Equal(0.5, Sample(text, "meshd_fleet_edge_requests_rate", """meshd_caller="orders",meshd_service="inventory",meshd_source="server"""), 9);
        Assert.Equal(2, Sample(text, "meshd_fleet_instances", """meshd_service="inventory"""));
        Assert.Equal(1, Sample(text, "meshd_fleet_instances_lagging", """meshd_service="inventory"""));
        Assert.True(Sample(text, "meshd_identity_access_refused", """meshd_reason="admin-only""") >= 1);
    }

    // The value of the first sample of a metric family (any unit suffix) whose labels include the given ones.
    private static double Sample(string exposition, string family, string labels)
    {
        foreach (Match line in SampleLine().Matches(exposition))
        {
            if (line.Groups["name"].Value.StartsWith(family, StringComparison.Ordinal)
                && Suffix(line.Groups["name"].Value[family.Length..])
                && line.Groups["labels"].Value.Contains(labels, StringComparison.Ordinal))
            {
                return double.Parse(line.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new Xunit.Sdk.XunitException($"No sample of {family} with {labels} in:\n{exposition}");
    }

    // What the exporter may append to a family's name: a unit and _total, never another word of ours.
    private static bool Suffix(string rest) => rest.Length == 0 || rest is "_total" || rest.StartsWith("_per_", StringComparison.Ordinal) || rest is "_milliseconds" or "_ratio" or "_instance" or "_instances";

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
