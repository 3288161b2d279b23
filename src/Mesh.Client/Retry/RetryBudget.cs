namespace Mesh.Retry;

/// <summary>
/// Counts requests and retries of one service per second over a sliding window, and allows a retry only while
/// retries stay within ratio × requests plus the per-second floor for the seconds seen.
/// </summary>
internal sealed class RetryBudget
{
    private readonly double _ratio;
    private readonly int _minPerSecond;
    private readonly TimeProvider _time;
    private readonly long _startSecond;
    private readonly long[] _requests;
    private readonly long[] _retries;
    private readonly Lock _lock = new();
    private long _currentSecond;
    private long _requestTotal;
    private long _retryTotal;
    private long _lastDenialWindow = -1;

    public RetryBudget(RetryBudgetOptions options, TimeProvider time)
    {
        _ratio = options.Ratio;
        _minPerSecond = options.MinPerSecond;
        _time = time;
        var slots = (int)Math.Ceiling(options.Window.TotalSeconds);
        _requests = new long[slots];
        _retries = new long[slots];
        _startSecond = _currentSecond = NowSecond();
    }

    public void Deposit()
    {
        var now = NowSecond();
        lock (_lock)
        {
            Advance(now);
            _requests[now % _requests.Length]++;
            _requestTotal++;
        }
    }

    /// <summary>Takes one retry from the budget if it allows one.</summary>
    /// <param name="firstDenialInWindow">Whether this is a denial and the first in the current window, worth telling once.</param>
    public bool TryWithdraw(out bool firstDenialInWindow)
    {
        var now = NowSecond();
        lock (_lock)
        {
            Advance(now);
            var seconds = Math.Min(_requests.Length, now - _startSecond + 1);
            if (_retryTotal + 1 <= (_ratio * _requestTotal) + (_minPerSecond * seconds))
            {
                _retries[now % _retries.Length]++;
                _retryTotal++;
                firstDenialInWindow = false;
                return true;
            }

            var window = now / _requests.Length;
            firstDenialInWindow = window != _lastDenialWindow;
            _lastDenialWindow = window;
            return false;
        }
    }

    /// <summary>Gets how many retries the budget would allow now (for an explanation; takes none).</summary>
    public double Remaining()
    {
        var now = NowSecond();
        lock (_lock)
        {
            Advance(now);
            var seconds = Math.Min(_requests.Length, now - _startSecond + 1);
            return Math.Max(0, (_ratio * _requestTotal) + (_minPerSecond * seconds) - _retryTotal);
        }
    }

    private void Advance(long now)
    {
        // Empty the slots of the seconds that left the window since the last call.
        var stale = Math.Min(now - _currentSecond, _requests.Length);
        for (var i = 1; i <= stale; i++)
        {
            var slot = (_currentSecond + i) % _requests.Length;
            _requestTotal -= _requests[slot];
            _retryTotal -= _retries[slot];
            _requests[slot] = 0;
            _retries[slot] = 0;
        }

        if (now > _currentSecond)
        {
            _currentSecond = now;
        }
    }

    private long NowSecond() => _time.GetTimestamp() / _time.TimestampFrequency;
}
