using Meshd;

await using var meshd = await MeshdHost.StartAsync(args).ConfigureAwait(false);
Console.WriteLine($"meshd: serving on {meshd.Address}");
await meshd.WaitForShutdownAsync().ConfigureAwait(false);
