using System.Globalization;

namespace Mesh.Chaos.Tests;

/// <summary>
/// CI mode (the default) and soak mode (<c>MESH_SOAK=1</c>): durations of the fault phases and of the soak. Soak mode
/// runs for <c>MESH_SOAK_MINUTES</c> (30 by default).
/// </summary>
internal static class Scale
{
    /// <summary>Gets whether the soak mode is on.</summary>
    public static bool Soak { get; } = Environment.GetEnvironmentVariable("MESH_SOAK") == "1";

    /// <summary>Gets the soak's length: <c>MESH_SOAK_MINUTES</c> in soak mode, 20 s in CI mode.</summary>
    public static TimeSpan SoakDuration { get; } = Soak
        ? TimeSpan.FromMinutes(double.Parse(Environment.GetEnvironmentVariable("MESH_SOAK_MINUTES") ?? "30", CultureInfo.InvariantCulture))
        : TimeSpan.FromSeconds(20);

    /// <summary>How long meshd stays down: tens of seconds in CI mode, minutes in soak mode.</summary>
    public static TimeSpan MeshdOutage { get; } = Soak ? TimeSpan.FromMinutes(3) : TimeSpan.FromSeconds(15);

    /// <summary>The traffic time of a fault scenario of <paramref name="seconds"/> in CI mode (the same in soak mode).</summary>
    public static TimeSpan Fault(int seconds) => TimeSpan.FromSeconds(seconds);
}
