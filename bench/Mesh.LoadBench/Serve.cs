using System.Diagnostics;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.LoadBench;

/// <summary>
/// The comparison's backends, in a child process so that the client's CPU time is the client's alone: HTTP/1.1
/// servers answering a short text, and h2c gRPC inventory servers; with <c>--tls DIR</c> as many again of each over
/// mutual TLS (HTTP/1.1, and HTTP/2 by ALPN), presenting the backends' certificate from DIR and requiring a client
/// certificate that chains to DIR's root. The child prints one line with their addresses and serves until its standard
/// input closes or it is killed.
/// </summary>
internal static class Serve
{
    public const string ReadyPrefix = "ready ";

    private static readonly byte[] Body = "{\"sku\":\"a\",\"quantity\":42}"u8.ToArray();

    /// <summary>Runs in the child: starts the servers, reports their addresses, and waits for the parent to let go.</summary>
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var apps = new List<WebApplication>();
        try
        {
            var http = await StartHttpBackendsAsync(options.HttpBackends, null, apps).ConfigureAwait(false);
            var grpc = await StartGrpcBackendsAsync(options.GrpcBackends, null, apps).ConfigureAwait(false);
            List<string> httpTls = [], grpcTls = [];
            if (options.TlsDirectory is { } directory)
            {
                var tls = new ServerTls(BenchPki.LoadBackend(directory), BenchPki.LoadRoot(directory));
                httpTls = await StartHttpBackendsAsync(options.HttpBackends, tls, apps).ConfigureAwait(false);
                grpcTls = await StartGrpcBackendsAsync(options.GrpcBackends, tls, apps).ConfigureAwait(false);
            }

            await Console.Out.WriteLineAsync(ReadyPrefix + JsonSerializer.Serialize(new Addresses(http, grpc, httpTls, grpcTls))).ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);

            // The parent closes our standard input (or dies, which closes it too): then we stop.
            while (await Console.In.ReadLineAsync().ConfigureAwait(false) is not null)
            {
            }

            return 0;
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs in the parent: starts the child (with TLS backends too when <paramref name="tlsDirectory"/> is given) and reads the addresses it reports.</summary>
    public static async Task<(Process Process, Addresses Addresses)> StartChildAsync(int http, int grpc, string? tlsDirectory, CancellationToken cancellationToken)
    {
        string[] args = ["serve", "--http", http.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc", grpc.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var start = ChildProcesses.Self(tlsDirectory is null ? args : [.. args, "--tls", tlsDirectory]);
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        var process = ChildProcesses.Start(start);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the backend process (pid {process.Id}) ended before it was ready");
            if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
            {
                return (process, JsonSerializer.Deserialize<Addresses>(line[ReadyPrefix.Length..])!);
            }
        }
    }

    public static Task<WebApplication> StartHttpAsync(Action<WebApplication> pipeline) =>
        StartAsync(HttpProtocols.Http1, null, _ => { }, pipeline);

    private static async Task<List<string>> StartHttpBackendsAsync(int count, ServerTls? tls, List<WebApplication> apps)
    {
        var addresses = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var app = await StartAsync(HttpProtocols.Http1, tls, _ => { }, a => a.Run(AnswerAsync)).ConfigureAwait(false);
            apps.Add(app);
            addresses.Add(Address(app));
        }

        return addresses;
    }

    private static async Task<List<string>> StartGrpcBackendsAsync(int count, ServerTls? tls, List<WebApplication> apps)
    {
        var addresses = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var behavior = new InventoryBehavior(tls is null ? $"g{i}" : $"gt{i}");
            var app = await StartAsync(
                HttpProtocols.Http2,
                tls,
                s =>
                {
                    s.AddGrpc();
                    s.AddSingleton(behavior);
                },
                a => a.MapGrpcService<InventoryService>()).ConfigureAwait(false);
            apps.Add(app);
            addresses.Add(Address(app));
        }

        return addresses;
    }

    private static async Task<WebApplication> StartAsync(HttpProtocols protocols, ServerTls? tls, Action<IServiceCollection> services, Action<WebApplication> pipeline)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (tls is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = protocols));
        }
        else
        {
            // Plain Kestrel mutual TLS (not Mesh.AspNetCore): a client certificate is required and must chain to the bench's root.
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = protocols;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = tls.Certificate,
                    SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                    CheckCertificateRevocation = false,
                    ClientCertificateValidation = (certificate, _, _) => BenchPki.ChainsTo(certificate, tls.Root),
                });
            }));
        }

        services(builder.Services);
        var app = builder.Build();
        pipeline(app);
        await app.StartAsync().ConfigureAwait(false);
        return app;
    }

    public static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();

    private static Task AnswerAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = Body.Length;
        return context.Response.Body.WriteAsync(Body, context.RequestAborted).AsTask();
    }
}

/// <summary>The addresses the backend process listens on: plaintext, and over mutual TLS (empty without <c>--tls</c>).</summary>
internal sealed record Addresses(IReadOnlyList<string> Http, IReadOnlyList<string> Grpc, IReadOnlyList<string> HttpTls, IReadOnlyList<string> GrpcTls);

/// <summary>What a TLS backend presents, and the root its clients' certificates must chain to.</summary>
internal sealed record ServerTls(X509Certificate2 Certificate, X509Certificate2 Root);
