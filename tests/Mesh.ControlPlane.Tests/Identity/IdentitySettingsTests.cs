namespace Meshd.Tests.Identity;

/// <summary>The identity settings (<c>Meshd:Identity:*</c>, <c>Meshd:RequireServiceCredentials</c>) are checked at start; a bad one stops it, naming the key.</summary>
public sealed class IdentitySettingsTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        // key, value, the start of the message
        { "Meshd:Identity:Enabled", "yes", "Meshd:Identity:Enabled: 'yes' is not true or false" },
        { "Meshd:Identity:TrustDomain", "Mesh.Local", "Meshd:Identity:TrustDomain: 'Mesh.Local' is not a valid SPIFFE trust domain" },
        { "Meshd:Identity:TrustDomain", "mesh.local:8443", "Meshd:Identity:TrustDomain:" },
        { "Meshd:Identity:MaxTtl", "7", "Meshd:Identity:MaxTtl: '7' is not a duration" },
        { "Meshd:Identity:MaxTtl", "31.00:00:00", "Meshd:Identity:MaxTtl: '31.00:00:00' is not a duration" },
        { "Meshd:Identity:DefaultTtl", "8.00:00:00", "Meshd:Identity:DefaultTtl: 8.00:00:00 is out of range (5 seconds to MaxTtl)" },
        { "Meshd:Identity:ClockSkew", "02:00:00", "Meshd:Identity:ClockSkew:" },
        { "Meshd:Identity:RootLifetime", "01:00:00", "Meshd:Identity:RootLifetime:" },
        { "Meshd:Identity:CertificatePath", "/nonexistent/ca.pem", "Meshd:Identity:CertificatePath: the file '/nonexistent/ca.pem' does not exist" },
        { "Meshd:Identity:KeyPath", "{file}", "Meshd:Identity:CertificatePath: required with KeyPath" },
        { "Meshd:Identity:Signer", "x", "Meshd:Identity:Signer: is not a meshd setting" },
        { "Meshd:RequireServiceCredentials", "1", "Meshd:RequireServiceCredentials: '1' is not true or false" },
        { "Meshd:Limits:MaxCredentials", "0", "Meshd:Limits:MaxCredentials: '0' is not a whole number" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_setting_stops_the_start_naming_its_key(string key, string value, string message)
    {
        using var directory = new TempDirectory("meshd-");
        var file = Path.Combine(directory.Path, "some.pem");
        await File.WriteAllTextAsync(file, "not used");
        var settings = TestMeshd.Settings(directory.Path, ("Meshd:Identity:Enabled", "true"), (key, value.Replace("{file}", file, StringComparison.Ordinal)));

        var failure = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(settings));

        Assert.StartsWith(message, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ca_of_another_trust_domain_or_an_unusable_supplied_certificate_stops_the_start_naming_the_setting()
    {
        using var directory = new TempDirectory("meshd-");
        await using (await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:Identity:Enabled", "true"))))
        {
        }

        var moved = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(
            TestMeshd.Settings(directory.Path, ("Meshd:Identity:Enabled", "true"), ("Meshd:Identity:TrustDomain", "example.org"))));
        Assert.StartsWith("Meshd:Identity:TrustDomain is 'example.org' but the CA in", moved.Message, StringComparison.Ordinal);

        // A leaf where a CA certificate belongs, at a first start.
        using var fresh = new TempDirectory("meshd-");
        using var pki = TestPki.CreateRoot("Some Root", trustDomain: "mesh.local");
        var leaf = pki.Issue();
        var certificate = Path.Combine(fresh.Path, "leaf.pem");
        var key = Path.Combine(fresh.Path, "leaf.key");
        await File.WriteAllTextAsync(certificate, leaf.ExportCertificatePem());
        await File.WriteAllTextAsync(key, TestPki.KeyPemOf(leaf));
        var notCa = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(TestMeshd.Settings(
            Path.Combine(fresh.Path, "data"),
            ("Meshd:Identity:Enabled", "true"),
            ("Meshd:Identity:CertificatePath", certificate),
            ("Meshd:Identity:KeyPath", key))));
        Assert.StartsWith("Meshd:Identity:CertificatePath", notCa.Message, StringComparison.Ordinal);
        Assert.Contains("is not a CA certificate", notCa.Message, StringComparison.Ordinal);
    }
}
