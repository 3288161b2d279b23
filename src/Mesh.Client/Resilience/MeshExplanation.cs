using System.Text;

namespace Mesh.Resilience;

/// <summary>
/// Why the mesh sent a request where it did. A request with the header <see cref="RequestHeader"/> set to <c>1</c> (or
/// <see cref="MeshRequestOptions.Explain"/>) is explained: its answer carries <see cref="ResponseHeader"/>, one line
/// such as <c>route=canary dest=1(version=v2) draw=17/100; timeout=10000ms budget=10.0 breaker=closed; lb=PeakEwma
/// available=2/2; attempt=1 first pick=127.0.0.1:5001 -> 503; attempt=2 retry after status 503 pick=127.0.0.1:5002 -> 200</c>,
/// and the call's span the attribute <c>mesh.explanation</c>. The request header is never sent to the service.
/// </summary>
public static class MeshExplanation
{
    /// <summary>The request header that asks this process's mesh to explain the call (<c>mesh-explain: 1</c>); removed before the request is sent.</summary>
    public const string RequestHeader = "mesh-explain";

    /// <summary>
    /// The response header that carries the explanation to the caller: printable ASCII, at most 4096 characters (a longer
    /// one ends with <c>...(truncated)</c>). A failed call has it in the exception's <see cref="Exception.Data"/> under this key.
    /// </summary>
    public const string ResponseHeader = "mesh-explanation";

    /// <summary>Formats an explanation for reading: one decision per line, the candidates of a pick indented under it.</summary>
    /// <param name="explanation">The value of <see cref="ResponseHeader"/>.</param>
    /// <returns>The same explanation on several lines.</returns>
    public static string Format(string explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        var text = new StringBuilder();
        foreach (var decision in explanation.Split("; ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var candidates = decision.IndexOf(" cands=[", StringComparison.Ordinal);
            if (candidates < 0)
            {
                text.AppendLine(decision);
                continue;
            }

            // "attempt=1 first pick=a cands=[a cost=1ms,b cost=2ms] -> 503": the pick and outcome, then one candidate a line.
            var close = decision.LastIndexOf(']');
            var list = close > candidates ? decision[(candidates + " cands=".Length)..(close + 1)] : decision[(candidates + " cands=".Length)..];
            var rest = close > candidates ? decision[(close + 1)..] : string.Empty;
            text.Append(decision[..candidates]).AppendLine(rest);
            foreach (var group in list.Split(" then ", StringSplitOptions.RemoveEmptyEntries))
            {
                text.AppendLine("    compared:");
                foreach (var candidate in group.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    text.Append("      ").AppendLine(candidate);
                }
            }
        }

        return text.ToString();
    }
}
