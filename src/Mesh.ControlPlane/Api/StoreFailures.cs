using Meshd.Storage;

namespace Meshd.Api;

/// <summary>
/// A store that cannot persist or be reached answers <c>503</c> with <c>Retry-After</c> and a problem saying why
/// (the data directory, etcd's address), never a bare 500; the cause is logged by <c>/healthz</c>'s probe, not per request.
/// </summary>
internal static class StoreFailures
{
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await Problems.Refused(context, new Refusal(StatusCodes.Status503ServiceUnavailable, ex.Message, TimeSpan.FromSeconds(5))).ExecuteAsync(context).ConfigureAwait(false);
        }
    }
}
