using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>
/// <c>GET /v1/snapshot?since=&amp;wait=</c>: the whole snapshot at once when the caller's version is not the current
/// one, else a long poll on the shared change signal. Every watcher of a version gets the same bytes. At most
/// <c>Meshd:Limits:MaxWatchers</c> wait at once (beyond: 503 with <c>Retry-After</c>), and an answer a watcher does not
/// read within <c>Meshd:Limits:WatcherWriteTimeout</c> ends its connection, so a client that stops reading pins
/// nothing for long.
/// </summary>
internal static class SnapshotEndpoints
{
    public const string VersionHeader = "Mesh-Version";

    // Written in pieces that wait for the socket, so a slow reader holds a piece in Kestrel's buffers, not a copy.
    private const int Piece = 16 * 1024;

    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        // A stopping meshd answers its parked watchers at once ("no change"), with one registration for all of them.
        var state = v1.ServiceProvider.GetRequiredService<MeshState>();
        v1.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(state.StopWatchers);

        // Services are taken once here, not per request, so a parked request holds no service scope of its own.
        var settings = v1.ServiceProvider.GetRequiredService<MeshdSettings>();
        var time = v1.ServiceProvider.GetRequiredService<TimeProvider>();
        v1.MapGet("/snapshot", (Func<HttpContext, Task<IResult>>)(context => WatchAsync(context, state, settings, time))).AddEndpointFilter(new TokenFilter(tokens, TokenRole.Workload, throttle, reads: true));
    }

    private static async Task<IResult> WatchAsync(HttpContext context, MeshState state, MeshdSettings settings, TimeProvider time)
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
            if (!double.TryParse(waitText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds) || seconds < 0 || seconds > settings.MaxWatchWait.TotalSeconds)
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
            return new SnapshotResult(head.Snapshot, settings.Limits.WatcherWriteTimeout, time, Task.CompletedTask);
        }

        if (!state.TryPark())
        {
            return Problems.Refused(context, new Refusal(
                StatusCodes.Status503ServiceUnavailable,
                $"meshd has {settings.Limits.MaxWatchers} watchers waiting, its limit (Meshd:Limits:MaxWatchers); ask again later, or ask without 'since' for the snapshot at once.",
                TimeSpan.FromSeconds(5 + Random.Shared.Next(5))));
        }

        // ±10% so watchers that connected together do not all come back together.
        var jittered = wait * (0.9 + (Random.Shared.NextDouble() * 0.2));

        var watcher = state.Park(head, jittered);
        var registration = context.RequestAborted.UnsafeRegister(Watcher.Abort, watcher);
        WatchOutcome outcome;
        try
        {
            outcome = await watcher.Outcome.ConfigureAwait(false);
        }
        finally
        {
            // Never waits for a callback running elsewhere: the fan-out thread must not block on one client.
            registration.Unregister();
        }

        if (outcome == WatchOutcome.Aborted)
        {
            // The watcher went away; nobody reads an answer.
            return Results.Empty;
        }

        if (outcome != WatchOutcome.Changed)
        {
            context.Response.Headers[VersionHeader] = head.Snapshot.VersionText;
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return new SnapshotResult(state.Head.Snapshot, settings.Limits.WatcherWriteTimeout, time, watcher.Released);
    }

    /// <summary>
    /// The snapshot's shared bytes, copied once into the connection's buffers in pieces. Only a piece the socket does not
    /// take at once starts a timer; a reader that does not take the whole answer in time is cut off.
    /// </summary>
    private sealed class SnapshotResult(Snapshot snapshot, TimeSpan writeTimeout, TimeProvider time, Task released) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            response.ContentLength = snapshot.Utf8Json.Length;
            response.Headers[VersionHeader] = snapshot.VersionText;
            var started = time.GetTimestamp();
            var writer = response.BodyWriter;
            try
            {
                var bytes = snapshot.Utf8Json.AsMemory();
                for (var offset = 0; offset < bytes.Length; offset += Piece)
                {
                    // Copied into Kestrel's buffer and flushed: head and a small body leave in one write.
                    writer.Write(bytes.Span.Slice(offset, Math.Min(Piece, bytes.Length - offset)));
                    var flush = writer.FlushAsync();
                    var result = flush.IsCompleted ? flush.Result : await SlowAsync(flush, httpContext, writeTimeout - time.GetElapsedTime(started), time).ConfigureAwait(false);
                    if (result.IsCanceled || result.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException || httpContext.RequestAborted.IsCancellationRequested)
            {
                // Gone: the connection is closed; nothing more to do.
                return;
            }

            // The answer is out; the request ends (and its connection reads the next one) once the fan-out answered every watcher.
            await released.ConfigureAwait(false);
        }

        private static async ValueTask<FlushResult> SlowAsync(ValueTask<FlushResult> flush, HttpContext httpContext, TimeSpan left, TimeProvider time)
        {
            // A piece the socket cannot take now: when the answer's time is up the connection is closed, which ends the
            // flush and frees what Kestrel held for this reader.
            using var timer = time.CreateTimer(static c => ((HttpContext)c!).Abort(), httpContext, left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            return await flush.ConfigureAwait(false);
        }
    }
}
