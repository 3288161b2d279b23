using System.Globalization;
using Mesh.Configuration;
using Mesh.Retry;

namespace Mesh.Routing;

/// <summary>What a route does to its calls beside where they go: its retry, its request headers, its faults.</summary>
internal static partial class RouteOptionsValidator
{
    internal const int MaxHeaderChanges = 16;
    internal const int MaxHeaderNameLength = 256;
    internal const int MaxHeaderValueLength = 4096;
    internal static readonly TimeSpan MaxFaultDelay = TimeSpan.FromMinutes(1);

    // Headers a route may not touch: the connection's own (hop-by-hop, RFC 9110 section 7.6.1), the message's framing and
    // target, and the mesh's own, whose values the mesh sets per call.
    private static readonly HashSet<string> s_reservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "TE", "Trailer",
        "Proxy-Authenticate", "Proxy-Authorization", "Content-Length",
    };

    /// <summary>The headers HttpClient keeps on a request's content rather than on the request.</summary>
    internal static readonly HashSet<string> ContentHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location", "Content-MD5",
        "Content-Range", "Content-Type", "Expires", "Last-Modified",
    };

    private static void ValidatePolicy(RouteOptions route, string routePath, string serviceName, List<string> failures)
    {
        if (route.Retry is { } retry)
        {
            MeshOptionsValidator.ValidateRetry(retry, routePath, serviceName, failures);
            var budget = new RetryBudgetOptions();
            if (retry.Budget.Ratio != budget.Ratio || retry.Budget.MinPerSecond != budget.MinPerSecond || retry.Budget.Window != budget.Window)
            {
                failures.Add($"{routePath}:Retry:Budget: a route's retries draw on the budget of service '{serviceName}'; set Retry:Budget on the service instead.");
            }
        }

        ValidateHeaders(route.RequestHeaders, $"{routePath}:RequestHeaders", serviceName, failures);
        if (route.Fault is { } fault)
        {
            ValidateFault(fault, $"{routePath}:Fault", serviceName, failures);
        }
    }

    private static void ValidateHeaders(RouteHeadersOptions headers, string path, string serviceName, List<string> failures)
    {
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        void Name(string? name, string list, string itemPath)
        {
            if (HeaderNameProblem(name) is { } problem)
            {
                failures.Add($"{itemPath}: '{name}' {problem} (service '{serviceName}').");
            }
            else if (!seen.TryAdd(name!, list))
            {
                failures.Add($"{itemPath}: '{name}' is also in {seen[name!]}; a header may be in one of Add, Set and Remove only (service '{serviceName}').");
            }
        }

        void Values(IDictionary<string, string> values, string list)
        {
            if (values.Count > MaxHeaderChanges)
            {
                failures.Add($"{path}:{list}: {values.Count} headers for service '{serviceName}'; at most {MaxHeaderChanges}.");
                return;
            }

            foreach (var (name, value) in values)
            {
                var itemPath = $"{path}:{list}:{name}";
                Name(name, list, itemPath);
                // Printable ASCII and spaces only: HttpClient refuses to send anything else without an encoding chosen per header.
                if (value is null || value.Length > MaxHeaderValueLength || value.Any(c => c is < ' ' or > '~'))
                {
                    failures.Add($"{itemPath}: the value must be at most {MaxHeaderValueLength} characters of printable ASCII, without control characters (no CR, LF, tab or NUL) (service '{serviceName}').");
                }
            }
        }

        if (headers.Remove.Count > MaxHeaderChanges)
        {
            failures.Add($"{path}:Remove: {headers.Remove.Count} headers for service '{serviceName}'; at most {MaxHeaderChanges}.");
        }
        else
        {
            for (var i = 0; i < headers.Remove.Count; i++)
            {
                Name(headers.Remove[i], "Remove", $"{path}:Remove:{i}");
            }
        }

        Values(headers.Set, "Set");
        Values(headers.Add, "Add");
    }

    /// <summary>Why a route may not change the header <paramref name="name"/>, or <see langword="null"/> when it may.</summary>
    internal static string? HeaderNameProblem(string? name) =>
        name is not { Length: > 0 and <= MaxHeaderNameLength } || !name.All(IsTokenChar) ? $"is not a header name (1 to {MaxHeaderNameLength} token characters)"
        : name.StartsWith("mesh-", StringComparison.OrdinalIgnoreCase) ? "is a header the mesh sets itself (mesh-*)"
        : s_reservedHeaders.Contains(name) ? "is a header of the connection or the message framing, which a route may not change"
        : null;

    private static void ValidateFault(RouteFaultOptions fault, string path, string serviceName, List<string> failures)
    {
        if (fault.Delay is null && fault.Abort is null)
        {
            failures.Add($"{path}: the fault has neither Delay nor Abort (service '{serviceName}').");
        }

        if (fault.Delay is { } delay)
        {
            CheckPercent(delay.Percent, $"{path}:Delay:Percent", serviceName, failures);
            if (delay.Duration <= TimeSpan.Zero || delay.Duration > MaxFaultDelay)
            {
                failures.Add($"{path}:Delay:Duration: {delay.Duration.ToString("c", CultureInfo.InvariantCulture)} is out of range for service '{serviceName}' (more than 0, at most 1 minute).");
            }
        }

        if (fault.Abort is { } abort)
        {
            CheckPercent(abort.Percent, $"{path}:Abort:Percent", serviceName, failures);
            if (abort.HttpStatus is null == abort.GrpcStatus is null)
            {
                failures.Add($"{path}:Abort: set exactly one of HttpStatus and GrpcStatus (service '{serviceName}').");
            }

            if (abort.HttpStatus is { } http and not (>= 200 and <= 599))
            {
                failures.Add($"{path}:Abort:HttpStatus: {http} is out of range for service '{serviceName}' (200 to 599).");
            }

            if (abort.GrpcStatus is { } grpc and not (>= 1 and <= 16))
            {
                failures.Add($"{path}:Abort:GrpcStatus: {grpc} is out of range for service '{serviceName}' (1 to 16; 0 is OK, not a fault).");
            }
        }
    }

    private static void CheckPercent(double percent, string path, string serviceName, List<string> failures)
    {
        if (double.IsNaN(percent) || percent is < 0 or > 100)
        {
            failures.Add($"{path}: {percent.ToString(CultureInfo.InvariantCulture)} is out of range for service '{serviceName}' (0 to 100).");
        }
    }
}
