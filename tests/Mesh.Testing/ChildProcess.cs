using System.Diagnostics;

namespace Mesh.Testing;

/// <summary>Runs a program the way a user would, to its end, and ends its whole process tree if it overruns.</summary>
public static class ChildProcess
{
    /// <summary>Gets the folder holding <c>Mesh.Library.sln</c>, found above the test's output folder.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/> (standard input redirected, nothing typed) and returns its exit code and
    /// what it printed; after <paramref name="limit"/> it is killed with its children.
    /// </summary>
    public static Task<Result> RunAsync(string file, IEnumerable<string> arguments, TimeSpan limit, string? workingDirectory = null) =>
        RunAsync(file, arguments, input: null, limit, workingDirectory);

    /// <summary>
    /// Runs <paramref name="file"/> as <see cref="RunAsync(string, IEnumerable{string}, TimeSpan, string?)"/> does, typing
    /// <paramref name="input"/> on its standard input and then closing it.
    /// </summary>
    public static Task<Result> RunWithInputAsync(string file, IEnumerable<string> arguments, string input, TimeSpan limit) =>
        RunAsync(file, arguments, input, limit, null);

    private static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, string? input, TimeSpan limit, string? workingDirectory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            try
            {
                await process.StandardInput.WriteAsync(input).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program ended before reading all of it; what it printed says why.
            }
        }

        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return new Result(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.Library.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Mesh.Library.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>How a program ended and what it printed.</summary>
    /// <param name="ExitCode">The exit code.</param>
    /// <param name="Output">Standard output.</param>
    /// <param name="Error">Standard error.</param>
    public sealed record Result(int ExitCode, string Output, string Error);
}
