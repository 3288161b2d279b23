using System.Globalization;
using System.Text.RegularExpressions;

namespace Mesh.Routing;

/// <summary>
/// Checks a service's routes for <c>MeshOptionsValidator</c>, naming the field of each failure
/// (<c>Mesh:Services:inventory:Routes:0:Destinations:1:Weight</c>), and bounds what a route may hold.
/// </summary>
internal static partial class RouteOptionsValidator
{
    internal const int MaxRoutes = 64;
    internal const int MaxConditions = 16;
    internal const int MaxDestinations = 16;
    internal const int MaxWeight = 10_000;
    internal const int MaxValueLength = 1024;

    /// <summary>
    /// Compiles a route's expression the one way: whole value, no backtracking, so its time is linear in the value and no
    /// pattern can stall a call. No match timeout: a wall-clock limit would turn a busy machine's slow first match (the
    /// engine builds its automaton lazily) into a silent "no match" and send the request elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">The expression is not valid.</exception>
    /// <exception cref="NotSupportedException">The expression needs backtracking (back-references, look-arounds).</exception>
    internal static Regex CompileRegex(string pattern) =>
        new($@"\A(?:{pattern})\z", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, Regex.InfiniteMatchTimeout);

    public static void Validate(IList<RouteOptions> routes, string path, string serviceName, List<string> failures)
    {
        if (routes.Count > MaxRoutes)
        {
            failures.Add($"{path}: {routes.Count} routes for service '{serviceName}'; at most {MaxRoutes}.");
            return;
        }

        for (var i = 0; i < routes.Count; i++)
        {
            var routePath = $"{path}:{i}";
            if (routes[i] is not { } route)
            {
                failures.Add($"{routePath}: the route has no settings (service '{serviceName}').");
                continue;
            }

            if (route.Name is { Length: 0 or > 128 } name)
            {
                failures.Add($"{routePath}:Name: '{name}' must be 1 to 128 characters (service '{serviceName}').");
            }

            ValidatePath(route.Match.Path, $"{routePath}:Match:Path", serviceName, failures);
            if (route.Match.Method is { } method && (method.Length is 0 or > 32 || !method.All(char.IsAsciiLetterUpper)))
            {
                failures.Add($"{routePath}:Match:Method: '{method}' is not an HTTP method in capitals, such as GET (service '{serviceName}').");
            }

            ValidateValues(route.Match.Headers, $"{routePath}:Match:Headers", serviceName, header: true, failures);
            ValidateValues(route.Match.QueryParameters, $"{routePath}:Match:QueryParameters", serviceName, header: false, failures);
            ValidateDestinations(route.Destinations, $"{routePath}:Destinations", serviceName, failures);
            RouteMirrorOptionsValidator.Validate(route.Mirror, $"{routePath}:Mirror", serviceName, failures);
            if (route.Timeout is { } timeout && (timeout <= TimeSpan.Zero || timeout > TimeSpan.FromDays(1)))
            {
                failures.Add($"{routePath}:Timeout: {timeout.ToString("c", CultureInfo.InvariantCulture)} is out of range for service '{serviceName}' (more than 0, at most 1 day).");
            }

            ValidatePolicy(route, routePath, serviceName, failures);
        }
    }

    private static void ValidatePath(RoutePathMatchOptions match, string path, string serviceName, List<string> failures)
    {
        var type = RouteMatchTypeNames.Canonical(match.Type);
        if (type is null or RouteMatchTypeNames.Present)
        {
            failures.Add($"{path}:Type: '{match.Type}' is not a path match for service '{serviceName}' (known: {RouteMatchTypeNames.Exact}, {RouteMatchTypeNames.Prefix}, {RouteMatchTypeNames.Regex}).");
            return;
        }

        if (match.Value is not { } value)
        {
            return;
        }

        if (value.Length is 0 or > MaxValueLength)
        {
            failures.Add($"{path}:Value: the path is empty or longer than {MaxValueLength} characters (service '{serviceName}').");
        }
        else if (type == RouteMatchTypeNames.Regex)
        {
            CheckRegex(value, $"{path}:Value", serviceName, failures);
        }
        else if (value[0] != '/' || value.Any(c => char.IsControl(c) || c is ' ' or '?' or '#'))
        {
            failures.Add($"{path}:Value: '{value}' is not a path: it must start with '/' and hold no space, control character, '?' or '#' (service '{serviceName}').");
        }
    }

