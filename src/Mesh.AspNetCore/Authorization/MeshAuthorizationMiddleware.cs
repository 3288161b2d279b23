using System.Globalization;
using System.Threading.RateLimiting;
using Mesh.AspNetCore.Identity;
using Mesh.AspNetCore.Telemetry;
using Mesh.Authorization;
using Mesh.Resilience;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Authorization;

/// <summary>
/// Decides every request before the application's pipeline runs, on the path ASP.NET Core routing will match
/// (<c>HttpContext.Request.Path</c>: Kestrel has decoded it, except <c>%2F</c>, and removed dot segments) and the caller
/// mutual TLS proved, never a header. A path holding a control character once decoded (<c>%00</c>) is refused with 400;
/// a denied request gets 403 (gRPC: <c>PERMISSION_DENIED</c>) with nothing that says why, and an audit line and the
/// metric say which rule decided. Then identity-bearing headers the caller may not set are removed, and the per-caller
/// rate limit applies: over it, 429 with <c>Retry-After</c> (gRPC: <c>RESOURCE_EXHAUSTED</c>).
/// </summary>
internal sealed partial class MeshAuthorizationMiddleware
{
    public const string LogCategory = "Mesh.Server.Authorization";

    // Headers that claim a caller's identity, as proxies and TLS terminators set them; a request carries them only from callers allowed to.
    private static readonly string[] s_identityHeaders =
    [
        "x-forwarded-client-cert", "x-forwarded-tls-client-cert", "x-forwarded-tls-client-cert-info", "x-client-cert", "x-client-verify",
        "x-client-dn", "x-client-subject", "x-client-issuer", "x-arr-clientcert", "ssl-client-cert", "x-ssl-cert", "x-amzn-mtls-clientcert",
    ];

    private static readonly string[] s_identityHeaderPrefixes = ["x-ssl-client-", "ssl-client-", "x-client-cert-", "x-amzn-mtls-clientcert-"];

    private readonly RequestDelegate _next;
    private readonly AuthorizationPolicies _policies;
    private readonly AuthorizationMetrics _metrics;
    private readonly CallerRateLimiter _limiter;
    private readonly ILogger _logger;
    private readonly RefusalLog _limitLog;
    private readonly bool _identity;
    private readonly string _service;

    public MeshAuthorizationMiddleware(
        RequestDelegate next,
        AuthorizationPolicies policies,
        AuthorizationMetrics metrics,
        CallerRateLimiter limiter,
        ServerIdentity identity,
        ILoggerFactory loggers,
        TimeProvider? time = null)
    {
        _next = next;
        _policies = policies;
        _metrics = metrics;
        _limiter = limiter;
        _identity = identity.IsEnabled;
        _service = policies.Service ?? "(unnamed)";
        _logger = loggers.CreateLogger(LogCategory);
        _limitLog = new RefusalLog(time ?? TimeProvider.System, RefusalLog.DefaultInterval);
    }

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var caller = context.Features.Get<IMeshCallerFeature>();
        var id = caller?.Id;
        var callerName = caller is null ? MeshServerMetrics.UnauthenticatedCaller : caller.ServiceName ?? caller.Id.ToString();
        var path = request.Path.Value ?? string.Empty;
        if (HasControlCharacter(path))
        {
            LogBadPath(_logger, Printable(request.Method), _service, callerName, Remote(context));
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return Task.CompletedTask;
        }

        var policy = _policies.Current;
        var decision = policy.Evaluate(id, request.Method, path);
        _metrics.Decided(callerName, decision.Name, decision.Rule);
        if (!decision.IsAllowed)
        {
            LogDenied(_logger, Printable(request.Method), Printable(path), _service, id?.ToString() ?? MeshServerMetrics.UnauthenticatedCaller, Remote(context), Reason(decision), decision.Rule);
            return Refuse(context, StatusCodes.Status403Forbidden, GrpcPermissionDenied, retryAfter: null);
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogAllowed(_logger, Printable(request.Method), Printable(path), _service, callerName, decision.Rule);
        }

        StripIdentityHeaders(request.Headers, caller, policy.MaySetIdentityHeaders(id));
        if (policy.RateLimit is { } limit)
        {
            var key = id?.ToString() ?? "unauthenticated@" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            using var lease = _limiter.Acquire(limit, key);
            if (!lease.IsAcquired)
            {
                _metrics.Limited(callerName);
                if (_limitLog.ShouldLog(key))
                {
                    LogLimited(_logger, callerName, _service, limit.PermitsPerSecond, limit.Burst);
                }

                var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                return Refuse(context, StatusCodes.Status429TooManyRequests, GrpcResourceExhausted, wait);
            }
        }

        return _next(context);
    }

    private const int GrpcPermissionDenied = 7;
    private const int GrpcResourceExhausted = 8;

    private void StripIdentityHeaders(IHeaderDictionary headers, IMeshCallerFeature? caller, bool allowed)
    {
        List<string>? remove = null;
        if (!allowed)
        {
            foreach (var name in headers.Keys)
            {
                if (IsIdentityHeader(name))
                {
                    (remove ??= []).Add(name);
                }
            }

            if (remove is not null)
            {
                foreach (var name in remove)
                {
                    headers.Remove(name);
                }
            }
        }

        // With an identity the mesh knows who calls: mesh-caller is what mutual TLS proved, or absent; never what was sent.
        if (_identity)
        {
            if (caller is null)
            {
                headers.Remove(MeshHeaders.Caller);
            }
            else
            {
                headers[MeshHeaders.Caller] = caller.ServiceName ?? caller.Id.ToString();
            }
        }
    }

    internal static bool IsIdentityHeader(string name)
    {
        foreach (var header in s_identityHeaders)
        {
            if (string.Equals(name, header, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        foreach (var prefix in s_identityHeaderPrefixes)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static Task Refuse(HttpContext context, int status, int grpcStatus, TimeSpan? retryAfter)
    {
        var response = context.Response;
        var seconds = retryAfter is { } wait ? Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)) : 0;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            // A trailers-only gRPC answer: the status in the headers of an empty response.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = grpcStatus.ToString(CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = grpcStatus == GrpcPermissionDenied ? "permission denied" : "rate limited";
            if (retryAfter is not null)
            {
                response.Headers["grpc-retry-pushback-ms"] = (seconds * 1000).ToString(CultureInfo.InvariantCulture);
            }

            return Task.CompletedTask;
        }

        response.StatusCode = status;
        if (retryAfter is not null)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        response.ContentLength = 0;
        return Task.CompletedTask;
    }

    private static string Reason(AuthorizationDecision decision) => decision.Rule switch
    {
        AuthorizationDecision.NoMatch => "the service has Allow rules and none matches",
        AuthorizationDecision.DefaultDeny => "the service has no Allow rules and its default is deny",
        AuthorizationDecision.DefaultAuthenticated => "the service has no Allow rules, its default is authenticated and the caller proved no mesh identity",
        _ => "a Deny rule matches",
    };

    private static bool HasControlCharacter(string path)
    {
        foreach (var c in path)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    private static string Remote(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    // What the caller sent goes into the log cut and on one line.
    private static string Printable(string text) => MeshInbound.Printable(text.Length <= 300 ? text : text[..300] + "…")!;
}
