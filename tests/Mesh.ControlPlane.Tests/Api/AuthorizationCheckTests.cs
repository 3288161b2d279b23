using System.Net;
using System.Text.Json.Nodes;

namespace Meshd.Tests.Api;

/// <summary><c>POST /v1/authorization/check</c> answers, with the evaluator servers enforce, whether a caller would be allowed and by which rule.</summary>
public sealed class AuthorizationCheckTests
{
    private const string Policy = """
        { "Authorization": { "Rules": [
            { "Name": "no-admin", "Action": "Deny", "From": [ "*" ], "To": [ { "Paths": [ "/admin/**" ] } ] },
            { "Name": "orders-charge", "Action": "Allow", "From": [ "orders" ], "To": [ { "Methods": [ "POST" ], "Paths": [ "/charges" ] } ] } ] } }
        """;

    [Theory]
    [InlineData("payments", "orders", "POST", "/charges", true, "orders-charge")]
    [InlineData("payments", "spiffe://mesh.local/svc/orders", "post", "/CHARGES/", true, "orders-charge")]
    [InlineData("payments", "gateway", "POST", "/charges", false, "(no-match)")]
    [InlineData("payments", "orders", "POST", "/admin/charges", false, "no-admin")]
    [InlineData("payments", "unauthenticated", "POST", "/charges", false, "(no-match)")]
    [InlineData("payments", "spiffe://other.td/svc/orders", "POST", "/charges", false, "(no-match)")]
    [InlineData("inventory", "gateway", "GET", "/items", true, "(default:allow)")]
    public async Task A_check_answers_the_decision_and_the_rule(string service, string caller, string method, string path, bool allowed, string rule)
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.PutPolicyAsync("payments", Policy)).EnsureSuccessStatusCode();

        using var response = await meshd.Admin.PostAsync(new Uri("/v1/authorization/check", UriKind.Relative), TestMeshd.Json(
            new JsonObject { ["service"] = service, ["caller"] = caller, ["method"] = method, ["path"] = path }.ToJsonString()));

        response.EnsureSuccessStatusCode();
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(allowed, (bool)answer["allowed"]!);
        Assert.Equal(rule, (string)answer["rule"]!);
        Assert.Equal(allowed ? "allow" : "deny", (string)answer["decision"]!);
    }

    [Fact]
    public async Task The_mesh_default_of_the_question_applies_to_a_service_without_allow_rules()
    {
        await using var meshd = await TestMeshd.StartAsync();

        using var response = await meshd.Admin.PostAsync(new Uri("/v1/authorization/check", UriKind.Relative), TestMeshd.Json(
            """{ "service": "inventory", "caller": "unauthenticated", "method": "GET", "path": "/items", "meshDefault": "authenticated" }"""));

        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.False((bool)answer["allowed"]!);
        Assert.Equal("(default:authenticated)", (string)answer["rule"]!);
    }

    [Theory]
    [InlineData("""{ "service": "payments", "caller": "orders", "method": "POST" }""", "path")]
    [InlineData("""{ "service": "payments", "caller": "ord*", "method": "POST", "path": "/charges" }""", "caller")]
    [InlineData("""{ "service": "payments", "caller": "*", "method": "POST", "path": "/charges" }""", "caller")]
    [InlineData("""{ "service": "payments", "caller": "orders", "method": "PO ST", "path": "/charges" }""", "method")]
    [InlineData("""{ "service": "payments", "caller": "orders", "method": "POST", "path": "charges" }""", "path")]
    [InlineData("""{ "service": "payments", "caller": "orders", "method": "POST", "path": "/charges\u0000" }""", "path")]
    [InlineData("""{ "service": "pay ments", "caller": "orders", "method": "POST", "path": "/charges" }""", "service")]
    [InlineData("""{ "service": "payments", "caller": 3, "method": "POST", "path": "/charges" }""", "caller")]
    [InlineData("""{ "service": "payments", "caller": "orders", "method": "POST", "path": "/charges", "why": true }""", "why")]
    [InlineData("""{ "service": "payments", "caller": "orders", "method": "POST", "path": "/charges", "meshDefault": "open" }""", "meshDefault")]
    public async Task A_bad_check_is_refused_naming_the_field(string body, string field)
    {
        await using var meshd = await TestMeshd.StartAsync();

        using var response = await meshd.Admin.PostAsync(new Uri("/v1/authorization/check", UriKind.Relative), TestMeshd.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.NotNull(problem["errors"]![field]);
    }

    [Fact]
    public async Task A_check_needs_the_admin_token()
    {
        await using var meshd = await TestMeshd.StartAsync();

        using var response = await meshd.Workload.PostAsync(new Uri("/v1/authorization/check", UriKind.Relative), TestMeshd.Json(
            """{ "service": "payments", "caller": "orders", "method": "POST", "path": "/charges" }"""));

        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, response.StatusCode.ToString());
    }
}
