using Meshd.Api;
using Meshd.Connections;
using Meshd.Fleet;
using Meshd.Health;
using Meshd.Identity;
using Meshd.Policies;
using Meshd.Registry;
using Meshd.Security;
using Meshd.Storage;
using Meshd.Watch;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;

namespace Meshd;

/// <summary>
/// A running meshd: its HTTP API on <see cref="Address"/> over the configured store. <c>meshd</c> runs one from its
/// command line; tests and tools can run one in their own process.
/// </summary>
public sealed partial class MeshdHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MeshdHost(WebApplication app, Uri address, string adminToken, string workloadToken)
    {
        _app = app;
        Address = address;
        AdminToken = adminToken;
        WorkloadToken = workloadToken;
    }

    /// <summary>Gets the address meshd listens on, such as <c>http://127.0.0.1:7070</c>.</summary>
    public Uri Address { get; }

    /// <summary>Gets the admin token (every route).</summary>
    public string AdminToken { get; }

    /// <summary>
    /// Gets the shared workload token (register, renew, deregister and SVIDs for any service, the snapshot). Deprecated in
    /// favour of per-service credentials; refused when <c>Meshd:RequireServiceCredentials</c> is true.
    /// </summary>
    public string WorkloadToken { get; }

    /// <summary>Gets the application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts meshd. Settings come from <paramref name="args"/> (<c>--Meshd:Urls=http://127.0.0.1:0</c>), the
    /// environment (<c>Meshd__Store=etcd</c>), <c>appsettings.json</c> and then <paramref name="settings"/>, which win.
    /// </summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="settings">Settings such as <c>Meshd:Urls</c>, <c>Meshd:DataDirectory</c>, <c>Meshd:Store</c>; may be null.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running meshd.</returns>
    public static Task<MeshdHost> StartAsync(string[] args, IDictionary<string, string?>? settings = null, CancellationToken cancellationToken = default) =>
        StartAsync(args, settings, null, cancellationToken);

    /// <summary>Waits until meshd is asked to stop (Ctrl+C, SIGTERM).</summary>
    /// <returns>A task that completes when meshd stops.</returns>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Stops meshd and releases its store.</summary>
    /// <returns>A task that completes when meshd has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    internal static async Task<MeshdHost> StartAsync(string[] args, IDictionary<string, string?>? settings, Action<IServiceCollection>? services, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        var meshd = MeshdSettings.Read(builder.Configuration);
        var descriptors = Descriptors.RaiseToHardLimit();
        var maxConnections = MaxConnections(meshd.Limits, descriptors?.After);
        var tokens = TokenStore.Resolve(meshd, Console.Out);
        builder.WebHost.UseUrls(meshd.Urls);

        // Request logging stays off: it is noise at this rate, and headers (Authorization) must never reach a log.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Hosting's diagnostics log only per-request lines; enabled, they cost every request an Activity and a log scope.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = meshd.MaxBodyBytes;
            kestrel.Limits.KeepAliveTimeout = meshd.Limits.IdleTimeout;
            kestrel.Limits.RequestHeadersTimeout = meshd.Limits.IdleTimeout;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => listen.ApplicationServices.GetRequiredService<ConnectionLimiter>().Middleware(next)));
            if (meshd.TlsCertificateFile is not null)
            {
                kestrel.ConfigureHttpsDefaults(https =>
                {
                    var certificate = kestrel.ApplicationServices.GetRequiredService<ServerCertificate>();
                    https.ServerCertificateSelector = (_, _) => certificate.Current;
                });
            }
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(meshd);
        builder.Services.AddSingleton(tokens);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AuthThrottle>();
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<MeshdMetrics>();
        if (meshd.TlsCertificateFile is { } certificateFile && meshd.TlsKeyFile is { } keyFile)
        {
            builder.Services.AddSingleton(sp => new ServerCertificate(certificateFile, keyFile, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ServerCertificate>>()));
        }

        builder.Services.AddSingleton(sp => new ConnectionLimiter(
            maxConnections,
            meshd.Limits.MaxConnectionsPerAddress,
            Math.Max(8, meshd.Limits.DescriptorReserve / 8),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ConnectionLimiter>>()));
        builder.Services.AddSingleton<IKeyValueStore>(sp => meshd.Store == "etcd"
            ? new EtcdKeyValueStore(meshd.EtcdEndpoint, meshd.EtcdPrefix, meshd.Etcd)
            : FileKeyValueStore.Open(meshd.DataDirectory, sp.GetRequiredService<ILoggerFactory>().CreateLogger<FileKeyValueStore>()));
        builder.Services.AddSingleton(sp => new MeshState(
            sp.GetRequiredService<IKeyValueStore>(),
            sp.GetRequiredService<TimeProvider>(),
            meshd.LeaseTtl,
            meshd.Limits.MaxWatchers,
            sp.GetRequiredService<ILogger<MeshState>>()));
        builder.Services.AddSingleton<ServiceCredentials>();
        builder.Services.AddSingleton<IdentityService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<IdentityService>());
        builder.Services.AddSingleton<RegistryService>();
        builder.Services.AddSingleton<FleetReports>();
        builder.Services.AddSingleton<FleetView>();
        builder.Services.AddSingleton<FleetMetrics>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(MeshdMetrics.MeterName, FleetMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime")
            .AddPrometheusExporter());
        builder.Services.AddSingleton<PolicyService>();
        builder.Services.AddSingleton<LeaseSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LeaseSweeper>());
        builder.Services.AddSingleton<StoreHealth>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StoreHealth>());
        services?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = ex => ex switch
        {
            ConflictException => StatusCodes.Status409Conflict,
            global::Grpc.Core.RpcException => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status500InternalServerError,
        } });
        app.Use(StoreFailures.Middleware);
        app.UseStatusCodePages();
        var throttle = app.Services.GetRequiredService<AuthThrottle>();
        HealthEndpoints.Map(app, tokens, throttle);
        var v1 = app.MapGroup("/v1");
        RegistryEndpoints.Map(v1, tokens, throttle);
        PolicyEndpoints.Map(v1, tokens, throttle);
        ServiceEndpoints.Map(v1, tokens, throttle);
        FleetEndpoints.Map(v1, tokens, throttle);
        SnapshotEndpoints.Map(v1, tokens, throttle);
        CredentialEndpoints.Map(v1, tokens, throttle);
        IdentityEndpoints.Map(v1, tokens, throttle);
        AuthorizationEndpoints.Map(v1, tokens, throttle);
        Dashboard.DashboardEndpoints.Map(app);

        // Prometheus exposition of meshd's meters and the fleet's (admin or read-only token).
        _ = app.Services.GetRequiredService<FleetMetrics>();
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: metrics => metrics.Use(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true).Middleware), optionsName: null);

        // The certificate is read, the state loaded and the store probed before the first request is served.
        _ = meshd.TlsCertificateFile is null ? null : app.Services.GetRequiredService<ServerCertificate>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Meshd");
        try
        {
            var identity = app.Services.GetRequiredService<IdentityService>();
            identity.Open();
            await app.Services.GetRequiredService<MeshState>().StartAsync(cancellationToken).ConfigureAwait(false);
            await app.Services.GetRequiredService<ServiceCredentials>().StartAsync(cancellationToken).ConfigureAwait(false);

            // The first snapshot served already holds the CA's bundle (or none, once the CA was turned off).
            await identity.PublishBundleAsync(cancellationToken).ConfigureAwait(false);
            await app.Services.GetRequiredService<StoreHealth>().ProbeAsync(cancellationToken).ConfigureAwait(false);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MeshdStartupException or StoreUnavailableException or IOException or UnauthorizedAccessException or global::Grpc.Core.RpcException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw ex switch
            {
                MeshdStartupException startup => startup,
                StoreUnavailableException or global::Grpc.Core.RpcException => new MeshdStartupException($"Meshd:Store: cannot read the {meshd.Store} store at start: {ex.Message}", ex),
                IOException when ex.Message.Contains("bind", StringComparison.OrdinalIgnoreCase) || ex.InnerException is System.Net.Sockets.SocketException =>
                    new MeshdStartupException($"Meshd:Urls: cannot listen on {meshd.Urls}: {ex.Message}", ex),
                _ => new MeshdStartupException($"Meshd:DataDirectory: cannot use '{Path.GetFullPath(meshd.DataDirectory)}': {ex.Message}", ex),
            };
        }

        LogLimits(logger, descriptors?.Before ?? -1, descriptors?.After ?? -1, maxConnections, meshd.Limits.MaxConnectionsPerAddress, meshd.Limits.MaxWatchers);
        if (tokens.AcceptsSharedWorkloadToken)
        {
            LogSharedWorkloadTokenDeprecated(logger);
        }
        else
        {
            LogSharedWorkloadTokenRefused(logger);
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new MeshdHost(app, new Uri(address), tokens.AdminToken, tokens.WorkloadToken);
    }

    /// <summary>The connections meshd holds at most: as configured, or the descriptor limit less the reserve.</summary>
    private static int MaxConnections(MeshdLimits limits, long? descriptorLimit)
    {
        if (descriptorLimit is not { } limit)
        {
            return limits.MaxConnections ?? 10_000;
        }

        var room = limit - limits.DescriptorReserve;
        if (limits.MaxConnections is { } configured)
        {
            return configured <= room
                ? configured
                : throw new MeshdStartupException($"Meshd:Limits:MaxConnections: {configured} connections and the reserve of {limits.DescriptorReserve} descriptors (Meshd:Limits:DescriptorReserve) need {configured + limits.DescriptorReserve} file descriptors, but this process may open {limit}. Raise the limit (ulimit -n, LimitNOFILE= in a systemd unit) or lower the setting.");
        }

        return room >= 16
            ? (int)Math.Min(room, 1_000_000)
            : throw new MeshdStartupException($"Meshd:Limits:DescriptorReserve: this process may open only {limit} file descriptors, too few for a reserve of {limits.DescriptorReserve} and connections. Raise the limit (ulimit -n, LimitNOFILE= in a systemd unit).");
    }
}
