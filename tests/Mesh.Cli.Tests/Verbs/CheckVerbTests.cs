using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mesh.Cli.Tests.Verbs;

/// <summary>
/// <c>meshctl check</c> against a real meshd: it fails with a clear line while one instance runs a stale policy version
/// and passes once that instance reports the current one; reachability, the token, leases and certificates.
/// </summary>
public sealed partial class CheckVerbTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync();

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task Check_fails_naming_the_instance_on_a_stale_policy_and_passes_once_it_catches_up()
    {
        var stale = await Cli.RunAsync("check");

        Assert.Equal(1, stale.Code);
        Assert.Equal(
            """
            ✔ meshd reachable at http://MESHD
            ✔ token accepted
            ✔ store healthy (store ok, watch ok, leaseSweep ok, loaded ok, stopping ok, snapshot vN)
            ✘ orders/o-1 runs policy orders v1, meshd holds v2
                hint: the instance has not applied the current snapshot: is it watching meshd? It reported at YYYY-MM-DDTHH:MM:SSZ having applied snapshot vN.
            ✔ leases renewing (3 instances)
            ✔ certificates valid for at least 7 days (3 instances)
            Status check results are ✘ (1 failure)

            """,
            Versions(stale.Normalized));

        // The instance applies the current snapshot and says so with its next renewal.
        await _scenario.ReportOrdersAsync("o-1", 2);
        var caughtUp = await Cli.RunAsync("check");

        Assert.Equal(0, caughtUp.Code);
        Assert.Equal(
            """
            ✔ meshd reachable at http://MESHD
            ✔ token accepted
            ✔ store healthy (store ok, watch ok, leaseSweep ok, loaded ok, stopping ok, snapshot vN)
            ✔ every instance converged on the current policy versions (3 instances)
            ✔ leases renewing (3 instances)
            ✔ certificates valid for at least 7 days (3 instances)
            Status check results are ✔

            """,
            Versions(caughtUp.Normalized));

        var json = await Cli.RunAsync("check", "-o", "json");
        using var document = JsonDocument.Parse(json.Out);
        Assert.True(document.RootElement.GetProperty("ok").GetBoolean());
        Assert.All(document.RootElement.GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("ok").GetBoolean()));
    }

    [Fact]
    public async Task Check_fails_on_leases_renewing_late_before_they_lapse()
    {
        // The scenario's leases last 10 minutes, and every instance renewed as it started; o-1 catches up.
        await _scenario.ReportOrdersAsync("o-1", 2);
        Assert.Equal(0, (await Cli.RunAsync("check")).Code);

        // Six minutes on, as the CLI sees it, no instance has renewed since: each has missed a renewal, none has lapsed.
        var ahead = new Ahead(TimeSpan.FromMinutes(6));
        var late = await Cli.RunAsync(["check"], CancellationToken.None, ahead);

        Assert.Equal(1, late.Code);
        var line = late.Out.Split('\n').Single(l => l.StartsWith("✘ leases", StringComparison.Ordinal));
        Assert.StartsWith("✘ leases renewing late: ", line, StringComparison.Ordinal);
        foreach (var instance in new[] { "gateway/g-1", "orders/o-1", "orders/o-2" })
        {
            Assert.Matches($@"{instance} renewed 6m ago, lapses in [34]m", line);
        }

        Assert.Contains("hint: more than half of the lease passed without a renewal", late.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("✔ leases renewing", late.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("leases lapsed", late.Out, StringComparison.Ordinal);
        var json = await Cli.RunAsync(["check", "-o", "json"], CancellationToken.None, ahead);
        using var document = JsonDocument.Parse(json.Out);
        Assert.Contains(document.RootElement.GetProperty("checks").EnumerateArray(), c => c.GetProperty("check").GetString() == "leases" && !c.GetProperty("ok").GetBoolean());

        // Four minutes on, less than half of each lease has passed: on time.
        var onTime = await Cli.RunAsync(["check"], CancellationToken.None, new Ahead(TimeSpan.FromMinutes(4)));
        Assert.Equal(0, onTime.Code);
        Assert.Contains("✔ leases renewing (3 instances)", onTime.Out, StringComparison.Ordinal);
    }

    /// <summary>The system clock moved on by a fixed span, as the CLI sees it.</summary>
    private sealed class Ahead(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + by;
    }

    [Fact]
    public async Task Check_fails_on_a_new_policy_version_until_every_instance_applied_it()
    {
        await _scenario.ReportOrdersAsync("o-1", 2);
        Assert.Equal(0, (await Cli.RunAsync("check")).Code);

        await Fleet.PutPolicyAsync(_scenario.Meshd, "orders", """{ "LoadBalancer": "Random" }""");
        var lagging = await Cli.RunAsync("check");

        Assert.Equal(1, lagging.Code);
        Assert.Contains("✘ orders/o-1 runs policy orders v2, meshd holds v3", lagging.Out, StringComparison.Ordinal);
        Assert.Contains("✘ orders/o-2 runs policy orders v2, meshd holds v3", lagging.Out, StringComparison.Ordinal);
        Assert.Contains("✘ gateway/g-1 runs policy orders v2, meshd holds v3", lagging.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_fails_on_certificates_expiring_within_min_cert_days_and_on_an_instance_that_never_reported()
    {
        await _scenario.ReportOrdersAsync("o-1", 2);
        var soon = await Cli.RunAsync("check", "--min-cert-days", "40");
        Assert.Equal(1, soon.Code);
        Assert.Contains("✘ certificates expire within 40 days: gateway/g-1 in 29d, orders/o-1 in 29d, orders/o-2 in 29d", soon.Out, StringComparison.Ordinal);

        await Fleet.RegisterAsync(_scenario.Meshd, "orders", "o-3", 5003);
        var silent = await Cli.RunAsync("check");
        Assert.Equal(1, silent.Code);
        Assert.Contains("✘ orders/o-3 has not reported what it runs", silent.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_fails_when_meshd_is_unreachable_or_refuses_the_token()
    {
        using var closed = LoopbackPorts.Closed();
        await using var nowhere = new Cli(null);
        var unreachable = await nowhere.RunAsync("check", "--address", closed.Address.ToString());
        Assert.Equal(1, unreachable.Code);
        Assert.StartsWith($"✘ meshd not reachable at {closed.Address.GetLeftPart(UriPartial.Authority)}", unreachable.Out, StringComparison.Ordinal);
        Assert.Contains("hint: is meshd running there? Check --address", unreachable.Out, StringComparison.Ordinal);

        await using var wrong = new Cli(_scenario.Meshd, "wrong-token");
        var refused = await wrong.RunAsync("check");
        Assert.Equal(1, refused.Code);
        Assert.Contains("✔ meshd reachable", refused.Out, StringComparison.Ordinal);
        Assert.Contains("✘ token refused (401)", refused.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", refused.Out + refused.Err, StringComparison.Ordinal);

        // The read-only token is enough for every check.
        await using var reader = new Cli(_scenario.Meshd, Scenario.ReaderToken);
        await _scenario.ReportOrdersAsync("o-1", 2);
        Assert.Equal(0, (await reader.RunAsync("check")).Code);
    }

    [Fact]
    public async Task Check_passes_on_a_meshd_without_instances()
    {
        await using var empty = await Scenario.StartAsync(fleet: false);
        var result = await empty.Cli.RunAsync("check");
        Assert.Equal(0, result.Code);
        Assert.Contains("✔ every instance converged on the current policy versions (0 instances)", result.Out, StringComparison.Ordinal);
        Assert.Contains("✔ certificates: no instance reports one (mesh identity off)", result.Out, StringComparison.Ordinal);
    }

    private static string Versions(string text) => SnapshotVersion().Replace(text, "snapshot vN");

    [GeneratedRegex(@"snapshot v\d+")]
    private static partial Regex SnapshotVersion();
}
