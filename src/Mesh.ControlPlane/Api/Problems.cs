
namespace Meshd.Api;

/// <summary>RFC 7807 answers.</summary>
internal static class Problems
{
    public static IResult Status(int status, string title, string detail) =>
        Results.Problem(detail: detail, statusCode: status, title: title);

    public static IResult Invalid(IDictionary<string, string[]> errors, string? detail = null) =>
        Results.ValidationProblem(errors, detail: detail ?? "The request is invalid: see errors for each field.", title: "Invalid request");

    public static IResult Invalid(string field, string message) =>
        Invalid(new Dictionary<string, string[]> { [field] = [message] });

    public static IResult NotFound(string detail) => Status(StatusCodes.Status404NotFound, "Not found", detail);

    /// <summary>Work refused at a limit: its status, with <c>Retry-After</c> in whole seconds when trying again may help.</summary>
    public static IResult Refused(HttpContext context, Refusal refusal)
    {
        if (refusal.RetryAfter is { } after)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds(after);
        }

        return Status(refusal.Status, Title(refusal.Status), refusal.Detail);
    }

    public static string RetryAfterSeconds(TimeSpan after) =>
        Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Title(int status) => status switch
    {
        StatusCodes.Status413PayloadTooLarge => "Payload too large",
        StatusCodes.Status429TooManyRequests => "Too many requests",
        StatusCodes.Status503ServiceUnavailable => "Service unavailable",
        _ => "Refused",
    };
}
