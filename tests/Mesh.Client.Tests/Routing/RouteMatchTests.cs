using Mesh.Discovery;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Every match kind and the precedence rules, against three real backends labelled <c>version=v1..v3</c> on loopback,
/// balanced round robin: a request a route takes reaches only that route's subset, one no route takes reaches all three.
/// </summary>
public sealed class RouteMatchTests : IAsyncLifetime
{
    private static readonly string[] s_all = ["v1", "v2", "v3"];
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() =>
        _backends = [await TestBackend.StartAsync("v1"), await TestBackend.StartAsync("v2"), await TestBackend.StartAsync("v3")];

    public Task DisposeAsync() => _backends.DisposeAllAsync();

    [Fact]
    public async Task An_exact_path_takes_only_that_path()
    {
        using var host = Host(Route(0, "v2", ("Path:Type", "Exact"), ("Path:Value", "/items")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/items"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items/1"));
        Assert.Equal(s_all, await BackendsAsync(host, "/Items"));
        Assert.Equal(s_all, await BackendsAsync(host, "/item"));
    }

    [Fact]
    public async Task A_prefix_matches_whole_segments_only()
    {
        using var host = Host(Route(0, "v2", ("Path:Type", "Prefix"), ("Path:Value", "/api/")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/api"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/api/"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/api/orders/7?x=1"));
        Assert.Equal(s_all, await BackendsAsync(host, "/apix"));
        Assert.Equal(s_all, await BackendsAsync(host, "/v1/api"));
    }

    [Fact]
    public async Task A_regular_expression_must_match_the_whole_path()
    {
        using var host = Host(Route(0, "v2", ("Path:Type", "Regex"), ("Path:Value", "/items/[0-9]+")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/items/42"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items/abc"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items/42/reviews"));
        Assert.Equal(s_all, await BackendsAsync(host, "/x/items/42"));
    }

    [Fact]
    public async Task A_method_takes_requests_of_that_method_only()
    {
        using var host = Host(Route(0, "v2", ("Method", "POST")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/items", HttpMethod.Post));
        Assert.Equal(s_all, await BackendsAsync(host, "/items", HttpMethod.Get));
        Assert.Equal(s_all, await BackendsAsync(host, "/items", HttpMethod.Put));
    }

    [Fact]
    public async Task An_exact_header_matches_its_value_case_sensitively_under_a_name_of_any_case()
    {
        using var host = Host(Route(0, "v2", ("Headers:0:Name", "x-user-tier"), ("Headers:0:Value", "gold")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/", headers: ("X-User-Tier", "gold")));
        Assert.Equal(s_all, await BackendsAsync(host, "/", headers: ("x-user-tier", "Gold")));
        Assert.Equal(s_all, await BackendsAsync(host, "/", headers: ("x-user-tier", "golden")));
        Assert.Equal(s_all, await BackendsAsync(host, "/"));
    }

    [Fact]
    public async Task A_header_prefix_matches_the_start_of_the_value()
    {
        using var host = Host(Route(0, "v2", ("Headers:0:Name", "user-agent"), ("Headers:0:Type", "Prefix"), ("Headers:0:Value", "canary-")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/", headers: ("user-agent", "canary-tester")));
        Assert.Equal(s_all, await BackendsAsync(host, "/", headers: ("user-agent", "tester-canary-")));
    }

    [Fact]
    public async Task A_header_regular_expression_must_match_the_whole_value()
    {
        using var host = Host(Route(0, "v2", ("Headers:0:Name", "x-account"), ("Headers:0:Type", "Regex"), ("Headers:0:Value", "acct-[0-9]{3}")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/", headers: ("x-account", "acct-123")));
        Assert.Equal(s_all, await BackendsAsync(host, "/", headers: ("x-account", "acct-1234")));
        Assert.Equal(s_all, await BackendsAsync(host, "/", headers: ("x-account", "my-acct-123")));
    }

    [Fact]
    public async Task A_present_header_matches_any_value_even_an_empty_one()
    {
        using var host = Host(Route(0, "v2", ("Headers:0:Name", "x-debug"), ("Headers:0:Type", "Present")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/", headers: ("x-debug", "1")));
        Assert.Equal(["v2"], await BackendsAsync(host, "/", headers: ("x-debug", "")));
        Assert.Equal(s_all, await BackendsAsync(host, "/", headers: ("x-debugging", "1")));
    }

    [Fact]
    public async Task Query_parameters_match_by_name_exactly_and_by_each_kind_of_value()
    {
        using var host = Host(
            Route(0, "v2", ("QueryParameters:0:Name", "tier"), ("QueryParameters:0:Value", "gold plus")),
            Route(1, "v3", ("QueryParameters:0:Name", "debug"), ("QueryParameters:0:Type", "Present")),
            Route(2, "v3", ("QueryParameters:0:Name", "id"), ("QueryParameters:0:Type", "Regex"), ("QueryParameters:0:Value", "[a-f0-9]{4}")),
            Route(3, "v3", ("QueryParameters:0:Name", "region"), ("QueryParameters:0:Type", "Prefix"), ("QueryParameters:0:Value", "eu-")));

        // Values are compared decoded; names are case-sensitive.
        Assert.Equal(["v2"], await BackendsAsync(host, "/items?a=1&tier=gold%20plus"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/items?tier=gold+plus"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items?Tier=gold%20plus"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items?tier=gold"));
        Assert.Equal(["v3"], await BackendsAsync(host, "/items?debug"));
        Assert.Equal(["v3"], await BackendsAsync(host, "/items?id=beef"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items?id=beefy"));
        Assert.Equal(["v3"], await BackendsAsync(host, "/items?region=eu-west"));
        Assert.Equal(s_all, await BackendsAsync(host, "/items?region=us-eu-"));
    }

    [Fact]
    public async Task Every_condition_of_a_route_must_hold()
    {
        using var host = Host(Route(0, "v2", ("Path:Value", "/cart"), ("Method", "POST"), ("Headers:0:Name", "x-tier"), ("Headers:0:Value", "gold"), ("QueryParameters:0:Name", "v"), ("QueryParameters:0:Value", "2")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/cart?v=2", HttpMethod.Post, ("x-tier", "gold")));
        Assert.Equal(s_all, await BackendsAsync(host, "/cart?v=2", HttpMethod.Get, ("x-tier", "gold")));
        Assert.Equal(s_all, await BackendsAsync(host, "/cart?v=2", HttpMethod.Post));
        Assert.Equal(s_all, await BackendsAsync(host, "/cart", HttpMethod.Post, ("x-tier", "gold")));
        Assert.Equal(s_all, await BackendsAsync(host, "/shop?v=2", HttpMethod.Post, ("x-tier", "gold")));
    }

    [Fact]
    public async Task An_exact_path_wins_over_a_prefix_as_long_listed_before_it()
    {
        using var host = Host(
            Route(0, "v2", ("Path:Type", "Prefix"), ("Path:Value", "/items/special/")),
            Route(1, "v3", ("Path:Type", "Exact"), ("Path:Value", "/items/special")));

        Assert.Equal(["v3"], await BackendsAsync(host, "/items/special"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/items/special/deals/1"));
    }

    [Fact]
    public async Task A_longer_prefix_wins_over_a_shorter_one_listed_before_it()
    {
        using var host = Host(
            Route(0, "v2", ("Path:Value", "/api")),
            Route(1, "v3", ("Path:Value", "/api/orders")));

        Assert.Equal(["v3"], await BackendsAsync(host, "/api/orders/1"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/api/items"));
    }

    [Fact]
    public async Task A_path_wins_over_a_method_listed_before_it()
    {
        using var host = Host(
            Route(0, "v2", ("Method", "GET")),
            Route(1, "v3", ("Path:Value", "/api")));

        Assert.Equal(["v3"], await BackendsAsync(host, "/api/x", HttpMethod.Get));
        Assert.Equal(["v2"], await BackendsAsync(host, "/other", HttpMethod.Get));
    }

    [Fact]
    public async Task A_method_wins_over_headers_listed_before_it()
    {
        using var host = Host(
            Route(0, "v2", ("Headers:0:Name", "x-a"), ("Headers:0:Type", "Present"), ("Headers:1:Name", "x-b"), ("Headers:1:Type", "Present")),
            Route(1, "v3", ("Method", "GET")));

        Assert.Equal(["v3"], await BackendsAsync(host, "/", HttpMethod.Get, ("x-a", "1"), ("x-b", "1")));
        Assert.Equal(["v2"], await BackendsAsync(host, "/", HttpMethod.Post, ("x-a", "1"), ("x-b", "1")));
    }

    [Fact]
    public async Task More_headers_win_over_fewer_listed_before_them()
    {
        using var host = Host(
            Route(0, "v2", ("Headers:0:Name", "x-a"), ("Headers:0:Type", "Present"), ("QueryParameters:0:Name", "q"), ("QueryParameters:0:Type", "Present")),
            Route(1, "v3", ("Headers:0:Name", "x-a"), ("Headers:0:Type", "Present"), ("Headers:1:Name", "x-b"), ("Headers:1:Type", "Present")));

        // The query condition of the first does not outrank the second's extra header.
        Assert.Equal(["v3"], await BackendsAsync(host, "/?q=1", headers: [("x-a", "1"), ("x-b", "1")]));
        Assert.Equal(["v2"], await BackendsAsync(host, "/?q=1", headers: ("x-a", "1")));
    }

    [Fact]
    public async Task More_query_parameters_win_over_fewer_listed_before_them()
    {
        using var host = Host(
            Route(0, "v2", ("QueryParameters:0:Name", "a"), ("QueryParameters:0:Type", "Present")),
            Route(1, "v3", ("QueryParameters:0:Name", "a"), ("QueryParameters:0:Type", "Present"), ("QueryParameters:1:Name", "b"), ("QueryParameters:1:Type", "Present")));

        Assert.Equal(["v3"], await BackendsAsync(host, "/?a=1&b=2"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/?a=1"));
    }

    [Fact]
    public async Task On_a_tie_the_route_listed_first_wins()
    {
        using var host = Host(
            Route(0, "v2", ("Path:Value", "/api"), ("Headers:0:Name", "x-a"), ("Headers:0:Type", "Present")),
            Route(1, "v3", ("Path:Value", "/api"), ("Headers:0:Name", "x-b"), ("Headers:0:Type", "Present")));

        Assert.Equal(["v2"], await BackendsAsync(host, "/api", headers: [("x-a", "1"), ("x-b", "1")]));
        Assert.Equal(["v3"], await BackendsAsync(host, "/api", headers: ("x-b", "1")));
    }

    [Fact]
    public async Task A_regular_expression_ranks_as_the_prefix_slash_so_a_longer_prefix_and_a_method_win_over_it()
    {
        using var host = Host(
            Route(0, "v2", ("Path:Type", "Regex"), ("Path:Value", "/orders/[0-9]+")),
            Route(1, "v3", ("Path:Value", "/orders/7")),
            Route(2, "v1", ("Method", "DELETE")));

        Assert.Equal(["v3"], await BackendsAsync(host, "/orders/7"));
        Assert.Equal(["v2"], await BackendsAsync(host, "/orders/8"));
        Assert.Equal(["v1"], await BackendsAsync(host, "/orders/8", HttpMethod.Delete));
    }

    [Fact]
    public async Task A_route_without_destinations_sends_to_every_endpoint_and_a_subset_without_endpoints_fails_naming_its_labels()
    {
        using var host = Host(
            [Key("Routes:0:Match:Path:Value", "/all")],
            Route(1, "v9", ("Path:Value", "/none")));

        Assert.Equal(s_all, await BackendsAsync(host, "/all/x"));
        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/none"));
        Assert.Contains("version=v9", error.Message, StringComparison.Ordinal);
        Assert.Contains("inventory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_route_timeout_replaces_the_service_timeout_for_its_calls_only()
    {
        using var host = Host(
            [Key("Routes:0:Timeout", "00:00:00.250"), Key("Routes:0:Match:Path:Value", "/fast")]);

        // The deadline the server is told is the route's; other requests carry the service's 10 s.
        Assert.Equal("250", await TimeoutHeaderAsync(host, "/fast/1"));
        Assert.Equal("10000", await TimeoutHeaderAsync(host, "/slow/1"));

        foreach (var backend in _backends)
        {
            backend.Delay = TimeSpan.FromSeconds(30);
        }

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => host.Client.GetAsync("http://inventory/fast/2"));
        Assert.Contains("timeout of 0.25 s", error.Message, StringComparison.Ordinal);
    }

    private static async Task<string> TimeoutHeaderAsync(MeshTestHost host, string path)
    {
        using var response = await host.Client.GetAsync("http://inventory" + path);
        return (await TestBackend.ReadEchoAsync(response)).Headers["mesh-timeout"];
    }

    private static KeyValuePair<string, string?> Key(string key, string value) => new("Mesh:Services:inventory:" + key, value);

    private MeshTestHost Host(params KeyValuePair<string, string?>[][] routes)
    {
        var config = new Dictionary<string, string?> { ["Mesh:Services:inventory:LoadBalancer"] = "RoundRobin" };
        for (var i = 0; i < _backends.Length; i++)
        {
            config[$"Mesh:Services:inventory:Endpoints:{i}:Address"] = _backends[i].Address.ToString();
            config[$"Mesh:Services:inventory:Endpoints:{i}:Labels:version"] = _backends[i].Name;
        }

        foreach (var (key, value) in routes.SelectMany(r => r))
        {
            config[key] = value;
        }

        return MeshTestHost.Create(config);
    }

    /// <summary>Route <paramref name="index"/> to the endpoints labelled <paramref name="version"/>, with match keys under <c>Match:</c>.</summary>
    private static KeyValuePair<string, string?>[] Route(int index, string version, params (string Key, string Value)[] match) =>
    [
        new($"Mesh:Services:inventory:Routes:{index}:Destinations:0:Labels:version", version),
        .. match.Select(m => new KeyValuePair<string, string?>($"Mesh:Services:inventory:Routes:{index}:Match:{m.Key}", m.Value)),
    ];

    /// <summary>The backends that six requests reached, sorted: one when a route took them, all three (round robin) when none did.</summary>
    private static async Task<string[]> BackendsAsync(MeshTestHost host, string pathAndQuery, HttpMethod? method = null, params (string Name, string Value)[] headers)
    {
        var client = host.Client;
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(method ?? HttpMethod.Get, "http://inventory" + pathAndQuery);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await client.SendAsync(request);
            response.EnsureSuccessStatusCode();
            seen.Add(response.Headers.GetValues("x-backend").Single());
        }

        return [.. seen];
    }
}
