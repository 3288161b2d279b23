using Mesh.Utilities;
using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>When certificates are renewed: at half-life with jitter, retried with back-off, never past expiry.</summary>
public sealed class RenewalSchedulerTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Without_jitter_renewal_is_at_half_the_lifetime()
    {
        var scheduler = new RenewalScheduler(new IdentityOptions { RenewalJitter = 0 }, MeshRandom.Seeded(1));

        Assert.Equal(Start.AddHours(12), scheduler.RenewAt(Start, Start.AddHours(24)));
        Assert.Equal(Start.AddSeconds(5), scheduler.RenewAt(Start, Start.AddSeconds(10)));
    }

    [Fact]
    public void Renewal_follows_the_configured_fraction()
    {
        var scheduler = new RenewalScheduler(new IdentityOptions { RenewalFraction = 0.75, RenewalJitter = 0 }, MeshRandom.Seeded(1));

        Assert.Equal(Start.AddHours(18), scheduler.RenewAt(Start, Start.AddHours(24)));
    }

    [Fact]
    public void A_thousand_services_started_together_renew_spread_over_the_jitter_window()
    {
        var scheduler = new RenewalScheduler(new IdentityOptions(), MeshRandom.Seeded(42));

        var times = Enumerable.Range(0, 1000).Select(_ => scheduler.RenewAt(Start, Start.AddHours(24))).ToList();

        // Every renewal within 12 h ± 72 min; spread over the window, not bunched: each tenth of it gets some.
        Assert.All(times, t => Assert.InRange(t, Start.AddHours(12).AddMinutes(-72), Start.AddHours(12).AddMinutes(72)));
        var buckets = times.GroupBy(t => (int)((t - Start.AddHours(12).AddMinutes(-72)).TotalMinutes / 14.4)).ToDictionary(g => Math.Min(g.Key, 9), g => g.Count());
        Assert.Equal(10, buckets.Count);
        Assert.All(buckets.Values, count => Assert.InRange(count, 50, 150));
        Assert.True(times.Distinct().Count() > 990, "renewal times repeat");
    }

    [Fact]
    public void Retries_double_from_the_first_back_off_up_to_the_cap()
    {
        var scheduler = new RenewalScheduler(new IdentityOptions { RenewalBackoff = TimeSpan.FromSeconds(1), MaxRenewalBackoff = TimeSpan.FromSeconds(30) }, new FixedRandom(1.0));

        var delays = Enumerable.Range(1, 8).Select(failures => scheduler.RetryAt(Start, failures, null) - Start).ToList();

        Assert.Equal([1, 2, 4, 8, 16, 30, 30, 30], delays.Select(d => Math.Round(d.TotalSeconds, 3)));
    }

    [Fact]
    public void Retry_jitter_keeps_between_half_and_all_of_the_back_off()
    {
        var options = new IdentityOptions { RenewalBackoff = TimeSpan.FromSeconds(8), MaxRenewalBackoff = TimeSpan.FromSeconds(8) };

        Assert.Equal(TimeSpan.FromSeconds(4), new RenewalScheduler(options, new FixedRandom(0)).RetryAt(Start, 1, null) - Start);
        var spread = new RenewalScheduler(options, MeshRandom.Seeded(7));
        Assert.All(Enumerable.Range(0, 100), _ => Assert.InRange(spread.RetryAt(Start, 1, null) - Start, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)));
    }

    [Fact]
    public void A_retry_never_waits_past_the_current_certificates_expiry()
    {
        var scheduler = new RenewalScheduler(new IdentityOptions { RenewalBackoff = TimeSpan.FromSeconds(1), MaxRenewalBackoff = TimeSpan.FromMinutes(10) }, new FixedRandom(1.0));
        var expiry = Start.AddMinutes(2);

        // Ten minutes of back-off, two left: the retry comes at half of what is left.
        Assert.Equal(Start.AddMinutes(1), scheduler.RetryAt(Start, 20, expiry));

        // Walking towards expiry, every retry stays at or before it.
        var now = Start;
        for (var failures = 1; failures < 40 && now < expiry; failures++)
        {
            var next = scheduler.RetryAt(now, failures, expiry);
            Assert.True(next <= expiry, $"retry {failures} at {next:O} is after the expiry {expiry:O}");
            Assert.True(next > now);
            now = next;
        }

        Assert.Equal(expiry, now);
    }

    [Fact]
    public void After_expiry_retries_go_on_with_the_normal_back_off()
    {
        var scheduler = new RenewalScheduler(new IdentityOptions { RenewalBackoff = TimeSpan.FromSeconds(1), MaxRenewalBackoff = TimeSpan.FromMinutes(1) }, new FixedRandom(1.0));

        Assert.Equal(Start.AddSeconds(16), scheduler.RetryAt(Start, 5, Start.AddSeconds(-1)));
    }

    /// <summary>A random source that always draws the same fraction.</summary>
    internal sealed class FixedRandom(double fraction) : MeshRandom
    {
        public override int Next(int maxExclusive) => (int)Math.Min(maxExclusive - 1, Math.Floor(fraction * maxExclusive));
    }
}
