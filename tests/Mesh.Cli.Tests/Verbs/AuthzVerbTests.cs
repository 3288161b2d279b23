using System.Text.Json;
using Mesh.Cli.Tests.Sdk;

namespace Mesh.Cli.Tests.Verbs;

/// <summary><c>meshctl authz check CALLER SERVICE METHOD PATH</c>: exit 0 allowed, 1 denied, with the rule.</summary>
public sealed class AuthzVerbTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    public async Task InitializeAsync()
    {
        _scenario = await Scenario.StartAsync(fleet: false);
        await Fleet.PutPolicyAsync(_scenario.Meshd, "payments", MeshdClientTests.AuthorizationPolicy);
    }

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task Authz_check_says_allowed_or_denied_with_the_rule_and_exits_accordingly()
    {
        var allowed = await Cli.RunAsync("authz", "check", "orders", "payments", "POST", "/charges");
        Assert.Equal(0, allowed.Code);
        Assert.Equal("ALLOWED: spiffe://mesh.local/svc/orders → payments POST /charges by rule orders-charge (policy v1)\n", allowed.Normalized);

        var denied = await Cli.RunAsync("authz", "check", "gateway", "payments", "POST", "/charges");
        Assert.Equal(1, denied.Code);
        Assert.Equal("DENIED: spiffe://mesh.local/svc/gateway → payments POST /charges by rule (no-match) (policy v1)\n", denied.Normalized);

        var json = await Cli.RunAsync("authz", "check", "gateway", "payments", "POST", "/charges", "-o", "json");
        using var document = JsonDocument.Parse(json.Out);
        Assert.False(document.RootElement.GetProperty("allowed").GetBoolean());
        Assert.Equal("(no-match)", document.RootElement.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task Authz_check_works_with_the_read_only_token()
    {
        await using var reader = new Cli(_scenario.Meshd, Scenario.ReaderToken);

        var allowed = await reader.RunAsync("authz", "check", "orders", "payments", "POST", "/charges");

        Assert.True(allowed.Code == 0, allowed.Err);
        Assert.StartsWith("ALLOWED: ", allowed.Normalized, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authz_check_of_a_bad_path_names_the_field()
    {
        var result = await Cli.RunAsync("authz", "check", "orders", "payments", "POST", "charges");

        Assert.Equal(1, result.Code);
        Assert.Contains("path: A path starts with '/'", result.Err, StringComparison.Ordinal);
    }
}
