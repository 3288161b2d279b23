using Meshd;

if (MeshdCommandLine.TryHandle(args, Console.Out) is { } exitCode)
{
    return exitCode;
}

MeshdHost meshd;
try
{
    meshd = await MeshdHost.StartAsync(args).ConfigureAwait(false);
}
catch (MeshdStartupException ex)
{
    // A setting or a data file that cannot be used: say which and what to do, without a stack trace.
    await Console.Error.WriteLineAsync($"meshd: cannot start: {ex.Message}").ConfigureAwait(false);
    return 2;
}

await using (meshd.ConfigureAwait(false))
{
    Console.WriteLine($"meshd: serving on {meshd.Address}");
    await meshd.WaitForShutdownAsync().ConfigureAwait(false);
}

return 0;
