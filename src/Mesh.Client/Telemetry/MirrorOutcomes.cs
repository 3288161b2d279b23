namespace Mesh.Telemetry;

/// <summary>The fates of a mirrored copy, the values of <c>mesh.mirror.outcome</c>.</summary>
internal static class MirrorOutcomes
{
    /// <summary>The copy was sent and answered (whatever the status); the answer was discarded.</summary>
    public const string Sent = "sent";

    /// <summary>The copy was sent and got no answer: no connection, or its timeout passed.</summary>
    public const string Failed = "failed";

    /// <summary>The copy was not sent: as many as allowed were in flight, or the body could not be copied.</summary>
    public const string Skipped = "skipped";
}
