namespace Mesh.Telemetry;

/// <summary>What the endpoint gauges read: how many endpoints each service has, available and ejected, now.</summary>
internal interface IEndpointCounts
{
    /// <summary>Counts the endpoints of every service in force.</summary>
    IEnumerable<(string Service, int Available, int Ejected)> CountEndpoints();
}
