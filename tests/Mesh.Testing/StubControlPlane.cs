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

    public Uri Address => _app.Address;

    public long Requests => Interlocked.Read(ref _requests);

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
            changed = _changed.Task;
            if (!long.TryParse(context.Request.Query["since"], CultureInfo.InvariantCulture, out var since) || since != _version)
            {
                now = _body;
            }
        }

        if (now is not null)
        {
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

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(body, Encoding.UTF8);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status304NotModified;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
