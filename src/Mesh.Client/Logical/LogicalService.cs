using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Mesh.CircuitBreaking;
using Mesh.Concrete;
using Mesh.Discovery;
using Mesh.Endpoint;
using Mesh.Protocol;
using Mesh.RateLimiting;
using Mesh.Resilience;
using Mesh.Routing;
using Mesh.Telemetry;
using Mesh.Utilities;
using Polly.CircuitBreaker;

namespace Mesh.Logical;

/// <summary>
/// The logical layer of one service, once per call: the call's span and golden metrics, routing (the first route that
/// matches picks one of its destinations by weight; without routes, or when none matches, the call goes to every
/// endpoint), then its strategies in the order
/// <see cref="ServicePolicy"/> composes them, each attempt going to the concrete layer. Failures leave as the
/// exceptions an HttpClient user expects, naming the service. Knows the logical service, never an endpoint.
/// A destination that is another service takes the call with that service's endpoints and policy (never its routes:
/// one hop), while the call's span and metrics stay those of the service asked for; a route's mirror copies the
/// request off the call's path (<see cref="RouteMirror"/>).
/// </summary>
internal sealed class LogicalService(string name, MeshServiceOptions options, string? caller, ServicePolicy policy, Destination destination, CallTelemetry telemetry, RouteTable? routes = null, Destination[]? subsets = null, IReadOnlyDictionary<string, string>?[]? ownLabels = null, RoutePolicy[]? routePolicies = null)
{
    private readonly Destination[] _subsets = subsets ?? [destination];

    // Set by Link before the snapshot is published, read-only after: per subset, the other service that owns it.
    private LogicalService?[]? _forwards;
    private RouteMirror?[]? _mirrors;

    public string Name => name;

    /// <summary>Gets the options the service was built from.</summary>
    public MeshServiceOptions Options => options;

    public ServicePolicy Policy => policy;

    /// <summary>Gets where its calls go when no route takes them: the service's whole endpoint set.</summary>
    public Destination Destination => destination;

    /// <summary>Gets the routes, or <see langword="null"/> when the service has none.</summary>
    public RouteTable? Routes => routes;

    /// <summary>Gets one destination per subset the routes name, in the order of <see cref="RouteTable.Subsets"/>; the first is <see cref="Destination"/>.</summary>
    public IReadOnlyList<Destination> Subsets => _subsets;

    /// <summary>Gets the mirror of each route by its position in the configuration (<see langword="null"/> for none), or <see langword="null"/> when no route mirrors.</summary>
    public IReadOnlyList<RouteMirror?>? Mirrors => _mirrors;

    /// <summary>Finds this service's own destination over the endpoints with exactly <paramref name="labels"/>, when one was built.</summary>
    public Destination? SubsetOf(IReadOnlyDictionary<string, string> labels)
    {
        if (labels.Count == 0)
        {
            return destination;
        }

        for (var i = 1; i < _subsets.Length && ownLabels is not null; i++)
        {
            if (ownLabels[i] is { } own && own.Count == labels.Count && labels.All(l => own.TryGetValue(l.Key, out var v) && v == l.Value))
            {
                return _subsets[i];
            }
        }

        return null;
    }

    /// <summary>
    /// Points the destinations that name other services at those services' own destinations (endpoints, stage and
    /// policy), found by <paramref name="find"/> in the same snapshot, and builds the routes' mirrors. A service not
    /// found keeps the destination without endpoints the catalog gave it, whose calls fail at once naming it.
    /// </summary>
    public void Link(Func<string, LogicalService?> find, MeshRandom random)
    {
        if (routes is null)
        {
            return;
        }

        for (var i = 1; i < routes.Subsets.Count; i++)
        {
            if (routes.SubsetServices[i] is { } other && find(other) is { } service && service.SubsetOf(routes.Subsets[i]) is { } subset)
            {
                _subsets[i] = subset;
                (_forwards ??= new LogicalService?[_subsets.Length])[i] = service;
            }
        }

        foreach (var own in routePolicies ?? [])
        {
            own?.Bind(_subsets);
        }

        foreach (var route in routes.Routes)
        {
            if (route.Mirror is { } mirror)
            {
                (_mirrors ??= new RouteMirror?[routes.Routes.Count])[route.Index] = new RouteMirror(route.Name, mirror, _subsets[route.MirrorSubset], policy.Counters, telemetry.Time, random);
            }
        }
    }

