using Mesh.AspNetCore.Telemetry;
using Mesh.ControlPlane.Contract;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>The inbound minute per caller: bounded against callers that name themselves, and free on the request path.</summary>
public sealed class InboundStatsTests(ITestOutputHelper output)
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("caf\u00e9")]
    [InlineData("tab\there")]
    public void A_caller_name_a_report_cannot_carry_counts_as_unknown(string caller)
    {
        var stats = new InboundStats(_time);
        stats.Record(caller, TimeSpan.FromMilliseconds(1), success: true);
        stats.Record(new string('a', InstanceReportLimits.NameLength + 1), TimeSpan.FromMilliseconds(1), success: true);
        stats.Record(new string('a', InstanceReportLimits.NameLength), TimeSpan.FromMilliseconds(1), success: true);

        var counts = stats.GetCounts();
        Assert.Equal(2, counts.Single(c => c.Peer == MeshServerMetrics.UnknownCaller).Requests);
        Assert.Equal(1, counts.Single(c => c.Peer.Length == InstanceReportLimits.NameLength).Requests);
    }

    [Fact]
    public void Callers_past_the_bound_share_one_entry()
    {
        var stats = new InboundStats(_time);
        for (var i = 0; i < InboundStats.MaxCallers + 50; i++)
        {
            stats.Record($"caller-{i}", TimeSpan.FromMilliseconds(1), success: true);
        }

        var counts = stats.GetCounts();
        Assert.Equal(InboundStats.MaxCallers + 1, counts.Count);
        Assert.Equal(50, counts.Single(c => c.Peer == MeshServerMetrics.UnknownCaller).Requests);
    }

    [Fact]
    public void Recording_a_request_of_a_known_caller_allocates_nothing_in_the_window()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddMeshServer();
        using var provider = services.BuildServiceProvider();
        var stats = provider.GetRequiredService<InboundStats>();
        var metrics = provider.GetRequiredService<MeshServerMetrics>();
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Headers["mesh-caller"] = "checkout";
        var elapsed = TimeSpan.FromMilliseconds(3);
        stats.Record("checkout", elapsed, success: true);
        metrics.Record(context, elapsed);

        const int Requests = 10_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Requests; i++)
        {
            stats.Record("checkout", elapsed, success: true);
        }

        var window = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Requests; i++)
        {
            metrics.Record(context, elapsed);
        }

        var whole = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Requests;
        output.WriteLine($"inbound window: {window / (double)Requests} B per request; the whole inbound record (window and histogram, no listener): {whole} B per request.");
        Assert.Equal(0, window);
        Assert.Equal(2 * Requests + 2, stats.GetCounts().Single().Requests);
    }
}
