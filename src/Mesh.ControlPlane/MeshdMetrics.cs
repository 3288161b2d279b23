using System.Diagnostics.Metrics;

namespace Meshd;

/// <summary>
/// meshd's instruments, on a meter named <c>Meshd</c> from the container's <see cref="IMeterFactory"/> (which owns and
/// disposes it). Tags carry service names and reasons, never a token, a key or a request body.
/// </summary>
internal sealed class MeshdMetrics
{
    /// <summary>The name of meshd's meter.</summary>
    internal const string MeterName = "Meshd";

    /// <summary>The tag naming the service an SVID was issued or refused for.</summary>
    internal const string ServiceTag = "meshd.service";

    /// <summary>The tag naming why a request was refused.</summary>
    internal const string ReasonTag = "meshd.reason";

    public MeshdMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName, typeof(MeshdMetrics).Assembly.GetName().Version?.ToString());
        SvidsIssued = meter.CreateCounter<long>("meshd.identity.svids.issued", "{certificate}", "X.509-SVIDs the CA signed, by service.");
        SvidsRefused = meter.CreateCounter<long>("meshd.identity.svids.refused", "{request}", "SVID requests refused for their content or because the CA is off or cannot sign, by reason (csr, ttl, service, disabled, authority).");
        AccessRefused = meter.CreateCounter<long>("meshd.identity.access.refused", "{request}", "Requests refused for the token they carried, by reason (invalid-token, retired-shared-token, other-service, admin-only).");
    }

    /// <summary>Gets the count of SVIDs issued (tag <see cref="ServiceTag"/>).</summary>
    public Counter<long> SvidsIssued { get; }

    /// <summary>Gets the count of SVID requests refused for their content (tag <see cref="ReasonTag"/>).</summary>
    public Counter<long> SvidsRefused { get; }

    /// <summary>Gets the count of requests refused for their token: 401 and 403 (tag <see cref="ReasonTag"/>).</summary>
    public Counter<long> AccessRefused { get; }

    public void SvidIssued(string service) => SvidsIssued.Add(1, new KeyValuePair<string, object?>(ServiceTag, service));

    public void SvidRefused(string reason) => SvidsRefused.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason));

    public void Refused(string reason) => AccessRefused.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason));
}
