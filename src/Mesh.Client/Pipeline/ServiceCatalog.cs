using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Mesh.Balancing;
using Mesh.Concrete;
using Mesh.Configuration;
using Mesh.Discovery;
using Mesh.Endpoint;
using Mesh.Identity;
using Mesh.Logical;
using Mesh.Outliers;
using Mesh.Routing;
using Mesh.Telemetry;
using Mesh.Utilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Pipeline;

/// <summary>
/// The services of the mesh as one immutable snapshot, each with its three layers, rebuilt whole when the options or an
/// endpoint source change and swapped atomically. What the layers learned survives a rebuild: a service's strategies
/// while their options stay the same, its outlier detector (and the ejections it owns) likewise, and each endpoint's
/// load while the endpoint keeps its address and shape. A rebuild that fails validation is refused and logged; the last
/// good snapshot stays in force.
/// </summary>
internal sealed partial class ServiceCatalog : IEndpointCounts, IDisposable
{
    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly IOptionsChangeTokenSource<MeshOptions>[] _optionsTokens;
    private readonly IEndpointSource[] _sources;
    private readonly MeshOptionsValidator _validator;
    private readonly CallTelemetry _telemetry;
    private readonly MeshMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly EndpointIdentities _identities;
    private readonly ILogger _logger;
    private readonly ILogger _resilienceLogger;
    private readonly Lock _rebuildLock = new();
    private readonly IDisposable _subscription;
    private readonly ConcurrentDictionary<string, ServiceCounters> _counters = new(StringComparer.OrdinalIgnoreCase);
    private volatile Snapshot _snapshot;
    private long _rejectedReloads;

    /// <exception cref="OptionsValidationException">The configuration at startup is invalid.</exception>
    public ServiceCatalog(
        IOptionsFactory<MeshOptions> optionsFactory,
        IEnumerable<IOptionsChangeTokenSource<MeshOptions>> optionsTokens,
        IEnumerable<IEndpointSource> sources,
        MeshOptionsValidator validator,
        CallTelemetry telemetry,
        MeshMetrics metrics,
        TimeProvider time,
        MeshRandom random,
        EndpointIdentities identities,
        ILoggerFactory loggers)
    {
        _identities = identities;
        _optionsFactory = optionsFactory;
        _optionsTokens = [.. optionsTokens];
        _sources = [.. sources];
        _validator = validator;
        _telemetry = telemetry;
        _metrics = metrics;
        _time = time;
        _random = random;
        _logger = loggers.CreateLogger<ServiceCatalog>();
        _resilienceLogger = loggers.CreateLogger(ServicePolicy.LogCategory);

        // The first token is taken before the first build, so a change that lands while it builds is not lost: its
        // token has fired by the time it is watched, and the watch rebuilds at once.
        IChangeToken? first = GetChangeToken();
        _snapshot = Build(_optionsFactory.Create(Options.DefaultName), previous: null, version: 1, out var failures)
            ?? throw new OptionsValidationException(Options.DefaultName, typeof(MeshOptions), failures);
        LogApplied(_logger, _snapshot.Version, _snapshot.Services.Count);
        _subscription = ChangeToken.OnChange(() => Interlocked.Exchange(ref first, null) ?? GetChangeToken(), Rebuild);
        metrics.Observe(this);
    }

    /// <summary>Gets the number of the snapshot in force; it grows by one at each applied change.</summary>
    public long Version => _snapshot.Version;

    /// <summary>Gets how many changes were refused since start.</summary>
    public long RejectedReloads => Interlocked.Read(ref _rejectedReloads);

    /// <summary>Gets the name of this service in the mesh, when configured.</summary>
    public string? ServiceName => _snapshot.ServiceName;

    /// <summary>Gets which hosts that are not services may be called outside the mesh, as the options in force say.</summary>
    public OutsideRules Outside => _snapshot.Outside;

