using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// The public W3C Trace Context suite (vendored in <c>tests/w3c-trace-context</c>, run by Python with aiohttp) against a
/// meshed service: it posts instructions to the service, which calls the harness back as the mesh service
/// <c>harness</c> through a meshed <see cref="HttpClient"/>; the suite checks the trace headers of those calls.
/// </summary>
public sealed partial class TraceContextSuiteTests
{
    // The Python that Debian's python3-aiohttp (installed by ./test.sh) belongs to, not another one earlier on PATH.
    private const string DebianPython = "/usr/bin/python3";

    private static readonly string s_suite = Path.Combine(ChildProcess.RepositoryRoot, "tests", "w3c-trace-context");

    [Fact]
    public async Task The_public_suite_passes_in_full_against_a_meshed_service()
    {
        var result = await LoopbackPorts.StartAsync(1, async ports =>
        {
            var harness = new Uri($"http://127.0.0.1:{ports[0]}");
            await using var service = await StartServiceAsync(harness);
            var run = await ChildProcess.RunAsync(
                "env",
                [$"HARNESS_PORT={ports[0]}", "HARNESS_HOST=127.0.0.1", "SPEC_LEVEL=2", "STRICT_LEVEL=2", DebianPython, "test.py", new Uri(service.Address, "/test").ToString()],
                TimeSpan.FromMinutes(5),
                s_suite);
            if (run.Error.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                throw new IOException($"Address already in use: {run.Error}");
            }

            return run;
        });

        // unittest reports on standard error: "Ran 41 tests" and "OK", or the failures by name.
        var ran = Ran().Match(result.Error);
        Assert.True(ran.Success, $"the suite did not run:\n{result.Output}\n{result.Error}");
        Assert.True(result.ExitCode == 0 && result.Error.TrimEnd().EndsWith("OK", StringComparison.Ordinal), $"the suite failed:\n{result.Error}");
        Assert.Equal(41, int.Parse(ran.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain("skipped", result.Error, StringComparison.Ordinal);
    }

    // The suite's test service: for each instruction, POST its arguments to its URL, the harness reached through the mesh.
    private static Task<TestApp> StartServiceAsync(Uri harness) => TestApp.StartAsync(
        services =>
        {
            services.AddLogging(logging => logging.AddProvider(new LogCollector()));
            services.AddMeshServer();
            services.AddMesh(o =>
            {
                o.ServiceName = "tracecontext-service";
                o.Services["harness"] = new MeshServiceOptions { Endpoints = { new(harness.ToString()) } };
            });
            services.AddHttpClient("harness").AddMesh();
        },
        app => app.MapPost("/test", async (HttpContext context, IHttpClientFactory clients) =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var client = clients.CreateClient("harness");
            foreach (var action in body.RootElement.EnumerateArray())
            {
                var url = new Uri(action.GetProperty("url").GetString()!);
                Assert.Equal(harness.Authority, url.Authority);
                using var response = await client.PostAsJsonAsync(new Uri("http://harness" + url.PathAndQuery), action.GetProperty("arguments"), context.RequestAborted);
            }

            return Results.Ok();
        }));

    [GeneratedRegex(@"^Ran (\d+) tests? in", RegexOptions.Multiline)]
    private static partial Regex Ran();
}
