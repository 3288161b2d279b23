using Mesh.ControlPlane.Contract;

namespace Meshd.Fleet;

/// <summary>
/// Checks an instance's report against <see cref="InstanceReportLimits"/> before meshd keeps it: every list within its
/// bound, every name short and printable, every count plausible (successes within requests, latency buckets adding up
/// to the requests). Each error names the field, such as <c>outbound[3].latency</c>.
/// </summary>
internal static class ReportValidator
{
    public static Dictionary<string, string[]> Check(InstanceReportDocument report)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (report.SnapshotVersion < 0)
        {
            errors["snapshotVersion"] = ["A snapshot version is 0 or more."];
        }

        if (Bound(report.Policies, InstanceReportLimits.Policies, "policies", errors))
        {
            for (var i = 0; i < report.Policies!.Count; i++)
            {
                var applied = report.Policies[i];
                Name(applied.Service, $"policies[{i}].service", errors);
                if (applied.PolicyVersion < 0)
                {
                    errors[$"policies[{i}].policyVersion"] = ["A policy version is 0 or more."];
                }
            }
        }

        if (Bound(report.OverriddenKeys, InstanceReportLimits.OverriddenKeys, "overriddenKeys", errors))
        {
            for (var i = 0; i < report.OverriddenKeys!.Count; i++)
            {
                Name(report.OverriddenKeys[i], $"overriddenKeys[{i}]", errors);
            }
        }

        Traffic(report.Outbound, "outbound", errors);
        Traffic(report.Inbound, "inbound", errors);
        if (Bound(report.Ejected, InstanceReportLimits.Ejected, "ejected", errors))
        {
            for (var i = 0; i < report.Ejected!.Count; i++)
            {
                Name(report.Ejected[i].Service, $"ejected[{i}].service", errors);
                Name(report.Ejected[i].Address, $"ejected[{i}].address", errors);
            }
        }

        return errors;
    }

    private static void Traffic(IReadOnlyList<TrafficDocument>? peers, string field, Dictionary<string, string[]> errors)
    {
        if (!Bound(peers, InstanceReportLimits.Peers, field, errors))
        {
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < peers!.Count; i++)
        {
            var peer = peers[i];
            var at = $"{field}[{i}]";
            if (Name(peer.Peer, $"{at}.peer", errors) && !seen.Add(peer.Peer))
            {
                errors[$"{at}.peer"] = [$"'{peer.Peer}' is listed twice."];
            }

            if (peer.Requests < 0 || peer.Successes < 0 || peer.Successes > peer.Requests)
            {
                errors[$"{at}.successes"] = ["Requests and successes are 0 or more, and successes at most the requests."];
            }

            if (!(peer.Seconds > 0 && peer.Seconds <= 3600))
            {
                errors[$"{at}.seconds"] = ["The window is more than 0 and at most 3600 seconds."];
            }

            if (peer.Latency is { } latency)
            {
                long sum = 0;
                var negative = false;
                foreach (var count in latency)
                {
                    negative |= count < 0;
                    sum += Math.Max(0, count);
                }

                if (latency.Count > InstanceReportLimits.LatencyBuckets || negative || sum != peer.Requests)
                {
                    errors[$"{at}.latency"] = [$"At most {InstanceReportLimits.LatencyBuckets} buckets of 0 or more calls, adding up to the requests ({peer.Requests})."];
                }
            }
            else if (peer.Requests > 0)
            {
                errors[$"{at}.latency"] = ["Calls in the window need their latency buckets."];
            }
        }
    }

    private static bool Bound<T>(IReadOnlyList<T>? list, int limit, string field, Dictionary<string, string[]> errors)
    {
        if (list is null)
        {
            return false;
        }

        if (list.Count > limit)
        {
            errors[field] = [$"At most {limit} entries; this report has {list.Count}."];
            return false;
        }

        return true;
    }

    private static bool Name(string? value, string field, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(value) || value.Length > InstanceReportLimits.NameLength || value.Any(c => c < 0x21 || c > 0x7e))
        {
            errors[field] = [$"A name of 1 to {InstanceReportLimits.NameLength} printable ASCII characters, without spaces."];
            return false;
        }

        return true;
    }
}
