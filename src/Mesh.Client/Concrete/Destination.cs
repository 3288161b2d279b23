using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Endpoint;
using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Utilities;
using Polly;

namespace Mesh.Concrete;

/// <summary>
/// The concrete layer of one destination (today: a service's whole endpoint set), once per attempt: the endpoints
/// balanced over (those not ejected, swapped whole when one leaves or returns), a pick that prefers an endpoint the
/// call has not tried, and failover: an attempt whose connection could not be made moves to another endpoint, up to
/// <see cref="MaxEndpointsPerAttempt"/>, before it counts as one attempt. A destination with no endpoint fails its
/// attempts at once with <see cref="MeshEndpointUnavailableException"/>. With a caller's zone, the set balanced over
/// is the zone's own endpoints while enough of them are available, with every available endpoint behind them for the
/// failover and the retries that have tried every local one (the rule: <see cref="ZoneAwareOptions"/>).
/// </summary>
internal sealed class Destination : IAttemptTarget
{
    /// <summary>The most endpoints one attempt tries when connections fail.</summary>
    internal const int MaxEndpointsPerAttempt = 3;

    private readonly string _balancer;
    private readonly RingHashOptions _ringHash;
    private readonly string? _hashHeader;
    private readonly string _source;
    private readonly string? _unreachable;
    private readonly EndpointStage _stage;
    private readonly MeshRandom _random;
    private readonly TimeProvider _time;
    private readonly EndpointTarget[] _local;
    private readonly int _minHealthyPercent;
    private volatile PickSet? _available;

    public Destination(string service, string source, EndpointTarget[] endpoints, string balancer, RingHashOptions ringHash, EndpointStage stage, MeshRandom random, TimeProvider time, string? unreachable = null, string? zone = null, ZoneAwareOptions? zoneAware = null)
    {
        Service = service;
        _source = source;
        _unreachable = unreachable;
        Endpoints = endpoints;
        Routable = Array.FindAll(endpoints, e => e.Endpoint.Weight > 0);
        _balancer = balancer;
        _ringHash = ringHash;
        _hashHeader = string.IsNullOrEmpty(ringHash.Header) ? null : ringHash.Header;
        _stage = stage;
        _random = random;
        _time = time;
        Zone = zoneAware is { Enabled: false } ? null : zone;
        _local = Zone is null ? [] : Array.FindAll(Routable, e => string.Equals(e.Endpoint.Zone, Zone, StringComparison.OrdinalIgnoreCase));
        _minHealthyPercent = zoneAware?.MinHealthyPercent ?? new ZoneAwareOptions().MinHealthyPercent;
        _available = CreateAvailable();
    }

    public string Service { get; }

    /// <summary>Gets every endpoint, drained ones (weight 0) included.</summary>
    public EndpointTarget[] Endpoints { get; }

    /// <summary>Gets the endpoints that may receive traffic (weight above 0).</summary>
    public EndpointTarget[] Routable { get; }

    /// <summary>Gets the endpoint layer its attempts go through.</summary>
    public EndpointStage Stage => _stage;

    /// <summary>Gets the balancer in force, over the endpoints not ejected; <see langword="null"/> without endpoints.</summary>
    public ILoadBalancer? Balancer => _available?.Picker.Balancer;

    /// <summary>Gets the endpoints picked from now: the local zone's while it is preferred, else every available one.</summary>
    public EndpointTarget[] Available => _available?.Targets ?? [];

    /// <summary>Gets the caller's zone whose endpoints are preferred, or <see langword="null"/> (no zone, or zone awareness off).</summary>
    public string? Zone { get; }

    /// <summary>Gets whether the local zone's endpoints are preferred now.</summary>
    public bool PrefersLocalZone => _available?.Spill is not null;

    /// <summary>Counts the endpoints ejected now.</summary>
    public int EjectedCount()
    {
        var now = _time.GetTimestamp();
        var ejected = 0;
        foreach (var endpoint in Endpoints)
        {
            ejected += endpoint.Ejection.IsEjected(now) ? 1 : 0;
        }

        return ejected;
    }

    /// <summary>The endpoints that may take traffic but are ejected now, by address.</summary>
    public List<Uri> EjectedNow()
    {
        var now = _time.GetTimestamp();
        var ejected = new List<Uri>();
        foreach (var endpoint in Routable)
        {
            if (endpoint.Ejection.IsEjected(now))
            {
                ejected.Add(endpoint.Endpoint.Address);
            }
        }

        return ejected;
    }

    /// <summary>Rebuilds the set picked from, after an endpoint was ejected or returned.</summary>
    public void Refresh() => _available = CreateAvailable();

