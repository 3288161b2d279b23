namespace Mesh.Cli.Tests;

/// <summary>
/// Where meshctl finds meshd and its token (flags, then MESH_ADDRESS/MESH_TOKEN, then an owner-only config file), its
/// exit codes, <c>--help</c> on every verb, and that the token is never printed.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ContextTests : IAsyncLifetime
{
    private static readonly string[][] s_verbs =
    [
        [], ["get"], ["get", "services"], ["get", "instances"], ["get", "policies"], ["describe"], ["describe", "service"],
        ["apply"], ["diff"], ["history"], ["rollback"], ["enable"], ["disable"], ["stat"], ["top"], ["edges"], ["check"],
        ["authz"], ["authz", "check"],
    ];

    private Scenario _scenario = null!;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync(fleet: false);

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task Every_verb_has_help()
    {
        await using var cli = new Cli(null, null);
        foreach (var verb in s_verbs)
        {
            var result = await cli.RunAsync([.. verb, "--help"]);
            Assert.True(result.Code == 0, $"meshctl {string.Join(' ', verb)} --help: {result}");
            Assert.Contains("Usage:", result.Out, StringComparison.Ordinal);
            Assert.Contains($"meshctl {string.Join(' ', verb)}".TrimEnd(), result.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_wrong_command_line_is_exit_code_2()
    {
        await using var cli = new Cli(_scenario.Meshd);
        foreach (var args in new[] { new[] { "bogus" }, ["get"], ["get", "services", "-o", "xml"], ["rollback"], ["stat", "--count", "x"], ["apply", "-f", "/nonexistent/policy.json"] })
        {
            var result = await cli.RunAsync(args);
            Assert.True(result.Code == 2, $"meshctl {string.Join(' ', args)}: {result}");
            Assert.StartsWith("meshctl: ", result.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Without_an_address_meshctl_says_where_to_give_one()
    {
        await using var cli = new Cli(null);
        var result = await cli.RunAsync("get", "services");

        Assert.Equal(2, result.Code);
        Assert.Contains("No meshd address: give --address, set MESH_ADDRESS", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Flags_win_over_the_environment_which_wins_over_the_config_file()
    {
        using var closed = LoopbackPorts.Closed();
        await using var cli = new Cli(null, null);
        Directory.CreateDirectory(cli.ConfigDirectory);
        var config = Path.Combine(cli.ConfigDirectory, "meshctl.json");
        File.WriteAllText(config, $$"""{ "address": "{{_scenario.Meshd.Address}}", "token": "{{TestMeshd.AdminToken}}" }""");
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Equal(0, (await cli.RunAsync("get", "services")).Code);

        cli.Environment["MESH_ADDRESS"] = closed.Address.ToString();
        var fromEnvironment = await cli.RunAsync("get", "services");
        Assert.Equal(3, fromEnvironment.Code);
        Assert.Contains(closed.Address.GetLeftPart(UriPartial.Authority), fromEnvironment.Err, StringComparison.Ordinal);

        Assert.Equal(0, (await cli.RunAsync("get", "services", "--address", _scenario.Meshd.Address.ToString())).Code);

        cli.Environment["MESH_ADDRESS"] = null;
        cli.Environment["MESH_TOKEN"] = "env-token";
        var envToken = await cli.RunAsync("get", "services");
        Assert.Equal(3, envToken.Code);
        Assert.Equal(0, (await cli.RunAsync("get", "services", "--token", TestMeshd.AdminToken)).Code);
    }

    [Fact]
    public async Task A_config_file_others_may_read_is_refused()
    {
        await using var cli = new Cli(null, null);
        Directory.CreateDirectory(cli.ConfigDirectory);
        var config = Path.Combine(cli.ConfigDirectory, "meshctl.json");
        File.WriteAllText(config, $$"""{ "address": "{{_scenario.Meshd.Address}}", "token": "{{TestMeshd.AdminToken}}" }""");
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var result = await cli.RunAsync("get", "services");

        Assert.Equal(2, result.Code);
        Assert.Contains($"chmod 600 {config}", result.Err, StringComparison.Ordinal);

        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(config, """{ "address": "http://127.0.0.1:1", "tokn": "x" }""");
        var unknown = await cli.RunAsync("get", "services");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("'tokn' is not a setting of meshctl", unknown.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_and_refused_tokens_are_exit_code_3_and_the_token_is_never_printed()
    {
        using var closed = LoopbackPorts.Closed();
        await using var nowhere = new Cli(null);
        var unreachable = await nowhere.RunAsync("get", "services", "--address", closed.Address.ToString());
        Assert.Equal(3, unreachable.Code);
        Assert.Contains("meshd could not be reached", unreachable.Err, StringComparison.Ordinal);

        const string Secret = "a-secret-that-meshd-refuses";
        await using var wrong = new Cli(_scenario.Meshd, Secret);
        var refused = await wrong.RunAsync("get", "services");
        Assert.Equal(3, refused.Code);
        Assert.Contains("401", refused.Err, StringComparison.Ordinal);
        Assert.Contains("hint: meshd does not take the token", refused.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, refused.Out + refused.Err, StringComparison.Ordinal);

        await using var reader = new Cli(_scenario.Meshd, Scenario.ReaderToken);
        var forbidden = await reader.RunAsync("enable", "orders", "retry");
        Assert.Equal(3, forbidden.Code);
        Assert.Contains("403", forbidden.Err, StringComparison.Ordinal);
        Assert.Contains("a read-only token writes nothing", forbidden.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(Scenario.ReaderToken, forbidden.Out + forbidden.Err, StringComparison.Ordinal);
    }
}
