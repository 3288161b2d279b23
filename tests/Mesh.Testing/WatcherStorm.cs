using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Mesh.ControlPlane;
using Mesh.Utilities;

namespace Mesh.Testing;

/// <summary>
/// Many simulated watchers of meshd: each long-polls <c>GET /v1/snapshot</c> on a connection of its own and, after a
/// failure, waits the mesh's own jittered back-off (<c>MeshdClient.Backoff</c>: full jitter, 100 ms doubling to 5 s)
/// before it tries again. Records, for each watcher, when it sent its first request to succeed after a failure, measured from
/// <see cref="MarkRestarted"/>.
/// </summary>
public sealed class WatcherStorm : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _client;
    private readonly Task[] _watchers;
    private readonly ConcurrentDictionary<int, double> _reconnectedAt = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _parked;
    private long _failures;
    private double _restartedAt = double.NaN;

    private WatcherStorm(Uri meshd, string token, int count, int waitSeconds)
    {
        _client = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
        })
        {
            BaseAddress = meshd,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        _watchers = [.. Enumerable.Range(0, count).Select(i => Task.Run(() => WatchAsync(i, waitSeconds)))];
    }

    /// <summary>Gets the number of answers received (snapshots and 304s).</summary>
    public long Answers => Interlocked.Read(ref _parked);

    /// <summary>Gets the number of failed requests (refused, reset, 5xx, 429).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Gets the watchers that reconnected since <see cref="MarkRestarted"/>, with the seconds it took each.</summary>
    public IReadOnlyDictionary<int, double> Reconnected => _reconnectedAt;

    /// <summary>Starts <paramref name="count"/> watchers of <paramref name="meshd"/>, each parking for <paramref name="waitSeconds"/>.</summary>
    public static WatcherStorm Start(Uri meshd, string token, int count, int waitSeconds = 20) => new(meshd, token, count, waitSeconds);

    /// <summary>Marks the moment meshd is back: reconnect times are measured from here, and only later successes count.</summary>
    public void MarkRestarted() => Volatile.Write(ref _restartedAt, _clock.Elapsed.TotalSeconds);

    /// <summary>A histogram of the reconnect times in buckets of <paramref name="bucket"/>: (start s, count), empty buckets included.</summary>
    public IReadOnlyList<(double From, int Count)> Histogram(TimeSpan bucket)
    {
        var times = _reconnectedAt.Values.ToList();
        if (times.Count == 0)
        {
            return [];
        }

        var width = bucket.TotalSeconds;
        var buckets = new int[(int)(times.Max() / width) + 1];
        foreach (var time in times)
        {
            buckets[(int)(time / width)]++;
        }

        return [.. buckets.Select((n, i) => (i * width, n))];
    }

    /// <summary>The histogram as text, one bucket a line with a bar.</summary>
    public string Render(TimeSpan bucket) =>
        string.Join('\n', Histogram(bucket).Select(b => string.Create(CultureInfo.InvariantCulture, $"{b.From,6:F2} s {b.Count,5} {new string('#', (int)Math.Ceiling(b.Count / 10.0))}")));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_watchers).ConfigureAwait(false);
        _client.Dispose();
        _stop.Dispose();
    }

    private async Task WatchAsync(int id, int waitSeconds)
    {
        long? since = null;
        var failures = 0;
        var random = MeshRandom.Shared;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var query = since is { } v
                    ? $"/v1/snapshot?since={v.ToString(CultureInfo.InvariantCulture)}&wait={waitSeconds.ToString(CultureInfo.InvariantCulture)}"
                    : "/v1/snapshot";

                // A reconnect is the moment the request that succeeds was sent: its long poll may then park for long.
                var sentAt = _clock.Elapsed.TotalSeconds;
                using var response = await _client.GetAsync(new Uri(query, UriKind.Relative), HttpCompletionOption.ResponseContentRead, _stop.Token).ConfigureAwait(false);
                if ((int)response.StatusCode is 200 or 304)
                {
                    if (response.Headers.TryGetValues("Mesh-Version", out var versions) && long.TryParse(versions.First(), CultureInfo.InvariantCulture, out var version))
                    {
                        since = version;
                    }

                    Interlocked.Increment(ref _parked);
                    var restarted = Volatile.Read(ref _restartedAt);
                    if (failures > 0 && !double.IsNaN(restarted))
                    {
                        _reconnectedAt.TryAdd(id, Math.Max(0, sentAt - restarted));
                    }

                    failures = 0;
                    continue;
                }

                Interlocked.Increment(ref _failures);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _failures);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }

            failures++;
            try
            {
                await Task.Delay(MeshdClient.Backoff(failures, random), _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
