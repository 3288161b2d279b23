using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Mesh.Chaos.Tests;

/// <summary>
/// Bounded load with its accounting: callers send <c>GET /order</c> to the gateway, each with its own deadline (the
/// <c>mesh-timeout</c> header and a cancellation at the deadline), until a fixed number of requests is sent or a fixed
/// time is up. Every request ends in exactly one bucket: a success, an explicit failure (a status, an exception, the
/// deadline), or hung (no end within deadline + <see cref="HangBound"/>; it is then cancelled and counted).
/// </summary>
internal sealed class Traffic
{
    /// <summary>The deadline of every request.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(3);

    /// <summary>How long past its deadline a request may take before it counts as hung: a loaded 2-core machine meets it.</summary>
    public static readonly TimeSpan HangBound = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<(double At, double Ms, bool Ok)> _samples = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _sent;
    private long _succeeded;
    private long _failed;
    private long _hung;
    private long _worstOverrunTicks;

    /// <summary>Gets the requests sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Gets the requests that succeeded.</summary>
    public long Succeeded => Interlocked.Read(ref _succeeded);

    /// <summary>Gets the requests that failed with an explicit answer or exception.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Gets the requests that did not end within deadline + <see cref="HangBound"/>.</summary>
    public long Hung => Interlocked.Read(ref _hung);

    /// <summary>Gets the longest time a request took past its deadline (zero when none overran).</summary>
    public TimeSpan WorstOverrun => TimeSpan.FromTicks(Interlocked.Read(ref _worstOverrunTicks));

    /// <summary>Gets the failures by kind.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures;

    /// <summary>Gets the time since the traffic began.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Gets the samples: when each request ended (s since the start), its duration and whether it succeeded.</summary>
    public IReadOnlyCollection<(double At, double Ms, bool Ok)> Samples => _samples;

