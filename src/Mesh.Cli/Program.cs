using System.Collections;
using Mesh.Cli;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C ends a live view (top, --watch) cleanly; a second one ends the process.
    e.Cancel = !stop.IsCancellationRequested;
    stop.Cancel();
};

var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
    .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
return await Meshctl.RunAsync(args, Console.Out, Console.Error, environment, interactive: !Console.IsOutputRedirected, cancellationToken: stop.Token).ConfigureAwait(false);
