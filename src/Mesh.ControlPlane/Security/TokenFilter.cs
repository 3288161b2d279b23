using Meshd.Api;

namespace Meshd.Security;

/// <summary>Lets a request through only with a bearer token of at least the required role.</summary>
internal sealed class TokenFilter(TokenStore tokens, TokenRole required) : IEndpointFilter
{
    private const string Scheme = "Bearer ";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : null;
        var role = tokens.Identify(token);
        if (role == TokenRole.None)
        {
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
