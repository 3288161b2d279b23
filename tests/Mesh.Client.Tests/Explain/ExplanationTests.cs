using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Mesh.Balancing;
using Mesh.Resilience;
using Mesh.Retry;
using Mesh.Utilities;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Xunit.Abstractions;
using Mesh.Client.Tests.Telemetry;

namespace Mesh.Client.Tests.Explain;

/// <summary>
/// <c>mesh-explain</c> over real backends on loopback: an explained call's answer says which route, destination, zone,
/// endpoints and attempts the mesh chose and why, in one bounded header; the question never reaches the backend; a call
/// not explained carries nothing.
/// </summary>
public sealed partial class ExplanationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(3);

    public async Task DisposeAsync() => await _backends.DisposeAllAsync();

    [Fact]
    public async Task A_call_not_explained_has_no_explanation()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));

        using var response = await host.Client.GetAsync("http://inventory/items");

        response.EnsureSuccessStatusCode();
        Assert.False(response.Headers.Contains(MeshExplanation.ResponseHeader));
    }

    [Fact]
    public async Task The_header_asks_for_an_explanation_and_is_not_sent_to_the_backend()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));
        using var request = Explained("http://inventory/items");

        using var response = await host.Client.SendAsync(request);

        var text = ExplanationOf(response);
        var echo = await TestBackend.ReadEchoAsync(response);
        var answered = _backends.Single(b => b.Name == echo.Backend);
        Assert.Contains($"attempt=1 first pick={answered.Address.Authority} -> 200", text, StringComparison.Ordinal);
        Assert.Contains("route=none(no routes)", text, StringComparison.Ordinal);
        Assert.Contains("lb=RoundRobin available=3/3", text, StringComparison.Ordinal);
        Assert.Matches(@"budget=\d+\.\d breaker=closed", text);
        Assert.DoesNotContain(echo.Headers.Keys, k => k.StartsWith("mesh-explain", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task The_request_option_asks_for_an_explanation()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.Random, _backends));
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
        request.Options.Set(MeshRequestOptions.Explain, true);

        using var response = await host.Client.SendAsync(request);

        Assert.Matches(@"attempt=1 first pick=127\.0\.0\.1:\d+ -> 200$", ExplanationOf(response));
    }

    [Fact]
    public async Task A_retry_after_503_shows_both_attempts_and_why_the_second_was_made()
    {
        _backends[0].Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backends[0]]));
        using var request = Explained("http://inventory/items");

        using var response = await host.Client.SendAsync(request);

        var at = _backends[0].Address.Authority;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith($"attempt=1 first pick={at} -> 503; attempt=2 retry after status 503 pick={at} -> 200", ExplanationOf(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_connection_shows_the_failover_to_another_endpoint()
    {
        using var closed = LoopbackPorts.Closed();
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backends[0]]);
        config["Mesh:Services:inventory:Endpoints:1:Address"] = closed.Address.ToString();
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);

        // Round robin starts on either endpoint: within two calls, one starts on the refusing one.
        string? failedOver = null;
        for (var i = 0; i < 4 && failedOver is null; i++)
        {
            using var request = Explained("http://inventory/items");
            using var response = await host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = ExplanationOf(response);
            failedOver = text.Contains("failover", StringComparison.Ordinal) ? text : null;
        }

        Assert.NotNull(failedOver);
        Assert.Contains($"attempt=1 first pick={closed.Address.Authority} -> connect_failure", failedOver, StringComparison.Ordinal);
        Assert.Matches($@"attempt=2 failover after ConnectionError: [^;]* pick={Regex.Escape(_backends[0].Address.Authority)} -> 200$", failedOver);
    }

    [Fact]
    public async Task A_hedge_shows_the_second_attempt_and_why_it_was_started()
    {
        _backends[0].Delay = TimeSpan.FromSeconds(5);
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends[..2]);
        config["Mesh:Services:inventory:Hedging:Delay"] = "00:00:00.050";
        config["Mesh:Services:inventory:Hedging:MaxAttempts"] = "2";
        config["Mesh:Services:inventory:Retry:Budget:Ratio"] = "1";
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);

        // Round robin starts on either backend, and a loaded machine may hedge a call to the fast one too: send until
        // a call starts on the slow one.
        var slowFirst = $"attempt=1 first pick={_backends[0].Address.Authority}";
        string? hedged = null;
        for (var i = 0; i < 10 && hedged is null; i++)
        {
            using var request = Explained("http://inventory/items");
            using var response = await host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = ExplanationOf(response);
            hedged = text.Contains(slowFirst, StringComparison.Ordinal) ? text : null;
        }

        Assert.NotNull(hedged);
        Assert.Contains($"attempt=2 hedge: no answer within 50 ms pick={_backends[1].Address.Authority} -> 200", hedged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_weighted_route_shows_its_name_its_destination_and_the_draw()
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _backends[0].Address.ToString(),
            ["Mesh:Services:inventory:Endpoints:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory:Endpoints:1:Address"] = _backends[1].Address.ToString(),
            ["Mesh:Services:inventory:Endpoints:1:Labels:version"] = "v2",
            ["Mesh:Services:inventory:Routes:0:Name"] = "canary",
            ["Mesh:Services:inventory:Routes:0:Match:Path:Value"] = "/api",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Weight"] = "80",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Labels:version"] = "v2",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Weight"] = "20",
        };
        using var host = MeshTestHost.Create(config, services => services.AddSingleton(MeshRandom.Seeded(16)));

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 40; i++)
        {
            using var request = Explained("http://inventory/api/items");
            using var response = await host.Client.SendAsync(request);
            var text = ExplanationOf(response);
            var match = RouteLine().Match(text);
            Assert.True(match.Success, text);
            var draw = int.Parse(match.Groups["draw"].Value, CultureInfo.InvariantCulture);
            var version = draw < 80 ? "v1" : "v2";

            // The draw names the destination by the cumulative weights, and the answer comes from it.
            Assert.Equal(version, match.Groups["version"].Value);
            Assert.Equal(version == "v1" ? "1" : "2", match.Groups["dest"].Value);
            Assert.Equal(version == "v1" ? _backends[0].Name : _backends[1].Name, (await TestBackend.ReadEchoAsync(response)).Backend);
            seen.Add(version);
        }

        Assert.Equal(2, seen.Count);

        using var other = Explained("http://inventory/other");
        using var unrouted = await host.Client.SendAsync(other);
        Assert.StartsWith("route=none(1 tried) dest=0(all);", ExplanationOf(unrouted), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_injected_abort_and_its_retry_are_shown_with_the_route()
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _backends[0].Address.ToString(),
            ["Mesh:Services:inventory:Routes:0:Name"] = "chaos",
            ["Mesh:Services:inventory:Routes:0:Match:Path:Value"] = "/api",
            ["Mesh:Services:inventory:Routes:0:Fault:Abort:Percent"] = "100",
            ["Mesh:Services:inventory:Routes:0:Fault:Abort:HttpStatus"] = "503",
            ["Mesh:Services:inventory:Routes:0:Fault:Delay:Percent"] = "100",
            ["Mesh:Services:inventory:Routes:0:Fault:Delay:Duration"] = "00:00:00.001",
        };
        using var host = MeshTestHost.Create(config);
        using var request = Explained("http://inventory/api/items");

        using var response = await host.Client.SendAsync(request);

        // Every attempt is delayed then aborted before it is sent, and the retries see the injected 503.
        var text = ExplanationOf(response);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.StartsWith("route=chaos ", text, StringComparison.Ordinal);
        Assert.Contains("fault=delay(1 ms)", text, StringComparison.Ordinal);
        Assert.Contains("attempt=1 first fault=abort(status 503) -> 503", text, StringComparison.Ordinal);
        Assert.Contains("attempt=2 retry after status 503 fault=abort(status 503) -> 503", text, StringComparison.Ordinal);
        Assert.Equal(0, _backends[0].Requests);
    }

    [Theory]
    [InlineData("a", "zone=a local(1/1 of the zone available, min 50%)")]
    [InlineData("c", "zone=c spilled(no endpoint in the zone)")]
    public async Task The_zone_rule_is_shown(string zone, string expected)
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends[..2]);
        config["Mesh:Services:inventory:Endpoints:0:Zone"] = "a";
        config["Mesh:Services:inventory:Endpoints:1:Zone"] = "b";
        config["Mesh:Services:inventory:ZoneAware:MinHealthyPercent"] = "50";
        config["Mesh:Zone"] = zone;
        using var host = MeshTestHost.Create(config);
        using var request = Explained("http://inventory/items");

        using var response = await host.Client.SendAsync(request);

        var text = ExplanationOf(response);
        Assert.Contains(expected, text, StringComparison.Ordinal);
        if (zone == "a")
        {
            Assert.Contains($"pick={_backends[0].Address.Authority} -> 200", text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(LoadBalancerNames.PeakEwma, @"cost=\d+(\.\d+)?ms")]
    [InlineData(LoadBalancerNames.LeastRequest, @"inflight=\d+ weight=1")]
    public async Task A_power_of_two_balancer_shows_the_two_candidates_it_compared_and_their_scores(string balancer, string score)
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", balancer, _backends));

        // Warm the endpoints so that their costs are measured, then ask.
        for (var i = 0; i < 30; i++)
        {
            await Load.GetOkAsync(host.Client, "http://inventory/items");
        }

        using var request = Explained("http://inventory/items");
        using var response = await host.Client.SendAsync(request);

        var text = ExplanationOf(response);
        var endpoint = @"127\.0\.0\.1:\d+";
        var match = Regex.Match(text, $@"pick=(?<pick>{endpoint}) cands=\[(?<a>{endpoint}) {score},(?<b>{endpoint}) {score}\]");
        Assert.True(match.Success, text);
        Assert.NotEqual(match.Groups["a"].Value, match.Groups["b"].Value);
        Assert.Contains(match.Groups["pick"].Value, new[] { match.Groups["a"].Value, match.Groups["b"].Value });
        var echo = await TestBackend.ReadEchoAsync(response);
        Assert.Equal(match.Groups["pick"].Value, _backends.Single(b => b.Name == echo.Backend).Address.Authority);
    }

    [Fact]
    public async Task An_ejected_endpoint_is_shown_as_skipped()
    {
        _backends[0].Status = HttpStatusCode.ServiceUnavailable;
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends);
        config["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "2";
        using var host = MeshTestHost.Create(config);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        var failing = service.Destination.Endpoints.Single(e => e.Endpoint.Address == _backends[0].Address);

        // Retries take the failing backend's 503s; it is ejected after its second failure in a row.
        for (var i = 0; i < 100 && !failing.Ejection.IsEjected(TimeProvider.System.GetTimestamp()); i++)
        {
            using var warm = await host.Client.GetAsync("http://inventory/items");
        }

        Assert.True(failing.Ejection.IsEjected(TimeProvider.System.GetTimestamp()), "the failing backend was not ejected");
        using var request = Explained("http://inventory/items");
        using var response = await host.Client.SendAsync(request);

        var text = ExplanationOf(response);
        Assert.Contains("lb=RoundRobin available=2/3", text, StringComparison.Ordinal);
        Assert.Contains($"ejected=[{_backends[0].Address.Authority}] -> 200", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_explanation_of_a_failed_call_is_in_the_exception_and_bounded_however_many_attempts()
    {
        var closed = Enumerable.Range(0, 6).Select(_ => LoopbackPorts.Closed()).ToList();
        try
        {
            var config = new Dictionary<string, string?>
            {
                ["Mesh:Services:inventory:LoadBalancer"] = LoadBalancerNames.PeakEwma,
                ["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false",
                ["Mesh:Services:inventory:Retry:MaxAttempts"] = "10",
                ["Mesh:Services:inventory:Retry:On:0"] = RetryOn.ConnectFailure,
            };
            for (var i = 0; i < closed.Count; i++)
            {
                config[$"Mesh:Services:inventory:Endpoints:{i}:Address"] = closed[i].Address.ToString();
            }

            using var host = MeshTestHost.Create(config);
            using var request = Explained("http://inventory/items");

            var failure = await Assert.ThrowsAnyAsync<HttpRequestException>(() => host.Client.SendAsync(request));

            var text = Assert.IsType<string>(failure.Data[MeshExplanation.ResponseHeader]);
            output.WriteLine($"{text.Length} characters: {text}");
            Assert.True(text.Length <= 4096, $"{text.Length} characters");
            Assert.EndsWith("...(truncated)", text, StringComparison.Ordinal);
            Assert.All(text, c => Assert.InRange(c, ' ', '~'));
            Assert.StartsWith("route=none(no routes); ", text, StringComparison.Ordinal);
            Assert.Contains("attempt=5 ", text, StringComparison.Ordinal);
        }
        finally
        {
            closed.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task The_explanation_is_on_the_call_span()
    {
        using var spans = new SpanCollector();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().AddProcessor(spans).Build();
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));
        using var request = Explained("http://inventory/traced");

        HttpResponseMessage response;
        using (spans.StartTrace())
        {
            response = await host.Client.SendAsync(request);
        }

        using var answered = response;
        tracing.ForceFlush();
        var text = ExplanationOf(response);
        Assert.Contains(spans.Snapshot(), s => s.GetTagItem("mesh.explanation") as string == text);
    }

    [Fact]
    public void Format_puts_one_decision_on_a_line_and_the_candidates_under_their_pick()
    {
        var formatted = MeshExplanation.Format(
            "route=none(no routes); lb=PeakEwma available=2/2; attempt=1 first pick=127.0.0.1:1 cands=[127.0.0.1:1 cost=1ms,127.0.0.1:2 cost=3ms] -> 503; attempt=2 retry after status 503 pick=127.0.0.1:2 -> 200");

        var lines = formatted.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [
                "route=none(no routes)",
                "lb=PeakEwma available=2/2",
                "attempt=1 first pick=127.0.0.1:1 -> 503",
                "    compared:",
                "      127.0.0.1:1 cost=1ms",
                "      127.0.0.1:2 cost=3ms",
                "attempt=2 retry after status 503 pick=127.0.0.1:2 -> 200",
            ],
            lines);
    }

    [Fact]
    public void A_fault_is_recorded_in_order_and_what_is_recorded_is_kept_to_printable_ASCII()
    {
        var explanation = new Explanation();
        explanation.NoRoute(0);
        explanation.Fault("abort", "status 503\r\nx-injected: yes");

        Assert.Equal("route=none(no routes); fault=abort(status 503??x-injected: yes)", explanation.Render());
    }

    private static HttpRequestMessage Explained(string uri)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Add(MeshExplanation.RequestHeader, "1");
        return request;
    }

    private string ExplanationOf(HttpResponseMessage response)
    {
        Assert.True(response.Headers.TryGetValues(MeshExplanation.ResponseHeader, out var values), "the answer has no explanation");
        var text = Assert.Single(values);
        output.WriteLine(text);
        return text;
    }

    [GeneratedRegex(@"^route=canary dest=(?<dest>\d)\(version=(?<version>v\d)\) draw=(?<draw>\d+)/100;")]
    private static partial Regex RouteLine();
}