    private static void ValidateValues(IList<RouteValueMatchOptions> matches, string path, string serviceName, bool header, List<string> failures)
    {
        if (matches.Count > MaxConditions)
        {
            failures.Add($"{path}: {matches.Count} conditions for service '{serviceName}'; at most {MaxConditions}.");
            return;
        }

        for (var i = 0; i < matches.Count; i++)
        {
            var itemPath = $"{path}:{i}";
            if (matches[i] is not { } match)
            {
                failures.Add($"{itemPath}: the condition has no settings (service '{serviceName}').");
                continue;
            }

            if (match.Name is not { Length: > 0 and <= 256 } name || (header ? !name.All(IsTokenChar) : name.Any(char.IsControl)))
            {
                failures.Add($"{itemPath}:Name: '{match.Name}' is not a {(header ? "header" : "query parameter")} name (service '{serviceName}').");
            }

            var type = RouteMatchTypeNames.Canonical(match.Type);
            if (type is null)
            {
                failures.Add($"{itemPath}:Type: '{match.Type}' is not a match type for service '{serviceName}' (known: {string.Join(", ", RouteMatchTypeNames.All)}).");
            }
            else if (type == RouteMatchTypeNames.Present)
            {
                if (match.Value is not null)
                {
                    failures.Add($"{itemPath}:Value: a '{RouteMatchTypeNames.Present}' condition takes no value (service '{serviceName}').");
                }
            }
            else if (match.Value is not { Length: <= MaxValueLength } value)
            {
                failures.Add($"{itemPath}:Value: a '{type}' condition needs a value of at most {MaxValueLength} characters (service '{serviceName}').");
            }
            else if (type == RouteMatchTypeNames.Regex)
            {
                CheckRegex(value, $"{itemPath}:Value", serviceName, failures);
            }
        }
    }

    private static void ValidateDestinations(IList<RouteDestinationOptions> destinations, string path, string serviceName, List<string> failures)
    {
        if (destinations.Count > MaxDestinations)
        {
            failures.Add($"{path}: {destinations.Count} destinations for service '{serviceName}'; at most {MaxDestinations}.");
            return;
        }

        var total = 0;
        for (var i = 0; i < destinations.Count; i++)
        {
            var itemPath = $"{path}:{i}";
            if (destinations[i] is not { } destination)
            {
                failures.Add($"{itemPath}: the destination has no settings (service '{serviceName}').");
                continue;
            }

            if (destination.Weight is < 0 or > MaxWeight)
            {
                failures.Add($"{itemPath}:Weight: {destination.Weight} is out of range for service '{serviceName}' (0 to {MaxWeight}; 0 drains the destination).");
            }
            else
            {
                total += destination.Weight;
            }

            RouteMirrorOptionsValidator.ValidateServiceName(destination.Service, $"{itemPath}:Service", serviceName, failures);
            foreach (var (key, value) in destination.Labels)
            {
                if (key.Length is 0 or > 256 || value is null || value.Length > 256)
                {
                    failures.Add($"{itemPath}:Labels:{key}: a label's name must be 1 to 256 characters and its value at most 256 (service '{serviceName}').");
                }
            }
        }

        if (destinations.Count > 0 && total == 0)
        {
            failures.Add($"{path}: every destination of the route has weight 0 (service '{serviceName}'), so none could receive its requests.");
        }
    }

    private static void CheckRegex(string pattern, string path, string serviceName, List<string> failures)
    {
        try
        {
            _ = CompileRegex(pattern);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            failures.Add($"{path}: '{pattern}' is not a regular expression that can run without backtracking (service '{serviceName}'): {ex.Message}");
        }
    }

    // RFC 9110 token characters.
    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
}
