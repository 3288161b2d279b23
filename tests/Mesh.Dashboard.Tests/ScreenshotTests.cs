using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mesh.Dashboard.Tests;

/// <summary>
/// The dashboard's main views, rendered against the demo's services with a minute of reported traffic, written as PNG
/// files: into the test's output by default, into the folder <c>MESH_DASHBOARD_SCREENSHOTS</c> names when set
/// (<c>docs/dashboard-screenshots.sh</c> sets it to <c>docs/</c>).
/// </summary>
public sealed class ScreenshotTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static readonly byte[] s_png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public async Task The_main_views_are_written_as_screenshots_once_they_show_the_reported_fleet()
    {
        var folder = Environment.GetEnvironmentVariable("MESH_DASHBOARD_SCREENSHOTS") is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        await using var fleet = await DemoFleet.StartAsync();
        using (var patched = await fleet.Meshd.PatchPolicyAsync("inventory", """{ "OutlierDetection": { "ConsecutiveFailures": 5 } }"""))
        {
            patched.EnsureSuccessStatusCode();
        }

        Assert.Empty(await fleet.ReportDemoTrafficAsync(v1bEjected: true));
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(fleet.DashboardWith(DemoFleet.ReaderToken));

        await Expect(page.Locator("#services tbody tr[data-service='inventory']")).ToBeVisibleAsync();
        await Expect(page.Locator("#graph g.node[data-node='payments']")).ToBeVisibleAsync();
        var written = new List<string>
        {
            await ShootAsync(page, folder, "overview"),
        };

        await page.ClickAsync("#tabs button[data-view='instances']");
        await Expect(page.Locator("#view-instances tr[data-instance='v1a']")).ToBeVisibleAsync();
        written.Add(await ShootAsync(page, folder, "instances"));

        await page.ClickAsync("#tabs button[data-view='policies']");
        await page.ClickAsync("#policy-list button[data-policy='inventory']");
        await Expect(page.Locator("#diff .added")).ToHaveCountAsync(1);
        written.Add(await ShootAsync(page, folder, "policies"));

        foreach (var file in written)
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.True(bytes.AsSpan().StartsWith(s_png), file);
            Assert.InRange(bytes.Length, 10_000, 5_000_000);
        }
    }

    private static async Task<string> ShootAsync(IPage page, string folder, string view)
    {
        var file = Path.Combine(folder, $"dashboard-{view}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
        return file;
    }
}
