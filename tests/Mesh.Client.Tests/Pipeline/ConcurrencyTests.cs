namespace Mesh.Client.Tests.Pipeline;

/// <summary>Many concurrent callers over a meshed client for seconds: nothing fails and nothing is lost.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Sixty_four_callers_for_five_seconds_lose_nothing()
    {
        var backends = await TestBackend.StartManyAsync(3);
        try
        {
            using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", Mesh.Balancing.LoadBalancerNames.PeakEwma, backends));
            var client = host.Client;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            long sent = 0;
            var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();

            var callers = Enumerable.Range(0, 64).Select(async _ =>
            {
                for (var i = 0; i < 1_000_000 && DateTime.UtcNow < deadline; i++)
                {
                    try
                    {
                        using var response = await client.GetAsync("http://inventory/items");
                        response.EnsureSuccessStatusCode();
                        Interlocked.Increment(ref sent);
                    }
                    catch (HttpRequestException ex)
                    {
                        errors.Enqueue(ex);
                    }
                }
            });
            await Task.WhenAll(callers);

            Assert.Empty(errors);
            Assert.True(sent > 1000, $"only {sent} requests in five seconds");
            Assert.Equal(sent, backends.Sum(b => b.Requests));
            Assert.True(host.Catalog.TryGetService("inventory", out var service));
            Assert.All(service.Destination.Endpoints, e => Assert.Equal(0, e.Load.InFlight));
        }
        finally
        {
            await backends.DisposeAllAsync();
        }
    }
}
