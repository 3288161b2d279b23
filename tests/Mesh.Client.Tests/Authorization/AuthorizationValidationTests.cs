using Mesh.Configuration;
using Microsoft.Extensions.Configuration;

namespace Mesh.Client.Tests.Authorization;

/// <summary>A bad authorization policy is refused by the one validator, naming the field, the service and the value.</summary>
public sealed class AuthorizationValidationTests
{
    [Theory]
    [InlineData("Rules:0:Name", "", "Mesh:Services:payments:Authorization:Rules:0:Name: '' is empty")]
    [InlineData("Rules:0:Name", "a rule", "Mesh:Services:payments:Authorization:Rules:0:Name: 'a rule' is not a rule name")]
    [InlineData("Rules:0:Action", "Permit", "Mesh:Services:payments:Authorization:Rules:0:Action: 'Permit' is not an action (service 'payments')")]
    [InlineData("Rules:0:From:0", "ord*", "Mesh:Services:payments:Authorization:Rules:0:From:0: 'ord*' is not a service name, a SPIFFE ID")]
    [InlineData("Rules:0:From:0", "orders.*", "Mesh:Services:payments:Authorization:Rules:0:From:0: 'orders.*' is not a service name")]
    [InlineData("Rules:0:From:0", "spiffe://Mesh.local/svc/orders", "Mesh:Services:payments:Authorization:Rules:0:From:0: 'spiffe://Mesh.local/svc/orders' is not a SPIFFE ID")]
    [InlineData("Rules:0:To:0:Paths:0", "charges", "Mesh:Services:payments:Authorization:Rules:0:To:0:Paths:0: 'charges' is not a path")]
    [InlineData("Rules:0:To:0:Paths:0", "/a/../admin", "Mesh:Services:payments:Authorization:Rules:0:To:0:Paths:0: '/a/../admin' has a '.' or '..' segment")]
    [InlineData("Rules:0:To:0:Paths:0", "/a%2Fb", "Mesh:Services:payments:Authorization:Rules:0:To:0:Paths:0: '/a%2Fb' has '%' in a segment")]
    [InlineData("Rules:0:To:0:Paths:0", "/admin*", "has '*' in a segment")]
    [InlineData("Rules:0:To:0:Paths:0", "/**/admin", "may only end a path")]
    [InlineData("Rules:0:To:0:Paths:0", "//admin", "has an empty segment")]
    [InlineData("Rules:0:To:0:Paths:0", "/admin/", "ends with '/'")]
    [InlineData("Rules:0:To:0:Methods:0", "PO ST", "Mesh:Services:payments:Authorization:Rules:0:To:0:Methods:0: 'PO ST' is not an HTTP method")]
    [InlineData("Rules:0:To:0:Grpc:0", "pkg.Svc", "Mesh:Services:payments:Authorization:Rules:0:To:0:Grpc:0: 'pkg.Svc' is not a gRPC method")]
    [InlineData("Default", "open", "Mesh:Services:payments:Authorization:Default: 'open' is not an authorization default")]
    [InlineData("RateLimitPerCaller:Burst", "0", "Mesh:Services:payments:Authorization:RateLimitPerCaller:Burst: 0 is out of range")]
    [InlineData("IdentityHeadersFrom:0", "gate way", "Mesh:Services:payments:Authorization:IdentityHeadersFrom:0: 'gate way' is not a service name")]
    [InlineData("Rulez", "x", "Mesh:Services:payments:Authorization:Rulez: 'Rulez' is not a known setting of service 'payments'")]
    public void A_bad_field_is_named(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Services:payments:Authorization:Rules:0:Name"] = "orders-charge",
            ["Mesh:Services:payments:Authorization:Rules:0:Action"] = "Allow",
            ["Mesh:Services:payments:Authorization:Rules:0:From:0"] = "orders",
            ["Mesh:Services:payments:Authorization:Rules:0:To:0:Methods:0"] = "POST",
            ["Mesh:Services:payments:Authorization:Rules:0:To:0:Paths:0"] = "/charges",
            ["Mesh:Services:payments:Authorization:" + key] = value,
        };

        var failures = Validate(settings);

        Assert.Contains(failures, f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Two_rules_of_one_name_a_rule_without_callers_and_a_bad_mesh_default_are_refused()
    {
        var failures = Validate(new Dictionary<string, string?>
        {
            ["Mesh:Authorization:Default"] = "maybe",
            ["Mesh:Services:payments:Authorization:Rules:0:Name"] = "same",
            ["Mesh:Services:payments:Authorization:Rules:0:Action"] = "Allow",
            ["Mesh:Services:payments:Authorization:Rules:1:Name"] = "SAME",
            ["Mesh:Services:payments:Authorization:Rules:1:Action"] = "Deny",
            ["Mesh:Services:payments:Authorization:Rules:1:From:0"] = "*",
        });

        Assert.Contains(failures, f => f.StartsWith("Mesh:Authorization:Default: 'maybe' is not an authorization default", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Mesh:Services:payments:Authorization:Rules:0:From: the rule names no caller", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Mesh:Services:payments:Authorization:Rules:1:Name: 'SAME' names two rules", StringComparison.Ordinal));
    }

    [Fact]
    public void A_valid_policy_passes()
    {
        Assert.Empty(Validate(new Dictionary<string, string?>
        {
            ["Mesh:Authorization:Default"] = "Authenticated",
            ["Mesh:Services:payments:Authorization:Rules:0:Name"] = "orders-charge",
            ["Mesh:Services:payments:Authorization:Rules:0:Action"] = "allow",
            ["Mesh:Services:payments:Authorization:Rules:0:From:0"] = "orders",
            ["Mesh:Services:payments:Authorization:Rules:0:From:1"] = "spiffe://mesh.local/ns/prod/sa/orders",
            ["Mesh:Services:payments:Authorization:Rules:0:To:0:Methods:0"] = "POST",
            ["Mesh:Services:payments:Authorization:Rules:0:To:0:Paths:0"] = "/charges/**",
            ["Mesh:Services:payments:Authorization:Rules:0:To:0:Paths:1"] = "/users/*/charges",
            ["Mesh:Services:payments:Authorization:Rules:0:To:0:Grpc:0"] = "payments.Payments/*",
            ["Mesh:Services:payments:Authorization:IdentityHeadersFrom:0"] = "gateway",
            ["Mesh:Services:payments:Authorization:RateLimitPerCaller:PermitsPerSecond"] = "5",
        }));
    }

    private static List<string> Validate(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new MeshOptions();
        new MeshConfigurationBinder(configuration).Configure(options);
        return new MeshOptionsValidator().Validate(null, options).Failures?.ToList() ?? [];
    }
}
