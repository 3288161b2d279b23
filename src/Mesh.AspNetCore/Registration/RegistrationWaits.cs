using Mesh.Utilities;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// The waits the registrations with meshd and with a Consul agent share: the back-off between failed tries, bounded by
/// the lease (or check TTL) the instance keeps, and the sleep a change of the health verdict cuts short.
/// </summary>
internal static class RegistrationWaits
{
    /// <summary>The shortest bound a lease puts on a wait, so a very short lease cannot turn retries into a busy loop.</summary>
    public static readonly TimeSpan MinLeaseBound = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest wait between tries that keeps a lease of <paramref name="ttl"/>: a third of it, never under
    /// <see cref="MinLeaseBound"/>, so a registry that comes back is renewed well within one lease.
    /// </summary>
    public static TimeSpan LeaseBound(TimeSpan ttl) => ttl / 3 > MinLeaseBound ? ttl / 3 : MinLeaseBound;

    /// <summary>
    /// Full jitter after <paramref name="failures"/> failures in a row: a random wait below
    /// <c>min(cap, first · 2^(failures-1))</c>, the cap lowered to <see cref="LeaseBound"/> while a lease of
    /// <paramref name="lease"/> is kept, so retries spread out without letting the lease lapse.
    /// </summary>
    public static TimeSpan Backoff(int failures, TimeSpan first, TimeSpan cap, TimeSpan? lease, MeshRandom random)
    {
        if (lease is { } ttl && LeaseBound(ttl) < cap)
        {
            cap = LeaseBound(ttl);
        }

        return Utilities.Backoff.FullJitter(Math.Min(failures - 1, 16), first < cap ? first : cap, cap, random);
    }

    /// <summary>Waits for <paramref name="delay"/>, or until <paramref name="changed"/> completes; throws when stopped.</summary>
    public static async Task SleepAsync(TimeSpan delay, Task changed, TimeProvider time, CancellationToken stop)
    {
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(stop);
        await Task.WhenAny(Task.Delay(delay, time, cut.Token), changed).ConfigureAwait(false);
        await cut.CancelAsync().ConfigureAwait(false);
        stop.ThrowIfCancellationRequested();
    }
}
