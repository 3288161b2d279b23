namespace Mesh.Sdk;

/// <summary>
/// meshd refused a request: its problem details (RFC 7807) with the HTTP status, title, detail and, for invalid input,
/// the messages per field (such as <c>Retry:MaxAttempts</c>). Subclasses name the common cases.
/// </summary>
/// <example>
/// <code>
/// try
/// {
///     await meshd.PutPolicyAsync("orders", policy, ifMatch: 3);
/// }
/// catch (MeshdValidationException e)
/// {
///     foreach (var (field, messages) in e.Errors) Console.WriteLine($"{field}: {string.Join("; ", messages)}");
/// }
/// catch (MeshdConflictException) { /* someone else wrote first: read again and retry */ }
/// </code>
/// </example>
public class MeshdException : Exception
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> s_none = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Initializes a new instance of the <see cref="MeshdException"/> class.</summary>
    public MeshdException()
        : this(0, "meshd refused the request", null, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="MeshdException"/> class with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public MeshdException(string message)
        : this(0, message, null, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="MeshdException"/> class with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MeshdException(string message, Exception innerException)
        : base(message, innerException)
    {
        Title = message;
        Errors = s_none;
    }

    /// <summary>Initializes a new instance of the <see cref="MeshdException"/> class from meshd's problem details.</summary>
    /// <param name="status">The HTTP status code.</param>
    /// <param name="title">The problem's title.</param>
    /// <param name="detail">The problem's detail, when meshd gave one.</param>
    /// <param name="errors">The messages per field, when the input was invalid.</param>
    /// <param name="retryAfter">meshd's <c>Retry-After</c>, when it said trying again later may help.</param>
    public MeshdException(int status, string title, string? detail, IReadOnlyDictionary<string, IReadOnlyList<string>>? errors, TimeSpan? retryAfter = null)
        : base(Compose(status, title, detail, errors))
    {
        Status = status;
        Title = title;
        Detail = detail;
        Errors = errors ?? s_none;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the HTTP status meshd answered; 0 when it gave no answer.</summary>
    public int Status { get; }

    /// <summary>Gets the problem's title.</summary>
    public string Title { get; } = string.Empty;

    /// <summary>Gets the problem's detail, when meshd gave one.</summary>
    public string? Detail { get; }

    /// <summary>Gets the messages per field (the configuration path, such as <c>Retry:MaxAttempts</c>, or the request field); empty when none was named.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; } = s_none;

    /// <summary>Gets how long meshd asked to wait before trying again, when it said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The exception of the kind that fits <paramref name="status"/>.</summary>
    internal static MeshdException For(int status, string title, string? detail, IReadOnlyDictionary<string, IReadOnlyList<string>>? errors, TimeSpan? retryAfter) => status switch
    {
        400 => new MeshdValidationException(status, title, detail, errors),
        401 or 403 => new MeshdUnauthorizedException(status, title, detail),
        404 => new MeshdNotFoundException(status, title, detail),
        409 or 412 => new MeshdConflictException(status, title, detail, retryAfter),
        _ => new MeshdException(status, title, detail, errors, retryAfter),
    };

    private static string Compose(int status, string title, string? detail, IReadOnlyDictionary<string, IReadOnlyList<string>>? errors)
    {
        var text = status == 0 ? title : $"meshd answered {status} {title}";
        if (!string.IsNullOrEmpty(detail))
        {
            text += $": {detail}";
        }

        if (errors is { Count: > 0 })
        {
            text += " (" + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")) + ")";
        }

        return text;
    }
}

/// <summary>meshd answered 400: the request was invalid; <see cref="MeshdException.Errors"/> names each field and what is wrong with it.</summary>
public sealed class MeshdValidationException : MeshdException
{
    /// <summary>Initializes a new instance of the <see cref="MeshdValidationException"/> class.</summary>
    /// <param name="status">The HTTP status code (400).</param>
    /// <param name="title">The problem's title.</param>
    /// <param name="detail">The problem's detail.</param>
    /// <param name="errors">The messages per field.</param>
    public MeshdValidationException(int status, string title, string? detail, IReadOnlyDictionary<string, IReadOnlyList<string>>? errors)
        : base(status, title, detail, errors)
    {
    }
}

/// <summary>meshd answered 401 (no token, or a wrong or revoked one) or 403 (a valid token that may not do this, such as a read-only token on a write).</summary>
public sealed class MeshdUnauthorizedException : MeshdException
{
    /// <summary>Initializes a new instance of the <see cref="MeshdUnauthorizedException"/> class.</summary>
    /// <param name="status">The HTTP status code (401 or 403).</param>
    /// <param name="title">The problem's title.</param>
    /// <param name="detail">The problem's detail.</param>
    public MeshdUnauthorizedException(int status, string title, string? detail)
        : base(status, title, detail, null)
    {
    }

    /// <summary>Gets whether meshd knew the token but refused this use of it (403), rather than not taking the token at all (401).</summary>
    public bool IsForbidden => Status == 403;
}

/// <summary>meshd answered 404: no such service, policy, version or instance.</summary>
public sealed class MeshdNotFoundException : MeshdException
{
    /// <summary>Initializes a new instance of the <see cref="MeshdNotFoundException"/> class.</summary>
    /// <param name="status">The HTTP status code (404).</param>
    /// <param name="title">The problem's title.</param>
    /// <param name="detail">The problem's detail.</param>
    public MeshdNotFoundException(int status, string title, string? detail)
        : base(status, title, detail, null)
    {
    }
}

/// <summary>
/// meshd answered 412 (the <c>If-Match</c> version is no longer the current one: read again, then write) or 409 (a
/// write kept losing races between replicas, or a state that forbids it).
/// </summary>
public sealed class MeshdConflictException : MeshdException
{
    /// <summary>Initializes a new instance of the <see cref="MeshdConflictException"/> class.</summary>
    /// <param name="status">The HTTP status code (409 or 412).</param>
    /// <param name="title">The problem's title.</param>
    /// <param name="detail">The problem's detail.</param>
    /// <param name="retryAfter">meshd's <c>Retry-After</c>, when it gave one.</param>
    public MeshdConflictException(int status, string title, string? detail, TimeSpan? retryAfter = null)
        : base(status, title, detail, null, retryAfter)
    {
    }

    /// <summary>Gets whether this is a stale <c>If-Match</c> (412).</summary>
    public bool IsPreconditionFailed => Status == 412;
}

/// <summary>meshd could not be reached at any of its addresses, or did not answer in time.</summary>
public sealed class MeshdUnreachableException : MeshdException
{
    /// <summary>Initializes a new instance of the <see cref="MeshdUnreachableException"/> class.</summary>
    /// <param name="message">Which addresses were tried and what happened.</param>
    /// <param name="innerException">The last failure.</param>
    public MeshdUnreachableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
