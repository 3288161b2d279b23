using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Mesh.Demo.Microservices;

/// <summary>
/// The scenario's users: a fixed rate of orders through the gateway from a few concurrent workers, each answer counted
/// in the step that is running. Every order answered carries the caller each service verified over mutual TLS; each is
/// checked against the caller that service must have seen.
/// </summary>
internal sealed class TrafficDriver : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _orders;
    private readonly int _concurrency;
    private readonly double _rate;
    private readonly IReadOnlyDictionary<string, string> _callers;
    private StepCounts _step = new("warm-up");
    private VersionCounts _versions = new("warm-up");
    private long _sequence;
    private long _verified;
    private long _unverified;
    private string? _firstUnverified;

    /// <param name="gateway">The gateway's address.</param>
    /// <param name="handler">How the users reach it (mutual TLS with the demo's identity); owned by the driver.</param>
    /// <param name="callers">The caller each service must have verified, by service: gateway, orders, inventory, payments.</param>
    /// <param name="concurrency">Concurrent users.</param>
    /// <param name="requestsPerSecond">Orders a second, in total.</param>
    public TrafficDriver(Uri gateway, HttpMessageHandler handler, IReadOnlyDictionary<string, string> callers, int concurrency, double requestsPerSecond)
    {
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        _orders = new Uri(gateway, "/orders");
        _callers = callers;
        _concurrency = concurrency;
        _rate = requestsPerSecond;
    }

    /// <summary>Gets the orders answered whose every service verified the caller it should have.</summary>
    public long Verified => Interlocked.Read(ref _verified);

    /// <summary>Gets the orders answered where some service verified no caller or another one.</summary>
    public long Unverified => Interlocked.Read(ref _unverified);

    /// <summary>Gets what was wrong with the first order in <see cref="Unverified"/>.</summary>
    public string? FirstUnverified => Volatile.Read(ref _firstUnverified);

    /// <summary>Places one order, not counted, and returns the callers its services verified (service to SPIFFE ID, null for none).</summary>
    public async Task<(string Body, IReadOnlyList<(string Service, string? Caller)> Callers)> OrderAsync(CancellationToken cancellationToken)
    {
        using var request = Order();
        using var response = await _http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        response.EnsureSuccessStatusCode();
        return (body, CallersOf(body));
    }

    /// <summary>Gets the counts of the step running now.</summary>
    public StepCounts Step => Volatile.Read(ref _step);

    /// <summary>Counts the next answers in a new step and returns it.</summary>
    public StepCounts BeginStep(string name)
    {
        var step = new StepCounts(name);
        Volatile.Write(ref _step, step);
        return step;
    }

    /// <summary>Gets which inventory version answered the orders sent since the last <see cref="BeginVersions"/>.</summary>
    public VersionCounts Versions => Volatile.Read(ref _versions);

    /// <summary>Counts the versions of the orders sent from now on in a new window and returns it.</summary>
    public VersionCounts BeginVersions(string name)
    {
        var versions = new VersionCounts(name);
        Volatile.Write(ref _versions, versions);
        return versions;
    }

    /// <summary>Sends orders until cancelled.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, _concurrency).Select(i => WorkerAsync(i, cancellationToken)));

    /// <summary>Sends orders, not counted, until <paramref name="inARow"/> in a row succeed: every service has seen every other.</summary>
    public async Task WarmUpAsync(int inARow, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var row = 0;
        while (row < inARow)
        {
            if (stopwatch.Elapsed > timeout)
            {
                throw new TimeoutException($"the gateway did not answer {inARow} orders in a row within {timeout.TotalSeconds} s.");
            }

            var (ok, _, _) = await SendAsync(cancellationToken);
            row = ok ? row + 1 : 0;
            if (!ok)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task WorkerAsync(int worker, CancellationToken cancellationToken)
    {
        // Each worker keeps its own schedule, offset from the others, so the total rate is steady.
        var interval = TimeSpan.FromSeconds(_concurrency / _rate);
        var clock = Stopwatch.StartNew();
        var next = interval * worker / _concurrency;
        while (!cancellationToken.IsCancellationRequested)
        {
            var wait = next - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            next += interval;
            if (next < clock.Elapsed - interval)
            {
                next = clock.Elapsed; // fell behind (slow answers): do not burst to catch up
            }

            var step = Step;
            var versions = Versions;
            var (ok, outcome, instance) = await SendAsync(cancellationToken);
            if (cancellationToken.IsCancellationRequested)
            {
                return; // an answer cut short by the end of the run is not the mesh's
            }

            step.Record(ok, outcome);
            versions.Record(instance);
        }
    }

    private HttpRequestMessage Order()
    {
        var n = Interlocked.Increment(ref _sequence);
        return new HttpRequestMessage(HttpMethod.Post, _orders)
        {
            Content = new StringContent($$"""{"sku":"sku-{{n % 100}}","quantity":1}""", Encoding.UTF8, "application/json"),
        };
    }

    /// <summary>The <c>verifiedCallers</c> of an order's answer, in the order the services list them.</summary>
    private static List<(string Service, string? Caller)> CallersOf(string body)
    {
        var callers = new List<(string, string?)>();
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("verifiedCallers", out var seen) && seen.ValueKind == JsonValueKind.Object)
            {
                foreach (var hop in seen.EnumerateObject())
                {
                    callers.Add((hop.Name, hop.Value.ValueKind == JsonValueKind.String ? hop.Value.GetString() : null));
                }
            }
        }
        catch (JsonException)
        {
            // not an order's answer: nothing verified
        }

        return callers;
    }

    /// <summary>Counts an answered order as verified when every service it reached saw the caller it should have.</summary>
    private void Check(string body, bool charged)
    {
        var seen = CallersOf(body).ToDictionary(c => c.Service, c => c.Caller, StringComparer.Ordinal);
        var wrong = _callers
            .Where(e => seen.TryGetValue(e.Key, out var caller) ? caller != e.Value : e.Key != "payments" || charged)
            .Select(e => $"{e.Key} saw {(seen.GetValueOrDefault(e.Key) ?? "no verified caller")}, not {e.Value}")
            .FirstOrDefault();
        if (wrong is null)
        {
            Interlocked.Increment(ref _verified);
            return;
        }

        Interlocked.Increment(ref _unverified);
        Interlocked.CompareExchange(ref _firstUnverified, wrong, null);
    }

    /// <summary>The inventory instance that served an order (<c>v1@1234</c>: its version and process), from its answer.</summary>
    private static string? InstanceOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("inventory", out var instance) && instance.ValueKind == JsonValueKind.String
                ? instance.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task<(bool Ok, string Outcome, string? Instance)> SendAsync(CancellationToken cancellationToken)
    {
        using var request = Order();
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var ok = response.IsSuccessStatusCode;
            var outcome = !ok ? $"{(int)response.StatusCode}"
                : body.Contains("\"payment-pending\"", StringComparison.Ordinal) ? "pending"
                : "charged";
            if (ok)
            {
                Check(body, outcome == "charged");
            }

            return (ok, outcome, ok ? InstanceOf(body) : null);
        }
        catch (HttpRequestException ex)
        {
            return (false, ex.HttpRequestError.ToString(), null);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, "timeout", null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return (false, "cancelled", null);
        }
    }
}

