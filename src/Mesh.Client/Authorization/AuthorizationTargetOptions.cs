namespace Mesh.Authorization;

/// <summary>
/// Requests one rule applies to (<see cref="AuthorizationRuleOptions.To"/>): a method from <see cref="Methods"/> and a path from
/// <see cref="Paths"/> or <see cref="Grpc"/>. An empty list matches anything.
/// </summary>
/// <remarks>
/// Paths are matched against the request's path as ASP.NET Core routing matches it (<c>HttpContext.Request.Path</c>, after
/// Kestrel decoded it and removed dot segments), segment by segment, ignoring case as routing does; a trailing <c>/</c> is
/// ignored, an empty segment (<c>//</c>) is a segment of its own.
/// </remarks>
public sealed class AuthorizationTargetOptions
{
    /// <summary>Gets the HTTP methods, such as <c>POST</c>; compared ignoring case, as routing does.</summary>
    /// <value>Empty by default: any method. At most 16.</value>
    public IList<string> Methods { get; } = new List<string>();

    /// <summary>
    /// Gets the paths: exact (<c>/charges</c>), a prefix by whole segments (<c>/admin/**</c>: <c>/admin</c> and everything under
    /// it, never <c>/administrator</c>), with <c>*</c> standing for exactly one segment (<c>/users/*/orders</c>).
    /// </summary>
    /// <value>Empty by default; with <see cref="Grpc"/> empty too, any path. At most 64, each at most 1024 characters.</value>
    public IList<string> Paths { get; } = new List<string>();

    /// <summary>Gets the gRPC methods, as <c>package.Service/Method</c> or <c>package.Service/*</c> for every method of the service.</summary>
    /// <value>Empty by default. At most 64.</value>
    public IList<string> Grpc { get; } = new List<string>();
}