    /// <summary>Gets the names of the services in force.</summary>
    public IEnumerable<string> ServiceNames => _snapshot.Services.Keys;

    /// <summary>Finds the service a request host names; <see langword="false"/> for a host that is not a service.</summary>
    public bool TryGetService(string host, [NotNullWhen(true)] out LogicalService? service) =>
        _snapshot.Services.TryGetValue(host, out service);

    /// <summary>Gets the counters of a service's decisions, kept for the life of the process.</summary>
    public ServiceCounters CountersOf(string service) => _counters.GetOrAdd(service, static (name, metrics) => new ServiceCounters(name, metrics), _metrics);

    public IEnumerable<(string Service, int Available, int Ejected)> CountEndpoints()
    {
        foreach (var (name, service) in _snapshot.Services)
        {
            var ejected = service.Destination.EjectedCount();
            yield return (name, service.Destination.Endpoints.Length - ejected, ejected);
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        foreach (var service in _snapshot.Services.Values)
        {
            service.Policy.Dispose();
            service.Destination.Stage.Detector.Dispose();
        }
    }

    /// <summary>Swaps the endpoints a service balances over, after one of them was ejected or returned.</summary>
    private void Refresh(string service)
    {
        if (TryGetService(service, out var state))
        {
            state.Refresh();
        }
    }

    private CompositeChangeToken GetChangeToken()
    {
        var tokens = new List<IChangeToken>(_optionsTokens.Length + _sources.Length);
        foreach (var source in _optionsTokens)
        {
            tokens.Add(source.GetChangeToken());
        }

        foreach (var source in _sources)
        {
            tokens.Add(source.GetChangeToken());
        }

        return new CompositeChangeToken(tokens);
    }

    private void Rebuild()
    {
        lock (_rebuildLock)
        {
            var current = _snapshot;
            IReadOnlyList<string> failures;
            try
            {
                var next = Build(_optionsFactory.Create(Options.DefaultName), current, current.Version + 1, out failures);
                if (next is not null)
                {
                    _snapshot = next;
                    Retire(current, next);
                    LogApplied(_logger, next.Version, next.Services.Count);
                    return;
                }
            }
#pragma warning disable CA1031 // Whatever a configure action or a source throws, the last good snapshot must stay.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures = [ex is OptionsValidationException validation ? validation.Message : $"{ex.GetType().Name}: {ex.Message}"];
            }

            Interlocked.Increment(ref _rejectedReloads);
            LogRejected(_logger, current.Version, string.Join(" ", failures));
        }
    }

    /// <summary>Releases what the previous snapshot held and the next does not keep.</summary>
    private static void Retire(Snapshot previous, Snapshot next)
    {
        foreach (var (name, old) in previous.Services)
        {
            next.Services.TryGetValue(name, out var kept);
            if (!ReferenceEquals(kept?.Policy, old.Policy))
            {
                old.Policy.Dispose();
            }

            if (!ReferenceEquals(kept?.Destination.Stage.Detector, old.Destination.Stage.Detector))
            {
                old.Destination.Stage.Detector.Dispose();
            }
        }
    }

