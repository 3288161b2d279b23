using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Meshd.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.ControlPlane.Tests.Identity;

/// <summary>A CA in a temporary data directory on a fake clock, with collected logs, and signing requests of any key.</summary>
internal sealed class CaTestSupport : IDisposable
{
    private readonly ILoggerFactory _loggers;

    public CaTestSupport()
    {
        // Whole seconds: X.509 times have no fractions, so issued times compare exactly.
        var now = DateTimeOffset.UtcNow;
        Time = new FakeTimeProvider(new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero));
        _loggers = LoggerFactory.Create(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
    }

    public TempDirectory Directory { get; } = new("mesh-ca-");

    public FakeTimeProvider Time { get; }

    public LogCollector Logs { get; } = new();

    public string CaDirectory => Path.Combine(Directory.Path, "ca");

    public CertificateAuthorityOptions Options(TimeSpan? maxTtl = null, TimeSpan? rootLifetime = null, string trustDomain = "mesh.local") => new()
    {
        DataDirectory = Directory.Path,
        TrustDomain = trustDomain,
        MaxTtl = maxTtl ?? TimeSpan.FromDays(7),
        RootLifetime = rootLifetime ?? TimeSpan.FromDays(3652),
    };

    public CertificateAuthority Open(CertificateAuthorityOptions? options = null, TimeProvider? time = null) =>
        CertificateAuthority.Open(options ?? Options(), time ?? Time, _loggers.CreateLogger<CertificateAuthority>());

    /// <summary>Makes a signing request with <paramref name="key"/>, asking (uselessly) for <paramref name="wantedUri"/>.</summary>
    public static string Csr(AsymmetricAlgorithm key, string subject = "", string? wantedUri = null)
    {
        var request = key switch
        {
            ECDsa ecdsa => new CertificateRequest(subject, ecdsa, HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("ECDSA or RSA only.", nameof(key)),
        };
        if (wantedUri is not null)
        {
            request.CertificateExtensions.Add(TestPki.SubjectAlternativeName([wantedUri], [], critical: false));
        }

        return request.CreateSigningRequestPem();
    }

    public static SvidVerification Verify(CertificateAuthority ca, IssuedSvid issued, TimeProvider time)
    {
        var chain = TrustBundle.ReadPem(issued.ChainPem, "issued");
        return new X509SvidValidator(time).Validate(chain[0], chain.Skip(1), ca.Bundle);
    }

    public static X509Certificate2 Leaf(IssuedSvid issued) => TrustBundle.ReadPem(issued.ChainPem, "issued")[0];

    public void Dispose()
    {
        _loggers.Dispose();
        Directory.Dispose();
    }
}