    /// <summary>
    /// Sends one attempt of <paramref name="call"/> to an endpoint of this destination, moving on while connections fail;
    /// its outcome, an answer or the failure, is what the strategies above judge.
    /// </summary>
    // One pooled state machine for the whole attempt, failover included: the layers above await it directly.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Outcome<HttpResponseMessage>> SendAsync(HttpRequestMessage request, MeshCall call, ITransport transport, CancellationToken cancellationToken)
    {
        if (_available is not { } first)
        {
            return Outcome.FromException<HttpResponseMessage>(MeshEndpointUnavailableException.NoEndpoints(Service, _source, _unreachable));
        }

        var context = new PickContext(HashKey(request), call);
        var limit = Math.Min(MaxEndpointsPerAttempt, (first.Spill ?? first).Targets.Length);
        for (var tried = 1; ; tried++)
        {
            var available = _available!;
            var target = available.Targets[available.Picker.Pick(context)];
            if (available.Spill is { } spill && call.HasTried(target.Load))
            {
                // Every local endpoint was tried by this call: another zone takes it.
                target = spill.Targets[spill.Picker.Pick(context)];
            }

            call.AddTried(target.Load);
            Explain(call, available, target);
            try
            {
                return Outcome.FromResult(await _stage.SendAsync(request, target, call, transport, cancellationToken).ConfigureAwait(false));
            }
            catch (HttpRequestException ex) when (tried < limit && !cancellationToken.IsCancellationRequested && Failures.Classify(ex) == FailureKind.ConnectFailure)
            {
                // Never sent: another endpoint may take it within this attempt, whatever the method.
                call.SetNextReason($"failover after {ex.HttpRequestError}: {ex.Message}");
            }
#pragma warning disable CA1031 // Every failure becomes an outcome for the strategies to judge.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                return Outcome.FromException<HttpResponseMessage>(ex);
            }
        }
    }

    /// <summary>For an explained call: how this destination chooses (once per call), and the endpoint picked for this attempt.</summary>
    // The test alone here: the lambdas below would make every call allocate their closure.
    private void Explain(MeshCall call, PickSet available, EndpointTarget target)
    {
        if (call.Explanation is { } explanation)
        {
            Explain(explanation, available, target);
        }
    }

    private void Explain(Explanation explanation, PickSet available, EndpointTarget target)
    {
        explanation.Destination(() => DescribeChoice(available));
        var now = _time.GetTimestamp();
        var ejected = Array.FindAll(Routable, e => e.Ejection.IsEjected(now));
        var note = available.Spill is not null && Array.IndexOf(available.Targets, target) < 0 ? "spill(every local endpoint tried)" : null;
        if (ejected.Length > 0)
        {
            var skipped = "ejected=[" + string.Join(',', ejected.Select(e => e.Endpoint.Address.Authority)) + "]";
            note = note is null ? skipped : note + " " + skipped;
        }

        explanation.Picked(target.Load, note);
    }

    /// <summary>The balancer, the endpoints available of those that may take traffic, and the zone rule's verdict.</summary>
    private string DescribeChoice(PickSet available)
    {
        var all = available.Spill ?? available;
        var text = string.Create(CultureInfo.InvariantCulture, $"lb={_balancer} available={all.Targets.Length}/{Routable.Length}");
        if (Zone is null)
        {
            return text;
        }

        var now = _time.GetTimestamp();
        var healthy = Array.FindAll(_local, e => !e.Ejection.IsEjected(now)).Length;
        var verdict = _local.Length == 0 ? "spilled(no endpoint in the zone)"
            : available.Spill is not null ? $"local({healthy}/{_local.Length} of the zone available, min {_minHealthyPercent}%)"
            : $"spilled({healthy}/{_local.Length} of the zone available, below min {_minHealthyPercent}%)";
        return string.Create(CultureInfo.InvariantCulture, $"{text}; zone={Zone} {verdict}");
    }

    private string? HashKey(HttpRequestMessage request)
    {
        if (_hashHeader is null || !request.Headers.NonValidated.TryGetValues(_hashHeader, out var values) || values.Count == 0)
        {
            return null;
        }

        return values.Count == 1 ? FirstOf(values) : values.ToString();
    }

    private static string FirstOf(HeaderStringValues values)
    {
        foreach (var value in values)
        {
            return value;
        }

        return string.Empty;
    }

    private PickSet? CreateAvailable()
    {
        if (Routable.Length == 0)
        {
            return null;
        }

        var now = _time.GetTimestamp();
        var targets = Array.FindAll(Routable, e => !e.Ejection.IsEjected(now));

        // With every endpoint ejected (only possible for one endpoint, or at 100%), balance over all rather than fail.
        if (targets.Length == 0)
        {
            targets = Routable;
        }

        var all = PickSetOf(targets, spill: null);
        if (_local.Length == 0)
        {
            return all;
        }

        // The zone rule: the local endpoints alone while at least MinHealthyPercent of them (and one) are available.
        var local = Array.FindAll(_local, e => !e.Ejection.IsEjected(now));
        return local.Length > 0 && local.Length * 100L >= (long)_minHealthyPercent * _local.Length ? PickSetOf(local, all) : all;
    }

    private PickSet PickSetOf(EndpointTarget[] targets, PickSet? spill)
    {
        var loads = Array.ConvertAll(targets, t => t.Load);
        return new PickSet(targets, new EndpointPicker(loads, LoadBalancerFactory.Create(_balancer, _ringHash, loads, _random, _time), _random), spill);
    }

    /// <summary>
    /// The endpoints picked from now and the picker over them, swapped together; with the local zone preferred, the set
    /// of every available endpoint an attempt spills to once the call has tried every local one.
    /// </summary>
    private sealed record PickSet(EndpointTarget[] Targets, EndpointPicker Picker, PickSet? Spill);
}
