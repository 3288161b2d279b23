using System.Globalization;
using Mesh.Protocol;
using Mesh.Resilience;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Deadlines;

/// <summary>
/// Opens a <see cref="MeshDeadline"/> scope for each inbound request that has a deadline: the endpoint's request
/// timeout, the caller's remaining time from the <c>mesh-timeout</c> header, or a gRPC call's <c>grpc-timeout</c>,
/// whichever is soonest.
/// </summary>
internal sealed class MeshDeadlineMiddleware(RequestDelegate next, IOptions<RequestTimeoutOptions> timeouts, TimeProvider? time = null)
{
    // A longer deadline is no deadline a caller means; it would also overflow the clock's arithmetic.
    private static readonly TimeSpan MaxDeadline = TimeSpan.FromDays(1);

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Request.Headers;
        var remaining = Soonest(EndpointTimeout(context, timeouts.Value), Soonest(CallerTimeout(headers), GrpcTimeout(headers)));
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
        && milliseconds <= (long)MaxDeadline.TotalMilliseconds
            ? TimeSpan.FromMilliseconds(milliseconds)
            : null;

    /// <summary>The deadline of an inbound gRPC call (<c>grpc-timeout</c>), at most a day; ignored when malformed.</summary>
    internal static TimeSpan? GrpcTimeout(IHeaderDictionary headers) =>
        headers.TryGetValue("grpc-timeout", out var header) && GrpcProtocol.ParseTimeout(header.ToString()) is { } timeout
            ? (timeout < MaxDeadline ? timeout : MaxDeadline)
            : null;

    private static TimeSpan? Soonest(TimeSpan? a, TimeSpan? b) =>
        a is null ? b : b is null ? a : a < b ? a : b;
}
