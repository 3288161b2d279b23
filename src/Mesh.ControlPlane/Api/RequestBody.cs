using System.Text.Json;
using System.Text.Json.Nodes;

namespace Meshd.Api;

/// <summary>Reads a JSON body of at most 64 KiB, or says what is wrong with it.</summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions s_options = new() { MaxDepth = 32, AllowDuplicateProperties = false };

    public static async Task<(JsonNode? Node, IResult? Problem)> ReadJsonAsync(HttpRequest request, params string[] mediaTypes)
    {
        var contentType = request.ContentType?.Split(';')[0].Trim();
        if (contentType is null || !mediaTypes.Contains(contentType, StringComparer.OrdinalIgnoreCase))
        {
            return (null, Problems.Status(
                StatusCodes.Status415UnsupportedMediaType,
                "Unsupported media type",
                $"Content-Type must be {string.Join(" or ", mediaTypes)} (got '{request.ContentType}')."));
        }

        if (request.ContentLength > MeshdSettings.MaxBodyBytes)
        {
            return (null, TooLarge());
        }

        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > MeshdSettings.MaxBodyBytes)
                {
                    return (null, TooLarge());
                }

                buffer.Write(chunk, 0, read);
            }

            body = buffer.ToArray();
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }

        try
        {
            return (JsonNode.Parse(body, documentOptions: s_options), null);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) ? "$" : ex.Path;
            return (null, Problems.Invalid(field, $"Malformed JSON at line {(ex.LineNumber ?? 0) + 1}, byte {ex.BytePositionInLine ?? 0}: {FirstSentence(ex.Message)}"));
        }
    }

    private static IResult TooLarge() => Problems.Status(
        StatusCodes.Status413PayloadTooLarge,
        "Payload too large",
        $"The body is over {MeshdSettings.MaxBodyBytes / 1024} KiB.");

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" Path:", StringComparison.Ordinal);
        return end > 0 ? message[..end] : message;
    }
}
