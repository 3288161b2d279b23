namespace Mesh.Demo;

/// <summary>Command-line options of the demo.</summary>
internal sealed record DemoOptions(bool Quick)
{
    public static DemoOptions Parse(string[] args) => new(Quick: args.Contains("--quick", StringComparer.OrdinalIgnoreCase));

    /// <summary>Scales a request count down in quick mode.</summary>
    public int Requests(int full) => Quick ? Math.Max(50, full / 10) : full;
}
