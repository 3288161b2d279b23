using System.Globalization;
using Mesh.Balancing;
using Mesh.Grpc;
using Mesh.Resilience;

namespace Mesh.Retry;

/// <summary>The retry settings of one service, parsed once: which failures match, how many attempts, what backoff.</summary>
internal sealed class RetryRules
{
    private readonly HashSet<int> _statuses = [];
    private readonly HashSet<int> _grpcStatuses = [];
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
            switch (token.Trim().ToLowerInvariant())
            {
                case RetryOn.ConnectFailure: _connectFailure = true; break;
                case RetryOn.RefusedStream: _refusedStream = true; break;
                case RetryOn.Reset: _reset = true; break;
                case RetryOn.ServerError: _anyServerError = true; break;
                case RetryOn.GatewayError: _statuses.UnionWith([502, 503, 504]); break;
                case var name when Array.IndexOf(GrpcProtocol.StatusNames, name) is >= 0 and var code: _grpcStatuses.Add(code); break;
                default: _statuses.Add(int.Parse(token, NumberStyles.None, CultureInfo.InvariantCulture)); break;
            }
        }
    }

    public int MaxAttempts { get; }

    /// <summary>Whether a token of <see cref="RetryOptions.On"/> is one the rules understand.</summary>
    public static bool IsKnownToken(string? token) =>
        token is not null
        && (token.Trim().ToLowerInvariant() is RetryOn.ConnectFailure or RetryOn.RefusedStream or RetryOn.Reset or RetryOn.ServerError or RetryOn.GatewayError
            || Array.IndexOf(GrpcProtocol.StatusNames, token.Trim().ToLowerInvariant()) > 0
            || (int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var status) && status is >= 100 and <= 599));

    /// <summary>
    /// Whether the failure is one the service retries. For a gRPC call a broken exchange with no answer is the status a
    /// gRPC client gives it, UNAVAILABLE (gRFC A6: the call had not committed).
    /// </summary>
    public bool Matches(FailureKind kind, HttpResponseMessage? response, bool isGrpc = false) => kind switch
    {
        FailureKind.Reset when isGrpc => _reset || _grpcStatuses.Contains(GrpcProtocol.Unavailable),
        FailureKind.ServerError or FailureKind.None when response is not null && GrpcProtocol.TrailersOnlyStatus(response) is { } grpc =>
            _grpcStatuses.Contains(grpc),
        FailureKind.ConnectFailure => _connectFailure,
        FailureKind.RefusedStream => _refusedStream,
        FailureKind.Reset => _reset,
        FailureKind.AttemptTimeout => _anyServerError || _statuses.Contains(504),
        FailureKind.ServerError or FailureKind.None when response is not null =>
            _statuses.Contains((int)response.StatusCode) || (_anyServerError && (int)response.StatusCode >= 500),
        _ => false,
    };

    /// <summary>Full-jitter exponential backoff: random(0, min(cap, base × 2^retry)).</summary>
    public TimeSpan Backoff(int retry, MeshRandom random)
    {
        var ceiling = _backoff.Ticks * Math.Pow(2, Math.Min(retry, 30));
        return TimeSpan.FromTicks((long)(Math.Min(_maxBackoff.Ticks, ceiling) * random.NextDouble()));
    }

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
