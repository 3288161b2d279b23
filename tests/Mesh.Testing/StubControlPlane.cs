using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.Testing;

/// <summary>
/// A loopback server that answers <c>GET /v1/snapshot</c> as the control plane's contract says (long poll, 304 when
/// nothing changed) with whatever snapshot the test sets, even one the real control plane would never send, such as a
/// snapshot from a newer control plane with a field this client does not know. It also takes registrations, renewals and
/// deregistrations of any body, records them as sent, and grants a lease of <see cref="LeaseTtl"/>.
/// </summary>
public sealed class StubControlPlane : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private TestApp _app = null!;
    private long _version;
    private string _body = """{ "version": 0, "services": {} }""";
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _requests;
    private int _failures;
    private int _failureStatus;
    private TimeSpan? _failureRetryAfter;
    private readonly System.Collections.Concurrent.ConcurrentQueue<(long Timestamp, int Status)> _answers = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<RecordedCall> _registrations = new();

    public Uri Address => _app.Address;

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Gets every answer given so far: when it was given (<see cref="System.Diagnostics.Stopwatch"/> ticks) and its status.</summary>
    public IReadOnlyCollection<(long Timestamp, int Status)> Answers => _answers;

    /// <summary>Answers the next <paramref name="count"/> requests with <paramref name="status"/> (and <c>Retry-After</c> when given), as a meshd at a limit does.</summary>
    public void FailNext(int count, int status, TimeSpan? retryAfter)
    {
        lock (_lock)
        {
            _failureStatus = status;
            _failureRetryAfter = retryAfter;
            _failures = count;
        }
    }

    /// <summary>Gets every registration, renewal and deregistration received, in order, with its body as sent.</summary>
    public IReadOnlyCollection<RecordedCall> Registrations => _registrations;

    /// <summary>Gets or sets the TTL of the leases granted to registrations and renewals.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    public static async Task<StubControlPlane> StartAsync()
    {
        var stub = new StubControlPlane();
        stub._app = await TestApp.StartAsync(_ => { }, app =>
        {
            app.MapGet("/v1/snapshot", stub.HandleAsync);
            app.MapPut("/v1/services/{service}/instances/{instanceId}", (HttpContext context, string instanceId) => stub.RecordAsync(context, instanceId));
            app.MapPost("/v1/services/{service}/instances/{instanceId}/renew", (HttpContext context, string instanceId) => stub.RecordAsync(context, instanceId));
            app.MapDelete("/v1/services/{service}/instances/{instanceId}", (HttpContext context, string instanceId) => stub.RecordAsync(context, instanceId));
        });
        return stub;
    }

    private async Task RecordAsync(HttpContext context, string instanceId)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        _registrations.Enqueue(new RecordedCall(context.Request.Method, context.Request.Path.Value ?? "", await reader.ReadToEndAsync()));
        if (HttpMethods.IsDelete(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var ttl = LeaseTtl;
        var expires = DateTimeOffset.UtcNow + ttl;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(
            $$"""{ "instanceId": "{{instanceId}}", "ttl": "{{ttl.ToString("c", CultureInfo.InvariantCulture)}}", "expiresAt": "{{expires.ToString("O", CultureInfo.InvariantCulture)}}" }""",
            Encoding.UTF8);
    }

    /// <summary>Serves a new snapshot: <paramref name="services"/> is the JSON of the <c>services</c> object.</summary>
    public long Publish(string services)
    {
        lock (_lock)
        {
            _version++;
            _body = $$"""{ "version": {{_version.ToString(CultureInfo.InvariantCulture)}}, "services": {{services}} }""";
            var changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
            return _version;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        Task changed;
        string? now = null;
        lock (_lock)
        {
            if (_failures > 0)
            {
                _failures--;
                context.Response.StatusCode = _failureStatus;
                if (_failureRetryAfter is { } after)
                {
                    context.Response.Headers.RetryAfter = ((int)after.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                }

                _answers.Enqueue((System.Diagnostics.Stopwatch.GetTimestamp(), _failureStatus));
                return;
            }

            changed = _changed.Task;
            if (!long.TryParse(context.Request.Query["since"], CultureInfo.InvariantCulture, out var since) || since != _version)
            {
                now = _body;
            }
        }

        if (now is not null)
        {
            _answers.Enqueue((System.Diagnostics.Stopwatch.GetTimestamp(), 200));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(now, Encoding.UTF8);
            return;
        }

        var wait = int.TryParse(context.Request.Query["wait"], CultureInfo.InvariantCulture, out var seconds) ? seconds : 30;
        await Task.WhenAny(changed, Task.Delay(TimeSpan.FromSeconds(wait), context.RequestAborted));
        if (changed.IsCompleted)
        {
            string body;
            lock (_lock)
            {
                body = _body;
            }

            _answers.Enqueue((System.Diagnostics.Stopwatch.GetTimestamp(), 200));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(body, Encoding.UTF8);
            return;
        }

        _answers.Enqueue((System.Diagnostics.Stopwatch.GetTimestamp(), 304));
        context.Response.StatusCode = StatusCodes.Status304NotModified;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>A call a <see cref="StubControlPlane"/> recorded: its method, path and body as sent.</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The request path.</param>
/// <param name="Body">The body, empty when there was none.</param>
public sealed record RecordedCall(string Method, string Path, string Body);
