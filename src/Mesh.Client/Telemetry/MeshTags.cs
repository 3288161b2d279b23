namespace Mesh.Telemetry;

/// <summary>Attribute names: OpenTelemetry's semantic conventions where they exist, <c>mesh.</c> for the mesh's own.</summary>
internal static class MeshTags
{
    public const string Service = "mesh.service";
    public const string Caller = "mesh.caller";
    public const string Route = "http.route";
    public const string Outcome = "mesh.outcome";
    public const string Attempts = "mesh.attempts";
    public const string Attempt = "mesh.attempt";
    public const string AttemptReason = "mesh.attempt.reason";
    public const string Zone = "mesh.endpoint.zone";
    public const string RouteName = "mesh.route";
    public const string Fault = "mesh.fault";
    public const string BreakerState = "mesh.circuit_breaker.state";
    public const string EndpointState = "mesh.endpoint.state";
    public const string Method = "http.request.method";
    public const string StatusCode = "http.response.status_code";
    public const string ErrorType = "error.type";
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";
    public const string Url = "url.full";
    public const string DestinationService = "mesh.destination.service";
    public const string MirrorOutcome = "mesh.mirror.outcome";
}
