using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.Testing;

/// <summary>One instance in a <see cref="StubConsul"/>'s catalog, as registered with a Consul agent.</summary>
public sealed record StubConsulInstance(string Id, string Address, int Port)
{
    /// <summary>Gets the node's address, used by a client when <see cref="Address"/> is empty.</summary>
    public string NodeAddress { get; init; } = "127.0.0.1";

    /// <summary>Gets the service's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Gets the service's meta.</summary>
    public IReadOnlyDictionary<string, string> Meta { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets the weight while passing.</summary>
    public int Weight { get; init; } = 1;

    /// <summary>Gets whether the instance's check passes.</summary>
    public bool Passing { get; init; } = true;
}

/// <summary>
/// A stand-in for a Consul agent's health endpoint on a real Kestrel server on 127.0.0.1, following the published API
/// shapes: <c>GET /v1/health/service/{name}</c> answers a JSON array of <c>{Node, Service, Checks}</c>, filtered by
/// <c>passing</c> and <c>tag</c>, with the catalog's index in <c>X-Consul-Index</c>; a query whose <c>index</c> is
/// greater than 0 and not below the catalog's blocks until the index moves past it or its <c>wait</c> passes. Every
/// query is recorded. The index can be set (backwards too), blocking turned off, and the answer replaced with garbage.
/// The agent's registration calls are accepted and recorded too: <c>PUT /v1/agent/service/register</c> adds the service
/// to the health answers (critical until its TTL check is passed), <c>PUT /v1/agent/check/pass/service:{id}</c> marks it
/// passing (404 for a check the agent does not know), <c>PUT /v1/agent/check/fail/service:{id}</c> marks it critical
/// (its <c>note</c> recorded as the call's body), <c>PUT /v1/agent/service/deregister/{id}</c> removes it.
/// </summary>
public sealed class StubConsul : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, IReadOnlyList<StubConsulInstance>> _services = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Query> _queries = new();
    private readonly ConcurrentQueue<AgentCall> _agentCalls = new();
    private readonly Dictionary<string, (string Service, StubConsulInstance Instance)> _registered = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TestApp _app = null!;
    private long _index = 1;
    private volatile bool _blocking = true;
    private volatile string? _garbage;
    private int _stopped;

    private StubConsul()
    {
    }

    /// <summary>Gets the agent's address, such as <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address => _app.Address;

    /// <summary>Gets the queries received, in arrival order.</summary>
    public IReadOnlyCollection<Query> Queries => _queries;

    /// <summary>Gets the agent calls received (register, check pass, deregister), in arrival order.</summary>
    public IReadOnlyCollection<AgentCall> AgentCalls => _agentCalls;

    /// <summary>Gets the catalog's index.</summary>
    public long Index
    {
        get
        {
            lock (_lock)
            {
                return _index;
            }
        }
    }

    /// <summary>Gets or sets whether queries block; off, every query is answered at once (as a misbehaving agent might).</summary>
    public bool Blocking
    {
        get => _blocking;
        set => _blocking = value;
    }

    /// <summary>Gets or sets a body answered instead of the catalog (with status 200), or <see langword="null"/>.</summary>
    public string? Garbage
    {
        get => _garbage;
        set => _garbage = value;
    }

    /// <summary>Starts a stub agent with an empty catalog at index 1.</summary>
    public static async Task<StubConsul> StartAsync()
    {
        var stub = new StubConsul();
        stub._app = await TestApp.StartAsync(_ => { }, app =>
        {
            app.MapGet("/v1/health/service/{name}", stub.HealthAsync);
            app.MapPut("/v1/agent/service/register", (Delegate)stub.RegisterAsync);
            app.MapPut("/v1/agent/check/pass/{id}", stub.Pass);
            app.MapPut("/v1/agent/check/fail/{id}", stub.Fail);
            app.MapPut("/v1/agent/service/deregister/{id}", stub.Deregister);
        }).ConfigureAwait(false);
        return stub;
    }

    /// <summary>Replaces a service's instances and moves the index forward, waking the blocked queries.</summary>
    public void Set(string service, params StubConsulInstance[] instances)
    {
        lock (_lock)
        {
            _services[service] = instances;
            SetIndexLocked(_index + 1);
        }
    }

    /// <summary>Replaces a service's instances and sets the index, forwards or backwards, in one step (as a restore from an older snapshot does).</summary>
    public void Restore(long index, string service, params StubConsulInstance[] instances)
    {
        lock (_lock)
        {
            _services[service] = instances;
            SetIndexLocked(index);
        }
    }

    /// <summary>Sets the catalog's index, forwards or backwards, waking the blocked queries.</summary>
    public void SetIndex(long index)
    {
        lock (_lock)
        {
            SetIndexLocked(index);
        }
    }

