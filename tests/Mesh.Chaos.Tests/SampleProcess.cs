using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;

namespace Mesh.Chaos.Tests;

/// <summary>
/// One sample service (<c>samples/Mesh.Samples.*</c>, as built with this project) in a child process: <c>dotnet
/// &lt;dll&gt;</c> in the dll's folder with its settings in the environment, its last lines kept to explain a failure.
/// A scenario can kill it with SIGKILL and freeze and thaw it; only this process, by its pid; disposed, it is killed.
/// </summary>
internal sealed class SampleProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private int _stopped;

    private SampleProcess(string name, Uri address, Process process)
    {
        Name = name;
        Address = address;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Gets the instance's name (<c>inventory-1</c>...).</summary>
    public string Name { get; }

    /// <summary>Gets the address it serves on (<c>https</c>: the mesh puts mutual TLS on Kestrel's port).</summary>
    public Uri Address { get; }

    /// <summary>Gets the child's pid.</summary>
    public int Pid => _process.Id;

    /// <summary>Gets whether the child has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Gets the exit code and the last lines of a child that has exited, once both its streams have ended.</summary>
    public string ExitReport()
    {
        _process.WaitForExit();
        return $"{Name} exited {_process.ExitCode}:{Environment.NewLine}{Tail}";
    }

    /// <summary>Gets the last lines the child wrote (both streams).</summary>
    public string Tail => string.Join(Environment.NewLine, _lines);

    /// <summary>Finds where this project's build put a sample (recorded in this assembly at build time).</summary>
    public static string ProgramPath(string assemblyName)
    {
        var path = typeof(SampleProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "sample:" + assemblyName)?.Value;
        return path is not null && File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{assemblyName}.dll was not built with the chaos tests; run 'dotnet build tests/Mesh.Chaos.Tests'.", path ?? assemblyName);
    }

    /// <summary>Starts <paramref name="assemblyName"/> listening on <paramref name="address"/>'s port in plaintext (the mesh adds TLS), with these settings.</summary>
    public static SampleProcess Start(string name, string assemblyName, Uri address, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var program = ProgramPath(assemblyName);
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(program)!,
        };
        start.ArgumentList.Add(program);
        start.ArgumentList.Add($"--urls=http://{address.Authority}");
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        return new SampleProcess(name, address, Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start."));
    }

    /// <summary>Kills the child at once (SIGKILL): no deregistration, no drain, as a crash.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It ended already.
        }
    }

    /// <summary>Freezes the child (SIGSTOP): its sockets stay open and nothing answers.</summary>
    public void Freeze()
    {
        Signals.Stop(_process.Id);
        Volatile.Write(ref _stopped, 1);
    }

    /// <summary>Lets a frozen child go on (SIGCONT).</summary>
    public void Thaw()
    {
        Signals.Continue(_process.Id);
        Volatile.Write(ref _stopped, 0);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            if (Volatile.Read(ref _stopped) == 1)
            {
                Thaw();
            }
        }
        catch (InvalidOperationException)
        {
            // It ended already.
        }

        Kill();
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        while (_lines.Count > 40)
        {
            _lines.TryDequeue(out _);
        }
    }
}
