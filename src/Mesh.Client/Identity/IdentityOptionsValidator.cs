using System.Globalization;

namespace Mesh.Identity;

/// <summary>
/// The rules of <see cref="IdentityOptions"/>. Every failure names the configuration path and the value, such as
/// <c>Mesh:Identity:CertificatePath: required with Source 'files'</c>.
/// </summary>
internal static class IdentityOptionsValidator
{
    internal static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(5);
    internal static readonly TimeSpan MaxTtl = TimeSpan.FromDays(30);

    /// <summary>Adds to <paramref name="failures"/> every rule <paramref name="options"/> breaks; <paramref name="path"/> is its section, such as <c>Mesh:Identity</c>.</summary>
    public static void Validate(IdentityOptions options, string path, List<string> failures)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(failures);

        var source = options.Source;
        var files = string.Equals(source, IdentitySourceNames.Files, StringComparison.OrdinalIgnoreCase);
        if (source is not null && !IdentitySourceNames.All.Contains(source, StringComparer.OrdinalIgnoreCase))
        {
            failures.Add($"{path}:Source: '{source}' is not an identity source (known: {string.Join(", ", IdentitySourceNames.All)}).");
        }

        if (SpiffeId.CheckTrustDomain(options.TrustDomain) is { } domainProblem)
        {
            failures.Add($"{path}:TrustDomain: '{options.TrustDomain}' is not a valid SPIFFE trust domain: {domainProblem}.");
        }

        CheckFile(options.CertificatePath, nameof(IdentityOptions.CertificatePath));
        CheckFile(options.KeyPath, nameof(IdentityOptions.KeyPath));
        CheckFile(options.BundlePath, nameof(IdentityOptions.BundlePath));

        if (options.CertificateTtl < MinTtl || options.CertificateTtl > MaxTtl)
        {
            failures.Add($"{path}:CertificateTtl: {Format(options.CertificateTtl)} is out of range (5 seconds to 30 days).");
        }

        var fraction = options.RenewalFraction;
        var jitter = options.RenewalJitter;
        var fractionValid = fraction is >= 0.1 and <= 0.9;
        var jitterValid = jitter is >= 0 and <= 0.25;
        if (!fractionValid)
        {
            failures.Add($"{path}:RenewalFraction: {Format(fraction)} is out of range (0.1 to 0.9 of the certificate's lifetime).");
        }

        if (!jitterValid)
        {
            failures.Add($"{path}:RenewalJitter: {Format(jitter)} is out of range (0 to 0.25 of the certificate's lifetime).");
        }

        if (fractionValid && jitterValid && (fraction - jitter < 0.05 || fraction + jitter > 0.95))
        {
            failures.Add($"{path}:RenewalJitter: {Format(jitter)} around RenewalFraction {Format(fraction)} would renew outside 0.05 to 0.95 of the certificate's lifetime.");
        }

        if (options.RenewalBackoff < TimeSpan.FromMilliseconds(100) || options.RenewalBackoff > TimeSpan.FromHours(1))
        {
            failures.Add($"{path}:RenewalBackoff: {Format(options.RenewalBackoff)} is out of range (100 milliseconds to 1 hour).");
        }

        if (options.MaxRenewalBackoff < options.RenewalBackoff || options.MaxRenewalBackoff > TimeSpan.FromHours(1))
        {
            failures.Add($"{path}:MaxRenewalBackoff: {Format(options.MaxRenewalBackoff)} is out of range (at least RenewalBackoff, at most 1 hour).");
        }

        void CheckFile(string? value, string field)
        {
            if (value is null)
            {
                if (files)
                {
                    failures.Add($"{path}:{field}: required with Source '{IdentitySourceNames.Files}'.");
                }

                return;
            }

            if (string.IsNullOrWhiteSpace(value) || value.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            {
                failures.Add($"{path}:{field}: '{value}' is not a usable file path.");
            }
            else if (!files)
            {
                failures.Add($"{path}:{field}: '{value}' is set but Source is {(source is null ? "not set" : $"'{source}'")}; the file paths are read with Source '{IdentitySourceNames.Files}' only.");
            }
        }
    }

    private static string Format(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
}
