using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Mesh.Utilities;

namespace Mesh.Routing;

/// <summary>
/// A service's routes, compiled and ranked once per snapshot: the Gateway API's HTTPRoute precedence (an exact path,
/// then the longer prefix, then a method, then more header conditions, then more query conditions, then list order; a
/// regular expression ranks as the prefix <c>/</c>, as no path condition does). <see cref="Match"/> returns the first
/// route that matches, or none for the service's default destination. Destinations are named by index into
/// <see cref="Subsets"/>, whose first entry is every endpoint, so the catalog builds one concrete destination per entry.
/// </summary>
internal sealed class RouteTable
{
    private readonly Route[] _routes;

    private RouteTable(Route[] routes, IReadOnlyList<IReadOnlyDictionary<string, string>> subsets, IReadOnlyList<string?> services)
    {
        _routes = routes;
        Subsets = subsets;
        SubsetServices = services;
    }

    /// <summary>Gets the label sets the routes name, the first being the empty set (every endpoint).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> Subsets { get; }

    /// <summary>
    /// Gets, for each entry of <see cref="Subsets"/>, the other service whose endpoints it selects, or
    /// <see langword="null"/> for this service's own (a destination or mirror naming the service itself counts as its own).
    /// </summary>
    public IReadOnlyList<string?> SubsetServices { get; }

    /// <summary>Gets the routes in the order they are tried.</summary>
    public IReadOnlyList<Route> Routes => _routes;

    /// <summary>Compiles validated routes; <see langword="null"/> when there are none, so such a service's calls skip routing.</summary>
    public static RouteTable? Create(IList<RouteOptions> routes, MeshRandom random, string? self = null)
    {
        if (routes.Count == 0)
        {
            return null;
        }

        var subsets = new List<IReadOnlyDictionary<string, string>> { new Dictionary<string, string>(StringComparer.Ordinal) };
        var services = new List<string?> { null };
        var compiled = new Route[routes.Count];
        for (var i = 0; i < routes.Count; i++)
        {
            var options = routes[i];
            var indices = new int[options.Destinations.Count];
            var weights = new int[options.Destinations.Count];
            for (var d = 0; d < indices.Length; d++)
            {
                indices[d] = IndexOf(subsets, services, OtherService(options.Destinations[d].Service, self), options.Destinations[d].Labels);
                weights[d] = options.Destinations[d].Weight;
            }

            var mirror = options.Mirror is { } m ? IndexOf(subsets, services, OtherService(m.Service, self), m.Labels) : -1;
            compiled[i] = new Route(options.Name ?? $"#{i}", i, options.Match, indices, weights, options.Timeout, random, options.Mirror, mirror);
        }

        Array.Sort(compiled, Route.Precedence);
        return new RouteTable(compiled, subsets, services);
    }

    /// <summary>The other service a destination or mirror names: <see langword="null"/> for none, or for this service itself.</summary>
    private static string? OtherService(string? service, string? self) =>
        service is null || string.Equals(service, self, StringComparison.OrdinalIgnoreCase) ? null : service;

    /// <summary>Finds the first route, in precedence order, whose every condition <paramref name="request"/> meets.</summary>
    public Route? Match(HttpRequestMessage request)
    {
        foreach (var route in _routes)
        {
            if (route.Matches(request))
            {
                return route;
            }
        }

        return null;
    }

    private static int IndexOf(List<IReadOnlyDictionary<string, string>> subsets, List<string?> services, string? service, IDictionary<string, string> labels)
    {
        for (var i = 0; i < subsets.Count; i++)
        {
            if (string.Equals(services[i], service, StringComparison.OrdinalIgnoreCase) && subsets[i].Count == labels.Count && labels.All(l => subsets[i].TryGetValue(l.Key, out var v) && v == l.Value))
            {
                return i;
            }
        }

        subsets.Add(new Dictionary<string, string>(labels, StringComparer.Ordinal));
        services.Add(service);
        return subsets.Count - 1;
    }

    /// <summary>One compiled route: its conditions, its destinations by cumulative weight, its timeout.</summary>
    internal sealed class Route
    {
        private readonly int _index;
        private readonly PathKind _pathKind;
        private readonly string? _path;
        private readonly Regex? _pathRegex;
        private readonly string? _method;
        private readonly ValueMatch[] _headers;
        private readonly ValueMatch[] _query;
        private readonly int[] _destinations;
        private readonly int[] _cumulative;
        private readonly MeshRandom _random;

        public Route(string name, int index, RouteMatchOptions match, int[] destinations, int[] weights, TimeSpan? timeout, MeshRandom random, RouteMirrorOptions? mirror = null, int mirrorSubset = -1)
        {
            Name = name;
            _index = index;
            Mirror = mirror;
            MirrorSubset = mirrorSubset;
            Timeout = timeout;
            _random = random;
            (_pathKind, _path, _pathRegex) = match.Path.Value is not { } value ? (PathKind.Prefix, "/", null) : RouteMatchTypeNames.Canonical(match.Path.Type) switch
            {
                RouteMatchTypeNames.Exact => (PathKind.Exact, value, null),
                RouteMatchTypeNames.Regex => (PathKind.Regex, value, RouteOptionsValidator.CompileRegex(value)),
                _ => (PathKind.Prefix, value.Length > 1 ? value.TrimEnd('/') : value, (Regex?)null),
            };
            _method = match.Method;
            _headers = [.. match.Headers.Select(ValueMatch.Create)];
            _query = [.. match.QueryParameters.Select(ValueMatch.Create)];
            _destinations = destinations;
            _cumulative = new int[weights.Length];
            var total = 0;
            for (var i = 0; i < weights.Length; i++)
            {
                total += weights[i];
                _cumulative[i] = total;
            }
        }

