using System.Collections.Concurrent;
using System.Collections.Frozen;
using Mesh.Balancing;
using Mesh.Configuration;
using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Discovery;

/// <summary>
/// The services of the mesh as one immutable snapshot, rebuilt whole when options or an endpoint source change and
/// swapped atomically. A rebuild that fails validation is refused and logged; the last good snapshot stays in force.
/// </summary>
internal sealed partial class ServiceCatalog : IDisposable
{
    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly IOptionsChangeTokenSource<MeshOptions>[] _optionsTokens;
    private readonly IEndpointSource[] _sources;
    private readonly MeshOptionsValidator _validator;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ILogger _logger;
    private readonly ILogger _resilienceLogger;
    private readonly MeshMetrics _metrics;
    private readonly Lock _rebuildLock = new();
    private readonly IDisposable _subscription;
    private readonly ConcurrentDictionary<string, ResilienceCounters> _counters = new(StringComparer.OrdinalIgnoreCase);
    private volatile Snapshot _snapshot;
    private long _rejectedReloads;

    /// <exception cref="OptionsValidationException">The configuration at startup is invalid.</exception>
    public ServiceCatalog(
        IOptionsFactory<MeshOptions> optionsFactory,
        IEnumerable<IOptionsChangeTokenSource<MeshOptions>> optionsTokens,
        IEnumerable<IEndpointSource> sources,
        MeshOptionsValidator validator,
        TimeProvider time,
        MeshRandom random,
        MeshMetrics metrics,
        ILoggerFactory loggers)
    {
        _metrics = metrics;
        _optionsFactory = optionsFactory;
        _optionsTokens = [.. optionsTokens];
        _sources = [.. sources];
        _validator = validator;
        _time = time;
        _random = random;
        _logger = loggers.CreateLogger<ServiceCatalog>();
        _resilienceLogger = loggers.CreateLogger(ResiliencePolicy.LogCategory);

        _snapshot = Build(_optionsFactory.Create(Options.DefaultName), previous: null, version: 1, out var failures)
            ?? throw new OptionsValidationException(Options.DefaultName, typeof(MeshOptions), failures);
        LogApplied(_logger, _snapshot.Version, _snapshot.Services.Count);
        _subscription = ChangeToken.OnChange(GetChangeToken, Rebuild);
        metrics.Observe(this);
    }

    /// <summary>Gets the number of the snapshot in force; it grows by one at each applied change.</summary>
    public long Version => _snapshot.Version;

    /// <summary>Gets how many changes were refused since start.</summary>
    public long RejectedReloads => Interlocked.Read(ref _rejectedReloads);

    /// <summary>Gets the name of this service in the mesh, when configured.</summary>
    public string? ServiceName => _snapshot.ServiceName;

    /// <summary>Gets the names of the services in force.</summary>
    public IEnumerable<string> ServiceNames => _snapshot.Services.Keys;

    /// <summary>Finds the service a request host names; <see langword="false"/> for a host that is not a service.</summary>
    public bool TryGetService(string host, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServiceState? service) =>
        _snapshot.Services.TryGetValue(host, out service);

    /// <summary>Tells whether a host names a service an endpoint source knows but has no endpoint for now.</summary>
    public bool IsWithoutEndpoints(string host) => _snapshot.WithoutEndpoints.Contains(host);

    /// <summary>Gets the counters of a service's resilience decisions, kept across reloads.</summary>
    public ResilienceCounters CountersOf(string service) => _counters.GetOrAdd(service, static (name, metrics) => new ResilienceCounters(name, metrics), _metrics);

