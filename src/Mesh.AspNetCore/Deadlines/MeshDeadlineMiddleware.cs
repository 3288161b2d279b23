using System.Globalization;
using Mesh.Resilience;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Deadlines;

/// <summary>
/// Opens a <see cref="MeshDeadline"/> scope for each inbound request that has a deadline: the endpoint's request
/// timeout, or the caller's remaining time from the <c>mesh-timeout</c> header, whichever is sooner.
/// </summary>
internal sealed class MeshDeadlineMiddleware(RequestDelegate next, IOptions<RequestTimeoutOptions> timeouts, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public Task InvokeAsync(HttpContext context)
    {
        var remaining = Soonest(EndpointTimeout(context, timeouts.Value), CallerTimeout(context.Request.Headers));
        if (remaining is null)
        {
            return next(context);
        }

        return InvokeWithDeadlineAsync(context, remaining.Value);
    }

    private async Task InvokeWithDeadlineAsync(HttpContext context, TimeSpan remaining)
    {
        using var scope = MeshDeadline.Begin(remaining, _time);
        await next(context).ConfigureAwait(false);
    }

    /// <summary>The request timeout ASP.NET Core applies to the endpoint, resolved as its request-timeouts middleware does.</summary>
    internal static TimeSpan? EndpointTimeout(HttpContext context, RequestTimeoutOptions options)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<DisableRequestTimeoutAttribute>() is not null)
        {
            return null;
        }

        if (metadata?.GetMetadata<RequestTimeoutPolicy>() is { } policy)
        {
            return policy.Timeout;
        }

        if (metadata?.GetMetadata<RequestTimeoutAttribute>() is { } attribute)
        {
            return attribute.Timeout is { } timeout ? timeout
                : attribute.PolicyName is { } name && options.Policies.TryGetValue(name, out var named) ? named.Timeout
                : null;
        }

        return options.DefaultPolicy?.Timeout;
    }

    /// <summary>The time the calling service had left, in whole milliseconds; ignored when malformed.</summary>
    internal static TimeSpan? CallerTimeout(IHeaderDictionary headers) =>
        headers.TryGetValue(MeshHeaders.Timeout, out var value)
        && long.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
        && milliseconds <= (long)TimeSpan.FromDays(1).TotalMilliseconds
            ? TimeSpan.FromMilliseconds(milliseconds)
            : null;

    private static TimeSpan? Soonest(TimeSpan? a, TimeSpan? b) =>
        a is null ? b : b is null ? a : a < b ? a : b;
}
