namespace Mesh.Outliers;

/// <summary>
/// Outlier detection's view of one endpoint: its consecutive failures and whether, and how often, it was ejected.
/// Owned by the service's <see cref="OutlierDetector"/> and kept across reloads while the detector stays.
/// </summary>
internal sealed class EjectionState(string authority)
{
    private int _consecutiveFailures;
    private long _ejectedUntil; // a timestamp; in service when now is past it
    private int _ejections;
    private long _lastEjectionEnd;

    /// <summary>Gets <c>scheme://host:port</c> of the endpoint, for logs.</summary>
    public string Authority { get; } = authority;

    /// <summary>Gets whether the endpoint is out of balancing at <paramref name="now"/>.</summary>
    public bool IsEjected(long now) => now < Volatile.Read(ref _ejectedUntil);

    /// <summary>Gets how many times the endpoint was ejected in its current run of ejections.</summary>
    public int Ejections => Volatile.Read(ref _ejections);

    /// <summary>Counts a failure; returns the number of consecutive failures.</summary>
    internal int RecordFailure() => Interlocked.Increment(ref _consecutiveFailures);

    internal void RecordSuccess()
    {
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    /// <summary>
    /// Starts an ejection and returns its ordinal: 1 for the first, or the first again when the last ejection ended
    /// longer than <paramref name="forgetAfter"/> ago. The caller serializes ejections of one service.
    /// </summary>
    internal int BeginEjection(long now, long forgetAfter)
    {
        if (_ejections > 0 && now - _lastEjectionEnd > forgetAfter)
        {
            _ejections = 0;
        }

        Volatile.Write(ref _consecutiveFailures, 0);
        return ++_ejections;
    }

    internal void EjectUntil(long until)
    {
        _lastEjectionEnd = until;
        Volatile.Write(ref _ejectedUntil, until);
    }

    public override string ToString() => Authority;
}