    /// <summary>Stops answering: the port is closed.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private void SetIndexLocked(long index)
    {
        _index = index;
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task HealthAsync(HttpContext context, string name)
    {
        var request = context.Request;
        long? index = long.TryParse(request.Query["index"], NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : null;
        var wait = ParseWait(request.Query["wait"]);
        var query = new Query(name, index, request.Query["wait"], request.Query["passing"], request.Query["tag"], request.Query["dc"],
            request.Headers["X-Consul-Token"], request.Path + request.QueryString);
        _queries.Enqueue(query);

        if (_blocking && index > 0)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(wait);
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (_index > index)
                    {
                        break;
                    }

                    changed = _changed.Task;
                }

                try
                {
                    await changed.WaitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        long answered;
        IReadOnlyList<StubConsulInstance> instances;
        lock (_lock)
        {
            answered = _index;
            instances = _services.TryGetValue(name, out var found) ? found : [];
            instances = [.. instances, .. _registered.Values.Where(r => r.Service == name).Select(r => r.Instance)];
        }

        context.Response.Headers["X-Consul-Index"] = answered.ToString(CultureInfo.InvariantCulture);
        context.Response.ContentType = "application/json";
        if (_garbage is { } garbage)
        {
            await context.Response.WriteAsync(garbage).ConfigureAwait(false);
            return;
        }

        var passingOnly = query.Passing is "" or "true" or "1";
        var selected = instances.Where(s => (!passingOnly || s.Passing) && (query.Tag is null || s.Tags.Contains(query.Tag)));
        await context.Response.WriteAsync(JsonSerializer.Serialize(selected.Select(s => Entry(name, s)))).ConfigureAwait(false);
    }

    private async Task<IResult> RegisterAsync(HttpContext context)
    {
        var body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        _agentCalls.Enqueue(new AgentCall("register", context.Request.Path, context.Request.Headers["X-Consul-Token"], body));
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var id = root.GetProperty("ID").GetString()!;
            var meta = root.TryGetProperty("Meta", out var m) && m.ValueKind == JsonValueKind.Object
                ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal);
            var instance = new StubConsulInstance(id, root.GetProperty(nameof(StubConsulInstance.Address)).GetString() ?? "", root.GetProperty("Port").GetInt32())
            {
                Meta = meta,
                Weight = root.TryGetProperty("Weights", out var w) ? w.GetProperty("Passing").GetInt32() : 1,
                Passing = false,
            };
            lock (_lock)
            {
                _registered[id] = (root.GetProperty("Name").GetString()!, instance);
                SetIndexLocked(_index + 1);
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return Results.BadRequest(ex.Message);
        }

        return Results.Ok();
    }

    private IResult Pass(HttpContext context, string id)
    {
        _agentCalls.Enqueue(new AgentCall("pass", context.Request.Path, context.Request.Headers["X-Consul-Token"], ""));
        const string prefix = "service:";
        lock (_lock)
        {
            if (!id.StartsWith(prefix, StringComparison.Ordinal) || !_registered.TryGetValue(id[prefix.Length..], out var registered))
            {
                return Results.NotFound("Unknown check ID");
            }

            if (!registered.Instance.Passing)
            {
                _registered[registered.Instance.Id] = (registered.Service, registered.Instance with { Passing = true });
                SetIndexLocked(_index + 1);
            }
        }

        return Results.Ok();
    }

    private IResult Fail(HttpContext context, string id)
    {
        _agentCalls.Enqueue(new AgentCall("fail", context.Request.Path, context.Request.Headers["X-Consul-Token"], context.Request.Query["note"].ToString()));
        const string prefix = "service:";
        lock (_lock)
        {
            if (!id.StartsWith(prefix, StringComparison.Ordinal) || !_registered.TryGetValue(id[prefix.Length..], out var registered))
            {
                return Results.NotFound("Unknown check ID");
            }

            if (registered.Instance.Passing)
            {
                _registered[registered.Instance.Id] = (registered.Service, registered.Instance with { Passing = false });
                SetIndexLocked(_index + 1);
            }
        }

        return Results.Ok();
    }

    private IResult Deregister(HttpContext context, string id)
    {
        _agentCalls.Enqueue(new AgentCall("deregister", context.Request.Path, context.Request.Headers["X-Consul-Token"], ""));
        lock (_lock)
        {
            if (!_registered.Remove(id))
            {
                return Results.NotFound("Unknown service ID");
            }

            SetIndexLocked(_index + 1);
        }

        return Results.Ok();
    }

    private static object Entry(string name, StubConsulInstance s) => new
    {
        Node = new { ID = "node-" + s.Id, Node = "node-" + s.Id, Address = s.NodeAddress, Datacenter = "dc1" },
        Service = new
        {
            ID = s.Id,
            Service = name,
            s.Tags,
            s.Address,
            s.Meta,
            s.Port,
            Weights = new { Passing = s.Weight, Warning = 1 },
            EnableTagOverride = false,
        },
        Checks = new[]
        {
            new { Node = "node-" + s.Id, CheckID = "service:" + s.Id, Name = "Service check", Status = s.Passing ? "passing" : "critical", ServiceID = s.Id, ServiceName = name },
        },
    };

    private static TimeSpan ParseWait(string? wait)
    {
        // Consul's default wait is 5 minutes; a unit of s, m or ms.
        if (string.IsNullOrEmpty(wait))
        {
            return TimeSpan.FromMinutes(5);
        }

        var (digits, unit) = wait.EndsWith("ms", StringComparison.Ordinal) ? (wait[..^2], 0.001) : wait.EndsWith('m') ? (wait[..^1], 60.0) : wait.EndsWith('s') ? (wait[..^1], 1.0) : (wait, 1.0);
        return double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? TimeSpan.FromSeconds(Math.Min(value * unit, 600)) : TimeSpan.FromMinutes(5);
    }

    /// <summary>One agent call received: its kind (<c>register</c>, <c>pass</c>, <c>fail</c> or <c>deregister</c>), path, token header and body (a fail's note).</summary>
    public sealed record AgentCall(string Kind, string Path, string? Token, string Body);

    /// <summary>One query received: the service, its parameters and the token header.</summary>
    public sealed record Query(string Service, long? Index, string? Wait, string? Passing, string? Tag, string? Datacenter, string? Token, string PathAndQuery);
}
