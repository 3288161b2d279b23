using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace Mesh.Chaos.Tests;

/// <summary>
/// The real sample services under faults in turn: gateway → orders → inventory (gRPC) and payments (HTTP), each a
/// child process with its own credential and X.509-SVID from meshd, every hop on Strict mutual TLS (see
/// <see cref="SampleServices"/>); an inventory instance killed with SIGKILL, a payments instance frozen with SIGSTOP and
/// thawed with SIGCONT, then meshd killed with SIGKILL and started again on the same port and data.
/// </summary>
public sealed class SampleMeshTests(ITestOutputHelper output)
{
    /// <summary>inventory and payments: deadlines within orders' share, an attempt timeout, retries elsewhere, ejection.</summary>
    private static readonly Dictionary<string, string> s_policies = new(StringComparer.Ordinal)
    {
        ["inventory"] = ChaosMesh.BackendPolicy,
        ["payments"] = ChaosMesh.BackendPolicy,
        ["orders"] = ChaosMesh.OrdersPolicy,
    };

    [Fact]
    public Task FaultsInTurnUnderTrafficToTheGateway() => Scenario.WithinDeadline(async () =>
    {
        var pids = new List<int>();
        await using (var mesh = await SampleServices.StartAsync(s_policies))
        {
            var dead = mesh.Inventory[0];
            var frozen = mesh.Payments[0];
            var meshdBack = double.NaN;

            // The traffic ends 5 s after meshd answers again (its start takes seconds on a loaded machine), or at 60 s.
            using var stop = new CancellationTokenSource();
            var traffic = await Traffic.RunAsync(mesh.Identity.HandlerFor("gateway"), mesh.Order, callers: 6, TimeSpan.FromSeconds(60), async t =>
            {
                await Scenario.At(t, 3);
                dead.Kill();
                await Scenario.At(t, 8);
                frozen.Freeze();
                await Scenario.At(t, 14);
                frozen.Thaw();
                await Scenario.At(t, 18);
                mesh.KillMeshd();
                await Scenario.At(t, 22);
                await mesh.StartMeshdAgainAsync();
                meshdBack = t.Elapsed.TotalSeconds;
                await Scenario.At(t, meshdBack + 5);
                await stop.CancelAsync();
            }, stop.Token);

            traffic.AssertAccounting(output, "sample services: inventory kill -9, payments SIGSTOP/SIGCONT, meshd kill -9");
            var end = traffic.Samples.Max(s => s.At);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"meshd answered again at {meshdBack:F1} s; the last request ended at {end:F1} s"));
            (string Name, double From, double To)[] phases =
            [
                ("before the faults", 0, 3),
                ("inventory instance killed", 3, 8),
                ("payments instance frozen", 8, 14),
                ("payments instance thawed", 14, 18),
                ("meshd killed", 18, meshdBack),
                ("meshd back", meshdBack, double.MaxValue),
            ];
            foreach (var (name, from, to) in phases)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} [{from:F1}, {Math.Min(to, end):F1}) s: {traffic.SuccessRate(from, to):P1} ok, p99 {traffic.Percentile(0.99, from, to):F0} ms"));
            }

            // Each fault is absorbed by the mesh (a refused connection or an attempt timeout retried on the other
            // instance, ejection, static stability while meshd is away): nearly every order goes through in every
            // phase, every one while meshd is away, and nearly all once the last fault has passed.
            Assert.True(traffic.SuccessRate(0, double.MaxValue) >= 0.95, traffic.Summary("whole run"));
            foreach (var (name, from, to) in phases)
            {
                Assert.True(traffic.SuccessRate(from, to) >= 0.90, $"{name}: {traffic.SuccessRate(from, to):P1} ok");
            }

            Assert.True(traffic.SuccessRate(18, meshdBack) >= 0.99, $"while meshd was away: {traffic.SuccessRate(18, meshdBack):P1} ok");
            Assert.True(traffic.SuccessRate(end - 4, double.MaxValue) >= 0.95, $"the last 4 s: {traffic.SuccessRate(end - 4, double.MaxValue):P1} ok");

            // meshd, back on its data, lists the survivors with their identities: the killed inventory instance gone,
            // the thawed payments instance there.
            Assert.True(dead.HasExited);
            Assert.False(frozen.HasExited);
            await mesh.WaitInstancesAsync("inventory", 1);
            await mesh.WaitInstancesAsync("payments", 2);
            await mesh.WaitInstancesAsync("orders", 1);
            await mesh.WaitInstancesAsync("gateway", 1);

            // Every hop still proved its caller over mutual TLS.
            using var client = new HttpClient(mesh.Identity.HandlerFor("gateway")) { Timeout = TimeSpan.FromSeconds(10) };
            using var response = await client.SendAsync(mesh.Order());
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"an order after the faults: {(int)response.StatusCode} {body}");
            var callers = JsonNode.Parse(body)?["verifiedCallers"];
            Assert.Equal(mesh.Identity.IdOf(SampleServices.TrafficService), callers?["gateway"]?.GetValue<string>());
            Assert.Equal(mesh.Identity.IdOf("gateway"), callers?["orders"]?.GetValue<string>());
            Assert.Equal(mesh.Identity.IdOf("orders"), callers?["inventory"]?.GetValue<string>());
            Assert.Equal(mesh.Identity.IdOf("orders"), callers?["payments"]?.GetValue<string>());
            pids.AddRange(mesh.Pids);
        }

        // Nothing the scenario started survives it.
        Assert.True(pids.Count >= 8, $"{pids.Count} processes recorded");
        Assert.All(pids, pid => Assert.False(IsAlive(pid), $"process {pid} survived the scenario"));
    }, TimeSpan.FromSeconds(180));

    /// <summary>Whether <paramref name="pid"/> is still one of the processes started here (a zombie or another program has ended it).</summary>
    private static bool IsAlive(int pid)
    {
        var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            var stat = File.ReadAllText(proc + "/stat");
            var end = stat.LastIndexOf(')');
            if (end > 0 && end + 2 < stat.Length && stat[end + 2] == 'Z')
            {
                return false;
            }

            var command = File.ReadAllText(proc + "/cmdline");
            return command.Contains("Mesh.Samples.", StringComparison.Ordinal) || command.Contains("Mesh.ControlPlane", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
