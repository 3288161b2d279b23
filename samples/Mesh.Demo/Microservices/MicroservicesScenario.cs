using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Mesh.Demo.Microservices;

/// <summary>
/// The main job of the demo: meshd and the four sample services as processes, orders through the gateway at a steady
/// rate, a live table of the golden metrics each caller sees, and a scripted scenario applied as an operator would,
/// through meshd's API (policies) and payments' own admin endpoint (faults).
/// </summary>
internal sealed class MicroservicesScenario
{
    private const double Target = 0.999;
    private readonly List<StepCounts> _steps = [];
    private readonly Stopwatch _clock = new();
    private readonly Lock _lock = new();
    private readonly List<string> _breakerPath = [];
    private LiveView _view = null!;
    private SampleMesh _mesh = null!;
    private TrafficDriver _driver = null!;
    private PaymentsAuthorization _authorization = null!;
    private string _caption = "warm-up";
    private string _paymentsBreaker = "closed";
    private long _paymentsRetries;
    private long _paymentsBudgetExhausted;
    private TimeSpan? _v1bEjectedAt;
    private TimeSpan? _v1bRemovedAt;
    private TimeSpan _killedAt;
    private string _retryLine = "not reached";
    private string _capLine = string.Empty;
    private string _plaintext = "not tried";
    private TrafficShift? _shift;
    private readonly Dictionary<string, Queue<(TimeSpan At, long Retries)>> _retrySamples = new(StringComparer.Ordinal);
    private int _closed;

    public static string Title => "Microservices: meshd, gateway, orders, payments and inventory as processes on mutual TLS, under a scripted scenario";

