using System.Text.RegularExpressions;

namespace Mesh.Cli.Tests;

/// <summary>meshctl run in the test's process, with an environment of its own and its output captured.</summary>
internal sealed partial class Cli : IAsyncDisposable
{
    private readonly TempDirectory _home = new("meshctl-home-");

    private readonly string? _meshd;

    public Cli(TestMeshd? meshd, string? token = TestMeshd.AdminToken)
    {
        _meshd = meshd?.Address.GetLeftPart(UriPartial.Authority);
        Environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["HOME"] = _home.Path,
            ["XDG_CONFIG_HOME"] = Path.Combine(_home.Path, "config"),
        };
        if (meshd is not null)
        {
            Environment[CliContext.AddressVariable] = meshd.Address.ToString();
        }

        if (token is not null)
        {
            Environment[CliContext.TokenVariable] = token;
        }
    }

    public Dictionary<string, string?> Environment { get; }

    public string ConfigDirectory => Path.Combine(_home.Path, "config", "mesh");

    public string Home => _home.Path;

    public async Task<Result> RunAsync(params string[] args) => await RunAsync(args, CancellationToken.None);

    public async Task<Result> RunAsync(string[] args, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Meshctl.RunAsync(args, output, error, Environment, interactive: false, time, cancellationToken);
        return new Result(code, output.ToString(), error.ToString(), _meshd);
    }

    /// <summary>Starts meshctl and lets the test read what it printed so far, for verbs that run until cancelled.</summary>
    public (Task<Result> Run, Func<string> Printed) Start(string[] args, CancellationToken cancellationToken)
    {
        var output = new StringWriter();
        var synchronized = TextWriter.Synchronized(output);
        var error = new StringWriter();
        async Task<Result> RunAsync()
        {
            var code = await Meshctl.RunAsync(args, synchronized, TextWriter.Synchronized(error), Environment, interactive: false, null, cancellationToken);
            return new Result(code, Printed(), error.ToString(), _meshd);
        }

        // The synchronized writer locks itself around each write, so reading under the same lock sees whole writes.
        string Printed()
        {
            lock (synchronized)
            {
                return output.ToString();
            }
        }

        return (Task.Run(RunAsync, CancellationToken.None), Printed);
    }

    public ValueTask DisposeAsync()
    {
        _home.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>What a run printed and returned; <see cref="Normalized"/> replaces meshd's address, times and ages by fixed words for snapshots.</summary>
    public sealed record Result(int Code, string Out, string Err, string? Meshd = null)
    {
        public string Normalized => Normalize(Meshd is null ? Out : Out.Replace(Meshd, "http://MESHD", StringComparison.Ordinal));

        public override string ToString() => $"exit {Code}\n--- stdout\n{Out}--- stderr\n{Err}";
    }

    public static string Normalize(string text)
    {
        text = Timestamp().Replace(text, "YYYY-MM-DDTHH:MM:SSZ");
        text = Age().Replace(text, m => m.Groups[1].Value + " N" + m.Groups[2].Value[^1]);
        return text.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"\b(in) (\d+[smhd])")]
    private static partial Regex Age();
}
