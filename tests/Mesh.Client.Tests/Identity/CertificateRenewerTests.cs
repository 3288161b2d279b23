using Mesh.Identity;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Identity;

/// <summary>The renewal loop on a fake clock: first certificate at once, renewal at half-life, back-off while the CA is away, fail closed at expiry.</summary>
public sealed class CertificateRenewerTests : IAsyncLifetime, IDisposable
{
    private static readonly DateTimeOffset Begin = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Begin);
    private readonly TestPki _ca = TestPki.CreateRoot("Renewal CA", Begin);
    private readonly IdentityTestSupport _support = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<DateTimeOffset> _calls = new();
    private readonly WorkloadCertificate _holder;
    private Task _loop = Task.CompletedTask;

    public CertificateRenewerTests()
    {
        _holder = new WorkloadCertificate(_time, metrics: _support.Metrics);
    }

    // Whether the CA answers; when it does not, the issue call throws as an unreachable meshd would.
    private volatile bool _caUp = true;

    private TimeSpan Ttl { get; set; } = TimeSpan.FromHours(1);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    public void Dispose()
    {
        _stop.Dispose();
        _holder.Dispose();
        _support.Dispose();
        _ca.Dispose();
    }

    [Fact]
    public async Task The_first_certificate_is_fetched_at_once_and_renewed_at_half_life()
    {
        var renewer = StartRenewer(new IdentityOptions { RenewalJitter = 0 });

        await WaitAsync(renewer, calls: 1, waitingUntil: Begin.AddMinutes(30));
        var first = _holder.GetCurrent();
        Assert.Equal(Begin.AddHours(1), first.NotAfter);

        _time.Advance(TimeSpan.FromMinutes(30));

        await WaitAsync(renewer, calls: 2, waitingUntil: Begin.AddMinutes(60));
        Assert.Equal(Begin.AddMinutes(30), _calls.ToArray()[1]);
        Assert.NotSame(first, _holder.GetCurrent());
        Assert.Equal(Begin.AddMinutes(90), _holder.GetCurrent().NotAfter);
    }

    [Fact]
    public async Task Renewal_times_carry_the_drawn_jitter()
    {
        var renewer = StartRenewer(new IdentityOptions { RenewalJitter = 0.1 });

        await Eventually.WaitAsync(() => _calls.Count == 1 && renewer.WaitingUntil is not null, "the first certificate and a plan");

        Assert.InRange(renewer.WaitingUntil!.Value, Begin.AddMinutes(24), Begin.AddMinutes(36));
    }

    [Fact]
    public async Task While_the_CA_is_away_the_current_certificate_stays_and_retries_back_off()
    {
        using var failures = new MetricCollector<long>(_support.Meters, "Mesh", "mesh.identity.renewal.failures");
        var renewer = StartRenewer(new IdentityOptions { RenewalJitter = 0, RenewalBackoff = TimeSpan.FromSeconds(10), MaxRenewalBackoff = TimeSpan.FromSeconds(40) });
        await WaitAsync(renewer, calls: 1, waitingUntil: Begin.AddMinutes(30));
        var current = _holder.GetCurrent();
        _caUp = false;

        _time.Advance(TimeSpan.FromMinutes(30));

        // Back-off of 10, 20, 40 then 40 s (the cap); the random source is seeded, so each wait is between half and all of it.
        var attempt = Begin.AddMinutes(30);
        int[] backoffs = [10, 20, 40, 40];
        for (var i = 0; i < backoffs.Length; i++)
        {
            var backoff = backoffs[i];
            var calls = i + 2;
            await Eventually.WaitAsync(() => _calls.Count == calls && renewer.WaitingUntil is not null, $"renewal attempt {calls} to fail and plan a retry");
            var retry = renewer.WaitingUntil!.Value;
            Assert.InRange(retry - attempt, TimeSpan.FromSeconds(backoff / 2.0), TimeSpan.FromSeconds(backoff));
            Assert.Same(current, _holder.GetCurrent());

            // The CA is back for the attempt after the fourth failure.
            if (i == backoffs.Length - 1)
            {
                _caUp = true;
            }

            _time.Advance(retry - _time.GetUtcNow());
            attempt = retry;
        }
        await Eventually.WaitAsync(() => renewer.Failures == 0 && !ReferenceEquals(current, _holder.Latest), "the renewal once the CA is back");
        Assert.Equal(4, failures.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public async Task With_the_CA_away_past_expiry_no_expired_certificate_is_presented_and_retries_never_skip_past_expiry()
    {
        var renewer = StartRenewer(new IdentityOptions { RenewalJitter = 0, RenewalBackoff = TimeSpan.FromSeconds(1), MaxRenewalBackoff = TimeSpan.FromMinutes(10) });
        await WaitAsync(renewer, calls: 1, waitingUntil: Begin.AddMinutes(30));
        var expiry = _holder.GetCurrent().NotAfter;
        _caUp = false;

        // Drive the loop attempt by attempt up to the expiry: each retry is planned at or before it.
        _time.Advance(TimeSpan.FromMinutes(30));
        var calls = 1;
        while (_time.GetUtcNow() < expiry)
        {
            calls++;
            await Eventually.WaitAsync(() => _calls.Count == calls && renewer.WaitingUntil is not null, $"attempt {calls}");
            var next = renewer.WaitingUntil!.Value;
            Assert.True(next <= expiry, $"a retry was planned at {next:O}, after the expiry at {expiry:O}");
            Assert.True(_holder.TryGetCurrent(out _));
            _time.Advance(next - _time.GetUtcNow());
        }

        await Eventually.WaitAsync(() => _calls.Contains(expiry) && renewer.WaitingUntil is not null, "the attempt at the moment of expiry");
        Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);

        _caUp = true;
        _time.Advance(renewer.WaitingUntil!.Value - _time.GetUtcNow());
        await Eventually.WaitAsync(() => _holder.TryGetCurrent(out _), "a new certificate after the CA comes back");
        Assert.True(_holder.GetCurrent().NotAfter > _time.GetUtcNow());
    }

    [Fact]
    public async Task A_certificate_issued_already_expired_is_refused_as_a_failure()
    {
        Ttl = TimeSpan.FromSeconds(-1);
        var renewer = StartRenewer(new IdentityOptions { RenewalBackoff = TimeSpan.FromSeconds(1) });

        await Eventually.WaitAsync(() => renewer.Failures == 1 && renewer.WaitingUntil is not null, "the refused certificate");

        Assert.Null(_holder.Latest);
        Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);
    }

    [Fact]
    public async Task A_certificate_installed_by_someone_else_is_planned_anew()
    {
        var renewer = StartRenewer(new IdentityOptions { RenewalJitter = 0 });
        await WaitAsync(renewer, calls: 1, waitingUntil: Begin.AddMinutes(30));

        _holder.Update(IdentityTestSupport.Svid(_ca, "spiffe://mesh.local/svc/orders", Begin, Begin.AddHours(4)));

        await Eventually.WaitAsync(() => renewer.WaitingUntil == Begin.AddHours(2), "a plan for the new certificate");
        Assert.Single(_calls);
    }

    private CertificateRenewer StartRenewer(IdentityOptions options)
    {
        var renewer = new CertificateRenewer(IssueAsync, _holder, new RenewalScheduler(options, Mesh.Utilities.MeshRandom.Seeded(3)), _time, metrics: _support.Metrics);
        _loop = renewer.RunAsync(_stop.Token);
        return renewer;
    }

    private Task<WorkloadSvid> IssueAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _calls.Enqueue(now);
        return _caUp
            ? Task.FromResult(IdentityTestSupport.Svid(_ca, "spiffe://mesh.local/svc/orders", Ttl > TimeSpan.Zero ? now : now.AddHours(-1), now + Ttl))
            : Task.FromException<WorkloadSvid>(new HttpRequestException("Connection refused (meshd:7070)"));
    }

    private static Task WaitAsync(CertificateRenewer renewer, int calls, DateTimeOffset waitingUntil) =>
        Eventually.WaitAsync(() => renewer.WaitingUntil == waitingUntil, $"the renewer to wait for {waitingUntil:O} after call {calls}");
}
