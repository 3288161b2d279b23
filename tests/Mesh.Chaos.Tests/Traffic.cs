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
    private readonly ConcurrentDictionary<int, int> _successes = new();
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

    /// <summary>Gets the successes by status code (200, or 202 where a service accepted the request for later).</summary>
    public IReadOnlyDictionary<int, int> Successes => _successes;

    /// <summary>Gets the time since the traffic began.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Gets the samples: when each request ended (s since the start), its duration and whether it succeeded.</summary>
    public IReadOnlyCollection<(double At, double Ms, bool Ok)> Samples => _samples;

    /// <summary>Runs <paramref name="callers"/> closed-loop callers against <paramref name="gateway"/> for <paramref name="duration"/>.</summary>
    public static Task<Traffic> RunAsync(Uri gateway, int callers, TimeSpan duration, Func<Traffic, Task>? during = null, CancellationToken cancellationToken = default) =>
        RunAsync(Handler(), () => Get(gateway), callers, duration, during, cancellationToken);

    /// <summary>
    /// Runs <paramref name="callers"/> closed-loop callers for <paramref name="duration"/>, each request made by
    /// <paramref name="request"/> and sent through <paramref name="handler"/> (disposed at the end).
    /// </summary>
    public static async Task<Traffic> RunAsync(HttpMessageHandler handler, Func<HttpRequestMessage> request, int callers, TimeSpan duration, Func<Traffic, Task>? during = null, CancellationToken cancellationToken = default)
    {
        var traffic = new Traffic();
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var end = traffic._clock.Elapsed + duration;
        var load = Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (traffic._clock.Elapsed < end && !cancellationToken.IsCancellationRequested)
            {
                await traffic.SendAsync(client, request).ConfigureAwait(false);
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
        using var client = new HttpClient(Handler()) { Timeout = Timeout.InfiniteTimeSpan };
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

            inFlight.Add(traffic.SendAsync(client, () => Get(gateway)));
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
        if (_successes.Keys.Any(status => status != 200))
        {
            text.Append("; successes: ").AppendJoin(", ", _successes.OrderBy(s => s.Key).Select(s => $"{s.Key} ×{s.Value}"));
        }

        if (!_failures.IsEmpty)
        {
            text.Append("; failures: ").AppendJoin(", ", _failures.OrderByDescending(f => f.Value).Select(f => $"{f.Key} ×{f.Value}"));
        }

        return text.ToString();
    }

    private static SocketsHttpHandler Handler() =>
        new() { ConnectTimeout = TimeSpan.FromSeconds(2), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };

    private static HttpRequestMessage Get(Uri gateway) => new(HttpMethod.Get, new Uri(gateway, "/order"));

    private async Task SendAsync(HttpClient client, Func<HttpRequestMessage> request)
    {
        Interlocked.Increment(ref _sent);
        var started = _clock.Elapsed;
        using var deadline = new CancellationTokenSource(Deadline);
        var send = SendOneAsync(client, request, deadline.Token);
        var guard = Task.Delay(Deadline + HangBound);
        string? failure;
        if (await Task.WhenAny(send, guard).ConfigureAwait(false) == send)
        {
            int status;
            (failure, status) = await send.ConfigureAwait(false);
            if (failure is null)
            {
                _successes.AddOrUpdate(status, 1, (_, n) => n + 1);
            }
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

    private static async Task<(string? Failure, int Status)> SendOneAsync(HttpClient client, Func<HttpRequestMessage> make, CancellationToken deadline)
    {
        try
        {
            using var request = make();
            request.Headers.Add("mesh-timeout", ((long)Deadline.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return (null, (int)response.StatusCode);
            }

            var body = await response.Content.ReadAsStringAsync(CancellationToken.None).ConfigureAwait(false);
            return ($"{(int)response.StatusCode} {(body.Length > 160 ? body[..160] : body)}", (int)response.StatusCode);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return ("deadline", 0);
        }
        catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            // The client's own connect timeout (2 s) to the gateway, within the deadline: an explicit failure too.
            return ("connect timeout", 0);
        }
        catch (HttpRequestException ex)
        {
            return ("HttpRequestException " + ex.HttpRequestError, 0);
        }
    }
}
