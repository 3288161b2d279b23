using Mesh.Authorization;
using Mesh.Balancing;
using Mesh.ControlPlane;
using Mesh.Discovery;
using Mesh.Identity;
using Mesh.Retry;
using Mesh.Routing;
using Microsoft.Extensions.Options;

namespace Mesh.Configuration;

/// <summary>
/// The one validator of mesh options. Every failure names the configuration path of the field, the service and the
/// value, such as <c>Mesh:Services:inventory:Endpoints:1:Weight: -2 is negative</c>.
/// </summary>
internal sealed class MeshOptionsValidator : IValidateOptions<MeshOptions>
{
    public const string Section = "Mesh";

    // Bounds that keep every duration far from TimeSpan's range, so no arithmetic on them (backoff · 2^n) overflows.
    private static readonly TimeSpan s_maxDuration = TimeSpan.FromDays(1);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, MeshOptions options)
    {
        var failures = new List<string>();
        failures.AddRange(options.UnknownKeys);
        if (options.BindingError is { } bindingError)
        {
            failures.Add($"{Section}: the configuration could not be read: {bindingError}");
        }

        if (options.ServiceName is { } own && !IsServiceName(own))
        {
            failures.Add($"{Section}:ServiceName: '{own}' is not a valid service name (letters, digits, '-' and '.', as in a host name).");
        }

        if (!OutboundTrafficPolicyNames.All.Contains(options.OutboundTrafficPolicy, StringComparer.OrdinalIgnoreCase))
        {
            failures.Add($"{Section}:OutboundTrafficPolicy: '{options.OutboundTrafficPolicy}' is not a policy ({string.Join(", ", OutboundTrafficPolicyNames.All)}).");
        }

        if (options.ServiceDomains.Count > MaxServiceDomains)
        {
            failures.Add($"{Section}:ServiceDomains: {options.ServiceDomains.Count} domains; at most {MaxServiceDomains}.");
        }

        for (var i = 0; i < options.ServiceDomains.Count; i++)
        {
            if (ServiceDomainProblem(options.ServiceDomains[i]) is { } domainProblem)
            {
                failures.Add($"{Section}:ServiceDomains:{i}: {domainProblem}");
            }
        }

        if (options.Zone is { } zone && ZoneProblem(zone) is { } zoneProblem)
        {
            failures.Add($"{Section}:Zone: {zoneProblem}");
        }

        ValidateControlPlane(options.ControlPlane, failures);
        IdentityOptionsValidator.Validate(options.Identity, $"{Section}:Identity", failures);
        AuthorizationOptionsValidator.Validate(options.Authorization, $"{Section}:Authorization", failures);
        if (string.Equals(options.Identity.Source, IdentitySourceNames.Meshd, StringComparison.OrdinalIgnoreCase))
        {
            if (!options.ControlPlane.IsEnabled)
            {
                failures.Add($"{Section}:Identity:Source: 'meshd' needs the control plane: set {Section}:ControlPlane:Address.");
            }

            if (options.ServiceName is null)
            {
                failures.Add($"{Section}:Identity:Source: 'meshd' needs {Section}:ServiceName, the service whose identity this workload gets.");
            }
        }
        if (options.Mtls.Mode is { } meshMode && !MtlsModeNames.IsKnown(meshMode))
        {
            failures.Add($"{Section}:Mtls:Mode: '{meshMode}' is not a mode (known: {string.Join(", ", MtlsModeNames.All)}).");
        }

        foreach (var (serviceName, service) in options.Services)
        {
            ValidateService(serviceName, service, failures);
        }

        DiscoveryOptionsValidator.Validate(options, Section, failures);

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateControlPlane(ControlPlaneOptions controlPlane, List<string> failures)
    {
        const string path = $"{Section}:ControlPlane";
        foreach (var address in controlPlane.AllAddresses())
        {
            if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || uri.Query.Length != 0 || uri.Fragment.Length != 0 || uri.UserInfo.Length != 0)
            {
                failures.Add($"{path}:Address: '{address}' is not an absolute http or https URI without query, fragment or user info.");
            }
        }

        if (controlPlane.Token is { } token && (token.Length == 0 || token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            // The token itself is never repeated in a message.
            failures.Add($"{path}:Token: the token is empty or holds white space or control characters.");
        }

        if (controlPlane.WaitTime < TimeSpan.FromSeconds(1) || controlPlane.WaitTime > TimeSpan.FromSeconds(60))
        {
            failures.Add($"{path}:WaitTime: {Format(controlPlane.WaitTime)} is out of range (1 to 60 seconds, the most the control plane waits).");
        }

        if (controlPlane.StartupWait < TimeSpan.Zero || controlPlane.StartupWait > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{path}:StartupWait: {Format(controlPlane.StartupWait)} is out of range (0 to 5 minutes).");
        }

        if (controlPlane.TrustedCertificatesPath is { } trusted && (string.IsNullOrWhiteSpace(trusted) || trusted.IndexOfAny(Path.GetInvalidPathChars()) >= 0 || !File.Exists(trusted)))
        {
            failures.Add($"{path}:TrustedCertificatesPath: '{trusted}' is not a readable file.");
        }

        if (controlPlane.CacheDirectory is { } directory && (string.IsNullOrWhiteSpace(directory) || directory.IndexOfAny(Path.GetInvalidPathChars()) >= 0))
        {
            failures.Add($"{path}:CacheDirectory: '{directory}' is not a usable directory path.");
        }
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

        if (!LoadBalancerNames.IsKnown(service.LoadBalancer))
        {
            failures.Add($"{path}:LoadBalancer: '{service.LoadBalancer}' is not a known load balancer for service '{serviceName}' (known: {string.Join(", ", LoadBalancerNames.All)}).");
        }

        if (service.RingHash.PointsPerWeight is < 1 or > RingHashOptions.MaxPointsPerWeight)
        {
            failures.Add($"{path}:RingHash:PointsPerWeight: {service.RingHash.PointsPerWeight} is out of range for service '{serviceName}' (1 to {RingHashOptions.MaxPointsPerWeight}).");
        }

        if (service.ZoneAware.MinHealthyPercent is < 0 or > 100)
        {
            failures.Add($"{path}:ZoneAware:MinHealthyPercent: {service.ZoneAware.MinHealthyPercent} is out of range for service '{serviceName}' (0 to 100).");
        }

        ValidateResilience(path, serviceName, service, failures);
        if (service.Mtls.Mode is not null && !MtlsModeNames.IsKnown(service.Mtls.Mode))
        {
            failures.Add($"{path}:Mtls:Mode: '{service.Mtls.Mode}' is not a mode for service '{serviceName}' (known: {string.Join(", ", MtlsModeNames.All)}).");
        }

        AuthorizationOptionsValidator.Validate(service.Authorization, $"{path}:Authorization", serviceName, failures);
        RouteOptionsValidator.Validate(service.Routes, $"{path}:Routes", serviceName, failures);
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

            if (endpoint.Identity is { } identity && !SpiffeId.TryParse(identity, out _, out var identityProblem))
            {
                failures.Add($"{endpointPath}:Identity: '{identity}' is not a SPIFFE ID (service '{serviceName}'): {identityProblem}.");
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

    private static void ValidateResilience(string path, string serviceName, MeshServiceOptions service, List<string> failures)
    {
        void Check(bool valid, string field, object? value, string rule)
        {
            if (!valid)
            {
                failures.Add($"{path}:{field}: {Format(value)} is out of range for service '{serviceName}' ({rule}).");
            }
        }

        Check(service.Timeout > TimeSpan.Zero && service.Timeout <= TimeSpan.FromDays(1), "Timeout", service.Timeout, "more than 0, at most 1 day");
        if (service.AttemptTimeout is { } attempt)
        {
            Check(attempt > TimeSpan.Zero && attempt <= service.Timeout, "AttemptTimeout", attempt, "more than 0, at most Timeout");
        }

        ValidateRetry(service.Retry, path, serviceName, failures);

        var outliers = service.OutlierDetection;
        Check(outliers.ConsecutiveFailures >= 1, "OutlierDetection:ConsecutiveFailures", outliers.ConsecutiveFailures, "1 or more");
        Check(outliers.BaseEjectionTime > TimeSpan.Zero && outliers.BaseEjectionTime <= s_maxDuration, "OutlierDetection:BaseEjectionTime", outliers.BaseEjectionTime, "more than 0, at most 1 day");
        Check(outliers.MaxEjectionTime >= outliers.BaseEjectionTime && outliers.MaxEjectionTime <= s_maxDuration, "OutlierDetection:MaxEjectionTime", outliers.MaxEjectionTime, "at least BaseEjectionTime, at most 1 day");
        Check(outliers.MaxEjectionPercent is >= 0 and <= 100, "OutlierDetection:MaxEjectionPercent", outliers.MaxEjectionPercent, "0 to 100");

        var breaker = service.CircuitBreaker;
        Check(breaker.FailureRatio is > 0 and <= 1, "CircuitBreaker:FailureRatio", breaker.FailureRatio, "more than 0, at most 1");
        Check(breaker.MinimumThroughput >= 2, "CircuitBreaker:MinimumThroughput", breaker.MinimumThroughput, "2 or more");
        Check(breaker.SamplingDuration >= TimeSpan.FromMilliseconds(500) && breaker.SamplingDuration <= TimeSpan.FromDays(1), "CircuitBreaker:SamplingDuration", breaker.SamplingDuration, "500 ms to 1 day");
        Check(breaker.BreakDuration >= TimeSpan.FromMilliseconds(500) && breaker.BreakDuration <= TimeSpan.FromDays(1), "CircuitBreaker:BreakDuration", breaker.BreakDuration, "500 ms to 1 day");

        if (service.Hedging is { } hedging)
        {
            Check(hedging.Delay >= TimeSpan.Zero && hedging.Delay <= s_maxDuration, "Hedging:Delay", hedging.Delay, "0 to 1 day");
            Check(hedging.MaxAttempts is >= 2 and <= 10, "Hedging:MaxAttempts", hedging.MaxAttempts, "2 to 10");
        }

        if (service.RateLimit is { } limit)
        {
            Check(limit.PermitsPerSecond >= 1, "RateLimit:PermitsPerSecond", limit.PermitsPerSecond, "1 or more");
            Check(limit.Burst >= 1, "RateLimit:Burst", limit.Burst, "1 or more");
            Check(limit.QueueLimit >= 0, "RateLimit:QueueLimit", limit.QueueLimit, "0 or more");
        }
    }

    /// <summary>Checks the retry settings found at <c>{path}:Retry</c>: a service's, or a route's in place of it.</summary>
    internal static void ValidateRetry(RetryOptions retry, string path, string serviceName, List<string> failures)
    {
        void Check(bool valid, string field, object? value, string rule)
        {
            if (!valid)
            {
                failures.Add($"{path}:{field}: {Format(value)} is out of range for service '{serviceName}' ({rule}).");
            }
        }

        Check(retry.MaxAttempts is >= 1 and <= 10, "Retry:MaxAttempts", retry.MaxAttempts, "1 to 10");
        Check(retry.Backoff >= TimeSpan.Zero && retry.Backoff <= s_maxBackoff, "Retry:Backoff", retry.Backoff, "0 to 1 hour");
        Check(retry.MaxBackoff >= retry.Backoff && retry.MaxBackoff <= s_maxBackoff, "Retry:MaxBackoff", retry.MaxBackoff, "at least Backoff, at most 1 hour");
        foreach (var token in retry.On ?? [])
        {
            if (!RetryOn.IsKnown(token))
            {
                failures.Add($"{path}:Retry:On: '{token}' is not a retryable failure for service '{serviceName}' (known: {RetryOn.ConnectFailure}, {RetryOn.RefusedStream}, {RetryOn.Reset}, {RetryOn.ServerError}, {RetryOn.GatewayError}, a status code 100-599, or a gRPC status name such as unavailable).");
            }
        }

        Check(retry.Budget.Ratio is >= 0 and <= 1, "Retry:Budget:Ratio", retry.Budget.Ratio, "0 to 1");
        Check(retry.Budget.MinPerSecond >= 0, "Retry:Budget:MinPerSecond", retry.Budget.MinPerSecond, "0 or more");
        Check(retry.Budget.Window >= TimeSpan.FromSeconds(1) && retry.Budget.Window <= TimeSpan.FromHours(1), "Retry:Budget:Window", retry.Budget.Window, "1 second to 1 hour");
    }

    private static string Format(object? value) => value switch
    {
        TimeSpan span => span.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "null",
    };

    /// <summary>The longest zone, as meshd's registry takes it.</summary>
    internal const int MaxZone = 128;

    internal const int MaxServiceDomains = 32;

    /// <summary>Why a service domain is not one: a DNS name of labels of letters, digits and dashes, at most 253 characters.</summary>
    internal static string? ServiceDomainProblem(string? domain)
    {
        if (string.IsNullOrEmpty(domain) || domain.Length > 253)
        {
            return "a service domain is a DNS name of 1 to 253 characters, such as mesh.internal.";
        }

        var labels = domain.TrimStart('.').Split('.');
        return labels.All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && l[0] != '-' && l[^1] != '-')
            ? null
            : $"'{domain}' is not a DNS name (labels of letters, digits and dashes, such as mesh.internal).";
    }

    /// <summary>What is wrong with a zone's name, or <see langword="null"/> when nothing is.</summary>
    internal static string? ZoneProblem(string zone)
    {
        if (zone.Length == 0)
        {
            return "the zone is empty; leave it unset for a process with no zone.";
        }

        // The value itself is repeated only once it is known to be short and printable.
        if (zone.Length > MaxZone)
        {
            return $"the zone is {zone.Length} characters long; at most {MaxZone}.";
        }

        if (zone.Any(char.IsControl))
        {
            return "the zone holds control characters.";
        }

        return char.IsWhiteSpace(zone[0]) || char.IsWhiteSpace(zone[^1]) ? $"'{zone}' has white space around it." : null;
    }

    internal static bool IsServiceName(string name)
    {
        if (name.Length is 0 or > 253 || name[0] is '-' or '.' || name[^1] is '-' or '.')
        {
            return false;
        }

        // As in a host name: each dot-separated part 1 to 63 characters, so 'a..b' is refused.
        var part = 0;
        foreach (var c in name)
        {
            if (c == '.')
            {
                if (part == 0)
                {
                    return false;
                }

                part = 0;
                continue;
            }

            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' || ++part > 63)
            {
                return false;
            }
        }

        return true;
    }
}
