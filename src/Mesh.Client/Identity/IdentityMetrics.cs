using System.Diagnostics.Metrics;

namespace Mesh.Identity;

/// <summary>
/// The identity instruments, <c>mesh.identity.*</c>, on the meter named <c>Mesh</c> from the container's
/// <see cref="IMeterFactory"/>. They carry SPIFFE IDs and counts, never key material.
/// </summary>
internal sealed class IdentityMetrics
{
    /// <summary>The name of the mesh's meter (<c>MeshTelemetry.Name</c>), repeated so this folder depends on no other.</summary>
    internal const string MeterName = "Mesh";

    /// <summary>The tag naming the SPIFFE ID of the workload's certificate.</summary>
    internal const string IdTag = "mesh.identity.id";

    /// <summary>The tag naming where the certificate comes from: <c>meshd</c> or <c>files</c>.</summary>
    internal const string SourceTag = "mesh.identity.source";

    /// <summary>The tag naming how a handshake ended: <c>ok</c>, <c>untrusted</c> (not a certificate of the mesh), <c>wrong_identity</c>.</summary>
    internal const string OutcomeTag = "mesh.identity.outcome";

    private volatile WorkloadCertificate? _certificate;

    public IdentityMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName, typeof(IdentityMetrics).Assembly.GetName().Version?.ToString());
        Rotations = meter.CreateCounter<long>("mesh.identity.certificate.rotations", "{certificate}", "Workload certificates installed: the first one, and each renewal or reload after it.");
        RenewalFailures = meter.CreateCounter<long>("mesh.identity.renewal.failures", "{failure}", "Renewals from meshd and reloads of the certificate files that failed; the last good certificate stayed in use.");
        Unavailable = meter.CreateCounter<long>("mesh.identity.certificate.unavailable", "{request}", "Times a connection needed the workload certificate and none was valid (none yet, or expired): the mesh failed closed.");
        Handshakes = meter.CreateCounter<long>("mesh.identity.client.handshakes", "{handshake}", "Mutual TLS handshakes of meshed clients with mesh endpoints, by outcome: one per new connection, never one per request.");
        meter.CreateObservableGauge("mesh.identity.certificate.time_to_expiry", ObserveTimeToExpiry, "s", "Seconds until the workload certificate expires; negative once it has.");
    }

    public Counter<long> Rotations { get; }

    public Counter<long> RenewalFailures { get; }

    public Counter<long> Unavailable { get; }

    public Counter<long> Handshakes { get; }

    /// <summary>Lets the expiry gauge observe the holder; the holder calls it when made.</summary>
    public void Observe(WorkloadCertificate certificate) => _certificate = certificate;

    private IEnumerable<Measurement<double>> ObserveTimeToExpiry()
    {
        if (_certificate is { Latest: { } svid } certificate)
        {
            yield return new Measurement<double>((svid.NotAfter - certificate.Now).TotalSeconds, new KeyValuePair<string, object?>(IdTag, svid.Id.ToString()));
        }
    }
}
