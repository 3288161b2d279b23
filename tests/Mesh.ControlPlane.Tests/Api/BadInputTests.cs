using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Meshd.Tests.Api;

public sealed class BadInputTests
{
    private const string Admin = TestMeshd.AdminToken;
    private const string Workload = TestMeshd.WorkloadToken;
    private const string Policy = "/v1/policies/inventory";
    private const string Instance = "/v1/services/inventory/instances/inv-9";

    public static TheoryData<string, string, string, string?, string, string, int, string?> Cases => new()
    {
        // name, method, path, token, content type, body, status, field named in errors
        { "malformed JSON", "PUT", Policy, Admin, "application/json", """{ "LoadBalancer": """, 400, "$" },
        { "malformed registration", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1" """, 400, "$" },
        { "not an object", "PUT", Policy, Admin, "application/json", "[1, 2]", 400, "$" },
        { "wrong type: string for an integer", "PUT", Policy, Admin, "application/json", """{ "Retry": { "MaxAttempts": "three" } }""", 400, "Retry:MaxAttempts" },
        { "wrong type: object for a duration", "PUT", Policy, Admin, "application/json", """{ "Timeout": { "Seconds": 3 } }""", 400, "Timeout" },
        { "wrong type: number for a name", "PUT", Policy, Admin, "application/json", """{ "LoadBalancer": 3 }""", 400, "LoadBalancer" },
        { "wrong type: number for an object", "PUT", Policy, Admin, "application/json", """{ "Retry": 3 }""", 400, "Retry" },
        { "wrong type in a registration", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "weight": "heavy" }""", 400, "weight" },
        { "unknown field", "PUT", Policy, Admin, "application/json", """{ "LoadBalancr": "RoundRobin" }""", 400, "LoadBalancr" },
        { "unknown nested field", "PUT", Policy, Admin, "application/json", """{ "Retry": { "MaxAttempt": 3 } }""", 400, "Retry:MaxAttempt" },
        { "unknown registration field", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "port": 1 }""", 400, "port" },
        { "endpoints in a policy", "PUT", Policy, Admin, "application/json", """{ "Endpoints": [ "http://127.0.0.1:1" ] }""", 400, "Endpoints" },
        { "unknown balancer", "PUT", Policy, Admin, "application/json", """{ "LoadBalancer": "Fastest" }""", 400, "LoadBalancer" },
        { "out of range", "PUT", Policy, Admin, "application/json", """{ "Retry": { "MaxAttempts": 0 } }""", 400, "Retry:MaxAttempts" },
        { "out of range by patch", "PATCH", Policy, Admin, "application/merge-patch+json", """{ "CircuitBreaker": { "FailureRatio": 2 } }""", 400, "CircuitBreaker:FailureRatio" },
        { "out of range registration", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "weight": -1 }""", 400, "weight" },
        { "bad address", "PUT", Instance, Workload, "application/json", """{ "address": "not a uri" }""", 400, "address" },
        { "missing address", "PUT", Instance, Workload, "application/json", """{ "zone": "a" }""", 400, "address" },
        { "bad service name", "PUT", "/v1/policies/in_ventory", Admin, "application/json", "{}", 400, "service" },
        { "bad instance id", "PUT", "/v1/services/inventory/instances/a%20b", Workload, "application/json", """{ "address": "http://127.0.0.1:1" }""", 400, "instanceId" },
        { "oversized body", "PUT", Policy, Admin, "application/json", "{ \"LoadBalancer\": \"" + new string('x', 70_000) + "\" }", 413, null },
        { "oversized registration", "PUT", Instance, Workload, "application/json", "{ \"zone\": \"" + new string('x', 70_000) + "\" }", 413, null },
        { "wrong media type", "PUT", Policy, Admin, "text/plain", "{}", 415, null },
        { "missing token", "PUT", Policy, null, "application/json", """{ "LoadBalancer": "RoundRobin" }""", 401, null },
        { "wrong token", "PUT", Policy, "not-the-token", "application/json", """{ "LoadBalancer": "RoundRobin" }""", 401, null },
        { "workload token on an admin route", "PUT", Policy, Workload, "application/json", """{ "LoadBalancer": "RoundRobin" }""", 403, null },
        { "missing token on register", "PUT", Instance, null, "application/json", """{ "address": "http://127.0.0.1:1" }""", 401, null },
        { "wrong token on register", "PUT", Instance, "Bearer-ish", "application/json", """{ "address": "http://127.0.0.1:1" }""", 401, null },
        { "bad If-Match", "PUT-IFMATCH", Policy, Admin, "application/json", """{ "LoadBalancer": "RoundRobin" }""", 400, "If-Match" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_gets_a_problem_naming_the_field_and_nothing_is_stored(string name, string method, string path, string? token, string contentType, string body, int status, string? field)
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "PeakEwma" }""");
        var before = await meshd.SnapshotAsync();

        using var client = TestMeshd.Client(meshd.Host.Address, token);
        using var request = new HttpRequestMessage(new HttpMethod(method.Split('-')[0]), path)
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = new MediaTypeHeaderValue(contentType) } },
        };
        if (method.EndsWith("-IFMATCH", StringComparison.Ordinal))
        {
            request.Headers.TryAddWithoutValidation("If-Match", "\"one\"");
        }

        var response = await client.SendAsync(request);

        Assert.True(status == (int)response.StatusCode, $"{name}: expected {status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(status, (int)problem["status"]!);
        if (field is not null)
        {
            var errors = problem["errors"]!.AsObject();
            Assert.True(errors.ContainsKey(field), $"{name}: errors name {string.Join(", ", errors.Select(e => e.Key))}, not {field}");
        }

        if (status == 401)
        {
            Assert.DoesNotContain(TestMeshd.AdminToken, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Nothing stored: the same snapshot, and the policy still at version 1.
        var after = await meshd.SnapshotAsync();
        Assert.Equal(before.ToJsonString(), after.ToJsonString());
        var history = (await meshd.Admin.GetFromJsonAsync<JsonArray>(Policy + "/history"))!;
        Assert.Single(history);
    }
}
