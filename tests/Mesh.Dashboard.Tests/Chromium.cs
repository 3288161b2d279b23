using Microsoft.Playwright;

namespace Mesh.Dashboard.Tests;

/// <summary>
/// Debian's chromium (<c>/usr/bin/chromium</c>, installed by <c>./test.sh</c>) driven by Playwright, headless, one
/// browser per test class; each test opens its own context, so session storage starts empty. Playwright never
/// downloads a browser of its own here.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    /// <summary>The browser Debian's package installs.</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    /// <summary>Gets the running browser.</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: ./test.sh installs Debian's chromium package (apt-get install chromium).");
        }

        // A loaded two-core machine renders slowly: page conditions get a generous deadline, never a fixed sleep.
        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,

            // Root has no sandbox here; the rest keep chromium off the network (the machine's is closed) and quiet.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A new page in a new context (empty session storage), 1280 pixels wide.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
