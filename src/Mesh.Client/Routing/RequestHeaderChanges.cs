using System.Net.Http.Headers;

namespace Mesh.Routing;

/// <summary>
/// A route's <see cref="RouteHeadersOptions"/>, compiled once per snapshot and applied once per call before the first
/// attempt: remove, then set (which replaces), then add (which appends). Content headers (<c>Content-Type</c> and the
/// like) are changed on the request's content, and only when it has one.
/// </summary>
internal sealed class RequestHeaderChanges
{
    private readonly Change[] _remove;
    private readonly Change[] _set;
    private readonly Change[] _add;

    private RequestHeaderChanges(Change[] remove, Change[] set, Change[] add)
    {
        _remove = remove;
        _set = set;
        _add = add;
    }

    /// <summary>Compiles validated changes; <see langword="null"/> when there are none.</summary>
    public static RequestHeaderChanges? Create(RouteHeadersOptions options)
    {
        if (options.Remove.Count == 0 && options.Set.Count == 0 && options.Add.Count == 0)
        {
            return null;
        }

        return new RequestHeaderChanges(
            [.. options.Remove.Select(n => new Change(n, null))],
            [.. options.Set.Select(p => new Change(p.Key, p.Value))],
            [.. options.Add.Select(p => new Change(p.Key, p.Value))]);
    }

    public void Apply(HttpRequestMessage request)
    {
        foreach (var change in _remove)
        {
            HeadersOf(request, change)?.Remove(change.Name);
        }

        foreach (var change in _set)
        {
            if (HeadersOf(request, change) is { } headers)
            {
                headers.Remove(change.Name);
                headers.TryAddWithoutValidation(change.Name, change.Value);
            }
        }

        foreach (var change in _add)
        {
            HeadersOf(request, change)?.TryAddWithoutValidation(change.Name, change.Value);
        }
    }

    private static HttpHeaders? HeadersOf(HttpRequestMessage request, Change change) =>
        change.OnContent ? request.Content?.Headers : request.Headers;

    private sealed class Change(string name, string? value)
    {
        public string Name { get; } = name;

        public string? Value { get; } = value;

        public bool OnContent { get; } = RouteOptionsValidator.ContentHeaders.Contains(name);
    }
}
