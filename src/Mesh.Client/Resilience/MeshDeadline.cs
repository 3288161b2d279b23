namespace Mesh.Resilience;

/// <summary>
/// An ambient deadline for the meshed calls made within a scope, such as the handling of an inbound request: each
/// call's total timeout is cut to the time that remains. Scopes nest; the sooner deadline applies.
/// </summary>
/// <example>
/// <code>
/// using (MeshDeadline.Begin(TimeSpan.FromMilliseconds(200)))
/// {
///     await inventory.GetAsync("http://inventory/items/1"); // gets at most what remains of 200 ms
/// }
/// </code>
/// </example>
public static class MeshDeadline
{
    private static readonly AsyncLocal<DateTimeOffset?> s_current = new();

    /// <summary>Gets the deadline in force in this asynchronous flow, or <see langword="null"/> when none.</summary>
    public static DateTimeOffset? Current => s_current.Value;

    /// <summary>Starts a scope whose deadline is <paramref name="remaining"/> from now, by <paramref name="timeProvider"/>'s clock.</summary>
    /// <param name="remaining">The time the scope's calls may take, together.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <returns>A scope that restores the previous deadline when disposed.</returns>
    public static IDisposable Begin(TimeSpan remaining, TimeProvider? timeProvider = null) =>
        Begin((timeProvider ?? TimeProvider.System).GetUtcNow() + remaining);

    /// <summary>Starts a scope with the given deadline; an enclosing sooner deadline stays in force.</summary>
    /// <param name="deadline">When the scope's calls must have ended.</param>
    /// <returns>A scope that restores the previous deadline when disposed.</returns>
    public static IDisposable Begin(DateTimeOffset deadline)
    {
        var previous = s_current.Value;
        s_current.Value = previous is { } outer && outer < deadline ? outer : deadline;
        return new Scope(previous);
    }

    private sealed class Scope(DateTimeOffset? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}
