namespace Mesh.Chaos.Tests;

/// <summary>
/// The command line of <c>dotnet run --project tests/Mesh.Chaos.Tests -- --soak [--minutes N]</c>: what it refuses before
/// it starts anything (the soak itself runs by hand, for half an hour).
/// </summary>
public sealed class SoakCommandTests
{
    [Fact]
    public async Task HelpSucceeds()
    {
        Assert.Equal(0, await Program.Main(["--help"]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("--soke")]
    [InlineData("--soak --minutes")]
    [InlineData("--soak --minutes 0")]
    [InlineData("--soak --minutes 1441")]
    [InlineData("--soak --minutes ten")]
    [InlineData("--soak --hours 1")]
    public async Task ArgumentsItDoesNotTakeExitWithTwo(string commandLine)
    {
        Assert.Equal(2, await Program.Main(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    }
}
