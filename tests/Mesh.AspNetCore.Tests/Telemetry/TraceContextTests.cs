namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// W3C Trace Context through a meshed service, one rule per case: what arrives at a service with
/// <c>AddMeshServer()</c> and what its meshed client sends on to the next service.
/// </summary>
public sealed class TraceContextTests(TraceContextTests.Rig rig) : IClassFixture<TraceContextTests.Rig>
{
    private const string TraceId = "12345678901234567890123456789012";
    private const string ParentId = "1234567890123456";
    private const string Valid = "traceparent: 00-" + TraceId + "-" + ParentId + "-01";

    // traceparent: continued (same trace-id, a new parent-id) or a new trace.

    [Theory]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("TraceParent: 00-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("TRACEPARENT: 00-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: \t 00-" + TraceId + "-" + ParentId + "-01 \t")]
    [InlineData("traceparent: cc-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: cc-" + TraceId + "-" + ParentId + "-01-what-the-future-will-be-like")]
    public async Task A_valid_traceparent_is_continued_as_version_00_with_a_new_parent_id(string header)
    {
        var sent = await rig.Value.CallAsync(header);

        Assert.Equal(TraceId, sent.TraceId);
        Assert.NotEqual(ParentId, sent.ParentId);
    }

    [Theory]
    [InlineData("trace-parent: 00-" + TraceId + "-" + ParentId + "-01")] // not the header's name
    [InlineData("trace.parent: 00-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: ff-" + TraceId + "-" + ParentId + "-01")] // version ff is forbidden
    [InlineData("traceparent: .0-" + TraceId + "-" + ParentId + "-01")] // version: 2 lowercase hex
    [InlineData("traceparent: 0.-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: 0-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: 000-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: 0A-" + TraceId + "-" + ParentId + "-01")]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-01.")] // version 00 is 55 characters
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-01-what-the-future-will-be-like")]
    [InlineData("traceparent: cc-" + TraceId + "-" + ParentId + "-01.what-the-future-will-be-like")] // a future version goes on with a dash
    [InlineData("traceparent: cc-" + TraceId + "-" + ParentId)] // and is no shorter than 55
    [InlineData("traceparent: 00-00000000000000000000000000000000-" + ParentId + "-01")] // all-zero ids
    [InlineData("traceparent: 00-" + TraceId + "-0000000000000000-01")]
    [InlineData("traceparent: 00-1234567890ABCDEF1234567890123456-" + ParentId + "-01")] // uppercase hex
    [InlineData("traceparent: 00-" + TraceId + "-1234567890ABCDEF-01")]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-0A")]
    [InlineData("traceparent: 00-.2345678901234567890123456789012-" + ParentId + "-01")] // illegal characters
    [InlineData("traceparent: 00-" + TraceId + "-123456789012345.-01")]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-.0")]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-0.")]
    [InlineData("traceparent: 00-123456789012345678901234567890123-" + ParentId + "-01")] // lengths
    [InlineData("traceparent: 00-1234567890123456789012345678901-" + ParentId + "-01")]
    [InlineData("traceparent: 00-" + TraceId + "-12345678901234567-01")]
    [InlineData("traceparent: 00-" + TraceId + "-123456789012345-01")]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-001")]
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "-1")]
    [InlineData("traceparent: 00-" + TraceId + "x" + ParentId + "-01")] // the dashes are the delimiters
    [InlineData("traceparent: 00-" + TraceId + "-" + ParentId + "x01")]
    public async Task An_invalid_traceparent_starts_a_new_trace(string header)
    {
        var sent = await rig.Value.CallAsync(header);

        Assert.NotEqual(TraceId, sent.TraceId);
        Assert.NotEqual("00000000000000000000000000000000", sent.TraceId);
    }

    [Fact]
    public async Task Two_traceparent_fields_start_a_new_trace()
    {
        var sent = await rig.Value.CallAsync("traceparent: 00-12345678901234567890123456789011-" + ParentId + "-01", Valid);

        Assert.NotEqual(TraceId, sent.TraceId);
        Assert.NotEqual("12345678901234567890123456789011", sent.TraceId);
    }

    [Fact]
    public async Task Without_a_traceparent_a_trace_starts_and_each_call_gets_its_own_parent_id()
    {
        var first = await rig.Value.CallAsync();
        var second = await rig.Value.CallAsync();

        Assert.NotEqual(first.TraceId, second.TraceId);
        Assert.NotEqual(first.ParentId, second.ParentId);
    }

    // trace-flags: sampled as received, random-trace-id as received (Level 2), every other bit zero.

    [Theory]
    [InlineData("00", 0x00)]
    [InlineData("01", 0x01)]
    [InlineData("02", 0x02)]
    [InlineData("03", 0x03)]
    [InlineData("05", 0x01)]
    [InlineData("fc", 0x00)]
    [InlineData("ff", 0x03)]
    public async Task Trace_flags_keep_the_sampled_and_random_bits_and_clear_the_others(string flags, int expected)
    {
        var sent = await rig.Value.CallAsync($"traceparent: 00-{TraceId}-{ParentId}-{flags}");

        Assert.Equal(TraceId, sent.TraceId);
        Assert.Equal(expected, sent.Flags);
    }

    [Fact]
    public async Task A_trace_started_here_has_random_ids_and_says_so()
    {
        var sent = await rig.Value.CallAsync();

        Assert.Equal(0x02, sent.Flags & 0x02);
    }

    // tracestate: read only with a valid traceparent.

    [Theory]
    [InlineData("tracestate: foo=1")]
    [InlineData("traceparent: ff-" + TraceId + "-" + ParentId + "-01", "tracestate: foo=1")]
    [InlineData("traceparent: 00-00000000000000000000000000000000-" + ParentId + "-01", "tracestate: foo=1")]
    public async Task Without_a_valid_traceparent_the_tracestate_is_not_passed_on(params string[] headers)
    {
        var sent = await rig.Value.CallAsync(headers);

        Assert.NotEqual(TraceId, sent.TraceId);
        Assert.Null(sent.TraceState);
    }

    // tracestate: passed on in canonical form, or dropped whole.

    [Theory]
    [InlineData("foo=1,bar=2", "foo=1,bar=2")]
    [InlineData("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3")] // OWS around members
    [InlineData("foo=1\t \t,\t \tbar=2,\t \tbaz=3", "foo=1,bar=2,baz=3")]
    [InlineData("foo=1,,bar=2", "foo=1,bar=2")] // empty members
    [InlineData("foo=1, ,\t,bar=2,", "foo=1,bar=2")]
    [InlineData(",", null)]
    [InlineData("foo= 1", "foo= 1")] // a value's leading spaces are its own
    [InlineData("foo=1,foo=2", "foo=1")] // the left-most of a key is kept
    [InlineData("foo=1,bar=2,foo=1", "foo=1,bar=2")]
    [InlineData("1foo=1", "1foo=1")] // a key may start with a digit
    [InlineData("foo@bar=1,foo@@bar=2,foo@bar@baz=3", "foo@bar=1,foo@@bar=2,foo@bar@baz=3")] // and hold at signs
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/= !\"#$%&'()*+-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
        "abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/= !\"#$%&'()*+-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")] // every allowed character
    [InlineData("foo =1", null)] // illegal keys drop the whole header
    [InlineData("foo= 1,bar =2", null)]
    [InlineData("FOO=1", null)]
    [InlineData("foo.bar=1", null)]
    [InlineData("@foo=1,bar=2", null)]
    [InlineData("_foo=1", null)]
    [InlineData("=1,bar=2", null)]
    [InlineData("foo=bar=baz", null)] // illegal values drop it too
    [InlineData("foo=,bar=3", null)]
    [InlineData("foo=1\tx,bar=2", null)]
    [InlineData("foo,bar=2", null)]
    public async Task A_tracestate_is_passed_on_in_canonical_form_or_dropped_whole(string state, string? expected)
    {
        var sent = await rig.Value.CallAsync(Valid, "tracestate: " + state);

        Assert.Equal(TraceId, sent.TraceId);
        Assert.Equal(expected, sent.TraceState);
    }

    [Theory]
    [InlineData(new[] { "foo=1,bar=2", "rojo=1,congo=2", "baz=3" }, "foo=1,bar=2,rojo=1,congo=2,baz=3")]
    [InlineData(new[] { "foo=1", "" }, "foo=1")]
    [InlineData(new[] { "", "foo=1" }, "foo=1")]
    [InlineData(new[] { "" }, null)]
    [InlineData(new[] { "foo=1", "foo=2" }, "foo=1")]
    [InlineData(new[] { "foo=1", "bar =2" }, null)]
    public async Task Several_tracestate_fields_are_one_list_in_the_order_received(string[] fields, string? expected)
    {
        var sent = await rig.Value.CallAsync([Valid, .. fields.Select(f => "tracestate: " + f)]);

        Assert.Equal(expected, sent.TraceState);
    }

    [Fact]
    public async Task Thirty_two_members_pass_and_thirty_three_drop_the_header()
    {
        var members = Enumerable.Range(1, 33).Select(i => $"bar{i:00}={i:00}").ToArray();
        var fields = members.Chunk(10).Select(chunk => "tracestate: " + string.Join(',', chunk)).ToArray();

        var thirtyTwo = await rig.Value.CallAsync([Valid, .. fields[..3], "tracestate: bar31=31,bar32=32"]);
        var thirtyThree = await rig.Value.CallAsync([Valid, .. fields]);

        Assert.Equal(string.Join(',', members[..32]), thirtyTwo.TraceState);
        Assert.Null(thirtyThree.TraceState);
    }

    [Theory]
    [InlineData(256, 256, true)]
    [InlineData(257, 1, false)]
    [InlineData(1, 257, false)]
    public async Task Keys_and_values_are_at_most_256_characters(int key, int value, bool passed)
    {
        var member = new string('k', key) + "=" + new string('v', value);

        var sent = await rig.Value.CallAsync(Valid, "tracestate: foo=1", "tracestate: " + member);

        Assert.Equal(passed ? "foo=1," + member : null, sent.TraceState);
    }

    [Fact]
    public async Task A_tracestate_over_8192_characters_loses_whole_members_the_long_ones_first_from_the_right()
    {
        // 30 members of 358 characters (10 740 in all) and two short ones between them.
        var members = Enumerable.Range(0, 30).Select(i => $"l{i:00}{new string('k', 97)}={new string('v', 256)}").ToList();
        members.Insert(5, "short1=1");
        members.Insert(20, "short2=2");

        var sent = await rig.Value.CallAsync(Valid, "tracestate: " + string.Join(',', members));

        var kept = sent.TraceState!.Split(',');
        Assert.True(sent.TraceState.Length <= 8192, $"{sent.TraceState.Length} characters sent");
        Assert.Contains("short1=1", kept);
        Assert.Contains("short2=2", kept);

        // The long members kept are the left-most ones, in order, as many as fit.
        var longKept = kept.Where(m => m.Length > 128).ToArray();
        Assert.Equal(members.Where(m => m.Length > 128).Take(longKept.Length), longKept);
        Assert.True(sent.TraceState.Length + 359 > 8192, "one more long member would have fitted");
        Assert.Equal(kept, members.Where(kept.Contains));
    }

    // What the application sets on its span is checked the same way on the way out.

    [Theory]
    [InlineData("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")]
    [InlineData("congo=1,Rojo=2", null)]
    [InlineData("congo=1,rojo=2,congo=3", "congo=1,rojo=2")]
    public async Task A_tracestate_the_application_sets_is_sent_by_the_same_rules(string state, string? expected)
    {
        var sent = await rig.Value.CallAsync(Valid, "tracestate: foo=1", $"{TraceContextRig.SetTraceState}: {state}");

        Assert.Equal(TraceId, sent.TraceId);
        Assert.Equal(expected, sent.TraceState);
    }

    /// <summary>One caller, meshed service and recorder for every case of the class.</summary>
    public sealed class Rig : IAsyncLifetime
    {
        /// <summary>Gets the running rig.</summary>
        public TraceContextRig Value { get; private set; } = null!;

        /// <inheritdoc />
        public async Task InitializeAsync() => Value = await TraceContextRig.StartAsync();

        /// <inheritdoc />
        public async Task DisposeAsync() => await Value.DisposeAsync();
    }
}