        public string Name { get; }

        /// <summary>Gets the route's place in the service's <c>Routes</c> list, as configured.</summary>
        public int Index => _index;

        public TimeSpan? Timeout { get; }

        /// <summary>Gets where copies of the route's requests go, or <see langword="null"/>.</summary>
        public RouteMirrorOptions? Mirror { get; }

        /// <summary>Gets the entry of the table's subsets that receives the copies; -1 without a mirror.</summary>
        public int MirrorSubset { get; }

        /// <summary>Ranks routes: the one to try first sorts first.</summary>
        public static int Precedence(Route a, Route b)
        {
            // Exact before any prefix; a longer prefix before a shorter; a regular expression as the prefix "/".
            var byPath = (b._pathKind == PathKind.Exact).CompareTo(a._pathKind == PathKind.Exact);
            if (byPath == 0)
            {
                byPath = b.PrefixLength.CompareTo(a.PrefixLength);
            }

            return byPath != 0 ? byPath
                : (b._method is not null).CompareTo(a._method is not null) is var byMethod and not 0 ? byMethod
                : b._headers.Length.CompareTo(a._headers.Length) is var byHeaders and not 0 ? byHeaders
                : b._query.Length.CompareTo(a._query.Length) is var byQuery and not 0 ? byQuery
                : a._index.CompareTo(b._index);
        }

        /// <summary>Gets the sum of the destinations' weights, the range of the draw.</summary>
        public int TotalWeight => _cumulative.Length == 0 ? 0 : _cumulative[^1];

        /// <summary>Picks a destination (an index into the table's subsets) by weight; the service's default without destinations.</summary>
        public int Pick() => Pick(out _);

        /// <summary>Picks as <see cref="Pick()"/> does, and tells the draw in [0, <see cref="TotalWeight"/>), or -1 when there was none to make.</summary>
        public int Pick(out int draw)
        {
            draw = -1;
            if (_destinations.Length == 0)
            {
                return 0;
            }

            if (_destinations.Length == 1)
            {
                return _destinations[0];
            }

            draw = _random.Next(_cumulative[^1]);
            for (var i = 0; ; i++)
            {
                // A weight 0 leaves its cumulative equal to the one before, so the draw never lands on it.
                if (draw < _cumulative[i])
                {
                    return _destinations[i];
                }
            }
        }

        /// <summary>Whether the route sends requests, or copies of them, to entry <paramref name="subset"/> of the table's subsets.</summary>
        public bool Uses(int subset) => MirrorSubset == subset || Array.IndexOf(_destinations, subset) >= 0;

        public bool Matches(HttpRequestMessage request)
        {
            var uri = request.RequestUri!;
            if (_method is not null && !string.Equals(request.Method.Method, _method, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if (_path is not "/" || _pathKind != PathKind.Prefix)
            {
                if (!PathMatches(uri.AbsolutePath))
                {
                    return false;
                }
            }

            foreach (var header in _headers)
            {
                if (!HeaderMatches(request, header))
                {
                    return false;
                }
            }

            if (_query.Length > 0)
            {
                var query = ParseQuery(uri.Query);
                foreach (var condition in _query)
                {
                    if (!query.Any(p => p.Name == condition.Name && condition.Matches(p.Value)))
                    {
                        return false;
                    }
                }
            }

            return true;
        }

        private int PrefixLength => _pathKind == PathKind.Prefix ? _path!.Length : 1;

        private bool PathMatches(string path) => _pathKind switch
        {
            PathKind.Exact => path == _path,
            PathKind.Regex => _pathRegex!.IsMatch(path),

            // By whole segments: "/api" takes "/api", "/api/" and "/api/x", not "/apix".
            _ => _path == "/" || (path.StartsWith(_path!, StringComparison.Ordinal) && (path.Length == _path!.Length || path[_path.Length] == '/')),
        };

        private static bool HeaderMatches(HttpRequestMessage request, ValueMatch condition)
        {
            if (request.Headers.NonValidated.TryGetValues(condition.Name, out var values) && AnyMatches(values, condition))
            {
                return true;
            }

            return request.Content is { } content && content.Headers.NonValidated.TryGetValues(condition.Name, out var contentValues) && AnyMatches(contentValues, condition);
        }

        private static bool AnyMatches(HeaderStringValues values, ValueMatch condition)
        {
            foreach (var value in values)
            {
                if (condition.Matches(value))
                {
                    return true;
                }
            }

            return false;
        }

        private static List<(string Name, string Value)> ParseQuery(string query)
        {
            var pairs = new List<(string, string)>();
            foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = part.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? part : part[..equals];
                var value = equals < 0 ? string.Empty : part[(equals + 1)..];
                pairs.Add((Unescape(name), Unescape(value)));
            }

            return pairs;
        }

        private static string Unescape(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));
    }

    private enum PathKind
    {
        Exact,
        Prefix,
        Regex,
    }

    /// <summary>One compiled header or query parameter condition.</summary>
    internal sealed class ValueMatch(string name, string type, string? value, Regex? regex)
    {
        public string Name => name;

        public static ValueMatch Create(RouteValueMatchOptions options)
        {
            var type = RouteMatchTypeNames.Canonical(options.Type)!;
            return new ValueMatch(options.Name!, type, options.Value, type == RouteMatchTypeNames.Regex ? RouteOptionsValidator.CompileRegex(options.Value!) : null);
        }

        public bool Matches(string actual) => type switch
        {
            RouteMatchTypeNames.Present => true,
            RouteMatchTypeNames.Prefix => actual.StartsWith(value!, StringComparison.Ordinal),
            RouteMatchTypeNames.Regex => regex!.IsMatch(actual),
            _ => actual == value,
        };
    }
}
