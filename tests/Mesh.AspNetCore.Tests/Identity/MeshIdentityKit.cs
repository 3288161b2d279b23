using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Mesh.AspNetCore.Identity;
using Mesh.Identity;
using Mesh.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// The mesh's PKI as a test makes it: a root for <c>mesh.local</c>, the server's SVID, key and bundle as PEM files for the
/// files identity source, and SVIDs of callers (as objects for .NET clients, as files for curl and openssl).
/// </summary>
internal sealed class MeshPki : IDisposable
{
    public const string TrustDomain = "mesh.local";
    public const string Service = "payments";

    private readonly TempDirectory _directory = new("mesh-server-identity-");
    private readonly X509SvidValidator _validator = new(TimeProvider.System);

    public MeshPki()
    {
        Root = TestPki.CreateRoot("Mesh Root", trustDomain: TrustDomain);
        Bundle = TrustBundle.Create(TrustDomain, [Root.Certificate]);
        File.WriteAllText(BundlePath, Root.CertificatePem);
    }

    public TestPki Root { get; }

    public TrustBundle Bundle { get; }

    public string CertificatePath => Path.Combine(_directory.Path, "svid.pem");

    public string KeyPath => Path.Combine(_directory.Path, "svid_key.pem");

    public string BundlePath => Path.Combine(_directory.Path, "bundle.pem");

    public static SpiffeId ServerId { get; } = SpiffeId.ForService(TrustDomain, Service);

    /// <summary>Writes a new certificate for the server (with a <c>localhost</c> DNS name, for curl) and returns its serial number.</summary>
    public string WriteServerCertificate()
    {
        using var leaf = Root.Issue(new TestLeaf { Uris = [ServerId.ToString()], DnsNames = ["localhost"] });

        // Each file is replaced whole, so the source never reads half a file.
        Replace(KeyPath, TestPki.KeyPemOf(leaf));
        Replace(CertificatePath, Root.ChainPem(leaf));
        return leaf.SerialNumber;
    }

    /// <summary>Makes an SVID of <paramref name="service"/> issued by <paramref name="ca"/> (the mesh's root by default).</summary>
    public WorkloadSvid Svid(string service, TestPki? ca = null)
    {
        var issuer = ca ?? Root;
        using var leaf = issuer.Issue(new TestLeaf { Uris = [SpiffeId.ForService(TrustDomain, service).ToString()] });
        return WorkloadSvid.FromPem(issuer.ChainPem(leaf), TestPki.KeyPemOf(leaf), "test");
    }

    /// <summary>Writes an SVID of <paramref name="service"/> (or any leaf <paramref name="leaf"/> describes) as PEM files, for curl and openssl.</summary>
    public (string Certificate, string Key) WriteCaller(string name, string service, TestPki? ca = null, TestLeaf? leaf = null)
    {
        var issuer = ca ?? Root;
        using var certificate = issuer.Issue(leaf ?? new TestLeaf { Uris = [SpiffeId.ForService(TrustDomain, service).ToString()] });
        var paths = (Path.Combine(_directory.Path, name + ".pem"), Path.Combine(_directory.Path, name + "_key.pem"));
        File.WriteAllText(paths.Item1, issuer.ChainPem(certificate));
        File.WriteAllText(paths.Item2, TestPki.KeyPemOf(certificate));
        return paths;
    }

    /// <summary>
    /// A client over the mesh's mutual TLS, as a meshed client with an identity connects: it presents <paramref name="svid"/>
    /// (none when null), checks the server's chain against the bundle and its SPIFFE ID against the server's, and records
    /// the serial number of each server certificate it accepts.
    /// </summary>
    public SocketsHttpHandler MtlsHandler(WorkloadSvid? svid, ConcurrentQueue<string>? serverSerials = null) => MtlsHandler(svid?.Context, serverSerials);

    /// <summary>A client as <see cref="MtlsHandler(WorkloadSvid?, ConcurrentQueue{string}?)"/>, presenting any certificate with its key, SVID or not.</summary>
    public SocketsHttpHandler MtlsHandler(X509Certificate2 certificate) => MtlsHandler(SslStreamCertificateContext.Create(certificate, null, offline: true), null);

    private SocketsHttpHandler MtlsHandler(SslStreamCertificateContext? certificate, ConcurrentQueue<string>? serverSerials) => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificateContext = certificate,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                if (!IsServer(certificate, chain))
                {
                    return false;
                }

                serverSerials?.Enqueue(((X509Certificate2)certificate!).SerialNumber);
                return true;
            },
        },
    };

    /// <summary>Checks a server's certificate as a meshed client does: chained to the bundle, and the SPIFFE ID of <c>payments</c>.</summary>
    public bool IsServer(X509Certificate? certificate, X509Chain? chain) =>
        _validator.Validate(certificate, chain, Bundle) is { IsValid: true } verification && verification.Id == ServerId;

    public void Dispose()
    {
        Root.Dispose();
        _directory.Dispose();
    }

    private static void Replace(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>Servers of <c>payments</c> with the files identity source, and what their handler saw of each caller.</summary>
internal static class MeshedServers
{
    /// <summary>
    /// Starts <c>payments</c> with an identity from <paramref name="pki"/>'s files and, when <paramref name="mode"/> is given,
    /// that mode set locally. <c>GET /who</c> answers what the request knows of its caller (see <see cref="Who"/>).
    /// </summary>
    public static Task<TestApp> StartAsync(
        MeshPki pki,
        string? mode,
        Action<IServiceCollection>? services = null,
        Action<MeshOptions>? mesh = null,
        Action<WebApplication>? pipeline = null,
        bool writeCertificate = true,
        X509Certificate2? appCertificate = null)
    {
        if (writeCertificate)
        {
            pki.WriteServerCertificate();
        }

        return TestApp.StartAsync(
            s =>
            {
                s.AddMeshServer();
                s.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = MeshPki.Service;
                    o.Identity.Source = IdentitySourceNames.Files;
                    o.Identity.CertificatePath = pki.CertificatePath;
                    o.Identity.KeyPath = pki.KeyPath;
                    o.Identity.BundlePath = pki.BundlePath;
                    if (mode is not null)
                    {
                        o.Services[MeshPki.Service] = new MeshServiceOptions { Mtls = { Mode = mode } };
                    }

                    mesh?.Invoke(o);
                });
                services?.Invoke(s);
            },
            app =>
            {
                app.MapGet("/who", (HttpContext context) => Results.Json(Who.Of(context)));
                pipeline?.Invoke(app);
            },
            certificate: appCertificate);
    }

    /// <summary>The https address of a server: the same port as its plaintext one.</summary>
    public static Uri Https(this TestApp app, string host = "127.0.0.1") => new($"https://{host}:{app.Address.Port}");
}

/// <summary>What a request knew of its caller, as the test server's handler answers it.</summary>
internal sealed record Who(string? Id, string? Service, string? User, string? AuthenticationType, string? ClaimedService, string? Header, bool Https, string Protocol, string Connection)
{
    public static Who Of(HttpContext context)
    {
        var caller = context.Features.Get<IMeshCallerFeature>();
        var identity = context.User.Identity;
        return new Who(
            caller?.Id.ToString(),
            caller?.ServiceName,
            identity?.IsAuthenticated == true ? identity.Name : null,
            identity?.AuthenticationType,
            context.User.FindFirstValue(MeshCallerClaims.Service),
            context.Request.Headers[MeshHeaders.Caller].ToString(),
            context.Request.IsHttps,
            context.Request.Protocol,
            context.Connection.Id);
    }
}
