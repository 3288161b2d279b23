using System.Globalization;

namespace Meshd.Watch;

/// <summary>One immutable version of the mesh, serialized once and served as the same bytes to every watcher.</summary>
internal sealed record Snapshot(long Version, byte[] Utf8Json)
{
    /// <summary>Gets the version as the <c>Mesh-Version</c> header carries it, formatted once.</summary>
    public string VersionText { get; } = Version.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The current snapshot; a newer one replaces it whole, and the parked watchers of this one are then answered.</summary>
internal sealed class SnapshotHead(Snapshot snapshot)
{
    public Snapshot Snapshot { get; } = snapshot;
}
