using System.Globalization;
using Mesh.Protocol;
using Mesh.Utilities;

namespace Mesh.Retry;

/// <summary>The retry settings of one service, parsed once: which failures match, how many attempts, what backoff.</summary>
internal sealed class RetryRules
{
    private readonly HashSet<int> _statuses = [];
    private readonly HashSet<int> _rpcStatuses = [];
    private readonly bool _connectFailure;
    private readonly bool _refusedStream;
    private readonly bool _reset;
    private readonly bool _anyServerError;
    private readonly TimeSpan _backoff;
    private readonly TimeSpan _maxBackoff;

    public RetryRules(RetryOptions options)
    {
        MaxAttempts = options.Enabled ? options.MaxAttempts : 1;
        _backoff = options.Backoff;
        _maxBackoff = options.MaxBackoff;
        foreach (var token in (IEnumerable<string>?)options.On ?? RetryOptions.DefaultOn)
        {
            switch (RetryOn.Normalize(token))
            {
                case RetryOn.ConnectFailure: _connectFailure = true; break;
                case RetryOn.RefusedStream: _refusedStream = true; break;
                case RetryOn.Reset: _reset = true; break;
                case RetryOn.ServerError: _anyServerError = true; break;
                case RetryOn.GatewayError: _statuses.UnionWith([502, 503, 504]); break;
                case var name when Array.IndexOf(RetryOn.GrpcStatusNames, name) is >= 0 and var code: _rpcStatuses.Add(code); break;
                default: _statuses.Add(int.Parse(token, NumberStyles.None, CultureInfo.InvariantCulture)); break;
            }
        }
    }

    public int MaxAttempts { get; }

    /// <summary>
    /// Whether the failure is one the service retries. An outcome with an RPC status (gRPC) is matched by that status'
    /// name; a broken exchange also by <c>reset</c>.
    /// </summary>
    public bool Matches(FailureKind kind, HttpResponseMessage? response, int? rpcStatus) => kind switch
    {
        FailureKind.Reset when rpcStatus is { } status => _reset || _rpcStatuses.Contains(status),
        FailureKind.ServerError or FailureKind.None when rpcStatus is { } status => _rpcStatuses.Contains(status),
        FailureKind.ConnectFailure => _connectFailure,
        FailureKind.RefusedStream => _refusedStream,
        FailureKind.Reset => _reset,
        FailureKind.AttemptTimeout => _anyServerError || _statuses.Contains(504),
        FailureKind.ServerError or FailureKind.None when response is not null =>
            _statuses.Contains((int)response.StatusCode) || (_anyServerError && (int)response.StatusCode >= 500),
        _ => false,
    };

    /// <summary>Full-jitter exponential backoff: random(0, min(cap, base × 2^retry)).</summary>
    public TimeSpan Backoff(int retry, MeshRandom random) => Utilities.Backoff.FullJitter(retry, _backoff, _maxBackoff, random);

    /// <summary>The wait a response asks for in Retry-After (delta seconds or an HTTP date), if any.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }
}
