namespace Mesh.Testing;

/// <summary>Sends a bounded number of requests from a fixed number of concurrent callers.</summary>
public static class Load
{
    /// <summary>Sends <paramref name="total"/> requests from <paramref name="concurrency"/> callers; returns how many succeeded.</summary>
    public static async Task<int> RunAsync(int total, int concurrency, Func<int, Task> send)
    {
        var next = -1;
        var succeeded = 0;
        var callers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                await send(i);
                Interlocked.Increment(ref succeeded);
            }
        });
        await Task.WhenAll(callers);
        return succeeded;
    }

    /// <summary>A GET whose response must be successful.</summary>
    public static async Task GetOkAsync(HttpClient client, string uri)
    {
        using var response = await client.GetAsync(uri);
        response.EnsureSuccessStatusCode();
    }
}
