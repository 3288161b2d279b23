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
/// attempts at once with <see cref="MeshEndpointUnavailableException"/>.
/// </summary>
internal sealed class Destination
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
    private volatile PickSet? _available;

    public Destination(string service, string source, EndpointTarget[] endpoints, string balancer, RingHashOptions ringHash, EndpointStage stage, MeshRandom random, TimeProvider time, string? unreachable = null)
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

    /// <summary>Gets the endpoints picked from now.</summary>
    public EndpointTarget[] Available => _available?.Targets ?? [];

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
        var limit = Math.Min(MaxEndpointsPerAttempt, first.Targets.Length);
        for (var tried = 1; ; tried++)
        {
            var available = _available!;
            var target = available.Targets[available.Picker.Pick(context)];
            call.AddTried(target.Load);
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

        var loads = Array.ConvertAll(targets, t => t.Load);
        return new PickSet(targets, new EndpointPicker(loads, LoadBalancerFactory.Create(_balancer, _ringHash, loads, _random, _time), _random));
    }

    /// <summary>The endpoints picked from now and the picker over them, swapped together.</summary>
    private sealed record PickSet(EndpointTarget[] Targets, EndpointPicker Picker);
}
