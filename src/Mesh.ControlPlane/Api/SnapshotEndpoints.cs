using System.Globalization;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>
/// <c>GET /v1/snapshot?since=&amp;wait=</c>: the whole snapshot at once when the caller's version is not the current
/// one, else a long poll on the shared change signal. Every watcher of a version gets the same bytes.
/// </summary>
internal static class SnapshotEndpoints
{
    public const string VersionHeader = "Mesh-Version";

    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens) =>
        v1.MapGet("/snapshot", WatchAsync).AddEndpointFilter(new TokenFilter(tokens, TokenRole.Workload));

    private static async Task<IResult> WatchAsync(HttpContext context, MeshState state, MeshdSettings settings, IHostApplicationLifetime lifetime)
    {
        var query = context.Request.Query;
        long? since = null;
        if (query.TryGetValue("since", out var sinceText))
        {
            if (!long.TryParse(sinceText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return Problems.Invalid("since", $"'{sinceText}' is not a snapshot version (0 or more).");
            }

            since = parsed;
        }

        var wait = settings.WatchWait;
        if (query.TryGetValue("wait", out var waitText))
        {
            if (!double.TryParse(waitText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds > settings.MaxWatchWait.TotalSeconds)
            {
                return Problems.Invalid("wait", $"'{waitText}' is not a number of seconds from 0 to {settings.MaxWatchWait.TotalSeconds.ToString(CultureInfo.InvariantCulture)}.");
            }

            wait = TimeSpan.FromSeconds(seconds);
        }

        var head = state.Head;
        context.Response.Headers.CacheControl = "no-store";
        if (since != head.Snapshot.Version)
        {
            // Older, newer (another replica's numbering before its first change) or absent: the caller catches up now.
            return Answer(context, head.Snapshot);
        }

        // ±10% so watchers that connected together do not all come back together.
        var jittered = wait * (0.9 + (Random.Shared.NextDouble() * 0.2));
        // A stopping meshd answers its parked watchers at once ("no change") rather than holding its shutdown for them.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        bool changed;
        try
        {
            changed = await state.WaitForChangeAsync(head, jittered, stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            changed = false;
        }

        if (!changed)
        {
            context.Response.Headers[VersionHeader] = head.Snapshot.Version.ToString(CultureInfo.InvariantCulture);
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Answer(context, state.Head.Snapshot);
    }

    private static IResult Answer(HttpContext context, Snapshot snapshot)
    {
        context.Response.Headers[VersionHeader] = snapshot.Version.ToString(CultureInfo.InvariantCulture);
        return Results.Bytes(snapshot.Utf8Json, "application/json");
    }
}
