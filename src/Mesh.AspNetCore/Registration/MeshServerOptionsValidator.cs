using System.Globalization;
using Mesh.AspNetCore.Identity;
using Mesh.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// Checks <c>Mesh:Server</c> at start-up, and what the server needs of the rest of <c>Mesh</c>; each failure names the
/// field and the value.
/// </summary>
internal sealed class MeshServerOptionsValidator(ServerIdentity identity) : IValidateOptions<MeshServerOptions>
{
    private static readonly TimeSpan s_minTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_maxTimeout = TimeSpan.FromMinutes(1);

    public const string Section = "Mesh:Server";

    public ValidateOptionsResult Validate(string? name, MeshServerOptions options)
    {
        var failures = new List<string>();
        if (options.AdvertisedAddress is { } advertised
            && (!Uri.TryCreate(advertised, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || uri.AbsolutePath != "/" || uri.Query.Length != 0 || uri.Fragment.Length != 0 || uri.UserInfo.Length != 0))
        {
            failures.Add($"{Section}:AdvertisedAddress: '{advertised}' is not an absolute http or https URI with only a scheme, a host and a port.");
        }

        if (options.InstanceId is { } id && (id.Length is 0 or > 128 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            failures.Add($"{Section}:InstanceId: '{id}' is not a valid instance id (1 to 128 letters, digits, '-', '_' and '.').");
        }

        if (options.Zone is { } zone && MeshOptionsValidator.ZoneProblem(zone) is { } zoneProblem)
        {
            failures.Add($"{Section}:Zone: {zoneProblem}");
        }

        if (options.Weight < 0)
        {
            failures.Add($"{Section}:Weight: {options.Weight.ToString(CultureInfo.InvariantCulture)} is negative; use 0 to take no traffic.");
        }

        if (options.DrainTime < TimeSpan.Zero || options.DrainTime > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{Section}:DrainTime: {options.DrainTime.ToString("c", CultureInfo.InvariantCulture)} is out of range (0 to 10 minutes).");
        }

        if (options.HealthCheckTag is { } tag && (tag.Length is 0 or > 128 || tag.Trim().Length != tag.Length || tag.Any(char.IsControl)))
        {
            failures.Add($"{Section}:HealthCheckTag: '{tag}' is not a valid tag (1 to 128 characters, without control characters or white space around it).");
        }

        if (options.HealthCheckInterval < s_minTimeout || options.HealthCheckInterval > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{Section}:HealthCheckInterval: {options.HealthCheckInterval.ToString("c", CultureInfo.InvariantCulture)} is out of range (100 milliseconds to 5 minutes).");
        }

        if (options.Consul.CheckTtl < TimeSpan.FromSeconds(1) || options.Consul.CheckTtl > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{Section}:Consul:CheckTtl: {options.Consul.CheckTtl.ToString("c", CultureInfo.InvariantCulture)} is out of range (1 second to 10 minutes).");
        }

        if (options.Consul.Register && string.IsNullOrEmpty(identity.ServiceName))
        {
            failures.Add($"{Section}:Consul:Register: needs Mesh:ServiceName, the name the service registers under.");
        }

        CheckTimeout(options.ProtocolDetectionTimeout, nameof(MeshServerOptions.ProtocolDetectionTimeout), failures);
        CheckTimeout(options.TlsHandshakeTimeout, nameof(MeshServerOptions.TlsHandshakeTimeout), failures);

        if (identity.IsEnabled && string.IsNullOrEmpty(identity.ServiceName))
        {
            failures.Add("Mesh:ServiceName: required when Mesh:Identity:Source is set and AddMeshServer() serves the mesh's mutual TLS: the server presents, and registers, the identity spiffe://{Mesh:Identity:TrustDomain}/svc/{Mesh:ServiceName}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckTimeout(TimeSpan value, string field, List<string> failures)
    {
        if (value < s_minTimeout || value > s_maxTimeout)
        {
            failures.Add($"{Section}:{field}: {value.ToString("c", CultureInfo.InvariantCulture)} is out of range (100 milliseconds to 1 minute).");
        }
    }
}
