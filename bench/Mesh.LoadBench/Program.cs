using System.Runtime.InteropServices;
using Mesh.LoadBench;

// Every server, proxy and request loop here is on 127.0.0.1, bounded in time, and stopped by this process before it exits.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (UsageException e)
{
    if (e.Message.Length > 0)
    {
        Console.Error.WriteLine(e.Message);
    }

    Console.Error.WriteLine(BenchOptions.Usage);
    return e.Message.Length > 0 ? 2 : 0;
}

if (options.Mode == "serve")
{
    return await Serve.RunAsync(options);
}

// Ctrl+C, SIGTERM and SIGHUP end the run the ordinary way, so the backend process and nginx are stopped by pid.
using var cancel = new CancellationTokenSource();
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

try
{
    return options.Mode switch
    {
        "balancing" => await Balancing.RunAsync(options, cancel.Token),
        "mirroring" => await Mirroring.RunAsync(options, cancel.Token),
        _ => await Comparison.RunAsync(options, cancel.Token),
    };
}
catch (Exception) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("Stopped.");
    return 130;
}
finally
{
    ChildProcesses.StopAll();
}

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}
