using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.Testing;

/// <summary>
/// A real Kestrel server on 127.0.0.1 with a port of its own. Every request is answered with a JSON echo of what
/// arrived (backend name, method, path, query, headers, body) and counted. It can be told to answer slower, to answer
/// with a status code, or to stop.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    /// <summary>The header a test sets to tag requests; the backend keeps the tags it saw.</summary>
    public const string TagHeader = "x-test-tag";

    private TestApp _app = null!;
    private readonly ConcurrentQueue<string> _tags = new();
    private readonly ConcurrentQueue<Reply> _script = new();
    private long _requests;
    private long _aborted;
    private long _delayTicks;
    private int _status = 200;
    private int _stopped;

    private TestBackend(string name)
    {
        Name = name;
    }

    /// <summary>Gets the name the backend reports in its answers.</summary>
    public string Name { get; }

    /// <summary>Gets the address the backend listens on, such as <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address => _app.Address;

    /// <summary>Gets the number of requests that reached the backend.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Gets the number of requests whose caller went away before the backend answered.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);

    /// <summary>Gets the values of <see cref="TagHeader"/> seen, in arrival order.</summary>
    public IReadOnlyCollection<string> Tags => _tags;

    /// <summary>Gets or sets the time the backend waits before answering.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set => Interlocked.Exchange(ref _delayTicks, value.Ticks);
    }

    /// <summary>Gets or sets the status code of every answer.</summary>
    public HttpStatusCode Status
    {
        get => (HttpStatusCode)Volatile.Read(ref _status);
        set => Volatile.Write(ref _status, (int)value);
    }

    /// <summary>Gets or sets whether the backend breaks the connection instead of answering.</summary>
    public bool Reset { get; set; }

    /// <summary>Makes the next requests get these answers, in order, before the backend returns to its usual one.</summary>
    public void Script(params Reply[] replies)
    {
        foreach (var reply in replies)
        {
            _script.Enqueue(reply);
        }
    }

    /// <summary>Starts a backend on 127.0.0.1 with a port picked by the system.</summary>
    public static async Task<TestBackend> StartAsync(string name, TimeSpan delay = default)
    {
        var backend = new TestBackend(name) { Delay = delay };
        backend._app = await TestApp.StartAsync(_ => { }, app => app.Run(backend.HandleAsync)).ConfigureAwait(false);
        return backend;
    }

    /// <summary>Starts several backends named <c>{prefix}0</c>, <c>{prefix}1</c>, ….</summary>
    public static async Task<TestBackend[]> StartManyAsync(int count, string prefix = "b")
    {
        var backends = new TestBackend[count];
        for (var i = 0; i < count; i++)
        {
            backends[i] = await StartAsync(prefix + i).ConfigureAwait(false);
        }

        return backends;
    }

    /// <summary>Stops the backend; its port then refuses connections.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var request = context.Request;
        if (request.Headers.TryGetValue(TagHeader, out var tag))
        {
            _tags.Enqueue(tag.ToString());
        }

        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        var reply = _script.TryDequeue(out var scripted) ? scripted : new Reply(Status, Delay: Delay);
        if (Reset && scripted is null)
        {
            context.Abort();
            return;
        }

        if (reply.Delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(reply.Delay, context.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _aborted);
                return;
            }
        }

        var echo = new Echo(
            Name,
            request.Method,
            request.Path.Value ?? string.Empty,
            request.QueryString.Value ?? string.Empty,
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body);
        context.Response.StatusCode = (int)reply.Status;
        context.Response.Headers["x-backend"] = Name;
        if (reply.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        await context.Response.WriteAsJsonAsync(echo, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Reads the echo of a backend's answer.</summary>
    public static async Task<Echo> ReadEchoAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        return JsonSerializer.Deserialize<Echo>(text, JsonSerializerOptions.Web)!;
    }

    /// <summary>One scripted answer: a status, a Retry-After header value and a delay.</summary>
    public sealed record Reply(HttpStatusCode Status, string? RetryAfter = null, TimeSpan Delay = default);

    /// <summary>What a backend saw of a request.</summary>
    public sealed record Echo(string Backend, string Method, string Path, string Query, Dictionary<string, string> Headers, string Body);
}
