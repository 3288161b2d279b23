using Mesh.Utilities;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Routing;

/// <summary>Weighted splits over real backends on loopback: the shares hold within ±3 points over 10 000 requests, and weight 0 drains.</summary>
public sealed class RouteSplitTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Requests = 10_000;
    private TestBackend _v1 = null!;
    private TestBackend _v2 = null!;

    public async Task InitializeAsync()
    {
        _v1 = await TestBackend.StartAsync("v1");
        _v2 = await TestBackend.StartAsync("v2");
    }

    public async Task DisposeAsync()
    {
        await _v1.DisposeAsync();
        await _v2.DisposeAsync();
    }

    [Theory]
    [InlineData(80, 20)]
    [InlineData(99, 1)]
    public async Task A_split_holds_within_three_points_over_10000_requests(int v1Weight, int v2Weight)
    {
        using var host = Host(v1Weight, v2Weight);
        var client = host.Client;

        var succeeded = await Load.RunAsync(Requests, 8, _ => Load.GetOkAsync(client, "http://inventory/items"));

        var expected = v2Weight / (double)(v1Weight + v2Weight);
        var share = _v2.Requests / (double)Requests;
        output.WriteLine($"{v1Weight}/{v2Weight}: v1 {_v1.Requests}, v2 {_v2.Requests} of {Requests} ({share:P2} to v2, expected {expected:P0}).");
        Assert.Equal(Requests, succeeded);
        Assert.Equal(Requests, _v1.Requests + _v2.Requests);
        Assert.InRange(share, expected - 0.03, expected + 0.03);
        Assert.True(_v2.Requests > 0, "the small destination received nothing");
    }

    [Fact]
    public async Task Weight_0_drains_a_destination()
    {
        using var host = Host(0, 1);
        var client = host.Client;

        await Load.RunAsync(1000, 4, _ => Load.GetOkAsync(client, "http://inventory/items"));

        Assert.Equal(0, _v1.Requests);
        Assert.Equal(1000, _v2.Requests);
    }

    private MeshTestHost Host(int v1Weight, int v2Weight) => MeshTestHost.Create(
        new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _v1.Address.ToString(),
            ["Mesh:Services:inventory:Endpoints:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory:Endpoints:1:Address"] = _v2.Address.ToString(),
            ["Mesh:Services:inventory:Endpoints:1:Labels:version"] = "v2",
            ["Mesh:Services:inventory:Routes:0:Name"] = "canary",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Weight"] = v1Weight.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Labels:version"] = "v2",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Weight"] = v2Weight.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        services => services.AddSingleton(MeshRandom.Seeded(16)));
}
