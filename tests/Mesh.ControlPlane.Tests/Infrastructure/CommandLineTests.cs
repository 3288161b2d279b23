namespace Meshd.Tests.Infrastructure;

/// <summary><c>meshd --help</c> and <c>--version</c> print and exit as a tool should, starting nothing and writing nothing.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("-?")]
    public async Task Help_prints_the_usage_and_exits_without_serving_or_writing_tokens(string flag)
    {
        using var directory = new TempDirectory("meshd-help-");
        var result = await ChildProcess.RunAsync("dotnet", [typeof(MeshdHost).Assembly.Location, flag], TimeSpan.FromSeconds(60), directory.Path);

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("meshd — the control plane of Mesh", result.Output, StringComparison.Ordinal);
        Assert.Contains("--Meshd:Urls=URL", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("serving on http", result.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory.Path));
    }

    [Fact]
    public async Task Version_prints_the_package_version()
    {
        using var directory = new TempDirectory("meshd-version-");
        var result = await ChildProcess.RunAsync("dotnet", [typeof(MeshdHost).Assembly.Location, "--version"], TimeSpan.FromSeconds(60), directory.Path);

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^meshd \d+\.\d+\.\d+\S*\n$", result.Output);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory.Path));
    }
}
