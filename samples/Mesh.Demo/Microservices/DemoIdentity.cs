using System.Formats.Asn1;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Demo.Microservices;

/// <summary>
/// The demo's own place in the mesh, <c>spiffe://mesh.local/svc/demo</c>: its users and its operator console call the
/// sample services, which take mutual TLS only. A key made in this process (never written anywhere), a certificate
/// signed by meshd's CA for the demo's credential, and clients that present it and accept a server only when its
/// certificate chains to the mesh's trust bundle (never the system store) and names the service called.
/// </summary>
internal sealed class DemoIdentity : IDisposable
{
    public const string Service = "demo";
    private const string SubjectAlternativeName = "2.5.29.17";
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _intermediates;
    private readonly X509Certificate2Collection _roots;
    private readonly SslStreamCertificateContext _context;

    private DemoIdentity(ECDsa key, X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection roots, string trustDomain)
    {
        _key = key;
        _certificate = certificate;
        _intermediates = intermediates;
        _roots = roots;
        TrustDomain = trustDomain;
        _context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
    }

    /// <summary>Gets the mesh's trust domain, from meshd's bundle.</summary>
    public string TrustDomain { get; }

    /// <summary>Gets the demo's SPIFFE ID, as its certificate carries it.</summary>
    public string Id => IdOf(Service);

    /// <summary>The SPIFFE ID of a service of this mesh.</summary>
    public string IdOf(string service) => $"spiffe://{TrustDomain}/svc/{service}";

    /// <summary>Asks meshd, with the demo's own credential, for a certificate and the trust bundle.</summary>
    public static async Task<DemoIdentity> CreateAsync(HttpClient meshd, string credential, CancellationToken cancellationToken)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            // meshd takes nothing from the request but its public key: the identity is that of the credential's service.
            var csr = new CertificateRequest("CN=" + Service, key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            var svid = await SendAsync<SvidAnswer>(meshd, HttpMethod.Post, $"/v1/services/{Service}/svid", credential, JsonContent.Create(new { csr, ttl = "01:00:00" }), cancellationToken);
            var bundle = await SendAsync<BundleAnswer>(meshd, HttpMethod.Get, "/v1/identity/bundle", credential, null, cancellationToken);

            var chain = new X509Certificate2Collection();
            chain.ImportFromPem(svid.CertificateChainPem);
            using var leaf = chain[0];
            var certificate = leaf.CopyWithPrivateKey(key);
            chain.RemoveAt(0);
            var roots = new X509Certificate2Collection();
            roots.ImportFromPem(bundle.RootsPem);
            return new DemoIdentity(key, certificate, chain, roots, bundle.TrustDomain);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>A handler for calls to one service: mutual TLS with the demo's certificate, the server checked to be that service.</summary>
    public SocketsHttpHandler HandlerFor(string service)
    {
        var expected = IdOf(service);
        return new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificateContext = _context,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 server && Verify(server, expected),
            },
        };
    }

    /// <summary>A handler that speaks TLS and trusts the mesh's servers but has no certificate to present.</summary>
    public SocketsHttpHandler HandlerWithoutCertificate(string service)
    {
        var expected = IdOf(service);
        return new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 server && Verify(server, expected),
            },
        };
    }

    public void Dispose()
    {
        _certificate.Dispose();
        _key.Dispose();
        foreach (var certificate in _intermediates.Concat(_roots))
        {
            certificate.Dispose();
        }
    }

    /// <summary>The server's chain must end at a root of the bundle and its one URI SAN be the service's SPIFFE ID; its DNS name is not checked (an SVID has none).</summary>
    private bool Verify(X509Certificate2 server, string expected)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server) && UriSans(server) is [var id] && id == expected;
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

    private static async Task<T> SendAsync<T>(HttpClient meshd, HttpMethod method, string path, string credential, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        using var response = await meshd.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        return await response.Content.ReadFromJsonAsync<T>(cancellationToken) ?? throw new InvalidOperationException($"{method} {path}: an empty answer.");
    }

    private sealed record SvidAnswer(string SpiffeId, string CertificateChainPem);

    private sealed record BundleAnswer(string TrustDomain, string RootsPem);
}
