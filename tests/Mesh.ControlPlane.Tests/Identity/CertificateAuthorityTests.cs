using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.Identity;
using Meshd.Identity;

namespace Mesh.ControlPlane.Tests.Identity;

/// <summary>meshd's CA: a root made at first start and kept, and X.509-SVIDs signed exactly as the standard says, for the service the caller was authorised for.</summary>
public sealed class CertificateAuthorityTests : IDisposable
{
    private readonly CaTestSupport _support = new();

    public void Dispose() => _support.Dispose();

    [Fact]
    public void The_first_start_generates_a_P256_root_that_signs_only_workloads()
    {
        var ca = _support.Open();

        var authority = Assert.Single(ca.Authorities);
        Assert.True(authority.IsActive);
        Assert.Equal("generated", authority.Origin);
        var root = Assert.Single(ca.Bundle.GetRoots("mesh.local"));
        Assert.Equal(authority.Id, Convert.ToHexStringLower(root.GetCertHash(HashAlgorithmName.SHA256)));
        using var key = root.GetECDsaPublicKey();
        Assert.Equal(ECCurve.NamedCurves.nistP256.Oid.Value, key!.ExportParameters(false).Curve.Oid.Value);
        var constraints = Assert.IsType<X509BasicConstraintsExtension>(root.Extensions["2.5.29.19"]);
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
        Assert.True(constraints.HasPathLengthConstraint);
        Assert.Equal(0, constraints.PathLengthConstraint);
        var usage = Assert.IsType<X509KeyUsageExtension>(root.Extensions["2.5.29.15"]);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, usage.KeyUsages);
        Assert.Equal(["spiffe://mesh.local"], X509SvidValidator.ReadUris(root));
        Assert.Contains("O=mesh.local", root.Subject, StringComparison.Ordinal);
        Assert.Equal(_support.Time.GetUtcNow().AddDays(3652), new DateTimeOffset(root.NotAfter.ToUniversalTime()));
    }

    [Fact]
    public void The_root_key_is_written_owner_only_in_owner_only_directories()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Owner-only file modes are checked on Unix.");
        }

        var ca = _support.Open();
        var authorityDirectory = Path.Combine(_support.CaDirectory, "authorities", ca.Authorities[0].Id);

        Assert.True(File.Exists(Path.Combine(_support.CaDirectory, "state.json")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(authorityDirectory, "key.pem")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(authorityDirectory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_support.CaDirectory));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(Path.Combine(authorityDirectory, "key.pem")), StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", File.ReadAllText(Path.Combine(authorityDirectory, "certificate.pem")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_restart_keeps_the_same_root_and_signs_with_it()
    {
        var first = _support.Open();

        var again = _support.Open();

        Assert.Equal(first.Authorities, again.Authorities);
        Assert.Equal(first.BundlePem, again.BundlePem);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var issued = again.Sign(CaTestSupport.Csr(key), "orders");
        Assert.True(CaTestSupport.Verify(first, issued, _support.Time).IsValid);
    }

    [Fact]
    public void An_issued_SVID_has_one_critical_URI_SAN_and_is_a_leaf_for_servers_and_clients()
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var issued = ca.Sign(CaTestSupport.Csr(key), "orders");

        var leaf = issued.Certificate;
        Assert.Equal("spiffe://mesh.local/svc/orders", issued.Id.ToString());
        Assert.Equal(["spiffe://mesh.local/svc/orders"], X509SvidValidator.ReadUris(leaf));
        Assert.True(leaf.Extensions["2.5.29.17"]!.Critical);
        Assert.Equal([0x30, 0x00], leaf.SubjectName.RawData);
        var constraints = Assert.IsType<X509BasicConstraintsExtension>(leaf.Extensions["2.5.29.19"]);
        Assert.False(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
        var usage = Assert.IsType<X509KeyUsageExtension>(leaf.Extensions["2.5.29.15"]);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, usage.KeyUsages);
        Assert.True(usage.Critical);
        var purposes = Assert.IsType<X509EnhancedKeyUsageExtension>(leaf.Extensions["2.5.29.37"]);
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], purposes.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        Assert.NotNull(leaf.Extensions["2.5.29.14"]);
        Assert.NotNull(leaf.Extensions["2.5.29.35"]);
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), leaf.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(ca.Authorities[0].Id, issued.AuthorityId);

        var verified = CaTestSupport.Verify(ca, issued, _support.Time);
        Assert.True(verified.IsValid, verified.Problem);
        Assert.Equal(issued.Id, verified.Id);
    }

    [Fact]
    public void A_workloads_signing_request_completes_into_an_SVID_it_can_present()
    {
        var ca = _support.Open();
        using var request = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "orders"));

        var svid = request.Complete(ca.Sign(request.Pem, "orders").ChainPem);

        Assert.True(svid.Certificate.HasPrivateKey);
        Assert.Equal("spiffe://mesh.local/svc/orders", svid.Id.ToString());
        var verified = new X509SvidValidator(_support.Time).Validate(svid.Certificate, svid.Intermediates, ca.Bundle);
        Assert.True(verified.IsValid, verified.Problem);
    }

    [Fact]
    public void The_identity_comes_from_the_authorised_service_never_from_the_request()
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var greedy = CaTestSupport.Csr(key, "CN=payments", "spiffe://mesh.local/svc/payments");

        var issued = ca.Sign(greedy, "orders");

        Assert.Equal(["spiffe://mesh.local/svc/orders"], X509SvidValidator.ReadUris(issued.Certificate));
        Assert.DoesNotContain("payments", issued.Certificate.Subject, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_lifetime_is_24_hours_with_NotBefore_set_back_by_the_clock_skew()
    {
        var ca = _support.Open();
        var now = _support.Time.GetUtcNow();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var leaf = ca.Sign(CaTestSupport.Csr(key), "orders").Certificate;

        Assert.Equal(now.AddHours(24), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
        Assert.Equal(now.AddMinutes(-1), new DateTimeOffset(leaf.NotBefore.ToUniversalTime()));
    }

    [Theory]
    [InlineData(3600, 3600, 60)]
    [InlineData(90 * 86400, 7 * 86400, 60)]
    [InlineData(10, 10, 1)]
    [InlineData(1, 5, 1)] // Half a second of skew, which X.509's whole seconds make one.
    public void The_lifetime_asked_is_kept_within_bounds_and_the_skew_within_a_tenth_of_it(int askedSeconds, int grantedSeconds, int skewSeconds)
    {
        var ca = _support.Open();
        var now = _support.Time.GetUtcNow();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var leaf = ca.Sign(CaTestSupport.Csr(key), "orders", TimeSpan.FromSeconds(askedSeconds)).Certificate;

        Assert.Equal(now.AddSeconds(grantedSeconds), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
        Assert.Equal(now.AddSeconds(-skewSeconds), new DateTimeOffset(leaf.NotBefore.ToUniversalTime()));
    }

    [Fact]
    public void A_lifetime_that_is_not_positive_is_refused()
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Throws<ArgumentOutOfRangeException>(() => ca.Sign(CaTestSupport.Csr(key), "orders", TimeSpan.Zero));
    }

    [Fact]
    public void Serials_are_random_positive_and_16_bytes_long()
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = CaTestSupport.Csr(key);

        var serials = Enumerable.Range(0, 50).Select(_ => ca.Sign(csr, "orders").Certificate.SerialNumberBytes.ToArray()).ToList();

        Assert.Equal(50, serials.Select(Convert.ToHexString).Distinct().Count());
        Assert.All(serials, s => Assert.Equal(16, s.Length));
        Assert.All(serials, s => Assert.InRange(s[0], 0x40, 0x7F));
    }

    [Fact]
    public void A_certificate_never_outlives_the_root_and_a_root_about_to_expire_signs_nothing()
    {
        var ca = _support.Open(_support.Options(rootLifetime: TimeSpan.FromDays(1)));
        var rootExpiry = ca.Authorities[0].NotAfter;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _support.Time.Advance(TimeSpan.FromHours(20));

        var leaf = ca.Sign(CaTestSupport.Csr(key), "orders").Certificate;
        Assert.Equal(rootExpiry, new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));

        _support.Time.Advance(rootExpiry - _support.Time.GetUtcNow() - TimeSpan.FromSeconds(4));
        var error = Assert.Throws<InvalidOperationException>(() => ca.Sign(CaTestSupport.Csr(key), "orders"));
        Assert.Contains("too soon to sign", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expired_root_does_not_keep_the_CA_from_opening_so_it_can_be_rotated()
    {
        _support.Open(_support.Options(rootLifetime: TimeSpan.FromDays(1)));
        _support.Time.Advance(TimeSpan.FromDays(2));

        var ca = _support.Open(_support.Options(rootLifetime: TimeSpan.FromDays(1)));
        var next = ca.AddRoot();
        ca.Activate(next.Id);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.True(CaTestSupport.Verify(ca, ca.Sign(CaTestSupport.Csr(key), "orders"), _support.Time).IsValid);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("pay ments")]
    public void A_service_name_that_cannot_be_in_a_SPIFFE_ID_is_refused(string service)
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Throws<ArgumentException>(() => ca.Sign(CaTestSupport.Csr(key), service));
    }

    [Fact]
    public void A_request_whose_signature_does_not_verify_is_refused()
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        // The request of one key with the signature of another: well formed, but no proof of the key.
        var forged = Splice(CaTestSupport.Csr(key), CaTestSupport.Csr(other));

        var error = Assert.Throws<CertificateRequestRefusedException>(() => ca.Sign(forged, "orders"));
        Assert.Contains("signature does not verify", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a request")]
    [InlineData("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")]
    public void A_malformed_request_is_refused(string text)
    {
        var ca = _support.Open();

        Assert.Throws<CertificateRequestRefusedException>(() => ca.Sign(text, "orders"));
    }

    [Fact]
    public void A_request_over_16_KiB_is_refused()
    {
        var ca = _support.Open();

        var error = Assert.Throws<CertificateRequestRefusedException>(() => ca.Sign(new string('A', 16 * 1024 + 1), "orders"));

        Assert.Contains("at most 16384", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> AcceptedKeys => ["P-256", "P-384", "P-521", "RSA-2048", "RSA-3072"];

    public static TheoryData<string, string> RefusedKeys => new()
    {
        { "RSA-1024", "RSA of 1024 bits" },
        { "secp224r1", "curve 1.3.132.0.33" },
        { "brainpoolP256r1", "curve 1.3.36.3.3.2.8.1.1.7" },
        { "secp256k1", "curve 1.3.132.0.10" },
    };

    [Theory]
    [MemberData(nameof(AcceptedKeys))]
    public void Accepted_key(string kind)
    {
        var ca = _support.Open();
        using var key = Key(kind);

        var issued = ca.Sign(CaTestSupport.Csr(key), "orders");

        Assert.True(CaTestSupport.Verify(ca, issued, _support.Time).IsValid);
    }

    [Theory]
    [MemberData(nameof(RefusedKeys))]
    public void Refused_weak_or_unusual_key(string kind, string reason)
    {
        var ca = _support.Open();
        using var key = Key(kind);

        var error = Assert.Throws<CertificateRequestRefusedException>(() => ca.Sign(CaTestSupport.Csr(key), "orders"));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains("accepted are", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_logged_holds_key_material()
    {
        var ca = _support.Open();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        ca.Sign(CaTestSupport.Csr(key), "orders");
        ca.Activate(ca.AddRoot().Id);
        var keyBodies = System.IO.Directory.EnumerateFiles(_support.CaDirectory, "key.pem", SearchOption.AllDirectories).Select(p => File.ReadAllLines(p)[1]).ToList();

        Assert.Equal(2, keyBodies.Count);
        Assert.Contains(_support.Logs.Entries, e => e.Message.Contains("Issued spiffe://mesh.local/svc/orders", StringComparison.Ordinal));
        Assert.All(_support.Logs.Entries, e => Assert.DoesNotContain("PRIVATE KEY", e.Message, StringComparison.Ordinal));
        Assert.All(_support.Logs.Entries, e => Assert.All(keyBodies, body => Assert.DoesNotContain(body, e.Message, StringComparison.Ordinal)));
    }

    [Fact]
    public void A_CA_of_another_trust_domain_in_the_directory_is_refused_at_start()
    {
        _support.Open();

        var error = Assert.Throws<InvalidOperationException>(() => _support.Open(_support.Options(trustDomain: "prod.example")));

        Assert.Contains("Meshd:Identity:TrustDomain is 'prod.example' but the CA", error.Message, StringComparison.Ordinal);
        Assert.Contains("'mesh.local'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Leftovers_of_a_crashed_write_are_removed_at_start()
    {
        var ca = _support.Open();
        var stray = Path.Combine(_support.CaDirectory, "authorities", "0123456789abcdef");
        System.IO.Directory.CreateDirectory(stray);
        File.WriteAllText(Path.Combine(stray, "key.pem"), "half a key");
        File.WriteAllText(Path.Combine(_support.CaDirectory, "state.json.tmp"), "{");

        var again = _support.Open();

        Assert.False(System.IO.Directory.Exists(stray));
        Assert.False(File.Exists(Path.Combine(_support.CaDirectory, "state.json.tmp")));
        Assert.Equal(ca.Authorities, again.Authorities);
    }

    [Fact]
    public void The_state_file_is_strict_json_naming_the_active_authority()
    {
        var ca = _support.Open();

        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_support.CaDirectory, "state.json")));

        Assert.Equal(1, state.RootElement.GetProperty("version").GetInt32());
        Assert.Equal("mesh.local", state.RootElement.GetProperty("trustDomain").GetString());
        Assert.Equal(ca.Authorities[0].Id, state.RootElement.GetProperty("active").GetString());
    }

    [Theory]
    [InlineData("MaxTtl", "Meshd:Identity:MaxTtl: 31.00:00:00 is out of range")]
    [InlineData("DefaultTtl", "Meshd:Identity:DefaultTtl: 8.00:00:00 is out of range")]
    [InlineData("ClockSkew", "Meshd:Identity:ClockSkew: 02:00:00 is out of range")]
    [InlineData("TrustDomain", "Meshd:Identity:TrustDomain: 'Mesh' is not a valid SPIFFE trust domain")]
    [InlineData("KeyPath", "Meshd:Identity:CertificatePath: required with KeyPath.")]
    public void Invalid_options_are_refused_naming_their_path(string field, string expected)
    {
        var options = field switch
        {
            "MaxTtl" => new CertificateAuthorityOptions { DataDirectory = _support.Directory.Path, MaxTtl = TimeSpan.FromDays(31), DefaultTtl = TimeSpan.FromHours(1) },
            "DefaultTtl" => new CertificateAuthorityOptions { DataDirectory = _support.Directory.Path, DefaultTtl = TimeSpan.FromDays(8) },
            "ClockSkew" => new CertificateAuthorityOptions { DataDirectory = _support.Directory.Path, ClockSkew = TimeSpan.FromHours(2) },
            "TrustDomain" => new CertificateAuthorityOptions { DataDirectory = _support.Directory.Path, TrustDomain = "Mesh" },
            _ => new CertificateAuthorityOptions { DataDirectory = _support.Directory.Path, KeyPath = "/etc/key.pem" },
        };

        var failure = Assert.Single(options.Validate("Meshd:Identity"));

        Assert.StartsWith(expected, failure, StringComparison.Ordinal);
        Assert.Contains(expected, Assert.Throws<InvalidOperationException>(() => _support.Open(options)).Message, StringComparison.Ordinal);
    }

    private static AsymmetricAlgorithm Key(string kind) => kind switch
    {
        "P-256" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        "P-384" => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        "P-521" => ECDsa.Create(ECCurve.NamedCurves.nistP521),
        "RSA-2048" => RSA.Create(2048),
        "RSA-3072" => RSA.Create(3072),
        "RSA-1024" => RSA.Create(1024),
        "secp224r1" => ECDsa.Create(ECCurve.CreateFromValue("1.3.132.0.33")),
        "brainpoolP256r1" => ECDsa.Create(ECCurve.NamedCurves.brainpoolP256r1),
        "secp256k1" => ECDsa.Create(ECCurve.CreateFromValue("1.3.132.0.10")),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    // CertificationRequest ::= SEQUENCE { info, algorithm, signature }: the info of one request with the signature of the other.
    private static string Splice(string infoFrom, string signatureFrom)
    {
        static List<byte[]> Parts(string pem)
        {
            var fields = PemEncoding.Find(pem);
            var der = Convert.FromBase64String(pem[fields.Base64Data]);
            var reader = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
            return [reader.ReadEncodedValue().ToArray(), reader.ReadEncodedValue().ToArray(), reader.ReadEncodedValue().ToArray()];
        }

        var info = Parts(infoFrom);
        var signature = Parts(signatureFrom);
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(info[0]);
            writer.WriteEncodedValue(signature[1]);
            writer.WriteEncodedValue(signature[2]);
        }

        return PemEncoding.WriteString("CERTIFICATE REQUEST", writer.Encode());
    }
}