    /// <summary>Rebuilds the endpoint sets of every destination, after an endpoint was ejected or returned.</summary>
    public void Refresh()
    {
        foreach (var subset in _subsets)
        {
            subset.Refresh();
        }
    }

    /// <summary>
    /// Sends one logical call to the service: its span and golden metrics around rate limit → total timeout and
    /// deadline → retry or hedging → breaker, each attempt going to the concrete layer. One pooled state machine for the
    /// whole logical layer, so a call that waits on the network pays for one, not one per concern.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<HttpResponseMessage> SendAsync(HttpRequestMessage request, ITransport transport, CancellationToken cancellationToken)
    {
        // A request without headers (as most calls made in code are) has none of the mesh's to take off: no lookup by name.
        var headers = request.Headers.NonValidated.Count > 0;

        // The callee learns which service calls it, for its own metrics.
        if (headers)
        {
            request.Headers.Remove(MeshHeaders.Caller);
            Explanation.Detect(request);
        }
        else
        {
            Explanation.DetectFromOptions(request);
        }

        if (caller is not null)
        {
            request.Headers.TryAddWithoutValidation(MeshHeaders.Caller, caller);
        }

        var protocol = Protocols.Of(request);
        using var activity = telemetry.StartCall(name, request.Method.Method, request.RequestUri!);
        var started = telemetry.Time.GetTimestamp();

        // Where the call's attempts go; a routed one knows its route. Outside the try, for the failure's metric.
        IAttemptTarget target = destination;
        HttpResponseMessage response;
        try
        {
            // Routing: one destination for the whole call, its retries and hedges included. The policy is that of the
            // service the destination belongs to (OwnerOf: this one, or the other service a destination names), found
            // again where needed rather than kept, as every local here is a field of the state machine.
            var configured = policy.Timeout;
            if (routes is not null)
            {
                target = Route(request, protocol, transport, activity, ref configured);
            }

            OwnerOf(target).Policy.Retry.Budget.Deposit();
            if (OwnerOf(target).Policy.RateLimit is { } limit)
            {
                await limit.AcquireAsync(cancellationToken).ConfigureAwait(false);
            }

            var call = OwnerOf(target).Begin(request, protocol, configured, routed: routes is not null, headers, out var timeout);

            // One source for the caller's token and the deadline; it fired for the deadline when the caller's did not.
            using var linked = CallCancellation.Start(timeout, telemetry.Time, reusable: protocol.MayPoolCancellation(call.Replayable), cancellationToken);
            // No local for the pipeline: every local of this method is a field of its state machine.
            var outcome = await PipelineFor(call, target).ExecuteAsync(request, call, transport, target, linked.Token).ConfigureAwait(false);
            CallTelemetry.TagAttempts(call.Attempts);
            response = outcome.Exception is null
                ? outcome.Result!
                : OwnerOf(target).Fail(outcome.Exception, request, call, configured, timeout < configured, linked.IsCancellationRequested && !cancellationToken.IsCancellationRequested);
        }
        catch (Exception ex)
        {
            Explanation.Failed(request, ex, activity);
            telemetry.EndCall(activity, name, request.Method.Method, started, null, OutcomeOf(ex), ex, RouteNameOf(target));
            if (activity is not null)
            {
                protocol.Tag(activity, request, null);
            }

            throw;
        }

        Explanation.Answered(request, response, activity);
        telemetry.EndCall(activity, name, request.Method.Method, started, (int)response.StatusCode, CallOutcomes.OfStatus((int)response.StatusCode), null, RouteNameOf(target));
        if (activity is not null)
        {
            protocol.Tag(activity, request, response);
        }

        return response;
    }

