using System.Globalization;
using Mesh.Configuration;

namespace Mesh.Routing;

/// <summary>Checks a route's <see cref="RouteMirrorOptions"/> and the service names routes give, naming the field of each failure.</summary>
internal static class RouteMirrorOptionsValidator
{
    internal const int MaxConcurrentLimit = 1024;

    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(1);

    public static void Validate(RouteMirrorOptions? mirror, string path, string serviceName, List<string> failures)
    {
        if (mirror is null)
        {
            return;
        }

        ValidateServiceName(mirror.Service, $"{path}:Service", serviceName, failures);
        if (mirror.Service is null && mirror.Labels.Count == 0)
        {
            failures.Add($"{path}: the mirror names neither a service nor labels, so it would copy every request to the endpoints that answer it (service '{serviceName}').");
        }

        foreach (var (key, value) in mirror.Labels)
        {
            if (key.Length is 0 or > 256 || value is null || value.Length > 256)
            {
                failures.Add($"{path}:Labels:{key}: a label's name must be 1 to 256 characters and its value at most 256 (service '{serviceName}').");
            }
        }

        if (double.IsNaN(mirror.Percent) || mirror.Percent is < 0 or > 100)
        {
            failures.Add($"{path}:Percent: {mirror.Percent.ToString(CultureInfo.InvariantCulture)} is out of range for service '{serviceName}' (0 to 100).");
        }

        if (mirror.Timeout <= TimeSpan.Zero || mirror.Timeout > MaxTimeout)
        {
            failures.Add($"{path}:Timeout: {mirror.Timeout.ToString("c", CultureInfo.InvariantCulture)} is out of range for service '{serviceName}' (more than 0, at most 1 minute).");
        }

        if (mirror.MaxConcurrent is < 1 or > MaxConcurrentLimit)
        {
            failures.Add($"{path}:MaxConcurrent: {mirror.MaxConcurrent} is out of range for service '{serviceName}' (1 to {MaxConcurrentLimit}).");
        }
    }

    /// <summary>Checks a service name a route gives (a destination's or a mirror's): a host name, as the names of services are.</summary>
    public static void ValidateServiceName(string? name, string path, string serviceName, List<string> failures)
    {
        if (name is not null && !MeshOptionsValidator.IsServiceName(name))
        {
            var shown = name.Length > 64 ? name[..64] + "…" : name;
            failures.Add($"{path}: '{shown}' is not a valid service name (letters, digits, '-' and '.', as in a host name; at most 253 characters) (service '{serviceName}').");
        }
    }
}