/// <summary>What the users saw during one step.</summary>
internal sealed class StepCounts(string name)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _failures = new(StringComparer.Ordinal);
    private long _requests;
    private long _ok;
    private long _charged;
    private long _pending;

    public string Name { get; } = name;

    public long Requests => Interlocked.Read(ref _requests);

    public long Ok => Interlocked.Read(ref _ok);

    public long Charged => Interlocked.Read(ref _charged);

    public long Pending => Interlocked.Read(ref _pending);

    public long Failed => Requests - Ok;

    public double SuccessRate => Requests == 0 ? 1 : Ok / (double)Requests;

    /// <summary>Gets the failures by outcome (status code or error), such as <c>503 ×2</c>.</summary>
    public string FailureSummary
    {
        get
        {
            lock (_lock)
            {
                return string.Join(", ", _failures.Select(f => $"{f.Key} ×{f.Value}"));
            }
        }
    }

    public void Record(bool ok, string outcome)
    {
        Interlocked.Increment(ref _requests);
        if (ok)
        {
            Interlocked.Increment(ref _ok);
            Interlocked.Increment(ref outcome == "pending" ? ref _pending : ref _charged);
            return;
        }

        lock (_lock)
        {
            _failures[outcome] = _failures.GetValueOrDefault(outcome) + 1;
        }
    }
}