    /// <summary>Rebuilds the picker of a service, after an endpoint was ejected or returned.</summary>
    public void RefreshPicker(string service)
    {
        if (TryGetService(service, out var state))
        {
            state.RefreshPicker();
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        foreach (var service in _snapshot.Services.Values)
        {
            service.Policy.Dispose();
        }
    }

    private IChangeToken GetChangeToken()
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
                    RetirePolicies(current, next);
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

    private static void RetirePolicies(Snapshot previous, Snapshot next)
    {
        foreach (var (name, old) in previous.Services)
        {
            if (!next.Services.TryGetValue(name, out var current) || !ReferenceEquals(current.Policy, old.Policy))
            {
                old.Policy.Dispose();
            }
        }
    }

    private Snapshot? Build(MeshOptions options, Snapshot? previous, long version, out IReadOnlyList<string> failures)
    {
        var result = _validator.Validate(Options.DefaultName, options);
        var errors = result.Failed ? new List<string>(result.Failures) : [];
        var services = new Dictionary<string, ServiceState>(StringComparer.OrdinalIgnoreCase);
        var withoutEndpoints = new List<string>();
        if (errors.Count == 0)
        {
            foreach (var (name, serviceOptions) in options.Services)
            {
                if (BuildService(name, serviceOptions, previous, errors, withoutEndpoints) is { } service)
                {
                    services[name] = service;
                }
            }
        }

        failures = errors;
        if (errors.Count == 0)
        {
            return new Snapshot(services.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), version, options.ServiceName, withoutEndpoints.ToFrozenSet(StringComparer.OrdinalIgnoreCase));
        }

        // Refused whole: release what was built for it.
        foreach (var (name, service) in services)
        {
            if (previous is null || !previous.Services.TryGetValue(name, out var old) || !ReferenceEquals(old.Policy, service.Policy))
            {
                service.Policy.Dispose();
            }
        }

        return null;
    }

    private ServiceState? BuildService(string name, MeshServiceOptions options, Snapshot? previous, List<string> errors, List<string> withoutEndpoints)
    {
        IReadOnlyList<MeshEndpoint>? endpoints = null;
        foreach (var source in _sources)
        {
            if (source.TryGetEndpoints(name, options, out var found))
            {
                endpoints = found;
                break;
            }
        }

        // A source that knows the service but has no instance of it yet (the control plane): not an error; its calls fail.
        if (endpoints is { Count: 0 })
        {
            withoutEndpoints.Add(name);
            return null;
        }

        var path = $"{MeshOptionsValidator.Section}:Services:{name}:Endpoints";
        if (endpoints is null || endpoints.Count == 0)
        {
            errors.Add($"{path}: service '{name}' has no endpoints (none configured, and no endpoint source knows it).");
            return null;
        }

        // Keep what the balancers learned of an endpoint that stays.
        Dictionary<Uri, EndpointState>? known = null;
        ServiceState? old = null;
        if (previous is not null && previous.Services.TryGetValue(name, out old))
        {
            known = [];
            foreach (var state in old.Endpoints)
            {
                known[state.Endpoint.Address] = state;
            }
        }

        var states = new EndpointState[endpoints.Count];
        var routable = new List<EndpointState>(endpoints.Count);
        for (var i = 0; i < states.Length; i++)
        {
            var endpoint = endpoints[i];
            states[i] = known is not null && known.TryGetValue(endpoint.Address, out var state) && SameShape(state.Endpoint, endpoint)
                ? state
                : new EndpointState(endpoint, _time);
            if (endpoint.Weight > 0)
            {
                routable.Add(states[i]);
            }
        }

        if (routable.Count == 0)
        {
            errors.Add($"{path}: every endpoint of service '{name}' has weight 0, so none could receive traffic.");
            return null;
        }

        // Keep the policy (breaker state, budget, limiter, ejection timers) while its options stay the same.
        var policy = old is not null && old.Policy.Fingerprint == ResiliencePolicy.FingerprintOf(options)
            ? old.Policy
            : new ResiliencePolicy(name, options, CountersOf(name), _time, _random, _resilienceLogger, RefreshPicker);
        return new ServiceState(name, options, states, routable.ToArray(), policy, _random, _time);
    }

    private static bool SameShape(MeshEndpoint a, MeshEndpoint b) =>
        a.Weight == b.Weight && a.Zone == b.Zone && a.Labels.Count == b.Labels.Count
        && a.Labels.All(l => b.Labels.TryGetValue(l.Key, out var v) && v == l.Value);

    private sealed record Snapshot(FrozenDictionary<string, ServiceState> Services, long Version, string? ServiceName, FrozenSet<string> WithoutEndpoints);

    [LoggerMessage(1, LogLevel.Information, "Mesh configuration {Version} applied: {ServiceCount} services.")]
    private static partial void LogApplied(ILogger logger, long version, int serviceCount);

    [LoggerMessage(2, LogLevel.Error, "Mesh configuration change refused; configuration {Version} stays in force. {Failures}")]
    private static partial void LogRejected(ILogger logger, long version, string failures);
}
