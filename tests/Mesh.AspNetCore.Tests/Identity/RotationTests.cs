using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The server's certificate rotated under load: selected per handshake, so nothing is rebuilt and no connection is cut.</summary>
public sealed class RotationTests(ITestOutputHelper output) : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Three_rotations_of_the_server_certificate_under_load_fail_no_request_and_drop_no_connection()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Strict");
        using var handshakes = new MetricCollector<long>(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.tls.handshakes");
        var svid = _pki.Svid("orders");
        var seen = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<Exception>();
        var kept = new ConcurrentQueue<string>();
        long fresh = 0;

        // One caller keeps one connection for the whole run; the others open a new connection (a new handshake) per request.
        using var keptClient = new HttpClient(_pki.MtlsHandler(svid));
        using var freshClient = new HttpClient(_pki.MtlsHandler(svid, seen));
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(
            Loop(async () => kept.Enqueue((await keptClient.GetFromJsonAsync<Who>(new Uri(server.Https(), "/who")))!.Connection)),
            Loop(async () => await FreshAsync()),
            Loop(async () => await FreshAsync()));

        var first = server.App.Services.GetRequiredService<Mesh.Identity.WorkloadCertificate>().GetCurrent().SerialNumber;
        await Eventually.WaitAsync(() => seen.Contains(first) && !kept.IsEmpty, "traffic on the first certificate");
        var serials = new List<string> { first };
        for (var rotation = 0; rotation < 3; rotation++)
        {
            var next = _pki.WriteServerCertificate();
            serials.Add(next);
            await Eventually.WaitAsync(() => seen.Contains(next), $"a new connection to be served certificate {rotation + 2}");
        }

        // After the last rotation is in force, every new connection gets the newest certificate.
        var before = seen.Count;
        await Eventually.WaitAsync(() => seen.Count >= before + 20, "more new connections");
        var keptBefore = kept.Count;
        await Eventually.WaitAsync(() => kept.Count > keptBefore + 5, "the kept connection to serve after the last rotation");
        await stop.CancelAsync();
        await load;

        var accepted = handshakes.GetMeasurementSnapshot().Where(m => m.Tags["mesh.tls.result"] as string == "accepted").Sum(m => m.Value);
        var requests = kept.Count + Interlocked.Read(ref fresh);
        output.WriteLine(
            $"{requests} requests ({kept.Count} on the kept connection, {fresh} on new connections), {accepted} handshakes accepted ({1000.0 / kept.Count:0.#} per 1000 requests on the kept connection), {failures.Count} failures; new connections served by each certificate in turn: {string.Join(", ", serials.Select(s => seen.Count(x => x == s)))}");
        Assert.Empty(failures);

        // One handshake per connection opened: the kept connection's, and one per request that asked for a new one.
        Assert.Equal(Interlocked.Read(ref fresh) + 1, accepted);
        Assert.Single(kept.Distinct());
        Assert.All(seen.Skip(before), s => Assert.Equal(serials[^1], s));
        Assert.All(serials, s => Assert.Contains(s, seen));

        async Task Loop(Func<Task> send)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await send();
                }
                catch (HttpRequestException ex)
                {
                    failures.Enqueue(ex);
                }
            }
        }

        async Task FreshAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Https(), "/who"));
            request.Headers.ConnectionClose = true;
            using var response = await freshClient.SendAsync(request, CancellationToken.None);
            response.EnsureSuccessStatusCode();
            Interlocked.Increment(ref fresh);
        }
    }
}
