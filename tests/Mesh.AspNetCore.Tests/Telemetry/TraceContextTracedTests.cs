using System.Collections.Concurrent;
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// The same rules with OpenTelemetry tracing on (ASP.NET Core's, the mesh's and HttpClient's spans, parent-based
/// sampling): the attempt's traceparent names the attempt's own client span and the flags survive the spans between.
/// </summary>
public sealed class TraceContextTracedTests(TraceContextTracedTests.Rig rig) : IClassFixture<TraceContextTracedTests.Rig>
{
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string ParentId = "b7ad6b7169203331";

    [Theory]
    [InlineData("00", 0x00)]
    [InlineData("01", 0x01)]
    [InlineData("02", 0x02)]
    [InlineData("03", 0x03)]
    [InlineData("07", 0x03)]
    public async Task A_continued_trace_goes_out_from_the_attempts_span_with_its_flags(string flags, int expected)
    {
        var sent = await rig.Value.CallAsync($"traceparent: 00-{TraceId}-{ParentId}-{flags}", "tracestate: rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE");

        Assert.Equal(TraceId, sent.TraceId);
        Assert.Equal(expected, sent.Flags);
        Assert.Equal("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", sent.TraceState);
        if ((expected & 0x01) != 0)
        {
            // Recorded: the parent-id sent is a client span of this trace, under the mesh's call span.
            await Eventually.WaitAsync(() => rig.Spans.Any(s => s.SpanId.ToHexString() == sent.ParentId), "the attempt's span to end");
            var attempt = Assert.Single(rig.Spans, s => s.SpanId.ToHexString() == sent.ParentId);
            Assert.Equal(ActivityKind.Client, attempt.Kind);
            Assert.Equal(TraceId, attempt.TraceId.ToHexString());
            Assert.Contains(rig.Spans, s => s.Source.Name == "Mesh" && s.TraceId == attempt.TraceId);
        }
    }

    [Fact]
    public async Task A_trace_started_here_is_sampled_and_random()
    {
        var sent = await rig.Value.CallAsync("tracestate: foo=1");

        Assert.NotEqual(TraceId, sent.TraceId);
        Assert.Equal(0x03, sent.Flags);
        Assert.Null(sent.TraceState);
    }

    [Theory]
    [InlineData("foo =1")]
    [InlineData("foo=1,FOO=2")]
    public async Task An_invalid_tracestate_is_dropped_and_the_trace_continues(string state)
    {
        var sent = await rig.Value.CallAsync($"traceparent: 00-{TraceId}-{ParentId}-01", "tracestate: " + state);

        Assert.Equal(TraceId, sent.TraceId);
        Assert.Null(sent.TraceState);
    }

    /// <summary>The rig under a tracer provider that keeps every span that ends.</summary>
    public sealed class Rig : IAsyncLifetime
    {
        private readonly ConcurrentQueue<Activity> _spans = new();
        private TracerProvider _tracing = null!;

        /// <summary>Gets the running rig.</summary>
        public TraceContextRig Value { get; private set; } = null!;

        /// <summary>Gets the spans ended so far.</summary>
        public IReadOnlyCollection<Activity> Spans => _spans;

        /// <inheritdoc />
        public async Task InitializeAsync()
        {
            _tracing = Sdk.CreateTracerProviderBuilder()
                .AddSource("Microsoft.AspNetCore", "Mesh", "System.Net.Http")
                .AddProcessor(new Ended(_spans))
                .Build();
            Value = await TraceContextRig.StartAsync();
        }

        /// <inheritdoc />
        public async Task DisposeAsync()
        {
            await Value.DisposeAsync();
            _tracing.Dispose();
        }
    }

    private sealed class Ended(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => spans.Enqueue(data);
    }
}
