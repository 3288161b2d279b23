using System.Net;
using System.Net.Http.Headers;

namespace Mesh.Dashboard.Tests;

/// <summary>What meshd answers for the dashboard's files, seen by a plain HTTP client: headers, caching, no data.</summary>
public sealed class DashboardAssetTests
{
    private const string Csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/dashboard/dashboard.js", "text/javascript")]
    [InlineData("/dashboard/dashboard.css", "text/css")]
    [InlineData("/dashboard/icon.svg", "image/svg+xml")]
    public async Task Every_file_is_served_without_a_token_with_a_self_only_policy_nosniff_and_an_etag(string path, string mediaType)
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var anonymous = TestMeshd.Client(meshd.Address, null);

        using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Csp, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.True(response.Headers.CacheControl?.NoCache, "Cache-Control: no-cache");
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        Assert.NotEmpty(await response.Content.ReadAsByteArrayAsync());

        // The same file asked for with its tag: 304, no body, the same headers.
        using var again = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await anonymous.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, notModified.Headers.ETag);
        Assert.Equal(Csp, Assert.Single(notModified.Headers.GetValues("Content-Security-Policy")));

        // Another tag: the whole file again.
        using var stale = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"0000\""));
        using var full = await anonymous.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
    }

    [Theory]
    [InlineData("/dashboard/secrets.json")]
    [InlineData("/dashboard/..%2FMesh.ControlPlane.dll")]
    [InlineData("/dashboard/")]
    [InlineData("/index.html")]
    public async Task Nothing_but_the_dashboards_own_files_is_served(string path)
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var anonymous = TestMeshd.Client(meshd.Address, null);

        using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task The_page_holds_no_inline_code_and_its_script_never_writes_markup()
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var anonymous = TestMeshd.Client(meshd.Address, null);

        var html = await anonymous.GetStringAsync(new Uri("/", UriKind.Relative));
        var script = await anonymous.GetStringAsync(new Uri("/dashboard/dashboard.js", UriKind.Relative));

        // The policy would refuse inline code anyway; the page must not depend on any, nor on another origin.
        Assert.DoesNotContain("<script>", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
        foreach (var sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function" })
        {
            Assert.DoesNotContain(sink, script, StringComparison.Ordinal);
        }
    }
}
