using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Mesh.Grpc.Inventory;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Identity;

/// <summary>
/// A plain Kestrel server speaking mesh mutual TLS on 127.0.0.1, independent of Mesh.AspNetCore: it presents the
/// workload certificate its holder has at each handshake, demands a client certificate of the bundle's trust domain,
/// answers <c>GET /whoami</c> with the caller's SPIFFE ID, serves the gRPC inventory, and counts connections.
/// </summary>
internal sealed class MtlsServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _connections;
    private long _requests;

    private MtlsServer(WebApplication app, WorkloadCertificate holder)
    {
        _app = app;
        Holder = holder;
    }

    /// <summary>Gets the holder of the certificate the server presents; update it to rotate.</summary>
    public WorkloadCertificate Holder { get; }

    public Uri Address { get; private set; } = null!;

    /// <summary>Gets the TLS connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Gets the serial numbers of the client certificates seen, in order of first sight.</summary>
    public List<string> ClientSerials { get; } = [];

    /// <summary>Gets the expiry of the client certificate of every request, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<DateTimeOffset> ClientNotAfters { get; } = new();

    /// <summary>Gets or sets whether every answer closes its connection, so the next request opens (and handshakes) a new one.</summary>
    public bool CloseEveryConnection { get; set; }

    public static async Task<MtlsServer> StartAsync(WorkloadSvid svid, TrustBundle bundle)
    {
        var holder = new WorkloadCertificate(TimeProvider.System);
        holder.Update(svid, bundle);
        var validator = new X509SvidValidator(TimeProvider.System);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new InventoryBehavior("tls"));
        MtlsServer? server = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = _ =>
                {
                    Interlocked.Increment(ref server!._connections);
                    return ValueTask.FromResult(new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = holder.GetCurrent().Context,
                        ClientCertificateRequired = true,
                        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                        ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
                        RemoteCertificateValidationCallback = (_, certificate, chain, _) => validator.Validate(certificate, chain, holder.Bundle).Id is not null,
                    });
                },
            });
        }));
        var app = builder.Build();
        server = new MtlsServer(app, holder);
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref server._requests);
            if (context.Connection.ClientCertificate is { } client)
            {
                server.ClientNotAfters.Enqueue(new DateTimeOffset(client.NotAfter.ToUniversalTime(), TimeSpan.Zero));
                lock (server.ClientSerials)
                {
                    if (!server.ClientSerials.Contains(client.SerialNumber))
                    {
                        server.ClientSerials.Add(client.SerialNumber);
                    }
                }
            }

            if (server.CloseEveryConnection)
            {
                context.Response.Headers.Connection = "close";
            }

            await next(context);
        });
        app.MapGet("/whoami", (HttpContext context) =>
            validator.Validate(context.Connection.ClientCertificate, null, holder.Bundle).Id?.ToString() ?? "nobody");
        app.MapGrpcService<InventoryService>();
        await app.StartAsync();
        server.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Holder.Dispose();
    }
}
