namespace Mesh.Identity;

/// <summary>
/// The workload's identity: where its X.509-SVID comes from, the trust domain it belongs to and how the certificate is
/// renewed. Bound from <c>Mesh:Identity</c>. With a <see cref="Source"/> set, the mesh presents the workload's certificate on
/// every connection and checks every peer's certificate against the trust bundle — never the system store.
/// </summary>
public sealed class IdentityOptions
{
    /// <summary>The trust domain used when none is configured.</summary>
    internal const string DefaultTrustDomain = "mesh.local";

    /// <summary>Gets or sets where the certificate comes from: <c>meshd</c> or <c>files</c> (see <see cref="IdentitySourceNames"/>).</summary>
    /// <value><see langword="null"/> by default: no workload identity, calls stay plaintext.</value>
    public string? Source { get; set; }

    /// <summary>Gets or sets the SPIFFE trust domain of the mesh: identities are <c>spiffe://{TrustDomain}/svc/{service}</c>.</summary>
    /// <value>
    /// <c>mesh.local</c> by default. Lower-case letters, digits, <c>.</c>, <c>-</c> and <c>_</c>, at most 255 characters. With the
    /// <c>files</c> source, the certificate's SPIFFE ID must be in this trust domain and the bundle file holds its roots.
    /// </value>
    public string TrustDomain { get; set; } = DefaultTrustDomain;

    /// <summary>
    /// Gets or sets the path of the PEM file holding the workload's certificate, followed by the intermediate certificates
    /// that chain it to a root of the bundle, if any. Read with the <c>files</c> source only.
    /// </summary>
    /// <value><see langword="null"/> by default; required with the <c>files</c> source.</value>
    public string? CertificatePath { get; set; }

    /// <summary>Gets or sets the path of the PEM file holding the certificate's private key (PKCS#8, or SEC1 for EC, or PKCS#1 for RSA; unencrypted). Read with the <c>files</c> source only.</summary>
    /// <value><see langword="null"/> by default; required with the <c>files</c> source.</value>
    public string? KeyPath { get; set; }

    /// <summary>Gets or sets the path of the PEM file holding the trust bundle: the self-signed roots of the trust domain, one or more (several during a root rotation). Read with the <c>files</c> source only.</summary>
    /// <value><see langword="null"/> by default; required with the <c>files</c> source.</value>
    public string? BundlePath { get; set; }

    /// <summary>Gets or sets the lifetime asked of meshd for each certificate. meshd may shorten it to its own maximum.</summary>
    /// <value>24 hours by default; from 5 seconds to 30 days. Not used with the <c>files</c> source.</value>
    public TimeSpan CertificateTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Gets or sets how far into its lifetime a certificate is renewed, as a fraction of the lifetime.</summary>
    /// <value>0.5 by default (half-life); from 0.1 to 0.9.</value>
    public double RenewalFraction { get; set; } = 0.5;

    /// <summary>
    /// Gets or sets how widely renewals are spread around <see cref="RenewalFraction"/>, as a fraction of the lifetime, so
    /// services started together do not renew together: each renewal falls at random between
    /// <see cref="RenewalFraction"/> − <see cref="RenewalJitter"/> and <see cref="RenewalFraction"/> + <see cref="RenewalJitter"/>.
    /// </summary>
    /// <value>0.05 by default (for 24 hours, within 72 minutes of the half-life); from 0 to 0.25, and the window must stay within 0.05 to 0.95 of the lifetime.</value>
    public double RenewalJitter { get; set; } = 0.05;

    /// <summary>Gets or sets the wait before the first retry of a failed renewal; it doubles with each failure, with jitter, up to <see cref="MaxRenewalBackoff"/>.</summary>
    /// <value>1 second by default; from 100 milliseconds to 1 hour.</value>
    public TimeSpan RenewalBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest wait between retries of a failed renewal. Retries never wait past the certificate's expiry.</summary>
    /// <value>1 minute by default; at least <see cref="RenewalBackoff"/>, at most 1 hour.</value>
    public TimeSpan MaxRenewalBackoff { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets whether a workload identity is configured.</summary>
    internal bool IsEnabled => Source is not null;
}
