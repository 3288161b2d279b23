using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mesh.Bench.Tests;

/// <summary>
/// The load bench's smoke runs complete by themselves, print every configuration, write JSON with positive figures,
/// and leave no process behind (its backend process and nginx pairs are ended by pid) nor its certificates. Speed
/// itself is never asserted.
/// </summary>
public sealed partial class LoadBenchTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"mesh-loadbench-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_out);

    [Fact]
    public async Task The_rows_option_runs_only_the_configurations_named()
    {
        var (code, text) = await RunAsync("--smoke", "--rows", "factory,mesh", "--out", _out);

        Assert.True(code == 0, $"exit code {code}\n{text}");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_out));
        var names = json.RootElement.GetProperty("configurations").EnumerateArray().Select(r => r.GetProperty("name").GetString()).ToList();
        Assert.Equal(["mesh", "factory"], names);
        Assert.True(json.RootElement.GetProperty("configurations")[0].GetProperty("extra").GetProperty("throughput").GetDouble() > 0);
    }

    [Fact]
    public async Task The_comparison_smoke_run_measures_every_configuration_and_stops_its_processes()
    {
        var (code, text) = await RunAsync("--smoke", "--out", _out);

        Assert.True(code == 0, $"exit code {code}\n{text}");
        string[] configurations =
        [
            "bare", "mesh", "factory", "factory+2us", "factory+4us", "mesh+rate-limit", "mesh+hedging", "mesh+attempt-timeout", "mesh+route", "mesh+otel", "standard", "sidecar",
            "bare-tls", "mesh-mtls", "sidecar-tls", "grpc-bare", "grpc-mesh", "grpc-bare-tls", "grpc-mesh-mtls",
        ];
        foreach (var name in configurations)
        {
            Assert.Matches(new Regex($@"^{Regex.Escape(name)}\s+\d+\.\d+ \(\d+\.\d+x\)", RegexOptions.Multiline), text);
        }

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_out));
        Assert.Equal("comparison", json.RootElement.GetProperty("mode").GetString());
        Assert.True(json.RootElement.GetProperty("machine").GetProperty("cores").GetInt32() > 0);
        var rows = json.RootElement.GetProperty("configurations").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(configurations.Order(), rows.Keys.Order());
        foreach (var row in rows.Values)
        {
            foreach (var figure in new[] { "p50Ms", "p90Ms", "p99Ms", "throughputRps", "cpuUsPerRequest", "allocBytesPerRequest" })
            {
                Assert.True(row.GetProperty(figure).GetDouble() > 0, $"{row.GetProperty("name")} {figure}");
            }

            Assert.Equal(0, row.GetProperty("errors").GetInt64());
            Assert.True(row.GetProperty("ratios").GetProperty("p50").GetDouble() > 0);
        }

        Assert.Equal(1.0, rows["bare"].GetProperty("ratios").GetProperty("throughput").GetDouble());
        Assert.True(rows["sidecar"].GetProperty("proxyCpuUsPerRequest").GetDouble() >= 0);
        Assert.True(rows["sidecar-tls"].GetProperty("proxyCpuUsPerRequest").GetDouble() >= 0);

        // The mutual TLS rows are also measured against the bare client over mutual TLS of their protocol.
        foreach (var (name, tlsBaseline) in new[] { ("bare-tls", "bare-tls"), ("mesh-mtls", "bare-tls"), ("sidecar-tls", "bare-tls"), ("grpc-bare-tls", "grpc-bare-tls"), ("grpc-mesh-mtls", "grpc-bare-tls") })
        {
            Assert.Equal(tlsBaseline, rows[name].GetProperty("tlsBaseline").GetString());
            Assert.True(rows[name].GetProperty("tlsRatios").GetProperty("throughput").GetDouble() > 0, name);
        }

        Assert.False(rows["mesh"].TryGetProperty("tlsRatios", out _));

        // The mesh's own share is measured over the factory client, each optional feature's over the mesh.
        Assert.Equal("factory", rows["mesh"].GetProperty("over").GetString());
        foreach (var name in new[] { "mesh+rate-limit", "mesh+hedging", "mesh+attempt-timeout", "mesh+route", "mesh+otel", "mesh-mtls" })
        {
            Assert.Equal("mesh", rows[name].GetProperty("over").GetString());
            Assert.True(rows[name].GetProperty("extra").TryGetProperty("allocBytes", out _), name);
        }

        // The calibration rows spin a known time per call over the factory client and allocate nothing more.
        foreach (var name in new[] { "factory+2us", "factory+4us" })
        {
            Assert.Equal("factory", rows[name].GetProperty("over").GetString());
            Assert.InRange(rows[name].GetProperty("extra").GetProperty("allocBytes").GetDouble(), -64, 64);
        }

        Assert.Contains(json.RootElement.GetProperty("goals").EnumerateArray(), g => g.GetProperty("name").GetString() == "mesh bytes/request over factory <= 512 B");

        // The meshed rows really went through the mesh's mutual TLS, over pooled connections: fewer handshakes than calls.
        foreach (var name in new[] { "mesh-mtls", "grpc-mesh-mtls" })
        {
            Assert.True(rows[name].GetProperty("handshakes").GetInt64() > 0, $"{name} made no mutual TLS handshake");
            Assert.InRange(rows[name].GetProperty("handshakesPer1000Requests").GetDouble(), 0.001, 999);
        }

        // The backend process and both nginx pairs were ended by the program itself, and its certificates deleted.
        var pids = PidPattern().Matches(text).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(5, pids.Count);
        Assert.All(pids, pid => Assert.False(Alive(pid), $"process {pid} survived the run"));
        var certificates = CertificatesPattern().Match(text);
        Assert.True(certificates.Success, text);
        Assert.False(Directory.Exists(certificates.Groups[1].Value), $"{certificates.Groups[1].Value} survived the run");
    }

    [Fact]
    public async Task The_balancing_smoke_run_reports_every_balancer()
    {
        var (code, text) = await RunAsync("balancing", "--smoke", "--out", _out);

        Assert.True(code == 0, $"exit code {code}\n{text}");
        string[] balancers = ["RoundRobin", "LeastRequest", "PeakEwma", "PeakEwma+hedging", "PeakEwma+attempt-timeout"];
        foreach (var name in balancers)
        {
            Assert.Matches(new Regex($@"^{Regex.Escape(name)}\s+\d+\s+\d+\.\d+\s+\d+\.\d", RegexOptions.Multiline), text);
        }

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_out));
        Assert.Equal("balancing", json.RootElement.GetProperty("mode").GetString());
        var rows = json.RootElement.GetProperty("balancers").EnumerateArray().ToList();
        Assert.Equal(balancers, rows.Select(r => r.GetProperty("name").GetString()));
        foreach (var row in rows)
        {
            Assert.True(row.GetProperty("issued").GetInt64() > 0);
            foreach (var figure in new[] { "successPercent", "p50Ms", "p99Ms", "p999Ms" })
            {
                Assert.True(row.GetProperty(figure).GetDouble() > 0, $"{row.GetProperty("name")} {figure}");
            }

            Assert.True(row.GetProperty("extraRequestsPercent").GetDouble() >= 0);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] args)
    {
        // Killed with its children if it overruns: the tree is the bench's own.
        var run = await ChildProcess.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Mesh.LoadBench.dll"), .. args], TimeSpan.FromMinutes(2));
        Assert.DoesNotContain('\u001b', run.Output);
        return (run.ExitCode, run.Output + run.Error);
    }

    private static bool Alive(int pid)
    {
        // A pid may be reused, but not within the instant after the run; a zombie is gone as far as the test cares.
        var stat = $"/proc/{pid}/stat";
        return File.Exists(stat) && !File.ReadAllText(stat).Contains(") Z ", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"pid (\d+)")]
    private static partial Regex PidPattern();

    [GeneratedRegex(@"^Certificates for the mutual TLS rows in (\S+) ", RegexOptions.Multiline)]
    private static partial Regex CertificatesPattern();
}
