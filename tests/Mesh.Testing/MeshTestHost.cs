using Mesh.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>A service provider with the mesh configured from a reloadable configuration, and a meshed client on it.</summary>
public sealed class MeshTestHost : IDisposable
{
    public const string ClientName = "meshed";

    private MeshTestHost(ServiceProvider services, ReloadableConfiguration configuration, LogCollector logs)
    {
        Services = services;
        Configuration = configuration;
        Logs = logs;
    }

    public ServiceProvider Services { get; }

    public ReloadableConfiguration Configuration { get; }

    public LogCollector Logs { get; }

    internal ServiceCatalog Catalog => Services.GetRequiredService<ServiceCatalog>();

    public HttpClient Client => Services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);

    public static MeshTestHost Create(IEnumerable<KeyValuePair<string, string?>> configuration, Action<IServiceCollection>? configure = null)
    {
        var source = new ReloadableConfiguration(configuration);
        var logs = new LogCollector();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Add(source).Build());
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        services.AddMesh();
        services.AddHttpClient(ClientName).AddMesh();
        configure?.Invoke(services);
        return new MeshTestHost(services.BuildServiceProvider(), source, logs);
    }

    /// <summary>Configuration for one service over <paramref name="backends"/> with the given balancer and weights.</summary>
    public static Dictionary<string, string?> ServiceConfig(string service, string balancer, IReadOnlyList<TestBackend> backends, IReadOnlyList<int>? weights = null)
    {
        var values = new Dictionary<string, string?>
        {
            [$"Mesh:Services:{service}:LoadBalancer"] = balancer,
        };
        for (var i = 0; i < backends.Count; i++)
        {
            values[$"Mesh:Services:{service}:Endpoints:{i}:Address"] = backends[i].Address.ToString();
            if (weights is not null)
            {
                values[$"Mesh:Services:{service}:Endpoints:{i}:Weight"] = weights[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return values;
    }

    /// <summary>Starts the registered hosted services, as a host does at its start (the mesh's waits for the control plane's first snapshot).</summary>
    public async Task StartAsync()
    {
        foreach (var service in Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await service.StartAsync(CancellationToken.None);
        }
    }

    public void Dispose() => Services.Dispose();
}
