using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Meshd.Dashboard;

/// <summary>
/// The dashboard: static HTML, CSS and JavaScript embedded in meshd's assembly, served at <c>/</c> and
/// <c>/dashboard/{file}</c> without a token (they hold no data; the page fetches the API with the token it is given).
/// Each answer carries a self-only Content-Security-Policy, <c>nosniff</c>, no framing, no referrer, and a strong ETag
/// so a browser revalidates in one round trip (<c>304</c>) instead of downloading again.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>Scripts, styles, images and API calls from meshd itself only; no inline code, no plugins, no framing.</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string ResourcePrefix = "Meshd.Dashboard.Assets.";

    private static readonly FrozenDictionary<string, Asset> s_assets = Load();

    /// <summary>Maps <c>GET /</c> (the page) and <c>GET /dashboard/{file}</c> (its assets).</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], (HttpContext context) => Serve(context, "index.html"));
        app.MapMethods("/dashboard/{file}", [HttpMethods.Get, HttpMethods.Head], (string file, HttpContext context) => Serve(context, file));
    }

    private static IResult Serve(HttpContext context, string file)
    {
        if (!s_assets.TryGetValue(file, out var asset))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";

        // Revalidated on every load: a meshd upgraded in place serves its new page at once, and an unchanged one costs a 304.
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (EntityTagHeaderValue.TryParseList(context.Request.Headers.IfNoneMatch, out var tags)
            && tags.Any(t => t.Equals(EntityTagHeaderValue.Any) || t.Compare(asset.Tag, useStrongComparison: true)))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var file = name[ResourcePrefix.Length..];
            var tag = new EntityTagHeaderValue("\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16)) + "\"");
            assets[file] = new Asset(content, ContentTypeOf(file), tag, tag.ToString());
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentTypeOf(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Content, string ContentType, EntityTagHeaderValue Tag, string ETag);
}
