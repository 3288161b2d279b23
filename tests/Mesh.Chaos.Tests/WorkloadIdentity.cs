using System.Formats.Asn1;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Chaos.Tests;

/// <summary>
/// The traffic's own place in a mesh whose services take mutual TLS only: a key made here (never written), an
/// X.509-SVID meshd signs for one service's credential, and handlers that present it and accept a server only when its
/// chain ends at a root of meshd's trust bundle and its one URI SAN is the SPIFFE ID of the service called.
/// </summary>
internal sealed class WorkloadIdentity : IDisposable
{
    private const string SubjectAlternativeName = "2.5.29.17";
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _intermediates;
    private readonly X509Certificate2Collection _roots;
    private readonly SslStreamCertificateContext _context;

    private WorkloadIdentity(string service, ECDsa key, X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection roots, string trustDomain)
    {
        Service = service;
        _key = key;
        _certificate = certificate;
        _intermediates = intermediates;
        _roots = roots;
        TrustDomain = trustDomain;
        _context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
    }

    /// <summary>Gets the service this identity is of.</summary>
    public string Service { get; }

    /// <summary>Gets the mesh's trust domain, from meshd's bundle.</summary>
    public string TrustDomain { get; }

    /// <summary>Gets the SPIFFE ID of <paramref name="service"/> in this mesh.</summary>
    public string IdOf(string service) => $"spiffe://{TrustDomain}/svc/{service}";

    /// <summary>Asks meshd, with <paramref name="credential"/> (of <paramref name="service"/>), for a certificate and the trust bundle.</summary>
    public static async Task<WorkloadIdentity> CreateAsync(Uri meshd, string service, string credential)
    {
        using var client = TestMeshd.Client(meshd, credential);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var csr = new CertificateRequest("CN=" + service, key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            using var svid = await TestMeshd.RequestSvidAsync(client, service, csr, "01:00:00");
            svid.EnsureSuccessStatusCode();
            var chain = new X509Certificate2Collection();
            chain.ImportFromPem((await svid.Content.ReadFromJsonAsync<SvidAnswer>())!.CertificateChainPem);
            using var bundle = await client.GetAsync(new Uri("/v1/identity/bundle", UriKind.Relative));
            bundle.EnsureSuccessStatusCode();
            var answer = (await bundle.Content.ReadFromJsonAsync<BundleAnswer>())!;
            var roots = new X509Certificate2Collection();
            roots.ImportFromPem(answer.RootsPem);
            using var leaf = chain[0];
            var certificate = leaf.CopyWithPrivateKey(key);
            chain.RemoveAt(0);
            return new WorkloadIdentity(service, key, certificate, chain, roots, answer.TrustDomain);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>A handler for calls to <paramref name="service"/>: mutual TLS with this identity, the server checked to be that service.</summary>
    public SocketsHttpHandler HandlerFor(string service)
    {
        var expected = IdOf(service);
        return new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificateContext = _context,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 server && Verify(server, expected),
            },
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _certificate.Dispose();
        _key.Dispose();
        foreach (var certificate in _intermediates.Concat(_roots))
        {
            certificate.Dispose();
        }
    }

    private static List<string> UriSans(X509Certificate2 certificate)
    {
        var uris = new List<string>();
        if (certificate.Extensions[SubjectAlternativeName] is not { } san)
        {
            return uris;
        }

        var names = new AsnReader(san.RawData, AsnEncodingRules.DER).ReadSequence();
        var uri = new Asn1Tag(TagClass.ContextSpecific, 6);
        while (names.HasData)
        {
            if (names.PeekTag() == uri)
            {
                uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uri));
            }
            else
            {
                names.ReadEncodedValue();
            }
        }

        return uris;
    }

    private bool Verify(X509Certificate2 server, string expected)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.ExtraStore.AddRange(_intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server) && UriSans(server) is [var id] && id == expected;
    }

    private sealed record SvidAnswer(string SpiffeId, string CertificateChainPem);

    private sealed record BundleAnswer(string TrustDomain, string RootsPem);
}
