using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// A meshed service between a caller and a recorder, all real Kestrel on loopback: the caller writes its request
/// byte for byte (so several header fields, tabs and spaces reach the server as written), the service (with
/// <c>AddMeshServer()</c>) calls the recorder through a meshed <see cref="HttpClient"/>, and the recorder keeps the
/// trace headers each attempt carried.
/// </summary>
public sealed partial class TraceContextRig : IAsyncDisposable
{
    /// <summary>The header a request uses to make the service set its span's tracestate before it calls out.</summary>
    public const string SetTraceState = "x-set-tracestate";

    private readonly ConcurrentDictionary<string, Recorded> _recorded = new();
    private TestApp _recorder = null!;
    private TestApp _service = null!;

    private TraceContextRig()
    {
    }

    /// <summary>Gets the service's address.</summary>
    public Uri Service => _service.Address;

    /// <summary>Starts the recorder and the service; the service logs, as applications do, so ASP.NET Core starts a span per request.</summary>
    public static async Task<TraceContextRig> StartAsync()
    {
        var rig = new TraceContextRig();
        rig._recorder = await TestApp.StartAsync(_ => { }, app => app.Run(rig.RecordAsync));
        rig._service = await TestApp.StartAsync(
            services =>
            {
                services.AddLogging(logging => logging.AddProvider(new LogCollector()));
                services.AddMeshServer();
                services.AddMesh(o =>
                {
                    o.ServiceName = "front";
                    o.Services["recorder"] = new MeshServiceOptions { Endpoints = { new(rig._recorder.Address.ToString()) } };
                });
                services.AddHttpClient("recorder").AddMesh();
            },
            app => app.MapGet("/call/{id}", async (string id, HttpContext context, IHttpClientFactory clients) =>
            {
                if (context.Request.Headers[SetTraceState] is { Count: 1 } state)
                {
                    Activity.Current!.TraceStateString = state[0];
                }

                using var response = await clients.CreateClient("recorder").GetAsync(new Uri($"http://recorder/record/{id}"));
                return (int)response.StatusCode;
            }));
        return rig;
    }

    /// <summary>
    /// Sends <c>GET /call/{id}</c> with <paramref name="headers"/> written as given (one field per line, <c>name: value</c>)
    /// and returns what the service's outgoing attempt carried.
    /// </summary>
    public async Task<Recorded> CallAsync(params string[] headers)
    {
        var id = Guid.NewGuid().ToString("N");
        var request = new StringBuilder($"GET /call/{id} HTTP/1.1\r\nHost: {Service.Authority}\r\nConnection: close\r\n");
        foreach (var header in headers)
        {
            request.Append(header).Append("\r\n");
        }

        request.Append("\r\n");
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(Service.Host, Service.Port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var response = await reader.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
        return Assert.Contains(id, _recorded);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _service.DisposeAsync();
        await _recorder.DisposeAsync();
    }

    private Task RecordAsync(HttpContext context)
    {
        var id = context.Request.Path.Value!["/record/".Length..];
        _recorded[id] = new Recorded([.. context.Request.Headers["traceparent"]], [.. context.Request.Headers["tracestate"]]);
        return Task.CompletedTask;
    }

    /// <summary>The trace headers one outgoing attempt carried, each field as it arrived.</summary>
    public sealed partial record Recorded(string?[] TraceParents, string?[] TraceStates)
    {
        /// <summary>Gets the one traceparent, checked to be version 00 in lowercase hex.</summary>
        public Match TraceParent
        {
            get
            {
                var value = Assert.Single(TraceParents);
                var match = Format().Match(value!);
                Assert.True(match.Success, $"traceparent '{value}' is not version 00");
                return match;
            }
        }

        /// <summary>Gets the trace-id sent.</summary>
        public string TraceId => TraceParent.Groups["trace"].Value;

        /// <summary>Gets the parent-id sent.</summary>
        public string ParentId => TraceParent.Groups["parent"].Value;

        /// <summary>Gets the trace-flags sent.</summary>
        public int Flags => Convert.ToInt32(TraceParent.Groups["flags"].Value, 16);

        /// <summary>Gets the tracestate sent, null when none was.</summary>
        public string? TraceState => TraceStates.Length == 0 ? null : Assert.Single(TraceStates);

        [GeneratedRegex("^00-(?<trace>[0-9a-f]{32})-(?<parent>[0-9a-f]{16})-(?<flags>[0-9a-f]{2})$")]
        private static partial Regex Format();
    }
}
