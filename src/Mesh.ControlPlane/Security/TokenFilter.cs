using Meshd.Api;

namespace Meshd.Security;

/// <summary>
/// Lets a request through only with a bearer token of at least the required role. An address that keeps failing is
/// throttled (<see cref="AuthThrottle"/>): 429 before its token is even compared.
/// </summary>
internal sealed class TokenFilter(TokenStore tokens, TokenRole required, AuthThrottle throttle) : IEndpointFilter
{
    private const string Scheme = "Bearer ";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var caller = http.Connection.RemoteIpAddress;
        if (!throttle.MayTry(caller, out var retryAfter))
        {
            http.Response.Headers.RetryAfter = Problems.RetryAfterSeconds(retryAfter);
            return ValueTask.FromResult<object?>(Problems.Status(
                StatusCodes.Status429TooManyRequests,
                "Too many failed authentications",
                $"Too many requests with a missing or wrong token came from {caller}; try again in {Problems.RetryAfterSeconds(retryAfter)} s (Meshd:Limits:AuthFailuresPerMinute)."));
        }

        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : null;
        var role = tokens.Identify(token);
        if (role == TokenRole.None)
        {
            throttle.Failed(caller);
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"meshd\"";
            return ValueTask.FromResult<object?>(Problems.Status(
                StatusCodes.Status401Unauthorized,
                "Unauthorized",
                string.IsNullOrEmpty(header) ? "An Authorization: Bearer <token> header is required." : "The bearer token is not valid."));
        }

        if (role < required)
        {
            return ValueTask.FromResult<object?>(Problems.Status(StatusCodes.Status403Forbidden, "Forbidden", "This route needs the admin token."));
        }

        return next(context);
    }
}
