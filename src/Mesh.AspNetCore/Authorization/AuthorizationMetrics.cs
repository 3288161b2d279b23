using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Telemetry;

namespace Mesh.AspNetCore.Authorization;

/// <summary>
/// <c>mesh.server.authorization</c>: every decision by caller, decision and the rule that made it; and
/// <c>mesh.server.rate_limited</c>: requests refused by the per-caller rate limit, by caller.
/// </summary>
internal sealed class AuthorizationMetrics
{
    public const string Decision = "mesh.authorization.decision";
    public const string Rule = "mesh.authorization.rule";

    private readonly Counter<long> _decisions;
    private readonly Counter<long> _limited;

    public AuthorizationMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeshTelemetry.Name);
        _decisions = meter.CreateCounter<long>("mesh.server.authorization", "{request}", "Inbound authorization decisions, by caller, decision and the rule that decided.");
        _limited = meter.CreateCounter<long>("mesh.server.rate_limited", "{request}", "Inbound requests refused by the per-caller rate limit, by caller.");
    }

    public void Decided(string caller, string decision, string rule) =>
        _decisions.Add(1, new TagList { { MeshTags.Caller, caller }, { Decision, decision }, { Rule, rule } });

    public void Limited(string caller) => _limited.Add(1, new TagList { { MeshTags.Caller, caller } });
}
