using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using Mesh.Balancing;
using Mesh.Protocol;

namespace Mesh.Resilience;

/// <summary>
/// The record of one call's decisions, kept only when the caller asked for it (<see cref="MeshExplanation.RequestHeader"/>
/// or <see cref="MeshRequestOptions.Explain"/>): the route and its weight draw, the budget and breaker at the start, the
/// zone rule, each attempt with its reason, the candidates the balancer compared and the endpoint it picked, and each
/// attempt's outcome. Rendered as one bounded, header-safe line. A call that is not explained has none, and each
/// decision point pays one test for it.
/// </summary>
internal sealed class Explanation
{
    /// <summary>The longest explanation rendered, in characters (ASCII, so bytes); a longer one ends with <see cref="TruncatedMarker"/>.</summary>
    internal const int MaxLength = 4096;

    /// <summary>What ends an explanation cut to <see cref="MaxLength"/>.</summary>
    internal const string TruncatedMarker = " ...(truncated)";

    /// <summary>The span attribute that carries the explanation on the call's span.</summary>
    internal const string SpanAttribute = "mesh.explanation";

    /// <summary>The key of the explanation in <see cref="Exception.Data"/> of a call that failed.</summary>
    internal const string DataKey = MeshExplanation.ResponseHeader;

    // The longest single value (a reason, a label) and the most recorded: enough for a readable line, bounded for any call.
    private const int MaxValue = 160;
    private const int MaxRecorded = 2 * MaxLength;

