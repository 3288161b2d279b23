using System.Net.Http.Json;
using System.Text.Json;

namespace Mesh.Cli.Tests.Verbs;

/// <summary><c>meshctl apply</c> (and <c>--dry-run</c>), <c>diff</c>, <c>history</c>, <c>rollback</c>, <c>enable</c>/<c>disable</c> against a real meshd.</summary>
public sealed class PolicyVerbTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    private TestMeshd Meshd => _scenario.Meshd;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync();

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task Apply_stores_the_file_as_the_next_version()
    {
        var file = Write("orders.json", """{ "service": "orders", "policy": { "LoadBalancer": "LeastRequest", "Retry": { "MaxAttempts": 5 } } }""");

        var result = await Cli.RunAsync("apply", "-f", file);

        Assert.Equal(0, result.Code);
        Assert.Equal("orders: policy v3 applied\n", result.Normalized);
        var stored = await PolicyAsync("orders");
        Assert.Equal(3, stored.GetProperty("version").GetInt64());
        Assert.Equal("LeastRequest", stored.GetProperty("policy").GetProperty("LoadBalancer").GetString());

        var bare = Write("bare.json", """{ "Timeout": "00:00:03" }""");
        var named = await Cli.RunAsync("apply", "-f", bare, "--service", "payments", "-o", "json");
        Assert.Equal(0, named.Code);
        using var answer = JsonDocument.Parse(named.Out);
        Assert.Equal(2, answer.RootElement.GetProperty("version").GetInt64());

        var unnamed = await Cli.RunAsync("apply", "-f", bare);
        Assert.Equal(2, unnamed.Code);
        Assert.Contains("give --service", unnamed.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_takes_a_yaml_file_with_numbers_booleans_and_durations_as_meshd_means_them()
    {
        var file = Write("orders.yaml", """
            # the orders policy, in YAML
            service: orders
            policy:
              LoadBalancer: LeastRequest
              Timeout: 00:00:04
              Retry:
                MaxAttempts: 4
                On: [ "503", connect-failure ]
              OutlierDetection:
                Enabled: false
            """);

        var result = await Cli.RunAsync("apply", "-f", file);

        Assert.True(result.Code == 0, result.Out + result.Err);
        Assert.Equal("orders: policy v3 applied\n", result.Normalized);
        var policy = (await PolicyAsync("orders")).GetProperty("policy");
        Assert.Equal("LeastRequest", policy.GetProperty("LoadBalancer").GetString());
        Assert.Equal("00:00:04", policy.GetProperty("Timeout").GetString());
        Assert.Equal(4, policy.GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());
        Assert.Equal(["503", "connect-failure"], policy.GetProperty("Retry").GetProperty("On").EnumerateArray().Select(e => e.GetString()));
        Assert.False(policy.GetProperty("OutlierDetection").GetProperty("Enabled").GetBoolean());

        // What 'get policies X -o yaml' prints goes back in unchanged: the diff against the live policy is empty.
        var printed = await Cli.RunAsync("get", "policies", "orders", "-o", "yaml");
        Assert.Equal(0, printed.Code);
        var diff = await Cli.RunAsync("diff", "-f", Write("printed.yml", printed.Out));
        Assert.True(diff.Code == 0, $"{printed.Out}\n{diff.Out}{diff.Err}");
    }

    [Fact]
    public async Task A_yaml_file_that_is_malformed_aliased_or_several_documents_is_refused_with_where_and_nothing_is_stored()
    {
        foreach (var (text, says) in new[]
        {
            ("service: orders\npolicy:\n  Retry: { MaxAttempts: 4\n", "not valid YAML: line"),
            ("service: orders\npolicy: &p\n  LoadBalancer: RoundRobin\ncopy: *p\n", "anchors (&p) are not taken"),
            ("service: orders\npolicy: { LoadBalancer: RoundRobin }\n---\nservice: payments\n", "more than one document"),
            ("service: orders\nservice: payments\npolicy: {}\n", "the key 'service' appears twice"),
            ("- orders\n", "is not a YAML map"),
        })
        {
            var result = await Cli.RunAsync("apply", "-f", Write("bad.yaml", text));
            Assert.True(result.Code == 2, $"{text}: exit {result.Code}, {result.Err}");
            Assert.Contains(says, result.Err, StringComparison.Ordinal);
        }

        Assert.Equal(2, (await PolicyAsync("orders")).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Apply_dry_run_prints_the_diff_and_the_verdict_and_stores_nothing()
    {
        var file = Write("orders.json", """{ "service": "orders", "policy": { "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 4 }, "Timeout": "00:00:05" } }""");

        var valid = await Cli.RunAsync("apply", "-f", file, "--dry-run");

        Assert.Equal(0, valid.Code);
        Assert.Equal(
            """
            # orders: live v2 → file orders.json (dry run, nothing stored)
            ~ Retry:MaxAttempts: 5 → 4
            + Timeout: "00:00:05"
            ✔ valid: meshd would store it

            """,
            valid.Normalized);

        var bad = Write("bad.json", """{ "service": "orders", "policy": { "LoadBalancer": "Fastest", "Retry": { "MaxAttempts": 0 } } }""");
        var invalid = await Cli.RunAsync("apply", "-f", bad, "--dry-run");

        Assert.Equal(1, invalid.Code);
        Assert.Contains("✘ invalid: meshd would refuse it", invalid.Out, StringComparison.Ordinal);
        Assert.Contains("  LoadBalancer: ", invalid.Out, StringComparison.Ordinal);
        Assert.Contains("  Retry:MaxAttempts: 0 is out of range", invalid.Out, StringComparison.Ordinal);

        var json = await Cli.RunAsync("apply", "-f", bad, "--dry-run", "-o", "json");
        using var verdict = JsonDocument.Parse(json.Out);
        Assert.False(verdict.RootElement.GetProperty("valid").GetBoolean());
        Assert.True(verdict.RootElement.GetProperty("errors").TryGetProperty("Retry:MaxAttempts", out _));

        Assert.Equal(2, (await PolicyAsync("orders")).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Diff_exits_1_with_the_changed_keys_and_0_when_the_file_is_the_live_policy()
    {
        var changed = Write("changed.json", """{ "service": "orders", "policy": { "Retry": { "MaxAttempts": 5 }, "Hedging": { "Delay": "00:00:00.100" } } }""");
        var result = await Cli.RunAsync("diff", "-f", changed);

        Assert.Equal(1, result.Code);
        Assert.Equal(
            """
            # orders: live v2 → file changed.json
            + Hedging:Delay: "00:00:00.100"
            - LoadBalancer: "RoundRobin"

            """,
            result.Normalized);

        var same = Write("same.json", """{ "service": "orders", "policy": { "Retry": { "MaxAttempts": 5 }, "LoadBalancer": "RoundRobin" } }""");
        var none = await Cli.RunAsync("diff", "-f", same);
        Assert.Equal(0, none.Code);
        Assert.Contains("(no difference)", none.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_lists_versions_newest_first_with_what_each_changed()
    {
        var result = await Cli.RunAsync("history", "orders");

        Assert.Equal(0, result.Code);
        Assert.Equal(
            """
            VERSION  UPDATED               CHANGE
            v2       YYYY-MM-DDTHH:MM:SSZ  ~Retry:MaxAttempts
            v1       YYYY-MM-DDTHH:MM:SSZ  +LoadBalancer +Retry:MaxAttempts

            """,
            result.Normalized);

        var yaml = await Cli.RunAsync("history", "orders", "-o", "yaml");
        Assert.Equal(0, yaml.Code);
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(yaml.Out));
        Assert.Equal(2, ((YamlDotNet.RepresentationModel.YamlSequenceNode)stream.Documents.Single().RootNode).Children.Count);
    }

    [Fact]
    public async Task Rollback_goes_to_the_version_before_the_current_or_the_one_named()
    {
        var back = await Cli.RunAsync("rollback", "orders");
        Assert.Equal(0, back.Code);
        Assert.Equal("orders: rolled back to v1, written as v3\n", back.Normalized);
        Assert.Equal(3, (await PolicyAsync("orders")).GetProperty("policy").GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());

        var to = await Cli.RunAsync("rollback", "orders", "--to", "2");
        Assert.Equal(0, to.Code);
        Assert.Equal("orders: rolled back to v2, written as v4\n", to.Normalized);
        Assert.Equal(5, (await PolicyAsync("orders")).GetProperty("policy").GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());

        var missing = await Cli.RunAsync("rollback", "orders", "--to", "99");
        Assert.Equal(1, missing.Code);

        var only = await Cli.RunAsync("rollback", "payments");
        Assert.Equal(2, only.Code);
        Assert.Contains("no earlier version", only.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("retry", "Retry")]
    [InlineData("breaker", "CircuitBreaker")]
    [InlineData("outlier-detection", "OutlierDetection")]
    public async Task Disable_and_enable_switch_the_feature_Enabled_key(string feature, string key)
    {
        var off = await Cli.RunAsync("disable", "orders", feature);
        Assert.Equal(0, off.Code);
        Assert.Equal($"orders: {feature} disabled, policy v3\n", off.Normalized);
        var policy = (await PolicyAsync("orders")).GetProperty("policy");
        Assert.False(policy.GetProperty(key).GetProperty("Enabled").GetBoolean());
        Assert.Equal("RoundRobin", policy.GetProperty("LoadBalancer").GetString());

        var on = await Cli.RunAsync("enable", "orders", feature);
        Assert.Equal(0, on.Code);
        Assert.True((await PolicyAsync("orders")).GetProperty("policy").GetProperty(key).GetProperty("Enabled").GetBoolean());

        var again = await Cli.RunAsync("enable", "orders", feature);
        Assert.Equal($"orders: {feature} already enabled (v4)\n", again.Normalized);
    }

    [Theory]
    [InlineData("hedging", "Hedging")]
    [InlineData("rate-limit", "RateLimit")]
    public async Task Enable_adds_a_section_with_its_defaults_and_disable_removes_it(string feature, string key)
    {
        var on = await Cli.RunAsync("enable", "orders", feature);
        Assert.Equal(0, on.Code);
        Assert.Equal(JsonValueKind.Object, (await PolicyAsync("orders")).GetProperty("policy").GetProperty(key).ValueKind);

        var off = await Cli.RunAsync("disable", "orders", feature);
        Assert.Equal(0, off.Code);
        Assert.False((await PolicyAsync("orders")).GetProperty("policy").TryGetProperty(key, out _));

        var again = await Cli.RunAsync("disable", "orders", feature);
        Assert.Contains("already disabled", again.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enable_on_a_service_without_a_policy_writes_one_and_an_unknown_feature_is_a_usage_error()
    {
        var result = await Cli.RunAsync("disable", "gateway", "retry");
        Assert.Equal(0, result.Code);
        Assert.False((await PolicyAsync("gateway")).GetProperty("policy").GetProperty("Retry").GetProperty("Enabled").GetBoolean());

        var unknown = await Cli.RunAsync("enable", "orders", "teleport");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("teleport", unknown.Err, StringComparison.Ordinal);
    }

    private string Write(string name, string json)
    {
        var path = Path.Combine(Cli.Home, name);
        File.WriteAllText(path, json);
        return path;
    }

    private async Task<JsonElement> PolicyAsync(string service) =>
        await Meshd.Admin.GetFromJsonAsync<JsonElement>(new Uri($"/v1/policies/{service}", UriKind.Relative));
}
