using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Mesh.Concrete;
using Mesh.Endpoint;
using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Routing;
using Mesh.Telemetry;
using Mesh.Utilities;
using Polly;

namespace Mesh.Logical;

/// <summary>
/// A route's injected faults, drawn for each attempt inside the retry and breaker strategies (not before them, as a
/// proxy's fault filter is): a share of attempts waits <see cref="RouteFaultDelayOptions.Duration"/> before it is
/// sent, within the call's deadline and cancellation; a share is answered at once, unsent, with the configured status,
/// which retries and the breaker judge as an answer from a server. Each fault is tagged on the call's span
/// (<c>mesh.fault</c>) and counted (<c>mesh.client.faults</c> by service, route and kind). Outlier detection does not see
/// an abort: no endpoint gave it.
/// </summary>
internal sealed class RouteFault
{
    internal const string DelayKind = "delay";
    internal const string AbortKind = "abort";

    private readonly string _route;
    private readonly RouteFaultDelayOptions? _delay;
    private readonly RouteFaultAbortOptions? _abort;
    private readonly MeshMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly KeyValuePair<string, object?> _serviceTag;
    private readonly KeyValuePair<string, object?> _routeTag;

    public RouteFault(string service, string route, RouteFaultOptions options, MeshMetrics metrics, TimeProvider time, MeshRandom random)
    {
        _route = route;
        _delay = options.Delay is { Percent: > 0 } delay ? delay : null;
        _abort = options.Abort is { Percent: > 0 } abort ? abort : null;
        _metrics = metrics;
        _time = time;
        _random = random;
        _serviceTag = new(MeshTags.Service, service);
        _routeTag = new(MeshTags.RouteName, route);
    }

    /// <summary>The attempts of this route's calls to <paramref name="destination"/>, with the faults in front.</summary>
    public IAttemptTarget Over(Destination destination) => new Target(this, destination);

    private bool Draw(double percent) => percent >= 100 || _random.NextDouble() * 100 < percent;

    private void Record(string kind)
    {
        _metrics.Faults.Add(1, _serviceTag, _routeTag, new(MeshTags.Fault, kind));

        // The attempt's own span starts at the endpoint, which an abort never reaches: the call's span carries the fault.
        if (Activity.Current is { } span && span.Source == MeshTelemetry.Source)
        {
            var tagged = span.GetTagItem(MeshTags.Fault) as string;
            span.SetTag(MeshTags.Fault, tagged is null || tagged == kind ? kind : $"{DelayKind},{AbortKind}");
            span.AddEvent(new ActivityEvent(MeshTags.Fault, tags: new ActivityTagsCollection { [MeshTags.Fault] = kind }));
        }
    }

    private HttpResponseMessage? Abort(HttpRequestMessage request, MeshCall call)
    {
        if (_abort is not { } abort)
        {
            return null;
        }

        // A gRPC status is a gRPC call's answer only; a plain HTTP call on the route is not aborted by it.
        var grpc = call.Protocol == Protocols.Grpc;
        if ((abort.GrpcStatus is not null && !grpc) || !Draw(abort.Percent))
        {
            return null;
        }

        Record(AbortKind);
        var (number, reason) = call.BeginAttempt();
        call.Explanation?.Aborted(number, reason, abort.GrpcStatus is { } grpcStatus ? $"grpc-status {grpcStatus}" : $"status {abort.HttpStatus}", abort.GrpcStatus is { } shown ? $"grpc-status {shown}" : $"{abort.HttpStatus}");
        if (abort.GrpcStatus is { } status)
        {
            return GrpcProtocol.TrailersOnly(request, status, $"fault injected by route '{_route}'");
        }

        return new HttpResponseMessage((HttpStatusCode)abort.HttpStatus!.Value)
        {
            RequestMessage = request,
            Version = request.Version,
            Content = new ByteArrayContent([]),
        };
    }

    private sealed class Target(RouteFault fault, Destination destination) : IAttemptTarget
    {
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public async ValueTask<Outcome<HttpResponseMessage>> SendAsync(HttpRequestMessage request, MeshCall call, ITransport transport, CancellationToken cancellationToken)
        {
            if (fault._delay is { } delay && fault.Draw(delay.Percent))
            {
                fault.Record(DelayKind);
                call.Explanation?.Fault(DelayKind, $"{delay.Duration.TotalMilliseconds:0.###} ms");
                try
                {
                    await Task.Delay(delay.Duration, fault._time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex)
                {
                    return Outcome.FromException<HttpResponseMessage>(ex);
                }
            }

            if (fault.Abort(request, call) is { } aborted)
            {
                return Outcome.FromResult(aborted);
            }

            return await destination.SendAsync(request, call, transport, cancellationToken).ConfigureAwait(false);
        }
    }
}
