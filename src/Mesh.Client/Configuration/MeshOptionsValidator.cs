using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.Options;

namespace Mesh.Configuration;

/// <summary>
/// The one validator of mesh options. Every failure names the configuration path of the field, the service and the
/// value, such as <c>Mesh:Services:inventory:Endpoints:1:Weight: -2 is negative</c>.
/// </summary>
internal sealed class MeshOptionsValidator : IValidateOptions<MeshOptions>
{
    public const string Section = "Mesh";

    public ValidateOptionsResult Validate(string? name, MeshOptions options)
    {
        var failures = new List<string>();
        if (options.BindingError is { } bindingError)
        {
            failures.Add($"{Section}: the configuration could not be read: {bindingError}");
        }

        foreach (var (serviceName, service) in options.Services)
        {
            ValidateService(serviceName, service, failures);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateService(string serviceName, MeshServiceOptions? service, List<string> failures)
    {
        var path = $"{Section}:Services:{serviceName}";
        if (!IsServiceName(serviceName))
        {
            failures.Add($"{path}: '{serviceName}' is not a valid service name (letters, digits, '-' and '.', as in a host name).");
        }

        if (service is null)
        {
            failures.Add($"{path}: the service has no settings.");
            return;
        }

        if (!LoadBalancerFactory.IsKnown(service.LoadBalancer))
        {
            failures.Add($"{path}:LoadBalancer: '{service.LoadBalancer}' is not a known load balancer for service '{serviceName}' (known: {string.Join(", ", LoadBalancerNames.All)}).");
        }

        if (service.RingHash.PointsPerWeight is < 1 or > RingHashOptions.MaxPointsPerWeight)
        {
            failures.Add($"{path}:RingHash:PointsPerWeight: {service.RingHash.PointsPerWeight} is out of range for service '{serviceName}' (1 to {RingHashOptions.MaxPointsPerWeight}).");
        }

        var positive = false;
        var addresses = new HashSet<Uri>();
        for (var i = 0; i < service.Endpoints.Count; i++)
        {
            var endpoint = service.Endpoints[i];
            var endpointPath = $"{path}:Endpoints:{i}";
            if (endpoint is null)
            {
                failures.Add($"{endpointPath}: the endpoint has no settings.");
                continue;
            }

            var address = EndpointAddress.TryParse(endpoint.Address, out var problem);
            if (address is null)
            {
                failures.Add($"{endpointPath}:Address: '{endpoint.Address}' {problem} (service '{serviceName}').");
            }
            else if (!addresses.Add(address))
            {
                failures.Add($"{endpointPath}:Address: '{endpoint.Address}' is listed twice for service '{serviceName}'.");
            }

            if (endpoint.Weight < 0)
            {
                failures.Add($"{endpointPath}:Weight: {endpoint.Weight} is negative (service '{serviceName}'); use 0 to drain an endpoint.");
            }

            positive |= endpoint.Weight > 0;
        }

        if (service.Endpoints.Count > 0 && !positive)
        {
            failures.Add($"{path}:Endpoints: every endpoint of service '{serviceName}' has weight 0, so none could receive traffic.");
        }
    }

    private static bool IsServiceName(string name)
    {
        if (name.Length is 0 or > 253 || name[0] is '-' or '.' || name[^1] is '-' or '.')
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '.')
            {
                return false;
            }
        }

        return true;
    }
}
