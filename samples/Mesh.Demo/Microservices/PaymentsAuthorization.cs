using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Mesh.Demo.Microservices;

/// <summary>
/// The operator's authorization policy on payments, put through meshd: orders may charge, the demo's operator console may
/// reach payments' admin and health endpoints, and nobody else gets in. Then the demo, a workload of the mesh that is not
/// orders, tries a charge: payments refuses it with 403 and its audit line names the rule that decided, as meshd's check
/// API does. Every denial payments logs for orders afterwards is counted: the policy must never stand in orders' way.
/// </summary>
internal sealed partial class PaymentsAuthorization : IDisposable
{
    public const string ChargeRule = "orders-may-charge";
    public const string ConsoleRule = "operator-console";

    private const string Policy = $$"""
        { "Authorization": { "Rules": [
            { "Name": "{{ChargeRule}}", "Action": "Allow", "From": [ "orders" ], "To": [ { "Methods": [ "POST" ], "Paths": [ "/charges" ] } ] },
            { "Name": "{{ConsoleRule}}", "Action": "Allow", "From": [ "{{DemoIdentity.Service}}" ],
              "To": [ { "Methods": [ "POST" ], "Paths": [ "/admin/chaos" ] }, { "Methods": [ "GET" ], "Paths": [ "/healthz", "/mesh/stats" ] } ] } ] } }
        """;

    private static readonly TimeSpan s_enforcedWithin = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_auditWithin = TimeSpan.FromSeconds(10);
    private readonly SampleMesh _mesh;
    private readonly List<IDisposable> _listening = [];
    private long _ordersDenied;

    public PaymentsAuthorization(SampleMesh mesh) => _mesh = mesh;

    /// <summary>Gets what became of the demo's charge, for the summary.</summary>
    public string Outcome { get; private set; } = "not tried";

    /// <summary>Gets the denials payments has logged for orders since the policy was put (zero, when the policy is right).</summary>
    public long OrdersDenied => Interlocked.Read(ref _ordersDenied);

    /// <summary>Puts the policy, asks meshd about it, makes the refused call and shows payments' audit line of it.</summary>
    public async Task ShowAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var identity = _mesh.Identity;
        var demo = identity.Id;
        var orders = identity.IdOf("orders");
        var audit = new TaskCompletionSource<(string Header, string Line)>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Payments' console log (category Mesh.Server.Authorization, Warning): the message line follows its "warn: category[event]" header.
        _listening.Add(_mesh.ChildOf("payments").OnLine((line, previous) =>
        {
            if (!line.Contains("Denied ", StringComparison.Ordinal))
            {
                return;
            }

            if (line.Contains($" to caller {orders} ", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _ordersDenied);
            }
            else if (line.Contains($"Denied POST /charges on service payments to caller {demo} ", StringComparison.Ordinal))
            {
                audit.TrySetResult((Plain(previous ?? string.Empty), Plain(line)));
            }
        }));

        await _mesh.PatchPolicyAsync("payments", Policy, cancellationToken);
        var patched = Stopwatch.StartNew();
        output.WriteLine($"  authorization via meshd: PATCH /v1/policies/payments {{Authorization: Allow {ChargeRule} (orders: POST /charges), Allow {ConsoleRule} (demo: POST /admin/chaos, GET /healthz, GET /mesh/stats); any other call denied}}");

        var (enforced, before) = await UntilEnforcedAsync(cancellationToken);
        var after = patched.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
        output.WriteLine(enforced
            ? $"  payments enforces it {after} ms after the PATCH (the demo's GET /charges, a route payments does not have: {(before.Count == 0 ? "403 at once" : $"{Statuses(before)} until then, 403 since")})"
            : $"  payments did not enforce it within {s_enforcedWithin.TotalSeconds} s (the demo's GET /charges: {Statuses(before)})");

        var headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["Idempotency-Key"] = "demo-not-orders" };
        var (status, body) = await _mesh.CallAsDemoAsync("payments", _mesh.Payments, HttpMethod.Post, "/charges", """{ "orderId": "ord_demo", "amount": 1 }""", headers, cancellationToken);
        output.WriteLine($"  the demo ({demo}, not orders) charges directly, POST {new Uri(_mesh.Payments, "/charges")} over mutual TLS: {status}{(status == 403 ? " Forbidden" : string.Empty)}, {(body.Length == 0 ? "empty body" : $"{body.Length} bytes of body")}");

        try
        {
            var (header, line) = await audit.Task.WaitAsync(s_auditWithin, cancellationToken);
            output.WriteLine($"  payments' console log: {header}");
            output.WriteLine($"    {line}");
            var rule = RuleOf().Match(line) is { Success: true } m ? m.Groups[1].Value : "?";
            Outcome = status == 403 ? $"refused the demo's POST /charges with 403 and logged it (Rule: {rule})" : $"answered the demo's POST /charges with {status}, and logged a denial (Rule: {rule})";
        }
        catch (TimeoutException)
        {
            output.WriteLine($"  payments' console log: no audit line of the demo's charge within {s_auditWithin.TotalSeconds} s");
            Outcome = $"answered the demo's POST /charges with {status}, no audit line";
        }

        // The same question put to meshd, answered by the evaluator payments enforces with.
        var allowed = await _mesh.CheckAuthorizationAsync("payments", "orders", "POST", "/charges", cancellationToken);
        var refused = await _mesh.CheckAuthorizationAsync("payments", DemoIdentity.Service, "POST", "/charges", cancellationToken);
        output.WriteLine($"  meshd's POST /v1/authorization/check for payments: orders POST /charges -> {allowed.Decision} by {allowed.Rule}; demo POST /charges -> {refused.Decision} by {refused.Rule}");
    }

    public void Dispose()
    {
        foreach (var listening in _listening)
        {
            listening.Dispose();
        }
    }

    /// <summary>
    /// The policy reaches payments through its watch of meshd, within milliseconds. Until it has, a request the policy
    /// will deny is let through: the demo asks for <c>GET /charges</c>, which payments has no route for (405, nothing
    /// done), until it is refused with 403, or for 10 s. Returns whether it was, and the answers before.
    /// </summary>
    private async Task<(bool Enforced, List<int> Before)> UntilEnforcedAsync(CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        var before = new List<int>();
        var none = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var (status, _) = await _mesh.CallAsDemoAsync("payments", _mesh.Payments, HttpMethod.Get, "/charges", string.Empty, none, cancellationToken);
            if (status == 403)
            {
                return (true, before);
            }

            before.Add(status);
            if (until.Elapsed > s_enforcedWithin)
            {
                return (false, before);
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static string Statuses(List<int> statuses) =>
        statuses.Count == 0 ? "none" : string.Join(", ", statuses.GroupBy(s => s).Select(g => g.Count() == 1 ? $"{g.Key}" : $"{g.Key} ×{g.Count()}"));

    /// <summary>A line as the console logger wrote it, without colour codes or the indent of a message.</summary>
    private static string Plain(string line) => Escape().Replace(line, string.Empty).Trim();

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex Escape();

    [GeneratedRegex(@"Rule: (.+)\.$")]
    private static partial Regex RuleOf();
}
