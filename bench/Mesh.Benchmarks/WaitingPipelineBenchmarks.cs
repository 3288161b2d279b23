namespace Mesh.Benchmarks;

/// <summary>
/// The same clients as <see cref="PipelineBenchmarks"/>, ending in a handler that answers after yielding the thread, as
/// a real socket does: every async method on the way then suspends, so what it costs to wait shows.
/// </summary>
public class WaitingPipelineBenchmarks : PipelineBenchmarks
{
    protected override HttpMessageHandler CreateTerminal() => new WaitingTerminalHandler();
}
