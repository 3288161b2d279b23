using Mesh.WatchBench;

// Every process here (meshd, the workers) is on 127.0.0.0/8, started by this program and ended by its pid; every wait is bounded.
var options = Options.Parse(args);
using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(options.Smoke ? 3 : 30));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

if (options.Mode == "park")
{
    return await Worker.ParkAsync(options.Address!, options.Token!, options.Count, options.From, options.Since, cancel.Token);
}

if (options.Mode == "flood")
{
    return await Worker.FloodAsync(options.Address!, options.Count, options.From, cancel.Token);
}

var children = new List<Child>();
try
{
    return await Bench.RunAsync(options, children, cancel.Token);
}
finally
{
    foreach (var child in children)
    {
        child.Kill();
    }
}
