using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mesh.Dashboard.Tests;

/// <summary>The dashboard in a real browser against a real meshd with the demo's services: what an operator sees.</summary>
public sealed partial class DashboardPageTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static readonly string[] s_services = ["gateway", "inventory", "orders", "payments"];

    [Fact]
    public async Task The_page_takes_the_token_from_the_fragment_removes_it_at_once_and_lists_the_services()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();
        var console = Collect(page);

        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));

        await Expect(page).ToHaveURLAsync(OriginOnly(fleet));
        foreach (var service in s_services)
        {
            await Expect(page.Locator($"#services tbody tr[data-service='{service}'] td.name")).ToHaveTextAsync(service);
        }

        await Expect(page.Locator("#services tbody tr[data-service='inventory'] td[data-field='instances']")).ToHaveTextAsync("3");
        await Expect(page.Locator("#services tbody tr[data-service='payments'] td[data-field='policy']")).ToHaveTextAsync("v1");
        await Expect(page.Locator("#services tbody tr[data-service='gateway'] td[data-field='policy']")).ToHaveTextAsync("none");
        await Expect(page.Locator("#status")).ToHaveTextAsync(new Regex("^Live · 4 services"));
        Assert.Equal(DemoFleet.ReaderToken, await page.EvaluateAsync<string>("sessionStorage.getItem('meshd.token')"));

        // The graph has a box per service.
        foreach (var service in s_services)
        {
            await Expect(page.Locator($"#graph g.node[data-node='{service}']")).ToBeVisibleAsync();
        }

        // The instances view: every instance with its address and labels.
        await page.ClickAsync("#tabs button[data-view='instances']");
        await Expect(page.Locator("#view-instances .service-block[data-service='inventory'] tr[data-instance]")).ToHaveCountAsync(3);
        await Expect(page.Locator("#view-instances tr[data-instance='v2']")).ToContainTextAsync("version=v2");
        await Expect(page.Locator("#view-instances tr[data-instance='v1b']")).ToHaveAttributeAsync("data-ejected", "false");

        // A reload keeps the token for the tab (session storage) without putting it back in the address.
        await page.ReloadAsync();
        await Expect(page.Locator("#services tbody tr[data-service='orders']")).ToBeVisibleAsync();
        Assert.DoesNotContain('#', page.Url);
        Assert.DoesNotContain(console, m => m.Contains("Content Security Policy", StringComparison.Ordinal) || m.Contains("Refused to", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_policy_change_made_through_the_API_appears_without_a_reload_with_its_history_and_diff()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));
        await page.ClickAsync("#tabs button[data-view='policies']");
        await page.ClickAsync("#policy-list button[data-policy='inventory']");
        await Expect(page.Locator("#policy-detail [data-field='version']")).ToHaveTextAsync("version 1");
        await Expect(page.Locator("#policy-detail [data-field='policy']")).ToContainTextAsync("\"ConsecutiveFailures\": 3");

        // A mark on the window: a reload would lose it.
        await page.EvaluateAsync("window.__sameDocument = 'yes'");
        using (var patched = await fleet.Meshd.PatchPolicyAsync("inventory", """{ "OutlierDetection": { "ConsecutiveFailures": 5 } }"""))
        {
            patched.EnsureSuccessStatusCode();
        }

        Assert.Equal(2, await fleet.PolicyVersionAsync("inventory"));
        await Expect(page.Locator("#policy-list button[data-policy='inventory'] .version")).ToHaveTextAsync("v2");
        await Expect(page.Locator("#policy-detail [data-field='version']")).ToHaveTextAsync("version 2");
        await Expect(page.Locator("#policy-detail [data-field='policy']")).ToContainTextAsync("\"ConsecutiveFailures\": 5");
        await Expect(page.Locator("#history tbody tr")).ToHaveCountAsync(2);

        // The diff follows the latest version: v1 → v2, the one changed line out and in.
        var diff = page.Locator("#diff");
        await Expect(diff).ToHaveAttributeAsync("data-from", "1");
        await Expect(diff).ToHaveAttributeAsync("data-to", "2");
        await Expect(diff.Locator(".removed")).ToHaveTextAsync(new Regex(@"^- +""ConsecutiveFailures"": 3$"));
        await Expect(diff.Locator(".added")).ToHaveTextAsync(new Regex(@"^\+ +""ConsecutiveFailures"": 5$"));
        Assert.Equal("yes", await page.EvaluateAsync<string>("window.__sameDocument"));

        // The overview shows the new version too, still without a reload.
        await page.ClickAsync("#tabs button[data-view='overview']");
        await Expect(page.Locator("#services tbody tr[data-service='inventory'] td[data-field='policy']")).ToHaveTextAsync("v2");

        // Two versions picked by hand: v2 against itself has no change.
        await page.ClickAsync("#tabs button[data-view='policies']");
        await page.SelectOptionAsync("#diff-from", "2");
        await Expect(diff).ToHaveAttributeAsync("data-from", "2");
        await Expect(diff).ToHaveTextAsync("v2 and v2 are the same.");
    }

    [Fact]
    public async Task An_endpoint_a_caller_reports_ejected_is_marked_and_the_mark_goes_when_it_returns()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));
        await page.ClickAsync("#tabs button[data-view='instances']");
        var v1b = page.Locator("#view-instances .service-block[data-service='inventory'] tr[data-instance='v1b']");
        await Expect(v1b).ToHaveAttributeAsync("data-ejected", "false");

        // orders' outlier detection keeps v1b ejected: its renewal's report says so.
        Assert.Empty(await fleet.ReportDemoTrafficAsync(v1bEjected: true));

        await Expect(v1b).ToHaveAttributeAsync("data-ejected", "true");
        await Expect(v1b).ToHaveClassAsync("ejected");
        await Expect(v1b.Locator("td[data-field='ejected-by']")).ToHaveTextAsync("ejected by orders/orders-1");
        await Expect(page.Locator("#view-instances tr[data-instance='v1a']")).ToHaveAttributeAsync("data-ejected", "false");
        await page.ClickAsync("#tabs button[data-view='overview']");
        await Expect(page.Locator("#services tbody tr[data-service='inventory'] td[data-field='instances'] .badge")).ToHaveTextAsync("1 ejected");
        await Expect(page.Locator("#graph g.node.ejected[data-node='inventory']")).ToBeVisibleAsync();

        // orders lets it back in: the next report names no ejection, and the mark goes without a reload.
        Assert.Empty(await fleet.ReportDemoTrafficAsync(v1bEjected: false));
        await page.ClickAsync("#tabs button[data-view='instances']");
        await Expect(v1b).ToHaveAttributeAsync("data-ejected", "false");
        await Expect(v1b.Locator("td[data-field='ejected-by']")).ToHaveTextAsync("–");
    }

    [Fact]
    public async Task Reported_versions_certificates_and_golden_metrics_are_shown_per_instance_service_and_edge()
    {
        await using var fleet = await DemoFleet.StartAsync();
        using (var patched = await fleet.Meshd.PatchPolicyAsync("inventory", """{ "OutlierDetection": { "ConsecutiveFailures": 5 } }"""))
        {
            patched.EnsureSuccessStatusCode();
        }

        Assert.Empty(await fleet.ReportDemoTrafficAsync(v1bEjected: false));
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));

        // Golden metrics per service (the instances' inbound reports) and per edge (the callers' outbound ones).
        await Expect(page.Locator("#services tbody tr[data-service='payments'] td[data-field='success']")).ToHaveTextAsync("96.8 %");
        await Expect(page.Locator("#services tbody tr[data-service='inventory'] td[data-field='converged']")).ToHaveTextAsync("no: 1 lagging");
        await Expect(page.Locator("#services tbody tr[data-service='orders'] td[data-field='converged']")).ToHaveTextAsync("yes");
        await Expect(page.Locator("#edges tbody tr[data-edge='orders->payments'] td[data-field='success']")).ToHaveTextAsync("98.0 %");
        await Expect(page.Locator("#edges tbody tr[data-edge='orders->payments']")).ToContainTextAsync("client");
        await Expect(page.Locator("#graph g.edge[data-edge='gateway->orders'] text")).ToHaveTextAsync(new Regex(@"^99\.7 % · p99 \d+ ms$"));
        await Expect(page.Locator("#graph g.edge[data-edge='orders->inventory']")).ToHaveClassAsync("edge good");
        await Expect(page.Locator("#graph g.edge[data-edge='orders->payments']")).ToHaveClassAsync("edge warn");

        // Per instance: the versions it runs (v2 lags on inventory's policy) and when its certificate expires.
        await page.ClickAsync("#tabs button[data-view='instances']");
        var v2 = page.Locator("#view-instances tr[data-instance='v2']");
        await Expect(v2.Locator("[data-policy='inventory']")).ToHaveTextAsync("inventory v1 (v2 current)");
        await Expect(v2.Locator("[data-policy='inventory']")).ToHaveClassAsync("policy lagging");
        await Expect(page.Locator("#view-instances tr[data-instance='v1a'] [data-policy='inventory']")).ToHaveTextAsync("inventory v2");
        await Expect(v2.Locator("td[data-field='certificate']")).ToHaveTextAsync(new Regex("^in 2[23] h$"));

        // orders sets a key of payments' policy itself: the key's name is shown, as the report carries it.
        await Expect(page.Locator("#view-instances tr[data-instance='orders-1'] [data-field='overrides']")).ToHaveTextAsync("local: Mesh:Services:payments:Timeout");
        await Expect(v2.Locator("[data-field='overrides']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task The_admin_token_shows_the_same_page()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();

        await page.GotoAsync(fleet.DashboardWith(TestMeshd.AdminToken));

        await Expect(page).ToHaveURLAsync(OriginOnly(fleet));
        await Expect(page.Locator("#services tbody tr[data-service]")).ToHaveCountAsync(s_services.Length);
        await Expect(page.Locator("#status")).ToHaveTextAsync(new Regex("^Live · 4 services"));
    }

    [Fact]
    public async Task A_wrong_token_shows_the_error_and_asks_for_another()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();

        await page.GotoAsync(fleet.DashboardWith("not-a-token"));

        await Expect(page.Locator("#login-error")).ToBeVisibleAsync();
        await Expect(page.Locator("#login-error")).ToContainTextAsync("401 Unauthorized");
        await Expect(page.Locator("#view-overview")).ToBeHiddenAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('meshd.token')"));

        // The right token typed into the form shows the mesh.
        await page.FillAsync("#token", DemoFleet.ReaderToken);
        await page.ClickAsync("#login-form button[type='submit']");
        await Expect(page.Locator("#services tbody tr[data-service='payments']")).ToBeVisibleAsync();
        await Expect(page.Locator("#login")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task Without_a_token_the_page_asks_for_one_and_calls_no_route()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();
        var requests = new List<string>();
        page.Request += (_, request) => requests.Add(new Uri(request.Url).AbsolutePath);

        await page.GotoAsync(fleet.Meshd.Address.ToString());

        await Expect(page.Locator("#login")).ToBeVisibleAsync();
        await Expect(page.Locator("#login-error")).ToBeHiddenAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("A token is needed");
        Assert.DoesNotContain(requests, path => path.StartsWith("/v1/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Meshd_unreachable_is_shown_plainly_and_the_page_recovers_when_it_is_back()
    {
        await using var fleet = await DemoFleet.StartAsync();
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));
        await Expect(page.Locator("#status")).ToHaveTextAsync(new Regex("^Live"));

        await fleet.Meshd.StopAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync(new Regex("^meshd is unreachable at http://127\\.0\\.0\\.1:\\d+"));
        await Expect(page.Locator("#status")).ToHaveClassAsync("error");

        await fleet.Meshd.StartAgainAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync(new Regex("^Live · 4 services"));
    }

    [Fact]
    public async Task Values_from_the_API_are_shown_as_text_never_run_as_markup()
    {
        await using var fleet = await DemoFleet.StartAsync();
        const string Payload = "<img/src=x/onerror=window.__injected=1>";
        using (var registered = await fleet.Meshd.Workload.PutAsync(
            new Uri("/v1/services/orders/instances/orders-2", UriKind.Relative),
            TestMeshd.Json($$"""{ "address": "http://127.0.0.1:7107", "labels": { "note": "{{Payload}}" } }""")))
        {
            registered.EnsureSuccessStatusCode();
        }

        var page = await chromium.NewPageAsync();
        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));
        await page.ClickAsync("#tabs button[data-view='instances']");

        await Expect(page.Locator("#view-instances tr[data-instance='orders-2'] .label")).ToHaveTextAsync("note=" + Payload);
        await Expect(page.Locator("#view-instances img")).ToHaveCountAsync(0);
        Assert.True(await page.EvaluateAsync<bool>("window.__injected === undefined"));
    }

    /// <summary>The page's address with nothing after the path: no fragment, no token.</summary>
    private static Regex OriginOnly(DemoFleet fleet) => new("^" + Regex.Escape(fleet.Meshd.Address.GetLeftPart(UriPartial.Authority)) + "/$");

    private static List<string> Collect(IPage page)
    {
        var messages = new List<string>();
        page.Console += (_, message) =>
        {
            lock (messages)
            {
                messages.Add(message.Text);
            }
        };
        return messages;
    }
}
