using System.Globalization;
using Mesh.Concrete;
using Mesh.Endpoint;
using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Routing;
using Mesh.Telemetry;
using Mesh.Utilities;

namespace Mesh.Logical;

/// <summary>
/// The mirror of one route: a copy of a share of its requests sent to <paramref name="target"/>, fire and forget. The
/// copy is made on the caller's path (headers, and the body when it is buffered: a streamed body cannot be read twice)
/// and sent from the thread pool with no part of the caller's context: not its cancellation, deadline or span. One
/// attempt, under the copy's own timeout; its answer is disposed unread, its failure swallowed; both are counted. At
/// most <see cref="RouteMirrorOptions.MaxConcurrent"/> copies are in flight: one more is skipped, never queued.
/// </summary>
internal sealed class RouteMirror(string route, RouteMirrorOptions options, Destination target, ServiceCounters counters, TimeProvider time, MeshRandom random)
{
    private readonly string _timeoutHeader = ((long)Math.Ceiling(options.Timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
    private int _inFlight;

    /// <summary>Gets the copies in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Gets the destination the copies go to.</summary>
    public Destination Target => target;

    /// <summary>Draws whether <paramref name="request"/> is copied and, if so, starts the copy; never throws, never waits.</summary>
    public void TryStart(HttpRequestMessage request, IProtocol protocol, ITransport transport)
    {
        if (options.Percent < 100 && random.NextDouble() * 100 >= options.Percent)
        {
            return;
        }

        if (!protocol.IsReplayable(request.Content))
        {
            counters.Mirror(route, MirrorOutcomes.Skipped);
            return;
        }

        if (Interlocked.Increment(ref _inFlight) > options.MaxConcurrent)
        {
            Interlocked.Decrement(ref _inFlight);
            counters.Mirror(route, MirrorOutcomes.Skipped);
            return;
        }

        HttpRequestMessage copy;
        try
        {
            copy = Copy(request);
        }
#pragma warning disable CA1031 // A body that cannot be copied skips the copy; the request it belongs to goes on untouched.
        catch (Exception)
#pragma warning restore CA1031
        {
            Interlocked.Decrement(ref _inFlight);
            counters.Mirror(route, MirrorOutcomes.Skipped);
            return;
        }

        // The unsafe queue flows no execution context: the copy inherits neither the caller's deadline nor its span.
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Mirror.SendAsync(state.Copy, state.Protocol, state.Transport), (Mirror: this, Copy: copy, Protocol: protocol, Transport: transport), preferLocal: false);
    }

    private async Task SendAsync(HttpRequestMessage copy, IProtocol protocol, ITransport transport)
    {
        var outcome = MirrorOutcomes.Failed;
        try
        {
            using var timeout = new CancellationTokenSource(options.Timeout, time);
            var call = new MeshCall(target.Service, copy, protocol, time.GetUtcNow() + options.Timeout);
            var result = await target.SendAsync(copy, call, transport, timeout.Token).ConfigureAwait(false);
            if (result.Exception is null)
            {
                result.Result?.Dispose();
                outcome = MirrorOutcomes.Sent;
            }
        }
#pragma warning disable CA1031 // Whatever befalls a copy stays with it: it is counted, never thrown.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            copy.Dispose();
            Interlocked.Decrement(ref _inFlight);
            counters.Mirror(route, outcome);
        }
    }

    /// <summary>The copy: method, address, version, headers (the deadline replaced by the copy's own) and a buffered body.</summary>
    private HttpRequestMessage Copy(HttpRequestMessage request)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };
        foreach (var header in request.Headers.NonValidated)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        copy.Headers.Remove(MeshHeaders.Timeout);
        copy.Headers.TryAddWithoutValidation(MeshHeaders.Timeout, _timeoutHeader);
        copy.Headers.TryAddWithoutValidation(MeshHeaders.Mirror, "1");
        if (request.Content is { } content)
        {
            // Read synchronously from the buffer before the request is sent: the copy never shares the caller's content.
            using var body = new MemoryStream();
            content.CopyTo(body, null, CancellationToken.None);
            var bytes = new ByteArrayContent(body.ToArray());
            foreach (var header in content.Headers.NonValidated)
            {
                bytes.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            copy.Content = bytes;
        }

        return copy;
    }
}
