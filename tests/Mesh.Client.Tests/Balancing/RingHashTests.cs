using Mesh.Balancing;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Consistent hashing on a header, against real backends.</summary>
public sealed class RingHashTests : IAsyncLifetime
{
    private const int Keys = 1000;
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(4);

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
    }

    [Fact]
    public async Task The_same_key_always_reaches_the_same_backend()
    {
        using var host = MeshTestHost.Create(Config(_backends[..3]));

        var first = await MapKeysAsync(host.Client);
        var second = await MapKeysAsync(host.Client);

        Assert.Equal(first, second);
        Assert.Equal(3, first.Values.Distinct().Count());
    }

    [Fact]
    public async Task Adding_a_fourth_backend_moves_about_a_quarter_of_the_keys_and_only_to_it()
    {
        using var host = MeshTestHost.Create(Config(_backends[..3]));
        var before = await MapKeysAsync(host.Client);

        host.Configuration.Replace(Config(_backends));
        var after = await MapKeysAsync(host.Client);

        var moved = before.Keys.Where(k => before[k] != after[k]).ToList();
        Assert.InRange(moved.Count, Keys * 0.15, Keys * 0.35);
        Assert.All(moved, k => Assert.Equal(_backends[3].Name, after[k]));
    }

    [Fact]
    public async Task Requests_without_the_key_are_spread_over_every_backend()
    {
        using var host = MeshTestHost.Create(Config(_backends[..3]));
        var client = host.Client;
        var seen = new HashSet<string>();

        for (var i = 0; i < 300; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            seen.Add(response.Headers.GetValues("x-backend").Single());
        }

        Assert.Equal(3, seen.Count);
    }

    private static Dictionary<string, string?> Config(IReadOnlyList<TestBackend> backends)
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RingHash, backends);
        config["Mesh:Services:inventory:RingHash:Header"] = "x-user";
        return config;
    }

    private static async Task<Dictionary<string, string>> MapKeysAsync(HttpClient client)
    {
        var map = new Dictionary<string, string>();
        for (var i = 0; i < Keys; i++)
        {
            var key = $"user-{i}";
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/cart");
            request.Headers.Add("x-user", key);
            using var response = await client.SendAsync(request);
            response.EnsureSuccessStatusCode();
            map[key] = response.Headers.GetValues("x-backend").Single();
        }

        return map;
    }
}
