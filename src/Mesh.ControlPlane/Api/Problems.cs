
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
}
