using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Mesh.Demo.Microservices;

/// <summary>
/// The processes the scenario starts (meshd and the sample services), each <c>dotnet &lt;dll&gt;</c> on a loopback port
/// picked up front. Every one is tracked and killed with its whole tree on dispose, on Ctrl+C and at process exit.
/// </summary>
internal sealed class ChildProcesses : IDisposable
{
    private readonly ConcurrentDictionary<int, Child> _children = new();
    private int _disposed;

    public ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        Directory = System.IO.Directory.CreateTempSubdirectory("mesh-demo-").FullName;
    }

    /// <summary>Gets the temporary directory of this run (meshd's data, the services' snapshot caches), deleted on dispose.</summary>
    public string Directory { get; }

    /// <summary>Gets the id of every process started, in order.</summary>
    public IReadOnlyList<int> Started => [.. _started];

    private readonly ConcurrentQueue<int> _started = new();

    /// <summary>Finds where the demo's build put a child program (recorded in the demo's assembly at build time).</summary>
    public static string ProgramPath(string assemblyName)
    {
        var path = typeof(ChildProcesses).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "child:" + assemblyName)?.Value;
        return path is not null && File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{assemblyName}.dll was not built with the demo; run 'dotnet build samples/Mesh.Demo'.", path ?? assemblyName);
    }

    /// <summary>A free loopback port: bound to port 0, read, released.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Starts <c>dotnet &lt;program&gt; args</c> with these environment variables; its output is kept, not shown.</summary>
    public Child Start(string name, string program, IEnumerable<string> args, IDictionary<string, string> environment)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(program)!,
        };
        start.ArgumentList.Add(program);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start.");
        var child = new Child(name, process);
        _children[process.Id] = child;
        _started.Enqueue(process.Id);
        return child;
    }

    /// <summary>Kills one child at once (SIGKILL, no graceful stop), as a crash would.</summary>
    public static void Kill(Child child)
    {
        ArgumentNullException.ThrowIfNull(child);
        try
        {
            child.Process.Kill(entireProcessTree: true);
            child.Process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>Kills every child still running and deletes the temporary directory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        KillAll();
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        foreach (var child in _children.Values)
        {
            child.Process.Dispose();
        }

        for (var attempt = 0; attempt < 5 && System.IO.Directory.Exists(Directory); attempt++)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                Thread.Sleep(200); // a child's last write may still be closing
            }
            catch (UnauthorizedAccessException)
            {
                Thread.Sleep(200);
            }
        }
    }

    /// <summary>Kills every child; safe to call from any thread, any number of times.</summary>
    public void KillAll()
    {
        foreach (var child in _children.Values)
        {
            try
            {
                if (!child.Process.HasExited)
                {
                    child.Process.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
                // exited meanwhile
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // exiting meanwhile
            }
        }

        foreach (var child in _children.Values)
        {
            try
            {
                child.Process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // never started or disposed
            }
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => KillAll();

    /// <summary>One child process and the last lines it wrote, to explain a failure.</summary>
    internal sealed class Child
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly Lock _lock = new();
        private readonly List<Action<string, string?>> _listeners = [];
        private string? _lastOutput;
        private string? _lastError;

        public Child(string name, Process process)
        {
            Name = name;
            Process = process;
            process.OutputDataReceived += (_, e) => Keep(e.Data, ref _lastOutput);
            process.ErrorDataReceived += (_, e) => Keep(e.Data, ref _lastError);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Name { get; }

        public Process Process { get; }

        public bool HasExited
        {
            get
            {
                try
                {
                    return Process.HasExited;
                }
                catch (InvalidOperationException)
                {
                    return true;
                }
            }
        }

        /// <summary>Gets the last lines the child wrote.</summary>
        public string Tail => string.Join(Environment.NewLine, _lines);

        /// <summary>
        /// Calls <paramref name="listener"/> with every line the child writes from now on, and the line before it on the
        /// same stream (the console logger's <c>warn: Category[event]</c> header of a message), until disposed.
        /// </summary>
        public IDisposable OnLine(Action<string, string?> listener)
        {
            lock (_lock)
            {
                _listeners.Add(listener);
            }

            return new Unsubscribe(this, listener);
        }

        private void Keep(string? line, ref string? last)
        {
            if (line is null)
            {
                return;
            }

            Action<string, string?>[] listeners;
            string? previous;
            lock (_lock)
            {
                previous = last;
                last = line;
                listeners = [.. _listeners];
            }

            _lines.Enqueue(line);
            while (_lines.Count > 40)
            {
                _lines.TryDequeue(out _);
            }

            foreach (var listener in listeners)
            {
                listener(line, previous);
            }
        }

        private sealed class Unsubscribe(Child child, Action<string, string?> listener) : IDisposable
        {
            public void Dispose()
            {
                lock (child._lock)
                {
                    child._listeners.Remove(listener);
                }
            }
        }
    }
}
