using Meshd.Api;
using Meshd.Policies;
using Meshd.Registry;
using Meshd.Security;
using Meshd.Storage;
using Meshd.Watch;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Meshd;

/// <summary>
/// A running meshd: its HTTP API on <see cref="Address"/> over the configured store. <c>meshd</c> runs one from its
/// command line; tests and tools can run one in their own process.
/// </summary>
public sealed class MeshdHost : IAsyncDisposable
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

    /// <summary>Gets the workload token (register, renew, deregister, snapshot).</summary>
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
        var tokens = TokenStore.Resolve(meshd, Console.Out);
        builder.WebHost.UseUrls(meshd.Urls);

        // Request logging stays off: it is noise at this rate, and headers (Authorization) must never reach a log.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MeshdSettings.MaxBodyBytes);
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(meshd);
        builder.Services.AddSingleton(tokens);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IKeyValueStore>(sp => meshd.Store == "etcd"
            ? new EtcdKeyValueStore(meshd.EtcdEndpoint, meshd.EtcdPrefix)
            : FileKeyValueStore.Open(meshd.DataDirectory, sp.GetRequiredService<ILoggerFactory>().CreateLogger<FileKeyValueStore>()));
        builder.Services.AddSingleton(sp => new MeshState(
            sp.GetRequiredService<IKeyValueStore>(),
            sp.GetRequiredService<TimeProvider>(),
            meshd.LeaseTtl,
            sp.GetRequiredService<ILogger<MeshState>>()));
        builder.Services.AddSingleton<RegistryService>();
        builder.Services.AddSingleton<PolicyService>();
        builder.Services.AddHostedService<LeaseSweeper>();
        services?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = ex => ex switch
        {
            ConflictException => StatusCodes.Status409Conflict,
            global::Grpc.Core.RpcException => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status500InternalServerError,
        } });
        app.UseStatusCodePages();
        app.MapGet("/healthz", () => Results.Ok(new { status = "serving" }));
        var v1 = app.MapGroup("/v1");
        RegistryEndpoints.Map(v1, tokens);
        PolicyEndpoints.Map(v1, tokens);
        SnapshotEndpoints.Map(v1, tokens);

        // The state is loaded before the first request is served.
        await app.Services.GetRequiredService<MeshState>().StartAsync(cancellationToken).ConfigureAwait(false);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new MeshdHost(app, new Uri(address), tokens.AdminToken, tokens.WorkloadToken);
    }
}
