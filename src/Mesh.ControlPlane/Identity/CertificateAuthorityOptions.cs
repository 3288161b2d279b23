using System.Globalization;
using Mesh.Identity;

namespace Meshd.Identity;

/// <summary>
/// How meshd's certificate authority is made and how long what it signs lives. Plain settings; read from configuration by
/// the host (the section <c>Meshd:Identity</c> is the intended home), checked by <see cref="Validate"/>.
/// </summary>
internal sealed class CertificateAuthorityOptions
{
    /// <summary>The longest lifetime any certificate may be given, whatever the settings.</summary>
    internal static readonly TimeSpan MaxTtlBound = TimeSpan.FromDays(30);

    /// <summary>The shortest lifetime a certificate is given, so a renewal has time to happen.</summary>
    internal static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(5);

    /// <summary>Gets the directory of the CA's files (<c>{DataDirectory}/ca</c>): its roots, keys (owner-only) and state.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Gets the SPIFFE trust domain: certificates say <c>spiffe://{TrustDomain}/svc/{service}</c>. <c>mesh.local</c> by default.</summary>
    public string TrustDomain { get; init; } = IdentityOptions.DefaultTrustDomain;

    /// <summary>Gets the lifetime of a certificate when the workload asks for none. 24 hours by default.</summary>
    public TimeSpan DefaultTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Gets the longest lifetime a workload may ask for; longer wishes are shortened to it. 7 days by default, at most 30 days.</summary>
    public TimeSpan MaxTtl { get; init; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Gets how far back a certificate's NotBefore is set, so a peer whose clock is a little behind still accepts it; never
    /// more than a tenth of the certificate's lifetime, so a short-lived certificate is not half used up at issuance.
    /// 1 minute by default, at most 1 hour.
    /// </summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets the lifetime of a root the CA generates itself. 10 years by default, from 1 day to 30 years.</summary>
    public TimeSpan RootLifetime { get; init; } = TimeSpan.FromDays(3652);

    /// <summary>
    /// Gets the PEM file of a CA certificate of the user's own PKI (an intermediate, say) to sign with instead of a generated
    /// root; read at the first start only, then kept in <see cref="DataDirectory"/>. <see langword="null"/> by default.
    /// </summary>
    public string? CertificatePath { get; init; }

    /// <summary>Gets the PEM file of the private key of <see cref="CertificatePath"/>; required with it.</summary>
    public string? KeyPath { get; init; }

    /// <summary>Gets the PEM file of the certificates above <see cref="CertificatePath"/>, its issuer first, up to and including the self-signed root; needed unless that certificate is itself a root.</summary>
    public string? ChainPath { get; init; }

    /// <summary>Returns every rule the settings break, each naming its field under <paramref name="section"/>, such as <c>Meshd:Identity</c>.</summary>
    public IReadOnlyList<string> Validate(string section)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            failures.Add($"{section}:DataDirectory: required.");
        }

        if (SpiffeId.CheckTrustDomain(TrustDomain) is { } problem)
        {
            failures.Add($"{section}:TrustDomain: '{TrustDomain}' is not a valid SPIFFE trust domain: {problem}.");
        }

        if (MaxTtl < MinTtl || MaxTtl > MaxTtlBound)
        {
            failures.Add($"{section}:MaxTtl: {Format(MaxTtl)} is out of range (5 seconds to 30 days).");
        }

        if (DefaultTtl < MinTtl || DefaultTtl > MaxTtl)
        {
            failures.Add($"{section}:DefaultTtl: {Format(DefaultTtl)} is out of range (5 seconds to MaxTtl).");
        }

        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromHours(1))
        {
            failures.Add($"{section}:ClockSkew: {Format(ClockSkew)} is out of range (0 to 1 hour).");
        }

        if (RootLifetime < TimeSpan.FromDays(1) || RootLifetime > TimeSpan.FromDays(30 * 366))
        {
            failures.Add($"{section}:RootLifetime: {Format(RootLifetime)} is out of range (1 day to 30 years).");
        }

        if ((CertificatePath is null) != (KeyPath is null))
        {
            failures.Add($"{section}:{(CertificatePath is null ? "CertificatePath" : "KeyPath")}: required with {(CertificatePath is null ? "KeyPath" : "CertificatePath")}.");
        }

        if (ChainPath is not null && CertificatePath is null)
        {
            failures.Add($"{section}:ChainPath: set without CertificatePath.");
        }

        return failures;
    }

    private static string Format(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
}
