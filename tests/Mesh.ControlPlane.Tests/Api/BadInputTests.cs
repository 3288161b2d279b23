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

        // Issue #15, item 7: each of these was a 500 with a stack trace in the log.
        { "invalid UTF-8 in a policy string", "PUT", Policy, Admin, "application/json", "{ \"LoadBalancer\": \"Round\u00ffRobin\" }", 400, "$" },
        { "invalid UTF-8 in a registration string", "PUT", Instance, Workload, "application/json", "{ \"address\": \"http://127.0.0.1:1\", \"zone\": \"\u00ff\u00fe\" }", 400, "$" },

        // Issue #15, item 8: each of these was stored.
        { "case-variant duplicate fields", "PUT", Policy, Admin, "application/json", """{ "retry": { "MaxAttempts": 2 }, "Retry": { "MaxAttempts": 3 } }""", 400, "Retry" },
        { "case-variant duplicate nested fields", "PUT", Policy, Admin, "application/json", """{ "Retry": { "maxattempts": 2, "MaxAttempts": 3 } }""", 400, "Retry:MaxAttempts" },
        { "case-variant duplicate registration fields", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "Address": "http://127.0.0.1:2" }""", 400, "Address" },
        { "a bare number as a duration", "PUT", Policy, Admin, "application/json", """{ "Timeout": 1 }""", 400, "Timeout" },
        { "a bare number in a string as a duration", "PUT", Policy, Admin, "application/json", """{ "Timeout": "1" }""", 400, "Timeout" },
        { "a bare number as a nested duration", "PATCH", Policy, Admin, "application/merge-patch+json", """{ "Retry": { "Backoff": 5 } }""", 400, "Retry:Backoff" },
        { "a hedging delay of 99 999 days", "PUT", Policy, Admin, "application/json", """{ "Hedging": { "Delay": "99999.00:00:00" } }""", 400, "Hedging:Delay" },
        { "the largest backoff", "PUT", Policy, Admin, "application/json", """{ "Retry": { "Backoff": "10675199.02:48:05.4775807", "MaxBackoff": "10675199.02:48:05.4775807" } }""", 400, "Retry:Backoff" },
        { "an ejection time of a year", "PUT", Policy, Admin, "application/json", """{ "OutlierDetection": { "BaseEjectionTime": "365.00:00:00", "MaxEjectionTime": "365.00:00:00" } }""", 400, "OutlierDetection:BaseEjectionTime" },
        { "a service name with an empty part", "PUT", "/v1/policies/a..b", Admin, "application/json", "{}", 400, "service" },
        { "a registration under a service name with an empty part", "PUT", "/v1/services/a..b/instances/x", Workload, "application/json", """{ "address": "http://127.0.0.1:1" }""", 400, "service" },
        { "an upper-case service name overwriting the lower-case one", "PUT", "/v1/policies/Inventory", Admin, "application/json", """{ "LoadBalancer": "RoundRobin" }""", 400, "service" },
        { "a merge patch on an upper-case spelling", "PATCH", "/v1/policies/INVENTORY", Admin, "application/merge-patch+json", """{ "LoadBalancer": "RoundRobin" }""", 400, "service" },
        { "a cloud metadata address", "PUT", Instance, Workload, "application/json", """{ "address": "http://169.254.169.254" }""", 400, "address" },
        { "an unspecified address", "PUT", Instance, Workload, "application/json", """{ "address": "http://0.0.0.0:80" }""", 400, "address" },
        { "white space around an address", "PUT", Instance, Workload, "application/json", """{ "address": " http://127.0.0.1:1 " }""", 400, "address" },
        { "white space around a zone", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "zone": "a " }""", 400, "zone" },
        { "white space around a label", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "labels": { "version": " v1" } }""", 400, "labels:version" },
        { "a control character in a label", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "labels": { "version": "v\u0007" } }""", 400, "labels:version" },
        { "a label name with a space", "PUT", Instance, Workload, "application/json", """{ "address": "http://127.0.0.1:1", "labels": { "my label": "x" } }""", 400, "labels:my label" },
        { "white space around a policy value", "PUT", Policy, Admin, "application/json", """{ "LoadBalancer": " RoundRobin" }""", 400, "LoadBalancer" },
    };

    // U+00FE and U+00FF stand for the bytes 0xFE and 0xFF, which never occur in UTF-8.
    private static byte[] Bytes(string body) =>
        [.. Encoding.UTF8.GetBytes(body.Replace('\u00fe', '\u0001').Replace('\u00ff', '\u0002')).Select(b => b switch { 1 => (byte)0xFE, 2 => (byte)0xFF, _ => b })];

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
            Content = new ByteArrayContent(Bytes(body)) { Headers = { ContentType = new MediaTypeHeaderValue(contentType) } },
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
