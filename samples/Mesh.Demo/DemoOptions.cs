namespace Mesh.Demo;

/// <summary>Command-line options of the demo: <c>--quick</c> (a short run, for tests), <c>--forever</c> (keep the microservices running until Ctrl+C).</summary>
internal sealed record DemoOptions(bool Quick, bool Forever = false)
{
    public static DemoOptions Parse(string[] args) => new(
        Quick: args.Contains("--quick", StringComparer.OrdinalIgnoreCase),
        Forever: args.Contains("--forever", StringComparer.OrdinalIgnoreCase));

    /// <summary>Scales a request count down in quick mode.</summary>
    public int Requests(int full) => Quick ? Math.Max(50, full / 10) : full;
}