    private Snapshot? Build(MeshOptions options, Snapshot? previous, long version, out IReadOnlyList<string> failures)
    {
        var result = _validator.Validate(Options.DefaultName, options);
        var errors = result.Failed ? new List<string>(result.Failures) : [];
        var discovered = errors.Count == 0 ? EndpointDiscovery.Discover(options, _sources, errors) : [];
        failures = errors;
        if (errors.Count > 0)
        {
            return null;
        }

        var services = new Dictionary<string, LogicalService>(StringComparer.OrdinalIgnoreCase);
        var created = new List<IDisposable>();
        var mutualTls = options.Identity.IsEnabled;
        var tracked = new List<(OutlierDetector Detector, EndpointTarget[] Targets, EjectionState[] Routable)>();
        var wanted = WantedSubsets(discovered);
        try
        {
            foreach (var service in discovered)
            {
                LogicalService? old = null;
                previous?.Services.TryGetValue(service.Name, out old);
                services[service.Name] = BuildService(WithTransport(service, MtlsModeNames.ModeOf(options, service.Name), mutualTls), options.ServiceName, options.Zone, old, created, tracked, wanted.GetValueOrDefault(service.Name));
            }

            // Destinations and mirrors that name other services are pointed at them within this snapshot only.
            foreach (var service in services.Values)
            {
                service.Link(other => services.GetValueOrDefault(other), _random);
            }
        }
        catch
        {
            // Refused whole: release what was built for it.
            foreach (var disposable in created)
            {
                disposable.Dispose();
            }

            throw;
        }

        // Told only now, so a refused rebuild leaves the detectors as they were.
        foreach (var (detector, targets, routable) in tracked)
        {
            detector.Track(targets.Select(t => t.Ejection), routable);
        }

        // The endpoints that must prove an identity, for the transport to check them when it connects.
        _identities.Replace(services.Values
            .SelectMany(s => s.Destination.Endpoints)
            .Where(t => mutualTls && t.Endpoint.Identity is not null)
            .Select(t => (t.Endpoint.Address.Host, t.Endpoint.Address.Port, t.Endpoint.Identity!)));
        return new Snapshot(services.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), version, options.ServiceName, OutsideRules.Of(options));
    }

    /// <summary>
    /// How the service's endpoints are called, as its mutual TLS mode says (its own, else the mesh-wide one). Permissive: an
    /// endpoint that presents a mesh identity is called at its host and port over mutual TLS (<c>https</c>) by a workload with
    /// an identity of its own, and in plaintext (<c>http</c>) by one without, as a permissive server accepts. Strict: only
    /// over mutual TLS, so endpoints without an identity are left out, and all of them when this workload has none; a
    /// request is never sent in plaintext to a service that refuses plaintext. Off: plaintext, with no identity checked.
    /// </summary>
    private static DiscoveredService WithTransport(DiscoveredService service, string mode, bool mutualTls)
    {
        if (MtlsModeNames.Is(mode, MtlsModeNames.Off))
        {
            return service.Endpoints.All(e => e.Identity is null && e.Address.Scheme == Uri.UriSchemeHttp) ? service : service with
            {
                Endpoints = [.. service.Endpoints.Select(e => new MeshEndpoint(WithScheme(e.Address, Uri.UriSchemeHttp), e.Zone, e.Weight, e.Labels, identity: null))],
            };
        }

        if (MtlsModeNames.Is(mode, MtlsModeNames.Strict))
        {
            var tls = mutualTls ? service.Endpoints.Where(e => e.Identity is not null).ToList() : [];
            var unreachable = service.Endpoints.Count == 0 || tls.Count > 0 ? null : mutualTls
                ? $"its mutual TLS mode is Strict and none of its {service.Endpoints.Count} endpoint(s) from {service.Source} presents a mesh identity."
                : $"its mutual TLS mode is Strict and this workload has no identity of its own (Mesh:Identity:Source is not set).";
            return service with
            {
                Endpoints = [.. tls.Select(e => e.Address.Scheme == Uri.UriSchemeHttps ? e : new MeshEndpoint(WithScheme(e.Address, Uri.UriSchemeHttps), e.Zone, e.Weight, e.Labels, e.Identity))],
                Unreachable = unreachable,
            };
        }

        var scheme = mutualTls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
        if (service.Endpoints.All(e => e.Identity is null || e.Address.Scheme == scheme))
        {
            return service;
        }

        var endpoints = service.Endpoints
            .Select(e => e.Identity is null || e.Address.Scheme == scheme
                ? e
                : new MeshEndpoint(WithScheme(e.Address, scheme), e.Zone, e.Weight, e.Labels, e.Identity))
            .ToList();
        return service with { Endpoints = endpoints };
    }

    private static Uri WithScheme(Uri address, string scheme) =>
        address.Scheme == scheme ? address : new UriBuilder(address) { Scheme = scheme, Port = address.Port }.Uri;

    private LogicalService BuildService(DiscoveredService discovered, string? caller, string? zone, LogicalService? old, List<IDisposable> created, List<(OutlierDetector, EndpointTarget[], EjectionState[])> tracked, List<IReadOnlyDictionary<string, string>>? wanted = null)
    {
        var name = discovered.Name;
        var options = discovered.Options;
        var counters = CountersOf(name);

        var policy = old is not null && old.Policy.Fingerprint == ServicePolicy.FingerprintOf(options) ? old.Policy : null;
        if (policy is null)
        {
            policy = new ServicePolicy(name, options, counters, _time, _random, _resilienceLogger);
            created.Add(policy);
        }

        var oldDetector = old?.Destination.Stage.Detector;
        var detector = oldDetector is not null && oldDetector.Fingerprint == OutlierDetector.FingerprintOf(options.OutlierDetection) ? oldDetector : null;
        if (detector is null)
        {
            detector = new OutlierDetector(name, options.OutlierDetection, _time, _random, counters, _resilienceLogger, () => Refresh(name));
            created.Add(detector);
        }

        // What the balancers learned of an endpoint stays while it keeps its address and shape.
        var known = new Dictionary<Uri, EndpointLoad>();
        foreach (var target in old?.Destination.Endpoints ?? [])
        {
            known[target.Endpoint.Address] = target.Load;
        }

        var targets = new EndpointTarget[discovered.Endpoints.Count];
        for (var i = 0; i < targets.Length; i++)
        {
            var endpoint = discovered.Endpoints[i];
            var load = known.TryGetValue(endpoint.Address, out var kept) && SameShape(kept.Endpoint, endpoint) ? kept : new EndpointLoad(endpoint, _time);
            targets[i] = new EndpointTarget(endpoint, load, detector.StateOf(load.Authority));
        }

        var stage = new EndpointStage(name, options.AttemptTimeout, detector, _telemetry);
        var destination = new Destination(name, discovered.Source, targets, options.LoadBalancer, options.RingHash, stage, _random, _time, discovered.Unreachable, zone, options.ZoneAware);
        tracked.Add((detector, targets, Array.ConvertAll(destination.Routable, t => t.Ejection)));
        var routes = RouteTable.Create(options.Routes, _random, name);
        if (routes is null && wanted is null)
        {
            return new LogicalService(name, options, caller, policy, destination, _telemetry);
        }

        // One destination per subset a route names, over the same targets, so loads and ejections are shared and a
        // weight change swaps destinations without touching endpoint state. A subset of another service is a
        // placeholder without endpoints until Link points it at that service; then the subsets other services' routes
        // name in this one, owned here so that this service's ejections refresh them.
        Destination Subset(IReadOnlyDictionary<string, string> labels)
        {
            var members = Array.FindAll(targets, t => labels.All(l => t.Endpoint.Labels.TryGetValue(l.Key, out var v) && v == l.Value));
            var unreachable = members.Length > 0 ? null
                : discovered.Unreachable ?? $"none of its {targets.Length} endpoint(s) from {discovered.Source} has the labels {string.Join(", ", labels.Select(l => $"{l.Key}={l.Value}"))} that a route names.";
            return new Destination(name, discovered.Source, members, options.LoadBalancer, options.RingHash, stage, _random, _time, unreachable, zone, options.ZoneAware);
        }

        var subsets = new List<Destination> { destination };
        var labelSets = new List<IReadOnlyDictionary<string, string>?> { routes?.Subsets[0] ?? new Dictionary<string, string>() };
        for (var i = 1; i < (routes?.Subsets.Count ?? 0); i++)
        {
            var labels = routes!.Subsets[i];
            if (routes.SubsetServices[i] is { } other)
            {
                var naming = string.Join(", ", routes.Routes.Where(r => r.Uses(i)).Select(r => $"'{r.Name}'"));
                subsets.Add(new Destination(other, "the routes", [], options.LoadBalancer, options.RingHash, stage, _random, _time, $"it is not a service of the mesh; route {naming} of service '{name}' names it.", zone, options.ZoneAware));
                labelSets.Add(null);
            }
            else
            {
                subsets.Add(Subset(labels));
                labelSets.Add(labels);
            }
        }

        foreach (var labels in wanted ?? [])
        {
            if (labels.Count > 0 && !labelSets.Exists(own => own is not null && own.Count == labels.Count && labels.All(l => own.TryGetValue(l.Key, out var v) && v == l.Value)))
            {
                subsets.Add(Subset(labels));
                labelSets.Add(labels);
            }
        }

        Destination[] all = [.. subsets];
        return new LogicalService(name, options, caller, policy, destination, _telemetry, routes, all, [.. labelSets], routes is null ? null : RoutePolicies(name, options, policy, routes, all));
    }

    /// <summary>Each route's name, own retry, header changes and faults, by its index in the options.</summary>
    private RoutePolicy[] RoutePolicies(string service, MeshServiceOptions options, ServicePolicy policy, RouteTable routes, Destination[] subsets)
    {
        var policies = new RoutePolicy[options.Routes.Count];
        foreach (var route in routes.Routes)
        {
            var configured = options.Routes[route.Index];
            policies[route.Index] = new RoutePolicy(
                route.Name,
                configured.Retry is { } retry ? policy.ForRoute(retry) : null,
                RequestHeaderChanges.Create(configured.RequestHeaders),
                configured.Fault is { } fault ? new RouteFault(service, route.Name, fault, _metrics, _time, _random) : null,
                subsets);
        }

        return policies;
    }

    /// <summary>The label sets that routes of other services name in each service, by the name of the service named.</summary>
    private static Dictionary<string, List<IReadOnlyDictionary<string, string>>> WantedSubsets(IReadOnlyList<DiscoveredService> discovered)
    {
        var wanted = new Dictionary<string, List<IReadOnlyDictionary<string, string>>>(StringComparer.OrdinalIgnoreCase);
        void Want(string? service, string self, IDictionary<string, string> labels)
        {
            if (service is not null && !string.Equals(service, self, StringComparison.OrdinalIgnoreCase))
            {
                if (!wanted.TryGetValue(service, out var list))
                {
                    wanted[service] = list = [];
                }

                list.Add(new Dictionary<string, string>(labels, StringComparer.Ordinal));
            }
        }

        foreach (var service in discovered)
        {
            foreach (var route in service.Options.Routes)
            {
                foreach (var destination in route.Destinations)
                {
                    Want(destination.Service, service.Name, destination.Labels);
                }

                if (route.Mirror is { } mirror)
                {
                    Want(mirror.Service, service.Name, mirror.Labels);
                }
            }
        }

        return wanted;
    }

    private static bool SameShape(MeshEndpoint a, MeshEndpoint b) =>
        a.Weight == b.Weight && a.Zone == b.Zone && a.Labels.Count == b.Labels.Count
        && a.Labels.All(l => b.Labels.TryGetValue(l.Key, out var v) && v == l.Value);

    private sealed record Snapshot(FrozenDictionary<string, LogicalService> Services, long Version, string? ServiceName, OutsideRules Outside);

    [LoggerMessage(1, LogLevel.Information, "Mesh configuration {Version} applied: {ServiceCount} services.")]
    private static partial void LogApplied(ILogger logger, long version, int serviceCount);

    [LoggerMessage(2, LogLevel.Error, "Mesh configuration change refused; configuration {Version} stays in force. {Failures}")]
    private static partial void LogRejected(ILogger logger, long version, string failures);
}
