using Meshd.Connections;
using Meshd.Health;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>
/// <c>/healthz</c> and <c>/readyz</c> (no token): 200 only while meshd can persist to and read its store, the lease
/// sweep works and the state follows the store; <c>/readyz</c> also needs the state loaded and meshd not stopping.
/// Each check is named with its reason. <c>GET /v1/status</c> (admin) states the limits and their use now.
/// </summary>
internal static class HealthEndpoints
{
    public static void Map(WebApplication app, TokenStore tokens, AuthThrottle throttle)
    {
        app.MapGet("/healthz", (StoreHealth health) => Answer(health.Checks()));
        app.MapGet("/readyz", (StoreHealth health, MeshState state, IHostApplicationLifetime lifetime) =>
        {
            var checks = new Dictionary<string, string?>(health.Checks(), StringComparer.Ordinal)
            {
                ["loaded"] = state.Loaded ? null : "the state is not loaded from the store yet",
                ["stopping"] = lifetime.ApplicationStopping.IsCancellationRequested ? "meshd is stopping" : null,
            };
            return Answer(checks);
        });
        app.MapGet("/v1/status", Status).AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true));
    }

    private static IResult Answer(IReadOnlyDictionary<string, string?> checks)
    {
        var failing = checks.Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!, StringComparer.Ordinal);
        var body = new
        {
            status = failing.Count == 0 ? "serving" : "failing",
            checks = checks.ToDictionary(c => c.Key, c => c.Value ?? "ok", StringComparer.Ordinal),
        };
        return failing.Count == 0 ? Results.Ok(body) : Results.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult Status(MeshState state, ConnectionLimiter connections, MeshdSettings settings) => Results.Ok(new
    {
        connections = new { open = connections.Open, max = connections.MaxConnections, maxPerAddress = connections.MaxPerAddress, refused = connections.Refused },
        watchers = new
        {
            parked = state.Waiting,
            max = settings.Limits.MaxWatchers,
            writeTimeout = settings.Limits.WatcherWriteTimeout,
            lastFanOut = new { answered = state.LastFanOut.Answered, milliseconds = Math.Round(state.LastFanOut.Took.TotalMilliseconds, 1) },
        },
        snapshot = new { version = state.Head.Snapshot.Version, bytes = state.Head.Snapshot.Utf8Json.Length, maxBytes = settings.Limits.MaxSnapshotBytes },
        descriptors = new { open = Descriptors.Open(), reserve = settings.Limits.DescriptorReserve },
        gc = new
        {
            pausedMilliseconds = Math.Round(GC.GetTotalPauseDuration().TotalMilliseconds, 1),
            collections = new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) },
            heapBytes = GC.GetGCMemoryInfo().HeapSizeBytes,
            committedBytes = GC.GetGCMemoryInfo().TotalCommittedBytes,
            server = System.Runtime.GCSettings.IsServerGC,
        },
        limits = settings.Limits,
    });
}