    private static readonly HttpRequestOptionsKey<Explanation> s_key = new("Mesh.Explanation");
    private static bool s_noOptionsField;

    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];
    private readonly List<(EndpointLoad Endpoint, string Text)> _picks = [];
    private readonly StringBuilder _candidates = new();
    private int _recorded;
    private bool _destinationExplained;

    /// <summary>
    /// Starts an explanation for <paramref name="request"/> when its caller asked for one. The header is removed, as it
    /// is a question to this mesh, never sent on; without a header or option this reads one header and one field.
    /// </summary>
    public static void Detect(HttpRequestMessage request)
    {
        var asked = false;
        if (request.Headers.NonValidated.TryGetValues(MeshExplanation.RequestHeader, out var values))
        {
            asked = IsOn(values);
            request.Headers.Remove(MeshExplanation.RequestHeader);
        }

        if (asked)
        {
            request.Options.Set(s_key, new Explanation());
        }
        else
        {
            DetectFromOptions(request);
        }
    }

    /// <summary>Makes the call of <paramref name="request"/> explained when its options ask for it (for a request without headers).</summary>
    public static void DetectFromOptions(HttpRequestMessage request)
    {
        if (OptionsOf(request) is { } options && options.TryGetValue(MeshRequestOptions.Explain, out var on) && on)
        {
            request.Options.Set(s_key, new Explanation());
        }
    }

    /// <summary>Gets the explanation of the call of <paramref name="request"/>, or <see langword="null"/> when it is not explained.</summary>
    public static Explanation? Of(HttpRequestMessage request) =>
        OptionsOf(request) is { } options && options.TryGetValue(s_key, out var explanation) ? explanation : null;

    /// <summary>Puts the explanation of an answered call on its response and its span.</summary>
    public static void Answered(HttpRequestMessage request, HttpResponseMessage response, Activity? activity)
    {
        if (Of(request) is not { } explanation)
        {
            return;
        }

        var text = explanation.Render();
        response.Headers.Remove(MeshExplanation.ResponseHeader);
        response.Headers.TryAddWithoutValidation(MeshExplanation.ResponseHeader, text);
        activity?.SetTag(SpanAttribute, text);
    }

    /// <summary>Puts the explanation of a failed call on its span and in the exception's <see cref="Exception.Data"/>.</summary>
    public static void Failed(HttpRequestMessage request, Exception exception, Activity? activity)
    {
        if (Of(request) is not { } explanation)
        {
            return;
        }

        var text = explanation.Render(" -> " + Clean(exception.GetType().Name));
        activity?.SetTag(SpanAttribute, text);
        exception.Data[DataKey] = text;
    }

    /// <summary>Records the start of attempt <paramref name="number"/> on <paramref name="endpoint"/>, with why it is made.</summary>
    public static void Began(MeshCall call, EndpointLoad endpoint, int number, string? reason)
    {
        if (call.Explanation is { } explanation)
        {
            explanation.Attempt(endpoint, number, reason);
        }
    }

    /// <summary>Records the answer attempt <paramref name="number"/> got.</summary>
    public static void Answered(MeshCall call, int number, IProtocol protocol, HttpResponseMessage response)
    {
        if (call.Explanation is { } explanation)
        {
            var described = protocol.Describe(response);
            explanation.Outcome(number, described.StartsWith("status ", StringComparison.Ordinal) ? described["status ".Length..] : described);
        }
    }

    /// <summary>Records how attempt <paramref name="number"/> ended, unless its answer is already recorded.</summary>
    public static void Ended(MeshCall call, int number, FailureKind kind)
    {
        if (call.Explanation is { } explanation)
        {
            explanation.Outcome(number, kind.TagName());
        }
    }

    /// <summary>Records that the route <paramref name="route"/> took the call to destination <paramref name="destination"/> (with its labels), by a draw of <paramref name="draw"/> in <paramref name="total"/> (none when below 0).</summary>
    public void Route(string route, int destination, IReadOnlyDictionary<string, string> labels, int draw, int total)
    {
        var text = new StringBuilder("route=").Append(Clean(route)).Append(" dest=").Append(destination.ToString(CultureInfo.InvariantCulture));
        text.Append('(').AppendJoin(',', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => Clean(l.Key) + "=" + Clean(l.Value))).Append(')');
        if (draw >= 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" draw={draw}/{total}");
        }

        Add(text.ToString());
    }

    /// <summary>Records that no route took the call: it goes to every endpoint of the service (<paramref name="routes"/> of them were tried).</summary>
    public void NoRoute(int routes) => Add(routes == 0 ? "route=none(no routes)" : string.Create(CultureInfo.InvariantCulture, $"route=none({routes} tried) dest=0(all)"));

    /// <summary>Records the state of the service's resilience when the call starts.</summary>
    public void Started(TimeSpan timeout, double budget, string breaker) =>
        Add(string.Create(CultureInfo.InvariantCulture, $"timeout={timeout.TotalMilliseconds:0}ms budget={budget:0.0} breaker={breaker}"));

    /// <summary>Records how the destination chooses, once per call: its balancer, the endpoints available and the zone rule.</summary>
    /// <param name="describe">Describes them; called only the first time.</param>
    public void Destination(Func<string> describe)
    {
        lock (_lock)
        {
            if (_destinationExplained)
            {
                return;
            }

            _destinationExplained = true;
        }

        Add(describe());
    }

    /// <summary>Records a fault the mesh injected into the call (<paramref name="kind"/>: <c>delay</c>, <c>abort</c>…) and its detail.</summary>
    public void Fault(string kind, string detail) => Add("fault=" + Clean(kind) + "(" + Clean(detail) + ")");

    /// <summary>Records attempt <paramref name="number"/>, answered by an injected abort (<paramref name="detail"/>) without being sent.</summary>
    public void Aborted(int number, string? reason, string detail, string outcome)
    {
        var why = reason is null ? "first" : Clean(reason);
        Add(string.Create(CultureInfo.InvariantCulture, $"attempt={number} {why} fault=abort({Clean(detail)})"), number);
        Outcome(number, outcome);
    }

    /// <summary>Records two candidates a balancer compared; the next pick of this call shows them.</summary>
    public void Compared(EndpointLoad a, string scoreA, EndpointLoad b, string scoreB)
    {
        lock (_lock)
        {
            if (_candidates.Length < MaxValue * 4)
            {
                _candidates.Append(_candidates.Length == 0 ? "[" : " then [")
                    .Append(Address(a)).Append(' ').Append(scoreA).Append(',')
                    .Append(Address(b)).Append(' ').Append(scoreB).Append(']');
            }
        }
    }

    /// <summary>Records the endpoint picked for the next attempt, and the candidates compared for it.</summary>
    /// <param name="endpoint">The endpoint picked.</param>
    /// <param name="note">What else the pick says (an endpoint of another zone, endpoints ejected), or <see langword="null"/>.</param>
    public void Picked(EndpointLoad endpoint, string? note)
    {
        lock (_lock)
        {
            var text = "pick=" + Address(endpoint);
            if (_candidates.Length > 0)
            {
                text += " cands=" + _candidates;
                _candidates.Clear();
            }

            if (note is not null)
            {
                text += " " + note;
            }

            if (_picks.Count < 16)
            {
                _picks.Add((endpoint, text));
            }
        }
    }

    /// <summary>Renders the explanation as one line of at most <see cref="MaxLength"/> printable ASCII characters.</summary>
    public string Render(string? ending = null)
    {
        var text = new StringBuilder();
        bool cut;
        lock (_lock)
        {
            cut = _recorded >= MaxRecorded;
            foreach (var entry in _entries)
            {
                if (text.Length > 0)
                {
                    text.Append("; ");
                }

                text.Append(entry.Text);
                if (entry.Outcome is { } outcome)
                {
                    text.Append(" -> ").Append(outcome);
                }
            }
        }

        if (ending is not null)
        {
            text.Append(ending);
        }

        if (cut || text.Length > MaxLength)
        {
            text.Length = Math.Min(text.Length, MaxLength - TruncatedMarker.Length);
            text.Append(TruncatedMarker);
        }

        return Clean(text.ToString(), int.MaxValue);
    }

    /// <summary>Keeps printable ASCII only (no CR, LF or other control character), and at most <paramref name="max"/> characters.</summary>
    internal static string Clean(string value, int max = MaxValue)
    {
        var length = Math.Min(value.Length, max);
        var clean = true;
        for (var i = 0; i < length && clean; i++)
        {
            clean = value[i] is >= ' ' and <= '~';
        }

        if (clean)
        {
            return length == value.Length ? value : value[..length];
        }

        return string.Create(length, value, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = source[i] is >= ' ' and <= '~' ? source[i] : '?';
            }
        });
    }

    private static string Address(EndpointLoad endpoint) => Clean(endpoint.Endpoint.Address.Authority);

    private static bool IsOn(HeaderStringValues values)
    {
        foreach (var value in values)
        {
            return value.Trim() is "1" || value.Trim().Equals("true", StringComparison.OrdinalIgnoreCase);
        }

        return false;
    }

    private void Attempt(EndpointLoad endpoint, int number, string? reason)
    {
        string? pick = null;
        lock (_lock)
        {
            for (var i = _picks.Count - 1; i >= 0; i--)
            {
                if (ReferenceEquals(_picks[i].Endpoint, endpoint))
                {
                    pick = _picks[i].Text;
                    _picks.RemoveAt(i);
                    break;
                }
            }
        }

        var why = reason is null ? "first" : Clean(reason);
        Add(string.Create(CultureInfo.InvariantCulture, $"attempt={number} {why} {pick ?? "pick=" + Address(endpoint)}"), number);
    }

    private void Outcome(int number, string outcome)
    {
        lock (_lock)
        {
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                if (_entries[i].Attempt == number)
                {
                    _entries[i].Outcome ??= Clean(outcome);
                    return;
                }
            }
        }
    }

    private void Add(string text, int attempt = 0)
    {
        lock (_lock)
        {
            // Past the bound nothing more is kept: the line says it was cut.
            if (_recorded >= MaxRecorded)
            {
                return;
            }

            _recorded += text.Length + 2;
            _entries.Add(new Entry(attempt, text));
        }
    }

    /// <summary>One decision, or one attempt and its outcome.</summary>
    private sealed class Entry(int attempt, string text)
    {
        public int Attempt => attempt;

        public string Text => text;

        public string? Outcome { get; set; }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_options")]
    private static extern ref HttpRequestOptions? OptionsField(HttpRequestMessage request);

    // HttpRequestMessage.Options creates the options on first read; the field tells without allocating for every call
    // that has none. A runtime without the field falls back to the property.
    private static HttpRequestOptions? OptionsOf(HttpRequestMessage request)
    {
        if (!s_noOptionsField)
        {
            try
            {
                return OptionsField(request);
            }
            catch (MissingFieldException)
            {
                s_noOptionsField = true;
            }
        }

        return request.Options;
    }
}
