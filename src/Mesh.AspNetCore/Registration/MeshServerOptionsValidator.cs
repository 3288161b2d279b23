using System.Globalization;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>Checks <c>Mesh:Server</c> at start-up; each failure names the field and the value.</summary>
internal sealed class MeshServerOptionsValidator : IValidateOptions<MeshServerOptions>
{
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

        if (options.Weight < 0)
        {
            failures.Add($"{Section}:Weight: {options.Weight.ToString(CultureInfo.InvariantCulture)} is negative; use 0 to take no traffic.");
        }

        if (options.DrainTime < TimeSpan.Zero || options.DrainTime > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{Section}:DrainTime: {options.DrainTime.ToString("c", CultureInfo.InvariantCulture)} is out of range (0 to 10 minutes).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
