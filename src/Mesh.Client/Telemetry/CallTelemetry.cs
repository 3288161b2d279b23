using System.Diagnostics;
using System.Globalization;

namespace Mesh.Telemetry;

/// <summary>
/// Records what the layers tell it: one span (when someone listens), one duration and one in-flight count per logical
/// call, and one client span and one duration per attempt. Knows nothing of how calls are made.
/// </summary>
internal sealed class CallTelemetry(MeshMetrics metrics, MeshStats stats, TimeProvider time)
{
    /// <summary>Gets the clock both the call and its attempts are timed on.</summary>
    public TimeProvider Time => time;

    /// <summary>Starts a logical call; returns its span, if anyone listens.</summary>
    public Activity? StartCall(string service, string method, Uri url)
    {
        metrics.ActiveRequests.Add(1, new KeyValuePair<string, object?>(MeshTags.Service, service));

        // The span's name is made only when someone listens.
        if (!MeshTelemetry.Source.HasListeners() || MeshTelemetry.Source.StartActivity($"{method} {service}", ActivityKind.Internal) is not { } activity)
        {
            return null;
        }

        activity.SetTag(MeshTags.Service, service);
        activity.SetTag(MeshTags.Method, method);
        activity.SetTag(MeshTags.Url, url.ToString());
        return activity;
    }

    /// <summary>
    /// Ends a logical call with an answer (<paramref name="status"/>) or a failure (<paramref name="exception"/>); for a
    /// service with routes, <paramref name="route"/> names the route that took it (empty for none) on the metric.
    /// </summary>
    public void EndCall(Activity? activity, string service, string method, long started, int? status, string outcome, Exception? exception, string? route = null)
    {
        var elapsed = time.GetElapsedTime(started);

        // The tags are made only when someone listens to the duration.
        if (metrics.RequestDuration.Enabled)
        {
            RecordDuration(elapsed, service, method, status, outcome, exception, route);
        }

        metrics.ActiveRequests.Add(-1, new KeyValuePair<string, object?>(MeshTags.Service, service));
        stats.Record(service, elapsed, status is < 500);

        if (activity is not null)
        {
            activity.SetTag(MeshTags.Outcome, outcome);
            if (status is { } code)
            {
                activity.SetTag(MeshTags.StatusCode, code);
            }

            if (status is null or >= 500)
            {
                activity.SetTag(MeshTags.ErrorType, status?.ToString(CultureInfo.InvariantCulture) ?? exception!.GetType().FullName);
                activity.SetStatus(ActivityStatusCode.Error, exception?.Message);
            }
        }
    }

    private void RecordDuration(TimeSpan elapsed, string service, string method, int? status, string outcome, Exception? exception, string? route)
    {
        var tags = new TagList
        {
            { MeshTags.Service, service },
            { MeshTags.Method, method },
            { MeshTags.Outcome, outcome },
        };
        if (status is { } answered)
        {
            tags.Add(MeshTags.StatusCode, BoxedStatusCodes.Boxed(answered));
        }
        else
        {
            tags.Add(MeshTags.ErrorType, exception!.GetType().FullName);
        }

        if (route is not null)
        {
            tags.Add(MeshTags.RouteName, route);
        }

        metrics.RequestDuration.Record(elapsed.TotalSeconds, tags);
    }

    /// <summary>Starts the client span of one attempt on one endpoint, if anyone listens.</summary>
    public static Activity? StartAttempt(string service, string method, Uri url, string host, int port, string? zone, int number, string? reason)
    {
        var activity = MeshTelemetry.Source.StartActivity(method, ActivityKind.Client);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag(MeshTags.Service, service);
        activity.SetTag(MeshTags.Method, method);
        activity.SetTag(MeshTags.ServerAddress, host);
        activity.SetTag(MeshTags.ServerPort, port);
        activity.SetTag(MeshTags.Url, url.ToString());
        activity.SetTag(MeshTags.Attempt, number);
        if (zone is not null)
        {
            activity.SetTag(MeshTags.Zone, zone);
        }

        if (reason is not null)
        {
            activity.SetTag(MeshTags.AttemptReason, reason);
        }

        return activity;
    }

    /// <summary>Ends one attempt: its duration by endpoint and outcome, and its span.</summary>
    public void EndAttempt(Activity? activity, string service, string authority, string outcome, bool failed, long started)
    {
        if (metrics.AttemptDuration.Enabled)
        {
            metrics.AttemptDuration.Record(
                time.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>(MeshTags.Service, service),
                new KeyValuePair<string, object?>(MeshTags.ServerAddress, authority),
                new KeyValuePair<string, object?>(MeshTags.Outcome, outcome));
        }
        if (activity is not null)
        {
            activity.SetTag(MeshTags.Outcome, outcome);
            if (failed)
            {
                activity.SetStatus(ActivityStatusCode.Error);
                activity.SetTag(MeshTags.ErrorType, outcome);
            }
        }
    }

    /// <summary>Adds the number of attempts to the call's span, when the current span is the mesh's.</summary>
    public static void TagAttempts(int attempts)
    {
        if (Activity.Current is { } span && span.Source == MeshTelemetry.Source)
        {
            span.SetTag(MeshTags.Attempts, attempts);
        }
    }
}
