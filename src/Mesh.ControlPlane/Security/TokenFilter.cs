using Meshd.Api;

namespace Meshd.Security;

/// <summary>
/// Lets a request through only with a bearer token of at least the required role: the admin token, the shared workload
/// token (while <c>Meshd:RequireServiceCredentials</c> is false), or a credential bound to one service. On a route of
/// one service (<paramref name="forService"/>: its <c>{service}</c> route value), a credential of another service is
/// refused with 403. An address that keeps failing is throttled (<see cref="AuthThrottle"/>): 429 before its token is
/// even compared. The caller is set on the request as a <see cref="Caller"/> feature.
/// </summary>
/// <remarks>
/// The read-only token (<see cref="TokenRole.Reader"/>) passes only a filter made with <paramref name="reads"/>, and only
/// for <c>GET</c> and <c>HEAD</c> — or also <c>POST</c> with <paramref name="readingPost"/>, on a route whose POST only
/// asks a question and changes nothing (the authorization check); everywhere else it is refused with 403.
/// </remarks>
internal sealed partial class TokenFilter(TokenStore tokens, TokenRole required, AuthThrottle throttle, bool forService = false, bool reads = false, bool readingPost = false) : IEndpointFilter
{
    private const string Scheme = "Bearer ";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        Check(context.HttpContext) is { } refused ? ValueTask.FromResult<object?>(refused) : next(context);

    /// <summary>As middleware, for endpoints that are not route handlers (<c>/metrics</c>).</summary>
    public RequestDelegate Middleware(RequestDelegate next) => http => Check(http) is { } refused ? refused.ExecuteAsync(http) : next(http);

    /// <summary>The answer refusing the request, or <see langword="null"/> (with the caller set) to let it through.</summary>
    private IResult? Check(HttpContext http)
    {
        var caller = http.Connection.RemoteIpAddress;
        if (!throttle.MayTry(caller, out var retryAfter))
        {
            http.Response.Headers.RetryAfter = Problems.RetryAfterSeconds(retryAfter);
            return Problems.Status(
                StatusCodes.Status429TooManyRequests,
                "Too many failed authentications",
                $"Too many requests with a missing or wrong token came from {caller}; try again in {Problems.RetryAfterSeconds(retryAfter)} s (Meshd:Limits:AuthFailuresPerMinute).");
        }

        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : null;
        var services = http.RequestServices;
        var metrics = services.GetRequiredService<MeshdMetrics>();
        var role = tokens.Identify(token);
        Caller? who = role switch
        {
            TokenRole.Admin => Caller.Admin,
            TokenRole.Reader => Caller.Reader,
            TokenRole.Workload when tokens.AcceptsSharedWorkloadToken => Caller.SharedWorkload,
            TokenRole.Workload => null,
            _ => token is null ? null : services.GetRequiredService<ServiceCredentials>().Find(token) is { } credential
                ? new Caller(TokenRole.Workload, credential.Service, credential.Id)
                : null,
        };

        if (who is null)
        {
            throttle.Failed(caller);
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"meshd\"";
            var retired = role == TokenRole.Workload;
            metrics.Refused(retired ? "retired-shared-token" : "invalid-token");
            return Problems.Status(
                StatusCodes.Status401Unauthorized,
                "Unauthorized",
                string.IsNullOrEmpty(header) ? "An Authorization: Bearer <token> header is required."
                    : retired ? "The shared workload token is no longer accepted (Meshd:RequireServiceCredentials=true): use a credential of your service, created by the admin with POST /v1/credentials."
                    : "The bearer token is not valid.");
        }

        if (who.Role == TokenRole.Reader)
        {
            var method = http.Request.Method;
            if (!reads || !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || (readingPost && HttpMethods.IsPost(method))))
            {
                metrics.Refused("read-only");
                return Problems.Status(StatusCodes.Status403Forbidden, "Forbidden", "The read-only token reads services, policies, the fleet view, status and metrics; this needs the admin token.");
            }
        }
        else if (who.Role < required)
        {
            metrics.Refused("admin-only");
            return Problems.Status(StatusCodes.Status403Forbidden, "Forbidden", "This route needs the admin token.");
        }

        if (forService && http.Request.RouteValues["service"] is string asked && !who.MayActFor(Api.RegistryEndpoints.Canonical(asked)))
        {
            metrics.Refused("other-service");
            LogOtherService(
                services.GetRequiredService<ILogger<TokenFilter>>(),
                http.Request.Method,
                (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "?",
                who.CredentialId!,
                who.Service!,
                Names.CheckService(asked) is null ? asked : "(not a service name)");
            return Problems.Status(
                StatusCodes.Status403Forbidden,
                "Forbidden",
                $"This credential is bound to service '{who.Service}'; it cannot act for service '{asked}'. Nothing was stored.");
        }

        http.Features.Set(who);
        return null;
    }
}
