using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.ControlPlane.Contract;

namespace Mesh.Cli.Tests;

/// <summary>Instances registered through meshd's API, renewing with the report a Mesh instance sends: what a fleet tells meshd.</summary>
internal static class Fleet
{
    /// <summary>Registers <paramref name="instanceId"/> of <paramref name="service"/> at a loopback address (no server needs to answer there).</summary>
    public static async Task RegisterAsync(TestMeshd meshd, string service, string instanceId, int port)
    {
        using var response = await meshd.RegisterAsync(service, instanceId, $"http://127.0.0.1:{port}");
        Assert.True(response.IsSuccessStatusCode, $"register {service}/{instanceId}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Renews the lease with <paramref name="report"/> as its body, as the instance's registration does.</summary>
    public static async Task RenewAsync(TestMeshd meshd, string service, string instanceId, InstanceReportDocument report)
    {
        var body = JsonSerializer.Serialize(report, ControlPlaneJson.Default.InstanceReportDocument);
        using var response = await meshd.Workload.PostAsync(
            new Uri($"/v1/services/{service}/instances/{instanceId}/renew", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"renew {service}/{instanceId}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The snapshot version meshd serves now.</summary>
    public static async Task<long> SnapshotVersionAsync(TestMeshd meshd) => (long)(await meshd.SnapshotAsync())["version"]!;

    /// <summary>A minute of traffic: <paramref name="requests"/> calls, <paramref name="successes"/> of them below 500, all in latency bucket <paramref name="bucket"/>.</summary>
    public static TrafficDocument Traffic(string peer, long requests, long successes, int bucket)
    {
        var latency = new long[bucket + 1];
        latency[bucket] = requests;
        return new TrafficDocument(peer, requests, successes, 60, latency);
    }

    public static async Task PutPolicyAsync(TestMeshd meshd, string service, string json)
    {
        using var response = await meshd.PutPolicyAsync(service, json);
        Assert.True(response.IsSuccessStatusCode, $"put policy {service}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public static async Task<long> PolicyVersionAsync(TestMeshd meshd, string service)
    {
        var answer = await meshd.Admin.GetFromJsonAsync<JsonElement>(new Uri($"/v1/policies/{service}", UriKind.Relative));
        return answer.GetProperty("version").GetInt64();
    }
}
