using System.Runtime.InteropServices;
using Mesh.Demo;
using Mesh.Demo.Microservices;
using Mesh.Demo.Scenes;

// First the microservices scenario: meshd and the sample services as child processes, all stopped before the demo ends
// (on every exit path). Then the scenes, each in this process on 127.0.0.1 with its own servers.
var options = DemoOptions.Parse(args);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

// SIGTERM (kill, a CI timeout) and SIGHUP (the terminal closed) stop the demo the way Ctrl+C does, children included.
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

IScene[] scenes = [new BalancingScene(), new DiscoveryScene(), new ResilienceScene(), new ObservabilityScene(), new GrpcScene()];
var total = scenes.Length + 1;
Console.WriteLine("Mesh demo: an in-process service mesh for .NET, on loopback traffic.");
try
{
    Console.WriteLine();
    Console.WriteLine($"[1/{total}] {MicroservicesScenario.Title}");
    Console.WriteLine();
    await new MicroservicesScenario().RunAsync(options, Console.Out, cancel.Token);
    if (options.Forever)
    {
        Console.WriteLine("Stopped.");
        return 0;
    }

    for (var i = 0; i < scenes.Length; i++)
    {
        Console.WriteLine();
        Console.WriteLine($"[{i + 2}/{total}] {scenes[i].Title}");
        Console.WriteLine();
        await scenes[i].RunAsync(options, Console.Out, cancel.Token);
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.WriteLine("Stopped.");
    return 130;
}
catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or HttpRequestException or FileNotFoundException)
{
    // Every child process is already stopped: the scenario disposes them on the way out.
    Console.WriteLine($"Failed: {ex.Message}");
    return 1;
}

Console.WriteLine();
Console.WriteLine("Done.");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}
