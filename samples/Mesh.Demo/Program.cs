using Mesh.Demo;
using Mesh.Demo.Scenes;

// Every scene runs in this process on 127.0.0.1 and stops its own servers, so the demo leaves nothing behind.
var options = DemoOptions.Parse(args);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

IScene[] scenes = [new BalancingScene(), new DiscoveryScene(), new ResilienceScene(), new ObservabilityScene(), new GrpcScene()];
Console.WriteLine("Mesh demo: an in-process service mesh for .NET, on loopback traffic.");
try
{
    for (var i = 0; i < scenes.Length; i++)
    {
        Console.WriteLine();
        Console.WriteLine($"[{i + 1}/{scenes.Length}] {scenes[i].Title}");
        Console.WriteLine();
        await scenes[i].RunAsync(options, Console.Out, cancel.Token);
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.WriteLine("Stopped.");
    return 130;
}

Console.WriteLine();
Console.WriteLine("Done.");
return 0;
