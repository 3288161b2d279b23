using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// A small stand-in for the Kubernetes API server, on 127.0.0.1 in plain HTTP, that serves EndpointSlices the way the API's
/// published shapes say: <c>GET /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=...</c> lists them
/// with <c>metadata.resourceVersion</c>; with <c>watch=true&amp;resourceVersion=N</c> it streams newline-delimited
/// <c>{"type":...,"object":...}</c> events after N, and an <c>ERROR</c> event with a 410 status when N was compacted away.
/// Requests need the bearer token.
/// </summary>
internal sealed class StubKubernetesApi : IAsyncDisposable
{
    public const string Token = "stub-token-5f1c";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, JsonObject> _slices = new(StringComparer.Ordinal);
    private readonly List<(long Version, string Line)> _history = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _endWatches = new();
    private long _version = 100;
    private long _oldest;
    private TestApp? _app;

    /// <summary>Gets the resource versions watches were asked from, in order.</summary>
    public ConcurrentQueue<string> WatchedFrom { get; } = new();

    /// <summary>Gets how many lists were served.</summary>
    public int Lists => Volatile.Read(ref _lists);

    /// <summary>Gets how many requests came without the token.</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    private int _lists;
    private int _unauthorized;

    public Uri Address => _app!.Address;

    /// <summary>Gets or sets whether lists and watches answer 200 with something that is not JSON.</summary>
    public bool Garbage { get; set; }

    public long Version { get { lock (_lock) { return _version; } } }

    public static async Task<StubKubernetesApi> StartAsync()
    {
        var stub = new StubKubernetesApi();
        stub._app = await TestApp.StartAsync(_ => { }, app => app.MapGet("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", stub.HandleAsync));
        return stub;
    }

    /// <summary>Writes a kubeconfig whose current context is this server with the token.</summary>
    public string WriteKubeconfig(string directory)
    {
        var path = Path.Combine(directory, "kubeconfig");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: stub
              cluster:
                server: {Address.GetLeftPart(UriPartial.Authority)}
            contexts:
            - name: stub
              context:
                cluster: stub
                user: stub
            current-context: stub
            users:
            - name: stub
              user:
                token: {Token}
            """);
        return path;
    }

    /// <summary>Adds or replaces a slice (ADDED or MODIFIED); with <paramref name="unseen"/> the change is kept out of the watch history, as one lost to compaction.</summary>
    public void Put(JsonObject slice, bool unseen = false)
    {
        lock (_lock)
        {
            var name = slice["metadata"]!["name"]!.GetValue<string>();
            var type = _slices.ContainsKey(name) ? "MODIFIED" : "ADDED";
            Record(type, slice, unseen);
            _slices[name] = slice;
        }
    }

    /// <summary>Deletes a slice.</summary>
    public void Delete(string name)
    {
        lock (_lock)
        {
            if (_slices.Remove(name, out var slice))
            {
                Record("DELETED", slice, unseen: false);
            }
        }
    }

    /// <summary>Sends a bookmark at a new resource version to the open watches.</summary>
    public long Bookmark()
    {
        lock (_lock)
        {
            var bookmark = new JsonObject { ["kind"] = "EndpointSlice", ["apiVersion"] = "discovery.k8s.io/v1", ["metadata"] = new JsonObject() };
            Record("BOOKMARK", bookmark, unseen: false);
            return _version;
        }
    }

    /// <summary>Forgets the history up to now: a watch from an older version is answered 410 Gone.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _oldest = _version;
            _history.Clear();
        }
    }

    /// <summary>Ends every open watch, as the API server does when its timeout passes.</summary>
    public void EndWatches()
    {
        lock (_lock)
        {
            var end = _endWatches;
            _endWatches = new CancellationTokenSource();
            end.Cancel();
            end.Dispose();
        }
    }

    public async Task StopAsync()
    {
        EndWatches();
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private void Record(string type, JsonObject obj, bool unseen)
    {
        _version++;
        obj["metadata"]!["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture);
        if (!unseen)
        {
            var line = new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString();
            _history.Add((_version, line));
        }

        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private async Task HandleAsync(HttpContext context, string ns)
    {
        var request = context.Request;
        if (request.Headers.Authorization.ToString() != "Bearer " + Token)
        {
            Interlocked.Increment(ref _unauthorized);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        if (Garbage)
        {
            await context.Response.WriteAsync("<html>a proxy's error page</html>\n");
            return;
        }

        var selector = request.Query["labelSelector"].ToString();
        var service = selector.StartsWith("kubernetes.io/service-name=", StringComparison.Ordinal) ? selector["kubernetes.io/service-name=".Length..] : null;
        context.Response.ContentType = "application/json";
        if (request.Query["watch"] != "true")
        {
            Interlocked.Increment(ref _lists);
            string body;
            lock (_lock)
            {
                var items = new JsonArray([.. _slices.Values.Where(s => Matches(s, service)).Select(s => s.DeepClone())]);
                body = new JsonObject
                {
                    ["kind"] = "EndpointSliceList",
                    ["apiVersion"] = "discovery.k8s.io/v1",
                    ["metadata"] = new JsonObject { ["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture) },
                    ["items"] = items,
                }.ToJsonString();
            }

            await context.Response.WriteAsync(body);
            return;
        }

        var from = long.Parse(request.Query["resourceVersion"].ToString(), CultureInfo.InvariantCulture);
        WatchedFrom.Enqueue(request.Query["resourceVersion"].ToString());
        CancellationToken end;
        bool gone;
        lock (_lock)
        {
            end = _endWatches.Token;
            gone = from < _oldest;
        }

        if (gone)
        {
            // As the API server answers a watch from a compacted version: an ERROR event with a 410 status, then the end.
            var error = new JsonObject
            {
                ["type"] = "ERROR",
                ["object"] = new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Failure", ["message"] = "too old resource version", ["reason"] = "Expired", ["code"] = 410 },
            };
            await context.Response.WriteAsync(error.ToJsonString() + "\n");
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(end, context.RequestAborted);
        await context.Response.StartAsync(stop.Token);
        await context.Response.Body.FlushAsync(stop.Token);
        var sent = from;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                List<string> lines;
                Task changed;
                lock (_lock)
                {
                    lines = [.. _history.Where(h => h.Version > sent && Matches(h.Line, service)).Select(h => h.Line)];
                    sent = _version;
                    changed = _changed.Task;
                }

                foreach (var line in lines)
                {
                    await context.Response.WriteAsync(line + "\n", stop.Token);
                }

                await context.Response.Body.FlushAsync(stop.Token);
                await changed.WaitAsync(stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static bool Matches(JsonObject slice, string? service) =>
        slice["metadata"]?["labels"]?["kubernetes.io/service-name"]?.GetValue<string>() == service;

    private static bool Matches(string line, string? service) =>
        JsonNode.Parse(line)!["object"] is JsonObject obj && (obj["metadata"]?["labels"] is null || Matches(obj, service));
}
