using System.Globalization;

namespace Mesh.Demo.Microservices;

/// <summary>
/// Which inventory version answered the orders of one window: every order counts in the window that was open when it
/// was sent, so a window begun after a change in the mesh counts only orders sent after it, none in flight before.
/// </summary>
internal sealed class VersionCounts(string name)
{
    private long _v1;
    private long _v2;
    private long _v2InARow;

    public string Name { get; } = name;

    public long V1 => Interlocked.Read(ref _v1);

    public long V2 => Interlocked.Read(ref _v2);

    /// <summary>Gets the orders answered with a version, v1 and v2.</summary>
    public long Answered => V1 + V2;

    /// <summary>Gets v2's share of <see cref="Answered"/> (0 when none).</summary>
    public double V2Share => Answered == 0 ? 0 : V2 / (double)Answered;

    /// <summary>Gets how many of the last answers in a row, counted as they came, were v2's.</summary>
    public long V2InARow => Interlocked.Read(ref _v2InARow);

    /// <summary>Counts an order's answer by the version of the inventory instance that served it (<c>v1@1234</c>); other answers are not counted.</summary>
    public void Record(string? instance)
    {
        if (instance is null)
        {
            return;
        }

        if (instance.StartsWith("v2@", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _v2);
            Interlocked.Increment(ref _v2InARow);
        }
        else if (instance.StartsWith("v1@", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _v1);
            Interlocked.Exchange(ref _v2InARow, 0);
        }
    }

    /// <summary>The counts as a cell of the live table: <c>v1 400 (80.0 %)  v2 100 (20.0 %)</c>.</summary>
    public override string ToString()
    {
        var answered = Answered;
        var v1Share = answered == 0 ? 0 : V1 / (double)answered;
        return string.Create(CultureInfo.InvariantCulture, $"v1 {V1} ({v1Share * 100:0.0} %)  v2 {V2} ({V2Share * 100:0.0} %)");
    }
}
