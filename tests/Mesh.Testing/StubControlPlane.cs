using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.Testing;

/// <summary>
/// A loopback server that answers <c>GET /v1/snapshot</c> as the control plane's contract says (long poll, 304 when
/// nothing changed) with whatever snapshot the test sets, even one the real control plane would never send, such as a
/// snapshot from a newer control plane with a field this client does not know.
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

    public static async Task<StubControlPlane> StartAsync()
    {
        var stub = new StubControlPlane();
        stub._app = await TestApp.StartAsync(_ => { }, app => app.MapGet("/v1/snapshot", stub.HandleAsync));
        return stub;
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
