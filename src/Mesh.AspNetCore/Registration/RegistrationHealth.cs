using System.Globalization;
using System.Text;
using Mesh.AspNetCore.Health;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// The application's health checks that registration waits for: with <c>Mesh:Server:HealthCheckTag</c> unset, every
/// registered check but the mesh's own (<c>mesh</c>, which speaks of the control plane registration already retries
/// against); with it set, the checks carrying that tag. Without such checks there is nothing to wait for.
/// </summary>
internal sealed class RegistrationHealth
{
    private const int MaxListed = 8;
    private const int MaxDescription = 200;
    private static readonly TimeSpan s_minRunTime = TimeSpan.FromSeconds(10);

    private readonly HealthCheckService? _checks;
    private readonly Func<HealthCheckRegistration, bool> _predicate;

    public RegistrationHealth(IServiceProvider services, IOptions<MeshServerOptions> options)
    {
        var tag = options.Value.HealthCheckTag;
        _predicate = tag is null ? static r => r.Name != MeshReadinessCheck.Name : r => r.Tags.Contains(tag);
        var registrations = services.GetService<IOptions<HealthCheckServiceOptions>>()?.Value.Registrations ?? [];
        Selected = [.. registrations.Where(_predicate).Select(r => r.Name).Order(StringComparer.Ordinal)];
        _checks = Selected.Count == 0 ? null : services.GetService<HealthCheckService>();
        Interval = options.Value.HealthCheckInterval;
    }

    /// <summary>Gets the names of the checks registration waits for.</summary>
    public IReadOnlyList<string> Selected { get; }

    /// <summary>Gets whether registration waits for health checks.</summary>
    public bool IsGated => _checks is not null;

    /// <summary>Gets how often the checks run.</summary>
    public TimeSpan Interval { get; }

    /// <summary>
    /// Runs the selected checks once. Healthy and Degraded pass; a run that has not answered within the interval (10 s at
    /// least) fails, so a hung check cannot keep an instance registered.
    /// </summary>
    public async Task<HealthVerdict> CheckAsync(CancellationToken stop)
    {
        if (_checks is null)
        {
            return HealthVerdict.Pass;
        }

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var limit = Interval > s_minRunTime ? Interval : s_minRunTime;
        bound.CancelAfter(limit);
        try
        {
            var report = await _checks.CheckHealthAsync(_predicate, bound.Token).ConfigureAwait(false);
            return report.Status == HealthStatus.Unhealthy ? new HealthVerdict(false, Failing(report)) : HealthVerdict.Pass;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return new HealthVerdict(false, string.Create(CultureInfo.InvariantCulture, $"the health checks did not answer within {limit.TotalSeconds:0.###} s"));
        }
    }

    // Names and descriptions only (never the data or the exception), bounded, control characters removed.
    private static string Failing(HealthReport report)
    {
        var text = new StringBuilder();
        var failing = report.Entries.Where(e => e.Value.Status == HealthStatus.Unhealthy).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        foreach (var (name, entry) in failing.Take(MaxListed))
        {
            if (text.Length > 0)
            {
                text.Append("; ");
            }

            Append(text, name);
            text.Append(": ");
            Append(text, entry.Description ?? "unhealthy");
        }

        if (failing.Count > MaxListed)
        {
            text.Append(CultureInfo.InvariantCulture, $"; and {failing.Count - MaxListed} more");
        }

        return text.ToString();
    }

    private static void Append(StringBuilder text, string value)
    {
        var count = 0;
        foreach (var c in value)
        {
            if (count++ == MaxDescription)
            {
                text.Append('…');
                return;
            }

            text.Append(char.IsControl(c) ? ' ' : c);
        }
    }
}

/// <summary>The outcome of one run of the checks registration waits for.</summary>
/// <param name="Passes">Whether the instance may take traffic.</param>
/// <param name="Failing">The failing checks' names and descriptions, when it may not.</param>
internal sealed record HealthVerdict(bool Passes, string? Failing)
{
    public static readonly HealthVerdict Pass = new(true, null);
}
