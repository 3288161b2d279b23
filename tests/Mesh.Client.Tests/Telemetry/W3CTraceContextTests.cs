using System.Diagnostics;
using Mesh.Telemetry;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>
/// The bounds of W3C Trace Context's reader that a real server cannot reach with its default header limits, and what
/// the outgoing side does with a span the application set up. The rules themselves are tested end to end in
/// <c>Mesh.AspNetCore.Tests</c> (<c>TraceContextTests</c>).
/// </summary>
public sealed class W3CTraceContextTests
{
    private const string Ids = "-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void A_future_traceparent_is_read_up_to_512_characters()
    {
        var longest = "cc" + Ids + "-" + new string('x', 512 - 56);
        var longer = longest + "x";

        Assert.True(W3CTraceContext.TryParseTraceParent(longest, out var continued, out var flags));
        Assert.Equal("00" + Ids, continued);
        Assert.Equal(1, flags);
        Assert.False(W3CTraceContext.TryParseTraceParent(longer, out _, out _));
    }

    [Fact]
    public void A_valid_header_already_in_canonical_form_is_passed_on_as_the_same_string()
    {
        var traceParent = "00" + Ids;
        var traceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

        Assert.True(W3CTraceContext.TryParseTraceParent(traceParent, out var parsed, out _));
        Assert.True(W3CTraceContext.TryParseTraceState(traceState, out var state));

        Assert.Same(traceParent, parsed);
        Assert.Same(traceState, state);
    }

    [Fact]
    public void A_tracestate_longer_than_32_KiB_is_not_read()
    {
        var padded = "foo=1" + new string(' ', W3CTraceContext.MaxTraceStateInput - 5);

        Assert.True(W3CTraceContext.TryParseTraceState(padded, out var state));
        Assert.Equal("foo=1", state);
        Assert.False(W3CTraceContext.TryParseTraceState(padded + " ", out state));
        Assert.Null(state);
    }

    [Fact]
    public void An_application_span_with_a_hierarchical_id_is_left_to_the_inner_propagator()
    {
        var activity = new Activity("legacy");
        activity.SetIdFormat(ActivityIdFormat.Hierarchical);
        activity.Start();
        try
        {
            var sent = new Dictionary<string, string?>();
            TraceContextPropagator.Over(DistributedContextPropagator.CreateDefaultPropagator()).Inject(activity, sent, static (carrier, field, value) => ((Dictionary<string, string?>)carrier!)[field] = value);

            Assert.DoesNotContain(W3CTraceContext.TraceParent, sent.Keys);
        }
        finally
        {
            activity.Stop();
        }
    }

    [Fact]
    public void Baggage_is_still_sent_by_the_inner_propagator_and_trace_headers_only_once()
    {
        var activity = new Activity("with baggage");
        activity.SetIdFormat(ActivityIdFormat.W3C);
        activity.SetParentId("00" + Ids);
        activity.TraceStateString = "congo=1 , rojo=2";
        activity.AddBaggage("tenant", "blue");
        activity.Start();
        try
        {
            var sent = new List<(string Field, string? Value)>();
            TraceContextPropagator.Over(DistributedContextPropagator.CreateDefaultPropagator()).Inject(activity, sent, static (carrier, field, value) => ((List<(string, string?)>)carrier!).Add((field, value)));

            Assert.Single(sent, s => s.Field == W3CTraceContext.TraceParent);
            Assert.Equal("congo=1,rojo=2", Assert.Single(sent, s => s.Field == W3CTraceContext.TraceState).Value);
            Assert.Matches("^tenant ?= ?blue$", Assert.Single(sent, s => s.Field == "baggage").Value);
        }
        finally
        {
            activity.Stop();
        }
    }
}
