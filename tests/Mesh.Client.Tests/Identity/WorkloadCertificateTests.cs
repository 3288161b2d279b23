using Mesh.Identity;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Identity;

/// <summary>The holder of the workload's SVID: atomic swaps, a change signal, and never an expired certificate handed out.</summary>
public sealed class WorkloadCertificateTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private readonly TestPki _ca = TestPki.CreateRoot("Holder CA", Now);
    private readonly IdentityTestSupport _support = new();
    private readonly WorkloadCertificate _holder;

    public WorkloadCertificateTests()
    {
        _holder = new WorkloadCertificate(_time, _support.Logger<WorkloadCertificate>(), _support.Metrics);
    }

    public void Dispose()
    {
        _holder.Dispose();
        _support.Dispose();
        _ca.Dispose();
    }

    [Fact]
    public void With_no_certificate_yet_a_handshake_fails_closed()
    {
        var error = Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);

        Assert.Contains("no certificate yet", error.Message, StringComparison.Ordinal);
        Assert.False(_holder.TryGetCurrent(out _));
        Assert.Null(_holder.Latest);
        Assert.True(_holder.Bundle.IsEmpty);
    }

    [Fact]
    public void An_update_is_handed_out_and_signals_the_change()
    {
        var token = _holder.GetChangeToken();
        var signalled = 0;
        using var registration = token.RegisterChangeCallback(_ => signalled++, null);
        var svid = Svid(Now.AddMinutes(-1), Now.AddHours(1));
        var bundle = TrustBundle.Create("mesh.local", [_ca.Certificate]);

        _holder.Update(svid, bundle);

        Assert.Same(svid, _holder.GetCurrent());
        Assert.Same(bundle, _holder.Bundle);
        Assert.True(token.HasChanged);
        Assert.Equal(1, signalled);
        Assert.False(_holder.GetChangeToken().HasChanged);
    }

    [Fact]
    public void A_renewal_replaces_the_certificate_and_keeps_the_bundle()
    {
        var bundle = TrustBundle.Create("mesh.local", [_ca.Certificate]);
        var first = Svid(Now.AddMinutes(-1), Now.AddHours(1));
        var second = Svid(Now, Now.AddHours(2));
        _holder.Update(first, bundle);
        var token = _holder.GetChangeToken();

        _holder.Update(second);

        Assert.Same(second, _holder.GetCurrent());
        Assert.Same(bundle, _holder.Bundle);
        Assert.True(token.HasChanged);
    }

    [Fact]
    public void A_bundle_update_keeps_the_certificate_and_signals_the_change()
    {
        var svid = Svid(Now.AddMinutes(-1), Now.AddHours(1));
        _holder.Update(svid, TrustBundle.Create("mesh.local", [_ca.Certificate]));
        using var next = TestPki.CreateRoot("Next CA", Now);
        var token = _holder.GetChangeToken();

        _holder.UpdateBundle(TrustBundle.Create("mesh.local", [_ca.Certificate, next.Certificate]));

        Assert.Same(svid, _holder.GetCurrent());
        Assert.Equal(2, _holder.Bundle.GetRoots("mesh.local").Length);
        Assert.True(token.HasChanged);
    }

    [Fact]
    public void Past_expiry_the_certificate_is_never_handed_out_and_the_expiry_is_logged_once()
    {
        using var unavailable = new MetricCollector<long>(_support.Meters, "Mesh", "mesh.identity.certificate.unavailable");
        var svid = Svid(Now.AddMinutes(-1), Now.AddMinutes(10));
        _holder.Update(svid);
        Assert.Same(svid, _holder.GetCurrent());

        _time.Advance(TimeSpan.FromMinutes(10));

        var error = Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);
        Assert.Contains("'spiffe://mesh.local/svc/orders'", error.Message, StringComparison.Ordinal);
        Assert.Contains("expired at 2026-11-25T12:10:00Z", error.Message, StringComparison.Ordinal);
        Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);
        Assert.False(_holder.TryGetCurrent(out _));
        Assert.Same(svid, _holder.Latest);

        var logged = Assert.Single(_support.Logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("spiffe://mesh.local/svc/orders", logged.Message, StringComparison.Ordinal);
        Assert.Contains("fail closed", logged.Message, StringComparison.Ordinal);
        Assert.Equal(2, unavailable.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public void An_expired_certificate_is_never_installed()
    {
        var good = Svid(Now.AddMinutes(-1), Now.AddHours(1));
        _holder.Update(good);
        var expired = Svid(Now.AddHours(-2), Now.AddSeconds(-1));

        var error = Assert.Throws<ArgumentException>(() => _holder.Update(expired));

        Assert.Contains("expired", error.Message, StringComparison.Ordinal);
        Assert.Same(good, _holder.GetCurrent());
    }

    [Fact]
    public void Rotations_and_time_to_expiry_are_measured()
    {
        using var rotations = new MetricCollector<long>(_support.Meters, "Mesh", "mesh.identity.certificate.rotations");
        using var expiry = new MetricCollector<double>(_support.Meters, "Mesh", "mesh.identity.certificate.time_to_expiry");
        _holder.Update(Svid(Now.AddMinutes(-1), Now.AddHours(1)));
        _holder.Update(Svid(Now.AddMinutes(-1), Now.AddHours(2)));

        expiry.RecordObservableInstruments();

        Assert.Equal(2, rotations.GetMeasurementSnapshot().EvaluateAsCounter());
        var measured = Assert.Single(expiry.GetMeasurementSnapshot());
        Assert.Equal(7200, measured.Value);
        Assert.Equal("spiffe://mesh.local/svc/orders", measured.Tags[IdentityMetrics.IdTag]);
        Assert.Equal(Mesh.Telemetry.MeshTelemetry.Name, IdentityMetrics.MeterName);
    }

    [Fact]
    public void No_log_line_holds_key_material()
    {
        var svid = Svid(Now.AddMinutes(-1), Now.AddMinutes(1));
        _holder.Update(svid);
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);

        var (_, keyPem) = svid.ExportPem();
        var keyBody = keyPem.Split('\n')[1];
        Assert.NotEmpty(_support.Logs.Entries);
        Assert.All(_support.Logs.Entries, e => Assert.DoesNotContain(keyBody, e.Message, StringComparison.Ordinal));
        Assert.All(_support.Logs.Entries, e => Assert.DoesNotContain("PRIVATE KEY", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Readers_during_swaps_always_see_a_whole_certificate()
    {
        var svids = Enumerable.Range(0, 4).Select(i => Svid(Now.AddMinutes(-1), Now.AddHours(1 + i))).ToArray();
        _holder.Update(svids[0]);
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var reads = 0;
            while (!stop.IsCancellationRequested || reads == 0)
            {
                Assert.Contains(_holder.GetCurrent(), svids);
                reads++;
            }

            return reads;
        })).ToArray();

        for (var i = 0; i < 2000; i++)
        {
            _holder.Update(svids[i % svids.Length]);
        }

        await stop.CancelAsync();
        Assert.All(await Task.WhenAll(readers), reads => Assert.True(reads > 0));
    }

    private WorkloadSvid Svid(DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        IdentityTestSupport.Svid(_ca, "spiffe://mesh.local/svc/orders", notBefore, notAfter);
}
