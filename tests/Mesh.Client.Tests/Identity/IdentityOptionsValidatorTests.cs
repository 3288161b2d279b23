using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>The rules of Mesh:Identity, each failure naming its configuration path and value.</summary>
public sealed class IdentityOptionsValidatorTests
{
    private const string Section = "Mesh:Identity";

    [Fact]
    public void The_defaults_are_valid_and_identity_is_off()
    {
        var options = new IdentityOptions();

        Assert.Empty(Validate(options));
        Assert.False(options.IsEnabled);
        Assert.Equal("mesh.local", options.TrustDomain);
        Assert.Equal(TimeSpan.FromHours(24), options.CertificateTtl);
        Assert.Equal(0.5, options.RenewalFraction);
    }

    [Fact]
    public void The_meshd_source_needs_nothing_else()
    {
        var options = new IdentityOptions { Source = "meshd" };

        Assert.Empty(Validate(options));
        Assert.True(options.IsEnabled);
    }

    [Fact]
    public void The_files_source_with_its_three_paths_is_valid()
    {
        Assert.Empty(Validate(new IdentityOptions { Source = "Files", CertificatePath = "/run/svid.pem", KeyPath = "/run/svid_key.pem", BundlePath = "/run/bundle.pem" }));
    }

    [Fact]
    public void The_files_source_requires_each_path_by_name()
    {
        var failures = Validate(new IdentityOptions { Source = "files", KeyPath = "/run/key.pem" });

        Assert.Equal(
            [
                "Mesh:Identity:CertificatePath: required with Source 'files'.",
                "Mesh:Identity:BundlePath: required with Source 'files'.",
            ],
            failures);
    }

    [Fact]
    public void File_paths_with_the_meshd_source_are_refused_rather_than_ignored()
    {
        var failure = Assert.Single(Validate(new IdentityOptions { Source = "meshd", CertificatePath = "/run/svid.pem" }));

        Assert.Equal("Mesh:Identity:CertificatePath: '/run/svid.pem' is set but Source is 'meshd'; the file paths are read with Source 'files' only.", failure);
    }

    [Theory]
    [InlineData("spire", "Mesh:Identity:Source: 'spire' is not an identity source (known: meshd, files).")]
    public void An_unknown_source_is_refused(string source, string expected)
    {
        Assert.Equal(expected, Assert.Single(Validate(new IdentityOptions { Source = source })));
    }

    [Theory]
    [InlineData("Mesh.Local", "must be lower case")]
    [InlineData("", "missing")]
    [InlineData("mesh.local:8080", "port")]
    public void An_invalid_trust_domain_is_refused(string trustDomain, string reason)
    {
        var failure = Assert.Single(Validate(new IdentityOptions { TrustDomain = trustDomain }));

        Assert.StartsWith($"Mesh:Identity:TrustDomain: '{trustDomain}' is not a valid SPIFFE trust domain", failure, StringComparison.Ordinal);
        Assert.Contains(reason, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void A_blank_path_is_refused()
    {
        var failures = Validate(new IdentityOptions { Source = "files", CertificatePath = " ", KeyPath = "k", BundlePath = "b" });

        Assert.Equal("Mesh:Identity:CertificatePath: ' ' is not a usable file path.", Assert.Single(failures));
    }

    [Theory]
    [InlineData(4, "Mesh:Identity:CertificateTtl: 00:00:04 is out of range (5 seconds to 30 days).")]
    [InlineData(31 * 24 * 3600, "Mesh:Identity:CertificateTtl: 31.00:00:00 is out of range (5 seconds to 30 days).")]
    public void A_TTL_out_of_range_is_refused(int seconds, string expected)
    {
        Assert.Equal(expected, Assert.Single(Validate(new IdentityOptions { CertificateTtl = TimeSpan.FromSeconds(seconds) })));
    }

    [Theory]
    [InlineData(0.05, 0.0, "Mesh:Identity:RenewalFraction: 0.05 is out of range (0.1 to 0.9 of the certificate's lifetime).")]
    [InlineData(0.5, 0.3, "Mesh:Identity:RenewalJitter: 0.3 is out of range (0 to 0.25 of the certificate's lifetime).")]
    [InlineData(0.85, 0.2, "Mesh:Identity:RenewalJitter: 0.2 around RenewalFraction 0.85 would renew outside 0.05 to 0.95 of the certificate's lifetime.")]
    public void Renewal_timing_out_of_range_is_refused(double fraction, double jitter, string expected)
    {
        Assert.Equal(expected, Assert.Single(Validate(new IdentityOptions { RenewalFraction = fraction, RenewalJitter = jitter })));
    }

    [Fact]
    public void Back_off_out_of_range_is_refused()
    {
        var failures = Validate(new IdentityOptions { RenewalBackoff = TimeSpan.FromMinutes(5), MaxRenewalBackoff = TimeSpan.FromMinutes(1) });

        Assert.Equal("Mesh:Identity:MaxRenewalBackoff: 00:01:00 is out of range (at least RenewalBackoff, at most 1 hour).", Assert.Single(failures));
        Assert.Equal(
            "Mesh:Identity:RenewalBackoff: 00:00:00.0500000 is out of range (100 milliseconds to 1 hour).",
            Assert.Single(Validate(new IdentityOptions { RenewalBackoff = TimeSpan.FromMilliseconds(50) })));
    }

    [Fact]
    public void The_configuration_path_is_the_one_given()
    {
        var failures = new List<string>();

        IdentityOptionsValidator.Validate(new IdentityOptions { Source = "nope" }, "Elsewhere:Identity", failures);

        Assert.StartsWith("Elsewhere:Identity:Source:", Assert.Single(failures), StringComparison.Ordinal);
    }

    private static List<string> Validate(IdentityOptions options)
    {
        var failures = new List<string>();
        IdentityOptionsValidator.Validate(options, Section, failures);
        return failures;
    }
}
