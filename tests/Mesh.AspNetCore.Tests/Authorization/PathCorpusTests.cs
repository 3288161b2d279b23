using Mesh.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>
/// Paths written to slip past a policy, sent as raw request lines to real Kestrel servers with real routes: one without a
/// policy shows which route each request reaches; on the servers with a policy the decision always follows that route.
/// </summary>
public sealed class PathCorpusTests : IAsyncLifetime
{
    private static readonly string[] s_routes = ["admin", "admin-sub", "public", "public-id", "public-delete", "charges", "root", "a-x-admin"];

    // Each (method, request target, Host).
    public static TheoryData<string, string, string> Corpus { get; } = Build();

    private TestApp? _reference;
    private TestApp? _deny;
    private TestApp? _allow;

    public async Task InitializeAsync()
    {
        _reference = await StartAsync(null);
        _deny = await StartAsync(a =>
        {
            a.Rules.Add(new AuthorizationRuleOptions { Name = "no-admin", Action = "Deny", From = { "unauthenticated" }, To = { new AuthorizationTargetOptions { Paths = { "/admin/**", "/a/*/admin" } } } });
            a.Rules.Add(new AuthorizationRuleOptions { Name = "no-delete", Action = "Deny", From = { "unauthenticated" }, To = { new AuthorizationTargetOptions { Methods = { "DELETE" } } } });
        });
        _allow = await StartAsync(a =>
        {
            a.Rules.Add(new AuthorizationRuleOptions { Name = "public", Action = "Allow", From = { "unauthenticated" }, To = { new AuthorizationTargetOptions { Methods = { "GET" }, Paths = { "/public/**", "/" } } } });
            a.Rules.Add(new AuthorizationRuleOptions { Name = "charge", Action = "Allow", From = { "unauthenticated" }, To = { new AuthorizationTargetOptions { Methods = { "POST" }, Paths = { "/charges" } } } });
        });
    }