    /// <summary>
    /// Where the first route that takes <paramref name="request"/> sends it, by weight, with the call's timeout (the
    /// route's, else that of the service the destination belongs to), the route's header changes applied and its name
    /// on the span; else the whole set. Starts the route's mirror, which never waits.
    /// </summary>
    private IAttemptTarget Route(HttpRequestMessage request, IProtocol protocol, ITransport transport, Activity? activity, ref TimeSpan configured)
    {
        if (routes!.Match(request) is not { } route)
        {
            Explanation.Of(request)?.NoRoute(routes.Routes.Count);
            return destination;
        }

        activity?.SetTag(MeshTags.RouteName, route.Name);
        _mirrors?[route.Index]?.TryStart(request, protocol, transport);
        var picked = Explanation.Of(request) is { } explanation ? Explain(explanation, route) : route.Pick();
        if (_forwards?[picked] is { } other)
        {
            configured = other.Policy.Timeout;
            activity?.SetTag(MeshTags.DestinationService, other.Name);
        }

        configured = route.Timeout ?? configured;
        var own = routePolicies![route.Index];
        own.Headers?.Apply(request);
        return own.TargetOf(picked);
    }

    /// <summary>Picks the route's destination as <see cref="RouteTable.Route.Pick()"/> does, telling the explanation how.</summary>
    private int Explain(Explanation explanation, RouteTable.Route route)
    {
        var picked = route.Pick(out var draw);
        explanation.Route(route.Name, picked, routes!.Subsets[picked], draw, route.TotalWeight);
        return picked;
    }

    /// <summary>The service whose policy a call to <paramref name="target"/> follows: the other service that owns its subset, else this one.</summary>
    private LogicalService OwnerOf(IAttemptTarget target) =>
        _forwards is { } forwards && target is RoutePolicy.Target { Subset: var subset } && forwards[subset] is { } other ? other : this;

    /// <summary>
    /// The strategies a call follows: hedging for a call that may be hedged, when its owner has it; else the route's own
    /// retry over the service breaker (for this service's destinations); else its owner's retry.
    /// </summary>
    private CallPipeline PipelineFor(MeshCall call, IAttemptTarget target)
    {
        var owner = OwnerOf(target);
        if (call.Idempotent && call.Replayable && owner.Policy.HedgingPipeline is { } hedging)
        {
            return hedging;
        }

        return ReferenceEquals(owner, this) && target is RoutePolicy.Target { Route.Pipeline: { } own } ? own : owner.Policy.Pipeline;
    }

    /// <summary>The route's name for the call metric: none for a service without routes, empty when no route took the call.</summary>
    private string? RouteNameOf(IAttemptTarget target) =>
        routes is null ? null : (target as RoutePolicy.Target)?.Route.Name ?? string.Empty;

    /// <summary>The outcome class of a failed call, for metrics and spans.</summary>
    internal static string OutcomeOf(Exception exception) => exception switch
    {
        TaskCanceledException { InnerException: TimeoutException } => CallOutcomes.Timeout,
        OperationCanceledException => CallOutcomes.Canceled,
        MeshCircuitOpenException => CallOutcomes.CircuitOpen,
        MeshRateLimitedException => CallOutcomes.RateLimited,
        MeshEndpointUnavailableException => CallOutcomes.Unavailable,
        _ => CallOutcomes.Error,
    };

