using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Mesh.AspNetCore.Registration;
using Mesh.ControlPlane.Contract;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Fleet;

/// <summary>
/// Meshed services for the fleet tests: real Kestrel apps on loopback that register with a real meshd (a short lease,
/// so a report comes about every TTL/3), each with its own configuration, plus a recorder in meshd that keeps the last
/// report body every instance sent with its renewal, read off the wire with the contract's serializer.
/// </summary>
internal sealed class FleetKit : IAsyncDisposable
{
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(2);

    private readonly TempDirectory _root = new("mesh-fleet-");
    private readonly List<Service> _services = [];
    private TempDirectory? _dataDirectory;

    private FleetKit(TestMeshd meshd, ReportRecorder reports)
    {
        Meshd = meshd;
        Reports = reports;
    }

    public TestMeshd Meshd { get; }

    public ReportRecorder Reports { get; }

    public static async Task<FleetKit> StartAsync(params (string Key, string Value)[] meshdSettings)
    {
        var reports = new ReportRecorder();
        var data = new TempDirectory("meshd-fleet-");
        var settings = TestMeshd.Settings(
            data.Path,
            [("Meshd:LeaseTtl", LeaseTtl.ToString("c", CultureInfo.InvariantCulture)), ("Meshd:SweepInterval", "00:00:00.100"), .. meshdSettings]);
        try
        {
            var meshd = await TestMeshd.StartAsync(settings, services => services.AddSingleton<IStartupFilter>(reports));
            var kit = new FleetKit(meshd, reports);
            kit._dataDirectory = data;
            return kit;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts an instance of <paramref name="service"/> that registers as <paramref name="instanceId"/>, with
    /// <paramref name="configuration"/> as its own configuration (under the mesh's control-plane settings), its
    /// endpoints mapped by <paramref name="map"/>, and a meshed client named <c>mesh</c>.
    /// </summary>
    public async Task<Service> StartServiceAsync(string service, string instanceId, Action<WebApplication> map, IDictionary<string, string?>? configuration = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = service,
            ["Mesh:ControlPlane:Address"] = Meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = Path.Combine(_root.Path, instanceId),
            ["Mesh:Server:InstanceId"] = instanceId,
            ["Mesh:Server:DrainTime"] = "00:00:00",
        };
        foreach (var (key, value) in configuration ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshServer();
        builder.Services.AddHttpClient("mesh").AddMesh();
        var app = builder.Build();
        app.MapMeshEndpoints();
        map(app);
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        var started = new Service(app, address, service, instanceId);
        _services.Add(started);
        await app.Services.GetRequiredService<MeshRegistration>().Registered.WaitAsync(TimeSpan.FromSeconds(10));
        return started;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in _services)
        {
            await service.DisposeAsync();
        }

        await Meshd.DisposeAsync();
        _dataDirectory?.Dispose();
        _root.Dispose();
    }

    /// <summary>One running instance.</summary>
    internal sealed class Service(WebApplication app, Uri address, string name, string instanceId) : IAsyncDisposable
    {
        private static readonly HttpClient s_plain = new() { Timeout = TimeSpan.FromSeconds(30) };
        private int _disposed;

        public WebApplication App => app;

        public Uri Address => address;

        public string Name => name;

        public string InstanceId => instanceId;

        public IServiceProvider Services => app.Services;

        /// <summary>A meshed client of this instance, as its application would use.</summary>
        public HttpClient Mesh => app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        /// <summary>Reads <c>/mesh/stats</c> of this instance.</summary>
        public async Task<JsonElement> StatsAsync()
        {
            using var document = JsonDocument.Parse(await s_plain.GetStringAsync(new Uri(address, "/mesh/stats")));
            return document.RootElement.Clone();
        }

        /// <summary>Reads <c>/mesh/config</c> of this instance.</summary>
        public async Task<JsonElement> ConfigAsync()
        {
            using var document = JsonDocument.Parse(await s_plain.GetStringAsync(new Uri(address, "/mesh/config")));
            return document.RootElement.Clone();
        }

        /// <summary>Sends a plain (not meshed) GET to this instance.</summary>
        public async Task<HttpResponseMessage> GetAsync(string path, string? caller = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(address, path));
            if (caller is not null)
            {
                request.Headers.Add("mesh-caller", caller);
            }

            return await s_plain.SendAsync(request);
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// In meshd's pipeline, first: keeps the body of every renewal that has one (after meshd, which reads it too, so
    /// meshd's answer is what the instance sees), read with the contract's serializer as meshd reads it.
    /// </summary>
    internal sealed class ReportRecorder : IStartupFilter
    {
        private readonly ConcurrentDictionary<string, (InstanceReportDocument Report, string Raw, int Status)> _last = new(StringComparer.Ordinal);
        private long _received;

        public long Received => Interlocked.Read(ref _received);

        /// <summary>The last report of <c>{service}/{instanceId}</c>, when one came.</summary>
        public InstanceReportDocument? Last(string service, string instanceId) =>
            _last.TryGetValue($"{service}/{instanceId}", out var last) ? last.Report : null;

        /// <summary>The raw JSON and meshd's status of the last report of <c>{service}/{instanceId}</c>.</summary>
        public (string Raw, int Status) LastRaw(string service, string instanceId) =>
            _last.TryGetValue($"{service}/{instanceId}", out var last) ? (last.Raw, last.Status) : ("", 0);

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, following) =>
            {
                var segments = context.Request.Path.Value?.Split('/') ?? [];
                var renewal = HttpMethods.IsPost(context.Request.Method) && segments is ["", "v1", "services", _, "instances", _, "renew"];
                if (!renewal || context.Request.ContentLength is not > 0 && context.Request.Headers.TransferEncoding.Count == 0)
                {
                    await following(context);
                    return;
                }

                context.Request.EnableBuffering();
                using var copy = new MemoryStream();
                await context.Request.Body.CopyToAsync(copy);
                context.Request.Body.Position = 0;
                await following(context);
                var raw = System.Text.Encoding.UTF8.GetString(copy.ToArray());
                var report = JsonSerializer.Deserialize(copy.ToArray(), ControlPlaneJson.Default.InstanceReportDocument)!;
                _last[$"{segments[3]}/{segments[5]}"] = (report, raw, context.Response.StatusCode);
                Interlocked.Increment(ref _received);
            });
            next(app);
        };
    }
}
