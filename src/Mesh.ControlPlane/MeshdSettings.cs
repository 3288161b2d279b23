using System.Globalization;

namespace Meshd;

/// <summary>meshd's settings, read from the <c>Meshd</c> configuration section.</summary>
internal sealed class MeshdSettings
{
    public const string Section = "Meshd";
    public const int MaxBodyBytes = 64 * 1024;

    public string Urls { get; init; } = "http://127.0.0.1:7070";

    public string DataDirectory { get; init; } = "./mesh-data";

    /// <summary>Gets the store: <c>file</c> (the default) or <c>etcd</c>.</summary>
    public string Store { get; init; } = "file";

    public Uri EtcdEndpoint { get; init; } = new("http://127.0.0.1:2379");

    public string EtcdPrefix { get; init; } = "/mesh/";

    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan WatchWait { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxWatchWait { get; init; } = TimeSpan.FromSeconds(60);

    public string? AdminToken { get; init; }

    public string? WorkloadToken { get; init; }

    public static MeshdSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var defaults = new MeshdSettings();
        var settings = new MeshdSettings
        {
            Urls = section["Urls"] ?? defaults.Urls,
            DataDirectory = section["DataDirectory"] ?? defaults.DataDirectory,
            Store = (section["Store"] ?? defaults.Store).ToUpperInvariant() switch
            {
                "FILE" => "file",
                "ETCD" => "etcd",
                var other => throw new InvalidOperationException($"{Section}:Store: '{other}' is not a store (file or etcd)."),
            },
            EtcdEndpoint = section["Etcd:Endpoint"] is { } endpoint
                ? Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri : throw new InvalidOperationException($"{Section}:Etcd:Endpoint: '{endpoint}' is not an absolute URI.")
                : defaults.EtcdEndpoint,
            EtcdPrefix = section["Etcd:Prefix"] ?? defaults.EtcdPrefix,
            LeaseTtl = Duration(section, "LeaseTtl", defaults.LeaseTtl),
            SweepInterval = Duration(section, "SweepInterval", defaults.SweepInterval),
            WatchWait = Duration(section, "WatchWait", defaults.WatchWait),
            MaxWatchWait = Duration(section, "MaxWatchWait", defaults.MaxWatchWait),
            AdminToken = NullIfEmpty(section["AdminToken"]),
            WorkloadToken = NullIfEmpty(section["WorkloadToken"]),
        };

        if (settings.WatchWait > settings.MaxWatchWait)
        {
            throw new InvalidOperationException($"{Section}:WatchWait: must be at most {Section}:MaxWatchWait.");
        }

        return settings;
    }

    private static TimeSpan Duration(IConfigurationSection section, string key, TimeSpan fallback)
    {
        var text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) || value <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{Section}:{key}: '{text}' is not a positive duration such as 00:00:10.");
        }

        return value;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
