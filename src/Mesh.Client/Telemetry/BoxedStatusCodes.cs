namespace Mesh.Telemetry;

/// <summary>HTTP status codes boxed once, so recording one as a metric tag allocates nothing.</summary>
internal static class BoxedStatusCodes
{
    private static readonly object[] s_boxed = Enumerable.Range(0, 600).Select(static code => (object)code).ToArray();

    public static object Boxed(int status) => (uint)status < (uint)s_boxed.Length ? s_boxed[status] : status;
}
