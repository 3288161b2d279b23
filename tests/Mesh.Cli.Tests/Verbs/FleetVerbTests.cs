using System.Text.Json;

namespace Mesh.Cli.Tests.Verbs;

/// <summary><c>meshctl stat</c> (and <c>--watch</c>), <c>top</c> and <c>edges</c>, from the golden metrics meshd added up from the instances' reports.</summary>
public sealed class FleetVerbTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync();

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    // Each orders instance reported 300 requests from gateway in a minute, 297 below 500, all in the latency bucket
    // whose upper bound is 0.1 ms × 1.25^20 = 8.67 ms; the gateway reported its 600 calls to orders.
    [Fact]
    public async Task Stat_is_a_table_of_meshed_instances_rps_success_and_latency_quantiles()
    {
        var result = await Cli.RunAsync("stat");

        Assert.Equal(0, result.Code);
        Assert.Equal(
            """
            NAME      MESHED  RPS   SUCCESS  P50     P95     P99
            gateway   1/1     0.0   -        -       -       -
            orders    2/2     10.0  99.00%   8.67ms  8.67ms  8.67ms
            payments  0/0     0.0   -        -       -       -

            """,
            result.Normalized);
    }

    [Fact]
    public async Task Stat_as_json_has_numbers_and_watch_prints_count_frames()
    {
        var json = await Cli.RunAsync("stat", "-o", "json");
        using var document = JsonDocument.Parse(json.Out);
        var orders = document.RootElement.EnumerateArray().Single(r => r.GetProperty("service").GetString() == "orders");
        Assert.Equal(600, orders.GetProperty("requests").GetInt64());
        Assert.Equal(10, orders.GetProperty("requestsPerSecond").GetDouble(), 3);
        Assert.Equal(0.99, orders.GetProperty("successRate").GetDouble(), 3);
        Assert.Equal(2, orders.GetProperty("meshed").GetInt32());

        var watch = await Cli.RunAsync("stat", "--watch", "--count", "3", "--interval", "0.05", "-o", "json");
        Assert.Equal(0, watch.Code);
        var frames = watch.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, frames.Length);
        Assert.All(frames, f => Assert.Equal(3, JsonDocument.Parse(f).RootElement.GetArrayLength()));
    }

    [Fact]
    public async Task Top_refreshes_count_times_and_ends_on_cancel()
    {
        var result = await Cli.RunAsync("top", "--count", "2", "--interval", "0.05");

        Assert.Equal(0, result.Code);
        var frame = """
            meshd http://MESHD at YYYY-MM-DDTHH:MM:SSZ, the last minute:
            CALLER   SERVICE  SOURCE  RPS   SUCCESS  P50     P95     P99
            gateway  orders   client  10.0  99.00%   8.67ms  8.67ms  8.67ms

            SERVICE  INSTANCES  RPS   SUCCESS  P50     P95     P99
            orders   2          10.0  99.00%   8.67ms  8.67ms  8.67ms

            """;
        Assert.Equal(frame + "\n" + frame, result.Normalized);

        // Without --count it runs until Ctrl+C, which ends it with exit code 0.
        using var stop = new CancellationTokenSource();
        var (endless, printed) = Cli.Start(["top", "--interval", "0.05", "-o", "json"], stop.Token);
        await Eventually.WaitAsync(() => endless.IsCompleted || printed().Count(c => c == '\n') >= 3, "three frames of top");
        Assert.False(endless.IsCompleted, "top ended before it was cancelled");
        stop.Cancel();
        var ended = await endless;
        Assert.Equal(0, ended.Code);
        Assert.All(ended.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), f => Assert.Equal(1, JsonDocument.Parse(f).RootElement.GetProperty("edges").GetArrayLength()));
    }

    [Fact]
    public async Task Edges_lists_caller_to_service_with_its_source()
    {
        var result = await Cli.RunAsync("edges");

        Assert.Equal(0, result.Code);
        Assert.Equal(
            """
            CALLER   SERVICE  SOURCE  RPS   SUCCESS  P50     P95     P99
            gateway  orders   client  10.0  99.00%   8.67ms  8.67ms  8.67ms

            """,
            result.Normalized);

        var json = await Cli.RunAsync("edges", "-o", "json");
        using var document = JsonDocument.Parse(json.Out);
        var edge = document.RootElement.EnumerateArray().Single();
        Assert.Equal(("gateway", "orders", "client", 600L), (edge.GetProperty("caller").GetString(), edge.GetProperty("service").GetString(), edge.GetProperty("source").GetString(), edge.GetProperty("requests").GetInt64()));
    }
}
