using System.Diagnostics;
using System.Globalization;

namespace Mesh.Demo.Microservices;

/// <summary>
/// The scenario's traffic split, as an operator moves a canary: inventory v2 runs from the start behind a route of
/// orders' inventory policy at weight 0; the weights are then patched through meshd (with <c>If-Match</c>) to 80/20 and
/// to 0/100. Each share is measured on the orders sent after the weights were in force in orders, none sent before.
/// </summary>
internal sealed class TrafficShift(SampleMesh mesh, TrafficDriver driver, LiveView view, StepCounts step)
{
    /// <summary>The route's name in inventory's policy.</summary>
    public const string Route = "v2-canary";

    /// <summary>Answers to orders with 30 in a row from v2 prove 0/100 is in force: at 80/20 that would happen with a chance of 0.2^30.</summary>
    private const int InARow = 30;

    private static readonly TimeSpan s_applyTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan s_windowTimeout = TimeSpan.FromSeconds(40);

    /// <summary>Gets the orders sent while 80/20 was in force, as counted when its window closed.</summary>
    public Share? AtTwenty { get; private set; }

    /// <summary>Gets the orders sent while 0/100 was in force, as counted when its window closed.</summary>
    public Share? AtHundred { get; private set; }

    /// <summary>Gets the route as a merge patch (or part of a policy): version=v1 and version=v2 with these weights.</summary>
    public static string Weights(int v1, int v2) => string.Create(CultureInfo.InvariantCulture, $$"""
        "Routes": [ { "Name": "{{Route}}", "Destinations": [ { "Labels": { "version": "v1" }, "Weight": {{v1}} }, { "Labels": { "version": "v2" }, "Weight": {{v2}} } ] } ]
        """);

    /// <summary>
    /// Moves 20 %, then all, of inventory's traffic to v2; measures each share over at least <paramref name="twenty"/>
    /// and <paramref name="hundred"/> orders answered.
    /// </summary>
    public async Task RunAsync(int twenty, int hundred, CancellationToken cancellationToken)
    {
        var version = await mesh.PolicyVersionAsync("inventory", cancellationToken);

        // v2 had weight 0 and so no order at all: the first order it serves is the first orders routed with 80/20.
        var applying = driver.BeginVersions("80/20 being applied");
        var (newVersion, applied) = await PatchAsync(version, 80, 20, () => applying.V2 > 0, "the first order v2 served", cancellationToken);
        var window = driver.BeginVersions("80/20");
        view.WriteLine(Applied(applied, applying));
        await UntilAsync(() => window.Answered >= twenty, s_windowTimeout, cancellationToken);
        AtTwenty = Share.Of(window);
        view.WriteLine($"    -> at 80/20 v2 got {AtTwenty} (v1 {AtTwenty.Value.V1}, v2 {AtTwenty.Value.V2})");

        applying = driver.BeginVersions("0/100 being applied");
        (_, applied) = await PatchAsync(newVersion, 0, 100, () => applying.V2InARow >= InARow, $"{InARow} orders in a row served by v2", cancellationToken);
        window = driver.BeginVersions("0/100");
        view.WriteLine(Applied(applied, applying));
        await UntilAsync(() => window.Answered >= hundred, s_windowTimeout, cancellationToken);
        AtHundred = Share.Of(window);
        view.WriteLine($"    -> at 0/100 v2 got {AtHundred} (v1 {AtHundred.Value.V1}, v2 {AtHundred.Value.V2})");
    }

    /// <summary>The step's line in the summary.</summary>
    public string Summary() => AtTwenty is not { } twenty || AtHundred is not { } hundred
        ? "not reached"
        : string.Create(CultureInfo.InvariantCulture,
            $"at 80/20 v2 got {twenty}, at 0/100 {hundred} (orders sent once each was in force); {step.Failed} of {step.Requests} orders failed during the shifts");

    private static string Applied(TimeSpan? applied, VersionCounts applying) => applied is { } a
        ? string.Create(CultureInfo.InvariantCulture, $"    in force in orders within {a.TotalMilliseconds:0} ms of meshd's answer; the {applying.Answered} orders sent meanwhile are not counted")
        : string.Create(CultureInfo.InvariantCulture, $"    not seen in force in orders within {s_applyTimeout.TotalSeconds:0} s (orders sent meanwhile: {applying})");

    /// <summary>Patches the weights (If-Match the version read), then waits until <paramref name="inForce"/> proves orders routes with them.</summary>
    private async Task<(long Version, TimeSpan? Applied)> PatchAsync(long version, int v1, int v2, Func<bool> inForce, string proof, CancellationToken cancellationToken)
    {
        var patched = await mesh.PatchPolicyAsync("inventory", "{ " + Weights(v1, v2) + " }", version, cancellationToken);
        var since = Stopwatch.StartNew();
        view.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    PATCH /v1/policies/inventory (If-Match: \"{version}\") {{Routes: {Route}: version=v1 weight {v1}, version=v2 weight {v2}}} -> version {patched}; waiting for {proof}"));
        return (patched, await UntilAsync(inForce, s_applyTimeout, cancellationToken) ? since.Elapsed : null);
    }

    private static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        while (!condition())
        {
            if (until.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }

        return true;
    }
}

/// <summary>The orders of one window by the version that served them, as counted at a moment.</summary>
internal readonly record struct Share(long V1, long V2)
{
    public long Answered => V1 + V2;

    public static Share Of(VersionCounts counts) => new(counts.V1, counts.V2);

    /// <summary>v2's share: <c>19.8 % of 1000 orders</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{(Answered == 0 ? 0 : V2 / (double)Answered) * 100:0.0} % of {Answered} orders");
}