    public async Task DisposeAsync()
    {
        foreach (var app in new[] { _reference, _deny, _allow })
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task The_decision_follows_the_route_that_runs(string method, string target, string host)
    {
        var (referenceStatus, route) = await RawHttp.SendAsync(_reference!.Address, method, target, host);
        var deny = await RawHttp.SendAsync(_deny!.Address, method, target, host);
        var allow = await RawHttp.SendAsync(_allow!.Address, method, target, host);
        var what = $"{method} {target} (Host {host}) reaches route {route ?? "none"} with {referenceStatus}; deny policy {deny.Status} {deny.Route}, allow policy {allow.Status} {allow.Route}";
        if (route is not null)
        {
            Assert.Contains(route, s_routes);
        }

        // A deny rule covers /admin, everything under it, /a/*/admin and every DELETE: the routes behind them never run.
        if (route is "admin" or "admin-sub" or "a-x-admin" or "public-delete")
        {
            Assert.True(deny is (403, null), what);
        }
        else if (route is not null)
        {
            Assert.True(deny == (referenceStatus, route), what);
        }
        else
        {
            // No route runs: refusing it first is as good as the 404 or 405 it would get.
            Assert.True(deny.Route is null && (deny.Status is 403 || deny.Status == referenceStatus), what);
        }

        // Allow rules let in GET /public, under it and /, and POST /charges; any other route that would run is denied.
        if (route is "public" or "public-id" or "root" or "charges")
        {
            Assert.True(allow == (referenceStatus, route), what);
        }
        else if (route is not null)
        {
            Assert.True(allow is (403, null), what);
        }
        else
        {
            Assert.True(allow.Route is null && (allow.Status is 403 || allow.Status == referenceStatus), what);
        }
    }

    [Theory]
    [InlineData("/admin%00")]
    [InlineData("/public%00/../admin")]
    [InlineData("/public/%00")]
    [InlineData("/%00admin")]
    public async Task A_NUL_in_the_path_is_refused_with_400(string target)
    {
        foreach (var app in new[] { _deny!, _allow! })
        {
            var (status, route) = await RawHttp.SendAsync(app.Address, "GET", target);
            Assert.Equal(400, status);
            Assert.Null(route);
        }
    }

    private static TheoryData<string, string, string> Build()
    {
        string[] targets =
        [
            "/admin", "/ADMIN", "/Admin/", "//admin", "///admin", "/admin//", "/admin/", "/admin/x", "/admin/x/y", "/admin//x",
            "/a/../admin", "/public/../admin", "/./admin", "/a/./admin", "/a/b/../../admin", "/../admin", "/..", "/a/x/admin", "/a/X/ADMIN", "/a//admin",
            "/public/%2e%2e/admin", "/public/%2E%2E/admin", "/public/.%2e/admin", "/public/%2e./admin", "/%2e%2e/admin", "/public/%2e/../admin",
            "/%61dmin", "/%41DMIN", "/ad%6Din", "/ad%6dIn/", "/%2Fadmin", "/%2fadmin", "/admin%2Fx", "/admin%2fx", "/public%2F..%2Fadmin", "/public/..%2Fadmin",
            "/public/..%2fadmin", "/admin%5Cx", "/public%5C..%5Cadmin", "/public\\..\\admin", "/admin\\", "/\\admin", "/admin%5C",
            "/admin#frag", "/public#/../admin", "/public/x#/../../admin", "/public?/../admin", "/public?x=/admin", "/admin?x=1", "/public/x%23/../../admin", "/public/%23/../admin",
            "/admin;x", "/public/..;/admin", "/admin%20", "/admin.", "/admin%2e", "/public", "/public/", "/public/x", "/public/x/../../admin",
            "/PUBLIC/x", "/public//x", "/", "//", "/x", "/charges", "http://payments/admin", "http://PAYMENTS/public/../admin", "/%252e%252e/admin", "/public/%252e%252e/admin",
            "/public/%c0%ae%c0%ae/admin", "/public/%u002e%u002e/admin", "/admin%09", "/admin%3Fx", "/admin%23x",
        ];
        var data = new TheoryData<string, string, string>();
        foreach (var target in targets)
        {
            data.Add("GET", target, "payments");
        }

        data.Add("GET", "/admin", "PaYmEnTs");
        data.Add("GET", "/public/../admin", "PAYMENTS:80");
        data.Add("POST", "/charges", "payments");
        data.Add("post", "/charges", "payments");
        data.Add("POST", "/CHARGES/", "payments");
        data.Add("POST", "//charges", "payments");
        data.Add("POST", "/charges/../admin", "payments");
        data.Add("PUT", "/charges", "payments");
        data.Add("DELETE", "/public", "payments");
        data.Add("delete", "/public", "payments");
        data.Add("DeLeTe", "/public/", "payments");
        data.Add("HEAD", "/admin", "payments");
        data.Add("OPTIONS", "/admin", "payments");
        return data;
    }

    private static Task<TestApp> StartAsync(Action<AuthorizationOptions>? policy) => TestApp.StartAsync(
        s =>
        {
            s.AddMeshServer();
            s.Configure<MeshOptions>(o =>
            {
                o.ServiceName = "payments";
                if (policy is not null)
                {
                    var service = new MeshServiceOptions();
                    policy(service.Authorization);
                    o.Services["payments"] = service;
                }
            });
        },
        app =>
        {
            Route(app.MapGet("/admin", () => "admin"), "admin");
            Route(app.MapGet("/admin/{**rest}", (string rest) => rest), "admin-sub");
            Route(app.MapGet("/public", () => "public"), "public");
            Route(app.MapGet("/public/{id}", (string id) => id), "public-id");
            Route(app.MapDelete("/public", () => "deleted"), "public-delete");
            Route(app.MapPost("/charges", () => "charged"), "charges");
            Route(app.MapGet("/", () => "root"), "root");
            Route(app.MapGet("/a/{x}/admin", (string x) => x), "a-x-admin");
        });

    private static void Route(RouteHandlerBuilder builder, string name) => builder.AddEndpointFilter(async (context, next) =>
    {
        context.HttpContext.Response.Headers["x-route"] = name;
        return await next(context);
    });
}