    /// <summary>Runs the scenario; returns the success rate through the gateway.</summary>
    public async Task<double> RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        _view = new LiveView(output, interactive: !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out));
        var rate = options.Quick ? 60 : 100;
        var mesh = new SampleMesh();
        try
        {
            _mesh = mesh;
            return await RunAsync(mesh, rate, options, output, cancellationToken);
        }
        finally
        {
            var children = mesh.ChildIds.Count;
            mesh.Dispose();
            output.WriteLine($"  stopped {children} child processes, removed {mesh.Directory}");
        }
    }

    private async Task<double> RunAsync(SampleMesh mesh, int rate, DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine($"  Starting meshd with its CA and 6 service instances on loopback (temp: {mesh.Directory}) ...");
        await mesh.StartAsync(PutStandingPoliciesAsync, cancellationToken);
        output.WriteLine($"  children: {string.Join(' ', mesh.ChildIds)}");
        output.WriteLine($"  meshd {mesh.Meshd}  gateway {mesh.Gateway}  orders {mesh.Orders}  payments {mesh.Payments}");
        output.WriteLine($"  inventory {string.Join("  ", mesh.Inventory.Select(i => $"{i.Key} {i.Value}"))}");
        output.WriteLine($"  dashboard {mesh.Dashboard}  (open it in a browser while the scenario runs; the read-only token is in the fragment)");
        var identity = mesh.Identity;
        output.WriteLine($"  identity: meshd's CA signs {identity.IdOf("<service>")}; one credential per service (POST /v1/credentials: {string.Join(", ", SampleMesh.Services)}), each service's own as its Mesh:ControlPlane:Token; the shared workload token is refused");
        var instances = await mesh.InstancesAsync(cancellationToken);
        output.WriteLine($"  meshd lists {instances.Count} instances, {instances.Count(i => i.Address.StartsWith("https://", StringComparison.Ordinal) && i.Identity == identity.IdOf(i.Service))} at https:// with the identity each must present; every server Strict (Mesh:Services:<itself>:Mtls:Mode)");
        output.WriteLine("  policies via meshd, put before the services started: PUT /v1/policies/payments {Retry: MaxAttempts 5, Budget 30% + 10/s}, PUT /v1/policies/inventory {OutlierDetection: 3 failures; Routes: " + TrafficShift.Route + ": version=v1 weight 100, version=v2 weight 0}");

        var callers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["gateway"] = identity.Id,
            ["orders"] = identity.IdOf("gateway"),
            ["inventory"] = identity.IdOf("orders"),
            ["payments"] = identity.IdOf("orders"),
        };
        using var driver = new TrafficDriver(mesh.Gateway, mesh.HandlerFor("gateway"), callers, concurrency: 8, requestsPerSecond: rate);
        _driver = driver;
        await driver.WarmUpAsync(20, TimeSpan.FromSeconds(30), cancellationToken);
        await ShowIdentitiesAsync(mesh, driver, output, cancellationToken);
        using var authorization = new PaymentsAuthorization(mesh);
        _authorization = authorization;
        await authorization.ShowAsync(output, cancellationToken);
        output.WriteLine($"  traffic: {rate} orders/s through the gateway from 8 concurrent users (POST /orders, over mutual TLS as {identity.Id})");
        output.WriteLine();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _clock.Start();
        var traffic = driver.RunAsync(stop.Token);
        var table = RefreshAsync(options, stop.Token);
        var interrupted = false;
        try
        {
            await PlayAsync(options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
        }
        finally
        {
            await stop.CancelAsync();
            await traffic;
            await table.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _view.ShowTable(await TableAsync(CancellationToken.None));
        CloseStep();
        return Summary(output, interrupted);
    }

    /// <summary>
    /// The operator's standing policies, through meshd, put before any service starts: orders' first snapshot of inventory
    /// already has the route that keeps v2 at weight 0, so v2 serves no order before the shift.
    /// </summary>
    private async Task PutStandingPoliciesAsync(CancellationToken cancellationToken)
    {
        // Payments may retry a charge up to 5 times within a budget of 30%.
        await _mesh.PutPolicyAsync("payments", """{ "Retry": { "MaxAttempts": 5, "Budget": { "Ratio": 0.3, "MinPerSecond": 10 } } }""", cancellationToken);

        // Inventory ejects an instance after 3 failures; v2 is deployed but takes no traffic yet: every call goes to version=v1.
        await _mesh.PutPolicyAsync("inventory", """{ "OutlierDetection": { "ConsecutiveFailures": 3 }, """ + TrafficShift.Weights(100, 0) + " }", cancellationToken);
    }

    /// <summary>One order's path, with the caller each service verified from its certificate, and calls without an identity refused.</summary>
    private async Task ShowIdentitiesAsync(SampleMesh mesh, TrafficDriver driver, TextWriter output, CancellationToken cancellationToken)
    {
        var (_, seen) = await driver.OrderAsync(cancellationToken);
        output.WriteLine($"  mutual TLS, one order: the caller each service verified from its certificate (IMeshCallerFeature), never from a header");
        foreach (var (service, caller) in seen)
        {
            var from = caller is null ? "?" : caller[(caller.LastIndexOf('/') + 1)..];
            output.WriteLine($"    {service,-9} saw caller {caller ?? "none (no verified identity)",-34}  ({from} -> {service})");
        }

        var plaintext = await mesh.CallWithoutIdentityAsync("payments", mesh.Payments, "/charges", tls: false, cancellationToken);
        var noCertificate = await mesh.CallWithoutIdentityAsync("payments", mesh.Payments, "/charges", tls: true, cancellationToken);
        _plaintext = $"plaintext to payments: {Verdict(plaintext)}, TLS without a certificate: {Verdict(noCertificate)}";
        output.WriteLine($"  a plain HttpClient to payments (strict) at its registered address, POST http://{mesh.Payments.Authority}/charges in plaintext: {plaintext}");
        output.WriteLine($"  the same over TLS without a client certificate: {noCertificate}");
    }

    private static string Verdict(string outcome) => outcome.Split(' ')[0];

    private async Task PlayAsync(DemoOptions options, CancellationToken cancellationToken)
    {
        var quick = options.Quick;
        await StepAsync(1, "Steady state: 3 inventory instances (v1a, v1b labelled version=v1, v2 labelled version=v2 at weight 0), every call through the mesh, policies from meshd", cancellationToken);
        await Task.Delay(Seconds(quick ? 3 : 8), cancellationToken);

        await StepAsync(2, "An inventory instance (v1b) is killed: calls fail over to the others, meshd drops it when its lease lapses", cancellationToken);
        _killedAt = _clock.Elapsed;
        _mesh.KillInventory("v1b");
        await Task.Delay(Seconds(quick ? 7 : 12), cancellationToken);

        await StepAsync(3, "Payments fails 20% of charges (POST /admin/chaos): retries of the idempotent charge hold success, the budget caps the extra load", cancellationToken);
        var retriesBefore = Interlocked.Read(ref _paymentsRetries);
        var exhaustedBefore = Interlocked.Read(ref _paymentsBudgetExhausted);
        await _mesh.SetPaymentsFailureRateAsync(0.2, cancellationToken);
        var started = _clock.Elapsed;
        await Task.Delay(Seconds(quick ? 6 : 15), cancellationToken);
        var seconds = (_clock.Elapsed - started).TotalSeconds;
        var step = _driver.Step;
        var calls = (step.Requests) / seconds;
        var retries = (Interlocked.Read(ref _paymentsRetries) - retriesBefore) / seconds;
        _retryLine = string.Create(CultureInfo.InvariantCulture,
            $"payments {calls:0.0} charges/s, {retries:0.0} retries/s ({(calls == 0 ? 0 : retries / calls):0%} extra; the budget allows 30% + 10/s), budget exhausted {Interlocked.Read(ref _paymentsBudgetExhausted) - exhaustedBefore} times; charged {step.Charged} of {step.Requests}");
        _view.WriteLine("    -> " + _retryLine);

        await StepAsync(4, "Payments fails every charge: its breaker (tightened through meshd) opens, orders accepts orders with payment pending; payments recovers, the breaker closes", cancellationToken);
        // Payments stops failing while the tightened breaker takes over, so it starts closed: a streak of the 20% failures
        // in its first small window could open it before the step begins.
        await _mesh.SetPaymentsFailureRateAsync(0, cancellationToken);
        await _mesh.PatchPolicyAsync("payments", """{ "CircuitBreaker": { "MinimumThroughput": 10, "SamplingDuration": "00:00:05", "BreakDuration": "00:00:02" } }""", cancellationToken);
        _view.WriteLine("    PATCH /v1/policies/payments {CircuitBreaker: MinimumThroughput 10, SamplingDuration 5 s, BreakDuration 2 s}");
        await Task.Delay(Seconds(1), cancellationToken);
        lock (_lock)
        {
            _breakerPath.Clear();
            _breakerPath.Add(_paymentsBreaker);
        }

        retriesBefore = Interlocked.Read(ref _paymentsRetries);
        exhaustedBefore = Interlocked.Read(ref _paymentsBudgetExhausted);
        var failing = _clock.Elapsed;
        var ordersBefore = _driver.Step.Requests;
        await _mesh.SetPaymentsFailureRateAsync(1, cancellationToken);
        await UntilAsync(() => _paymentsBreaker == "open", Seconds(10), cancellationToken);
        await Task.Delay(Seconds(quick ? 2 : 4), cancellationToken);
        await _mesh.SetPaymentsFailureRateAsync(0, cancellationToken);
        seconds = (_clock.Elapsed - failing).TotalSeconds;
        _capLine = string.Create(CultureInfo.InvariantCulture,
            $"; while every charge failed: {(_driver.Step.Requests - ordersBefore) / seconds:0.0} orders/s, {(Interlocked.Read(ref _paymentsRetries) - retriesBefore) / seconds:0.0} retries/s, {Interlocked.Read(ref _paymentsBudgetExhausted) - exhaustedBefore} retries refused by the budget");
        _view.WriteLine("    payments recovers (failure rate 0)");
        await UntilAsync(() => _paymentsBreaker == "closed", Seconds(15), cancellationToken);
        await Task.Delay(Seconds(quick ? 2 : 4), cancellationToken);

        await StepAsync(5, "20% of inventory traffic shifted to v2, then all of it: the route's weights patched through meshd (If-Match), orders applies them without a restart", cancellationToken);
        _shift = new TrafficShift(_mesh, _driver, _view, _steps[^1]);
        await _shift.RunAsync(quick ? 500 : 1000, quick ? 200 : 300, cancellationToken);
        CloseStep();
        if (options.Forever)
        {
            await StepAsync(6, "Running until Ctrl+C: try PATCH /v1/policies/... with the admin token, POST /admin/chaos to payments", cancellationToken);
            _view.WriteLine($"    dashboard {_mesh.Dashboard}  (up until Ctrl+C)");
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }

    private Task StepAsync(int number, string caption, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        CloseStep();
        _caption = $"step {number}/5: {Short(number)}";
        _view.WriteLine($"[step {number}/5] {caption}");
        _steps.Add(_driver.BeginStep($"{number} {Short(number)}"));
        _driver.BeginVersions($"step {number}");
        return Task.CompletedTask;
    }

    /// <summary>Writes what the users saw in the step that ends.</summary>
    private void CloseStep()
    {
        if (_steps.Count > _closed)
        {
            var last = _steps[^1];
            _closed = _steps.Count;
            _view.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    -> {last.Requests} orders, {last.SuccessRate * 100:0.00} % ok (charged {last.Charged}, payment pending {last.Pending}, failed {last.Failed}{Failures(last)})"));
        }
    }

    private static string Short(int step) => step switch
    {
        1 => "steady state",
        2 => "inventory v1b killed",
        3 => "payments fails 20%",
        4 => "payments breaker",
        5 => "traffic shifted to v2",
        _ => "until Ctrl+C",
    };

    private static string Failures(StepCounts step) => step.Failed == 0 ? string.Empty : ": " + step.FailureSummary;

    private static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        while (!condition() && until.Elapsed < timeout)
        {
            await Task.Delay(100, cancellationToken);
        }
    }

    private static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(seconds);

    private async Task RefreshAsync(DemoOptions options, CancellationToken cancellationToken)
    {
        // Redrawn each second in a terminal; in a log, one block every few seconds is plenty.
        var every = _view.Interactive ? 1 : options.Quick ? 3 : 5;
        var tick = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var lines = await TableAsync(cancellationToken);
            if (++tick % (every * 4) == 0)
            {
                _view.ShowTable(lines);
            }
        }
    }

    /// <summary>Reads both callers' /mesh/stats, notes what the scenario watches for, and lays out the table.</summary>
    private async Task<IReadOnlyList<string>> TableAsync(CancellationToken cancellationToken)
    {
        var gateway = await _mesh.StatsAsync("gateway", _mesh.Gateway, cancellationToken);
        var orders = await _mesh.StatsAsync("orders", _mesh.Orders, cancellationToken);
        var total = _steps.Aggregate((Requests: 0L, Ok: 0L), (sum, s) => (sum.Requests + s.Requests, sum.Ok + s.Ok));
        var step = _driver.Step;
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"  {_clock.Elapsed.TotalSeconds,4:0} s  {_caption}"),
            string.Create(CultureInfo.InvariantCulture, $"  users -> gateway: {total.Requests} orders, {(total.Requests == 0 ? 1 : total.Ok / (double)total.Requests):P2} ok; this step {step.Requests}, {step.SuccessRate:P2} ok, payment pending {step.Pending}"),
            $"  {"caller -> service",-20} {"req/s",7} {"success",9} {"p50 ms",8} {"p99 ms",8} {"retry/s",8}  {"breaker",-10} endpoints",
        };
        lines.Add(Row("gateway -> orders", Find(gateway, "orders")));
        lines.Add(Row("orders -> inventory", Find(orders, "inventory")));
        var versions = _driver.Versions;
        lines.Add($"  {"inventory v1 / v2",-20} {versions}  (versions that served the orders sent in {versions.Name})");
        var payments = Find(orders, "payments");
        lines.Add(Row("orders -> payments", payments));
        lines.Add("  (req/s, success and latency over the last minute, from each caller's GET /mesh/stats; retries/s over the last seconds)");
        Observe(Find(orders, "inventory"), payments);
        return lines;
    }

    /// <summary>A caller's outbound entry for <paramref name="service"/> in its <c>/mesh/stats</c> answer.</summary>
    private static JsonElement? Find(JsonElement? stats, string service)
    {
        if (stats is not { ValueKind: JsonValueKind.Object } answer || !answer.TryGetProperty("outbound", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        foreach (var entry in array.EnumerateArray())
        {
            if (entry.GetProperty("service").GetString() == service)
            {
                return entry;
            }
        }

        return null;
    }

    private string Row(string name, JsonElement? entry)
    {
        if (entry is not { } e)
        {
            return $"  {name,-20} {"-",7}";
        }

        var endpoints = string.Join(", ", e.GetProperty("endpoints").EnumerateArray().Select(p =>
            _mesh.NameOf(p.GetProperty("address").GetString()!) + (p.GetProperty("ejected").GetBoolean() ? " (ejected)" : string.Empty)));
        return string.Create(CultureInfo.InvariantCulture,
            $"  {name,-20} {e.GetProperty("requestsPerSecond").GetDouble(),7:0.0} {e.GetProperty("successRate").GetDouble() * 100,7:0.00} % {e.GetProperty("p50Ms").GetDouble(),8:0.0} {e.GetProperty("p99Ms").GetDouble(),8:0.0} {RetryRate(name, e.GetProperty("retries").GetInt64()),8:0.0}  {e.GetProperty("breaker").GetString(),-10} {endpoints}");
    }

    /// <summary>Retries per second over the last two seconds or so, from the running count each caller keeps.</summary>
    private double RetryRate(string row, long retries)
    {
        var now = _clock.Elapsed;
        lock (_lock)
        {
            if (!_retrySamples.TryGetValue(row, out var samples))
            {
                _retrySamples[row] = samples = new Queue<(TimeSpan At, long Retries)>();
            }

            samples.Enqueue((now, retries));
            while (samples.Count > 1 && now - samples.Peek().At > TimeSpan.FromSeconds(2))
            {
                samples.Dequeue();
            }

            var (at, first) = samples.Peek();
            var seconds = (now - at).TotalSeconds;
            return seconds < 0.5 ? 0 : (retries - first) / seconds;
        }
    }

    private void Observe(JsonElement? inventory, JsonElement? payments)
    {
        if (payments is { } p)
        {
            Interlocked.Exchange(ref _paymentsRetries, p.GetProperty("retries").GetInt64());
            Interlocked.Exchange(ref _paymentsBudgetExhausted, p.GetProperty("budgetExhausted").GetInt64());
            var state = p.GetProperty("breaker").GetString() ?? "closed";
            lock (_lock)
            {
                if (_breakerPath.Count > 0 && _breakerPath[^1] != state)
                {
                    _breakerPath.Add(state);
                }

                _paymentsBreaker = state;
            }
        }

        if (inventory is { } i && _killedAt > TimeSpan.Zero)
        {
            var v1b = i.GetProperty("endpoints").EnumerateArray().Where(e => _mesh.NameOf(e.GetProperty("address").GetString()!) == "v1b").ToList();
            if (v1b.Count == 1 && v1b[0].GetProperty("ejected").GetBoolean())
            {
                _v1bEjectedAt ??= _clock.Elapsed - _killedAt;
            }
            else if (v1b.Count == 0)
            {
                _v1bRemovedAt ??= _clock.Elapsed - _killedAt;
            }
        }
    }

    private double Summary(TextWriter output, bool interrupted)
    {
        var requests = _steps.Sum(s => s.Requests);
        var ok = _steps.Sum(s => s.Ok);
        var rate = requests == 0 ? 0 : ok / (double)requests;
        output.WriteLine();
        output.WriteLine(interrupted ? "Summary (interrupted)" : "Summary");
        output.WriteLine($"  {"step",-26} {"orders",7} {"ok",9} {"charged",8} {"pending",8} {"failed",7}");
        foreach (var step in _steps)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {step.Name,-26} {step.Requests,7} {step.SuccessRate * 100,7:0.00} % {step.Charged,8} {step.Pending,8} {step.Failed,7}{Failures(step)}"));
        }

        string path;
        lock (_lock)
        {
            path = _breakerPath.Count > 1 ? string.Join(" -> ", _breakerPath) : "not reached";
        }

        var ejected = _v1bEjectedAt is { } e ? string.Create(CultureInfo.InvariantCulture, $"ejected within {e.TotalSeconds:0} s") : "not ejected before meshd dropped it";
        var removed = _v1bRemovedAt is { } r ? string.Create(CultureInfo.InvariantCulture, $"gone from the registry within {r.TotalSeconds:0} s (lease lapsed)") : "still registered";
        output.WriteLine(_killedAt > TimeSpan.Zero ? $"  - inventory v1b killed: {ejected}, {removed}" : "  - inventory v1b killed: not reached");
        output.WriteLine($"  - payments fails 20%: {_retryLine}");
        output.WriteLine($"  - payments breaker: {path}{_capLine}");
        output.WriteLine($"  - traffic shifted to v2: {(_shift is null ? "not reached" : _shift.Summary())}");
        var verified = _driver.Verified;
        var checkedOrders = verified + _driver.Unverified;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  - mutual TLS: {verified} of {checkedOrders} orders answered showed the caller each service should have verified (gateway <- demo, orders <- gateway, inventory <- orders, payments <- orders){(_driver.FirstUnverified is { } wrong ? "; first miss: " + wrong : string.Empty)}; {_plaintext}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  - authorization: payments {_authorization.Outcome}; it denied orders {_authorization.OrdersDenied} times while {_steps.Sum(s => s.Charged)} orders were charged ({PaymentsAuthorization.ChargeRule})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  end to end through the gateway: {requests} orders, {ok} succeeded, {requests - ok} failed: success rate {rate * 100:0.00} % (target >= {Target * 100:0.0} %: {(rate >= Target ? "met" : "missed")})"));
        output.WriteLine($"  the dashboard was at {_mesh.Dashboard} (meshd's page, the read-only token in the fragment; run with --forever to keep it up)");
        return rate;
    }
}