    /// <summary>Runs <paramref name="callers"/> closed-loop callers against <paramref name="gateway"/> for <paramref name="duration"/>.</summary>
    public static async Task<Traffic> RunAsync(Uri gateway, int callers, TimeSpan duration, Func<Traffic, Task>? during = null, CancellationToken cancellationToken = default)
    {
        var traffic = new Traffic();
        using var client = Client();
        var end = traffic._clock.Elapsed + duration;
        var load = Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (traffic._clock.Elapsed < end && !cancellationToken.IsCancellationRequested)
            {
                await traffic.SendAsync(client, gateway).ConfigureAwait(false);
            }
        }));
        if (during is not null)
        {
            await during(traffic).ConfigureAwait(false);
        }

        await load.ConfigureAwait(false);
        return traffic;
    }

    /// <summary>Runs open-loop load: <paramref name="perSecond"/> requests a second for <paramref name="duration"/>, whatever the answers.</summary>
    public static async Task<Traffic> RunOpenAsync(Uri gateway, int perSecond, TimeSpan duration)
    {
        var traffic = new Traffic();
        using var client = Client();
        var inFlight = new List<Task>();
        var interval = 1.0 / perSecond;
        var start = traffic._clock.Elapsed.TotalSeconds;
        for (var i = 0; start + (i * interval) < start + duration.TotalSeconds; i++)
        {
            var due = start + (i * interval);
            var wait = due - traffic._clock.Elapsed.TotalSeconds;
            if (wait > 0.002)
            {
                await Task.Delay(TimeSpan.FromSeconds(wait)).ConfigureAwait(false);
            }

            inFlight.Add(traffic.SendAsync(client, gateway));
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
        return traffic;
    }

    /// <summary>The share of requests ending within [<paramref name="from"/>, <paramref name="to"/>) s that succeeded (NaN: none ended).</summary>
    public double SuccessRate(double from, double to)
    {
        var window = _samples.Where(s => s.At >= from && s.At < to).ToList();
        return window.Count == 0 ? double.NaN : window.Count(s => s.Ok) / (double)window.Count;
    }

    /// <summary>The <paramref name="quantile"/> of the durations of requests ending within [<paramref name="from"/>, <paramref name="to"/>) s.</summary>
    public double Percentile(double quantile, double from = 0, double to = double.MaxValue)
    {
        var window = _samples.Where(s => s.At >= from && s.At < to).Select(s => s.Ms).Order().ToList();
        return window.Count == 0 ? double.NaN : window[Math.Min(window.Count - 1, (int)Math.Ceiling(quantile * window.Count) - 1)];
    }

    /// <summary>Asserts the accounting: every request counted once, none hung, none past its deadline by more than the bound.</summary>
    public void AssertAccounting(ITestOutputHelper output, string scenario)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine(Summary(scenario));
        output.WriteLine("per second (ok/failed): " + Timeline());
        Assert.True(Sent > 0, "no request was sent");
        Assert.Equal(0, Hung);
        Assert.Equal(Sent, Succeeded + Failed);
        Assert.Equal(Sent, _samples.Count);
        Assert.True(WorstOverrun <= HangBound, $"a request outlived its deadline by {WorstOverrun.TotalMilliseconds:F0} ms");
    }

    /// <summary>Successes and failures second by second, as <c>t:ok/failed</c>.</summary>
    public string Timeline() =>
        string.Join(' ', _samples.GroupBy(s => (int)s.At).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count(s => s.Ok)}/{g.Count(s => !s.Ok)}"));

    /// <summary>One line with the figures.</summary>
    public string Summary(string scenario)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{scenario}: sent {Sent}, ok {Succeeded}, failed {Failed}, hung {Hung}, ");
        text.Append(CultureInfo.InvariantCulture, $"p50 {Percentile(0.5):F0} ms, p99 {Percentile(0.99):F0} ms, max {Percentile(1):F0} ms, worst overrun {WorstOverrun.TotalMilliseconds:F0} ms, {Elapsed.TotalSeconds:F1} s");
        if (!_failures.IsEmpty)
        {
            text.Append("; failures: ").AppendJoin(", ", _failures.OrderByDescending(f => f.Value).Select(f => $"{f.Key} ×{f.Value}"));
        }

        return text.ToString();
    }

    private static HttpClient Client() =>
        new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) }) { Timeout = Timeout.InfiniteTimeSpan };

    private async Task SendAsync(HttpClient client, Uri gateway)
    {
        Interlocked.Increment(ref _sent);
        var started = _clock.Elapsed;
        using var deadline = new CancellationTokenSource(Deadline);
        var send = SendOneAsync(client, gateway, deadline.Token);
        var guard = Task.Delay(Deadline + HangBound);
        string? failure;
        if (await Task.WhenAny(send, guard).ConfigureAwait(false) == send)
        {
            failure = await send.ConfigureAwait(false);
        }
        else
        {
            Interlocked.Increment(ref _hung);
            await deadline.CancelAsync().ConfigureAwait(false);
            failure = "hung";
        }

        var took = _clock.Elapsed - started;
        var overrun = took - Deadline;
        long seen;
        while (overrun.Ticks > (seen = Interlocked.Read(ref _worstOverrunTicks)) && Interlocked.CompareExchange(ref _worstOverrunTicks, overrun.Ticks, seen) != seen)
        {
        }

        if (failure is null)
        {
            Interlocked.Increment(ref _succeeded);
        }
        else if (failure != "hung")
        {
            Interlocked.Increment(ref _failed);
            _failures.AddOrUpdate(failure, 1, (_, n) => n + 1);
        }

        _samples.Add((_clock.Elapsed.TotalSeconds, took.TotalMilliseconds, failure is null));
    }

    private static async Task<string?> SendOneAsync(HttpClient client, Uri gateway, CancellationToken deadline)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway, "/order"));
            request.Headers.Add("mesh-timeout", ((long)Deadline.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return null;
            }

            var body = await response.Content.ReadAsStringAsync(CancellationToken.None).ConfigureAwait(false);
            return $"{(int)response.StatusCode} {(body.Length > 160 ? body[..160] : body)}";
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return "deadline";
        }
        catch (HttpRequestException ex)
        {
            return "HttpRequestException " + ex.HttpRequestError;
        }
    }
}
