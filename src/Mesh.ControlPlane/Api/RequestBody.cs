using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace Meshd.Api;

/// <summary>
/// Reads a JSON body of at most <c>Meshd:Limits:MaxBodyBytes</c>, or says what is wrong with it: the wrong media
/// type, too large, cut short, not UTF-8, not JSON. Never an exception for anything a client can send.
/// </summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions s_options = new() { MaxDepth = 32, AllowDuplicateProperties = false };

    public static async Task<(JsonNode? Node, IResult? Problem)> ReadJsonAsync(HttpRequest request, int maxBytes, params string[] mediaTypes)
    {
        var contentType = request.ContentType?.Split(';')[0].Trim();
        if (contentType is null || !mediaTypes.Contains(contentType, StringComparer.OrdinalIgnoreCase))
        {
            return (null, Problems.Status(
                StatusCodes.Status415UnsupportedMediaType,
                "Unsupported media type",
                $"Content-Type must be {string.Join(" or ", mediaTypes)} (got '{request.ContentType}')."));
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (null, TooLarge(maxBytes));
                }

                buffer.Write(chunk, 0, read);
            }

            body = buffer.ToArray();
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (BadHttpRequestException ex)
        {
            // A body shorter than its Content-Length, a broken chunked encoding, a body sent too slowly.
            return (null, Problems.Status(ex.StatusCode, ex.StatusCode == StatusCodes.Status408RequestTimeout ? "Request timeout" : "Bad request", $"The body could not be read: {ex.Message}"));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away mid-body: nobody reads this answer.
            return (null, Problems.Status(StatusCodes.Status400BadRequest, "Bad request", "The connection closed before the body was read."));
        }

        var invalid = FirstInvalidByte(body);
        if (invalid >= 0)
        {
            return (null, Problems.Invalid("$", $"The body is not valid UTF-8 (at byte {invalid}); JSON text is UTF-8."));
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

    private static int FirstInvalidByte(byte[] body)
    {
        var chars = new char[body.Length];
        return Utf8.ToUtf16(body, chars, out var read, out _, replaceInvalidSequences: false) == System.Buffers.OperationStatus.Done ? -1 : read;
    }

    private static IResult TooLarge(int maxBytes) => Problems.Status(
        StatusCodes.Status413PayloadTooLarge,
        "Payload too large",
        $"The body is over {maxBytes / 1024} KiB (Meshd:Limits:MaxBodyBytes).");

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" Path:", StringComparison.Ordinal);
        return end > 0 ? message[..end] : message;
    }
}