    /// <summary>The call's deadline (its timeout, cut to what an enclosing deadline leaves) and the headers that carry it.</summary>
    private MeshCall Begin(HttpRequestMessage request, IProtocol protocol, TimeSpan configured, bool routed, bool headers, out TimeSpan timeout)
    {
        var now = telemetry.Time.GetUtcNow();
        timeout = configured;
        if (MeshDeadline.Current is { } ambient && ambient - now < timeout)
        {
            timeout = ambient - now;
        }

        if (timeout <= TimeSpan.Zero)
        {
            throw Timeout(configured, inherited: true, null);
        }

        // The server learns how long this caller will wait, so the calls it makes in turn can inherit the deadline.
        if (headers)
        {
            request.Headers.Remove(MeshHeaders.Timeout);
        }

        request.Headers.TryAddWithoutValidation(
            MeshHeaders.Timeout,
            timeout == policy.Timeout ? policy.TimeoutHeader : ((long)Math.Ceiling(timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture));
        protocol.LimitDeadline(request, timeout);
        return Explanation.Of(request) is { } explanation
            ? Explained(request, protocol, now + timeout, timeout, routed, explanation)
            : new MeshCall(name, request, protocol, now + timeout);
    }

    /// <summary>An explained call: the explanation learns the state of the service's resilience as the call starts.</summary>
    private ExplainedCall Explained(HttpRequestMessage request, IProtocol protocol, DateTimeOffset deadline, TimeSpan timeout, bool routed, Explanation explanation)
    {
        if (!routed)
        {
            explanation.NoRoute(0);
        }

        explanation.Started(timeout, policy.Retry.Budget.Remaining(), policy.BreakerState);
        return new ExplainedCall(name, request, protocol, deadline, explanation);
    }

    /// <summary>Turns the failure of a call into what its caller expects: an exception naming the service, or for gRPC a DEADLINE_EXCEEDED answer.</summary>
    private HttpResponseMessage Fail(Exception exception, HttpRequestMessage request, MeshCall call, TimeSpan configured, bool inherited, bool deadlinePassed)
    {
        var translated = Translate(exception, call, configured, inherited, deadlinePassed);

        // A gRPC client expects a deadline to end as DEADLINE_EXCEEDED, which it reads from the response.
        if (translated is TaskCanceledException { InnerException: TimeoutException } && call.Protocol.DeadlineExceeded(request, translated.Message) is { } deadlineExceeded)
        {
            return deadlineExceeded;
        }

        if (ReferenceEquals(translated, exception))
        {
            ExceptionDispatchInfo.Throw(translated);
        }

        throw translated;
    }

    private Exception Translate(Exception exception, MeshCall call, TimeSpan configured, bool inherited, bool deadlinePassed)
    {
        var note = call.NotRetriedReason is { } reason ? $" Not retried: {reason}." : string.Empty;
        return exception switch
        {
            OperationCanceledException when deadlinePassed => Timeout(configured, inherited, exception),
            AttemptTimeoutException attempt => new TaskCanceledException(attempt.Message + note, new TimeoutException(attempt.Message, attempt)),
            BrokenCircuitException broken => BreakerStrategy.Refused(name, broken),
            MeshEndpointUnavailableException { NoEndpoint: true } => exception,
            HttpRequestException own when Failures.IsOwnAuthenticationFailure(own) =>
                new HttpRequestException(HttpRequestError.UserAuthenticationError, $"The request to service '{name}' was not sent: {Innermost(own).Message}", own),
            HttpRequestException connect when Failures.NeverSent(connect) =>
                new MeshEndpointUnavailableException(name, call.TriedAddresses(), connect, note + SkippedNote(call)),
            HttpRequestException http when note.Length > 0 =>
                new HttpRequestException(http.HttpRequestError, http.Message + note, http, http.StatusCode),
            _ => exception,
        };
    }

    // The endpoints the call did not try because outlier detection keeps them ejected, so the message says why they were not.
    private string SkippedNote(MeshCall call)
    {
        var tried = call.TriedAddresses();
        var skipped = destination.EjectedNow().FindAll(e => !tried.Contains(e));
        return skipped.Count == 0
            ? string.Empty
            : $" Skipped {skipped.Count} ejected by outlier detection: {string.Join(", ", skipped.Select(e => e.GetLeftPart(UriPartial.Authority)))}.";
    }

    private static HttpRequestException Innermost(HttpRequestException exception)
    {
        var found = exception;
        for (var e = exception.InnerException; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException inner)
            {
                found = inner;
            }
        }

        return found;
    }

    private TaskCanceledException Timeout(TimeSpan configured, bool inherited, Exception? inner)
    {
        var message = inherited
            ? $"The request to service '{name}' was canceled: the deadline it inherited passed (its own timeout is {configured.TotalSeconds:0.###} s)."
            : $"The request to service '{name}' was canceled after its timeout of {configured.TotalSeconds:0.###} s elapsed.";
        return new TaskCanceledException(message, new TimeoutException(message, inner));
    }
}
