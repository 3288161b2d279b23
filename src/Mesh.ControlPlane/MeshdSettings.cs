using System.Globalization;
using System.Net;
using Meshd.Identity;
using Meshd.Registry;

namespace Meshd;

/// <summary>meshd's settings, read from the <c>Meshd</c> configuration section and checked whole at start.</summary>
internal sealed class MeshdSettings
{
    public const string Section = "Meshd";
    public const int DefaultMaxBodyBytes = 64 * 1024;

    public string Urls { get; init; } = "http://127.0.0.1:7070";

    public string DataDirectory { get; init; } = "./mesh-data";

    /// <summary>Gets the store: <c>file</c> (the default) or <c>etcd</c>.</summary>
    public string Store { get; init; } = "file";

    public Uri EtcdEndpoint { get; init; } = new("http://127.0.0.1:2379");

    public string EtcdPrefix { get; init; } = "/mesh/";

    public EtcdSecurity Etcd { get; init; } = new();

    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan WatchWait { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxWatchWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets how often the store is probed for <c>/healthz</c> and <c>/readyz</c>.</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(5);

    public string? AdminToken { get; init; }

    public string? WorkloadToken { get; init; }

    /// <summary>
    /// Gets the read-only token (<c>Meshd:ReaderToken</c>): it reads services, policies, the fleet view, status and
    /// <c>/metrics</c>, and the dashboard with them, and is refused on every write. None unless configured.
    /// </summary>
    public string? ReaderToken { get; init; }

    /// <summary>
    /// Gets whether only the admin token and per-service credentials are taken: the shared workload token, which lets any
    /// workload act for any service, is then refused. False by default, so deployments can move to credentials first.
    /// </summary>
    public bool RequireServiceCredentials { get; init; }

    /// <summary>Gets the settings of meshd's certificate authority (<c>Meshd:Identity:*</c>).</summary>
    public MeshdIdentitySettings Identity { get; init; } = MeshdIdentitySettings.Disabled;

    public string? TlsCertificateFile { get; init; }

    public string? TlsKeyFile { get; init; }

    /// <summary>Gets whether plain HTTP may listen on an address other than loopback (bearer tokens then cross the network in clear).</summary>
    public bool AllowInsecureHttp { get; init; }

    public MeshdLimits Limits { get; init; } = new();

    public AddressRules Addresses { get; init; } = AddressRules.Default;

    /// <summary>Gets the largest request body, the same as <see cref="MeshdLimits.MaxBodyBytes"/>.</summary>
    public int MaxBodyBytes => Limits.MaxBodyBytes;

    public static MeshdSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var reader = new Reader(section);
        reader.RefuseUnknownKeys();
        var defaults = new MeshdSettings();
        var limits = new MeshdLimits();
        var dataDirectory = reader.Text("DataDirectory") ?? defaults.DataDirectory;
        var settings = new MeshdSettings
        {
            Urls = reader.Text("Urls") ?? defaults.Urls,
            DataDirectory = dataDirectory,
            Store = (reader.Text("Store") ?? defaults.Store).ToUpperInvariant() switch
            {
                "FILE" => "file",
                "ETCD" => "etcd",
                var other => throw Reader.Fail("Store", $"'{other}' is not a store (file or etcd)."),
            },
            EtcdEndpoint = reader.Text("Etcd:Endpoint") is { } endpoint
                ? Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                    ? uri
                    : throw Reader.Fail("Etcd:Endpoint", $"'{endpoint}' is not an absolute http or https URI.")
                : defaults.EtcdEndpoint,
            EtcdPrefix = reader.Text("Etcd:Prefix") ?? defaults.EtcdPrefix,
            Etcd = new EtcdSecurity
            {
                CaFile = reader.ExistingFile("Etcd:CaFile"),
                ClientCertificateFile = reader.ExistingFile("Etcd:ClientCertificateFile"),
                ClientKeyFile = reader.ExistingFile("Etcd:ClientKeyFile"),
                Username = reader.Text("Etcd:Username"),
                Password = reader.Text("Etcd:Password"),
            },
            LeaseTtl = reader.Duration("LeaseTtl", defaults.LeaseTtl, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            SweepInterval = reader.Duration("SweepInterval", defaults.SweepInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)),
            WatchWait = reader.Duration("WatchWait", defaults.WatchWait, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            MaxWatchWait = reader.Duration("MaxWatchWait", defaults.MaxWatchWait, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            HealthInterval = reader.Duration("HealthInterval", defaults.HealthInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5)),
            AdminToken = reader.Text("AdminToken"),
            WorkloadToken = reader.Text("WorkloadToken"),
            ReaderToken = reader.Text("ReaderToken"),
            RequireServiceCredentials = reader.Boolean("RequireServiceCredentials", defaults.RequireServiceCredentials),
            Identity = MeshdIdentitySettings.Read(reader, dataDirectory),
            TlsCertificateFile = reader.ExistingFile("Tls:CertificateFile"),
            TlsKeyFile = reader.ExistingFile("Tls:KeyFile"),
            AllowInsecureHttp = reader.Boolean("AllowInsecureHttp", defaults.AllowInsecureHttp),
            Limits = new MeshdLimits
            {
                MaxConnections = reader.OptionalInteger("Limits:MaxConnections", 1, 1_000_000),
                MaxConnectionsPerAddress = reader.Integer("Limits:MaxConnectionsPerAddress", limits.MaxConnectionsPerAddress, 1, 1_000_000),
                DescriptorReserve = reader.Integer("Limits:DescriptorReserve", limits.DescriptorReserve, 32, 100_000),
                MaxWatchers = reader.Integer("Limits:MaxWatchers", limits.MaxWatchers, 1, 1_000_000),
                WatcherWriteTimeout = reader.Duration("Limits:WatcherWriteTimeout", limits.WatcherWriteTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
                IdleTimeout = reader.Duration("Limits:IdleTimeout", limits.IdleTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10)),
                MaxBodyBytes = reader.Integer("Limits:MaxBodyBytes", limits.MaxBodyBytes, 1024, 1024 * 1024),
                MaxValueBytes = reader.Integer("Limits:MaxValueBytes", limits.MaxValueBytes, 256, 1024 * 1024),
                MaxInstancesPerService = reader.Integer("Limits:MaxInstancesPerService", limits.MaxInstancesPerService, 1, 1_000_000),
                MaxSnapshotBytes = reader.Integer("Limits:MaxSnapshotBytes", limits.MaxSnapshotBytes, 4096, 1024 * 1024 * 1024),
                AuthFailuresPerMinute = reader.Integer("Limits:AuthFailuresPerMinute", limits.AuthFailuresPerMinute, 1, 1_000_000),
                MaxPolicyVersions = reader.Integer("Limits:MaxPolicyVersions", limits.MaxPolicyVersions, 2, 1_000_000),
                MaxCredentials = reader.Integer("Limits:MaxCredentials", limits.MaxCredentials, 1, 1_000_000),
            },
            Addresses = AddressRules.Read(reader),
        };

        if (settings.WatchWait > settings.MaxWatchWait)
        {
            throw Reader.Fail("WatchWait", "must be at most Meshd:MaxWatchWait.");
        }

        if ((settings.TlsCertificateFile is null) != (settings.TlsKeyFile is null))
        {
            throw Reader.Fail(settings.TlsCertificateFile is null ? "Tls:CertificateFile" : "Tls:KeyFile", "Meshd:Tls:CertificateFile and Meshd:Tls:KeyFile are set together (PEM files).");
        }

        if ((settings.Etcd.ClientCertificateFile is null) != (settings.Etcd.ClientKeyFile is null))
        {
            throw Reader.Fail(settings.Etcd.ClientCertificateFile is null ? "Etcd:ClientCertificateFile" : "Etcd:ClientKeyFile", "Meshd:Etcd:ClientCertificateFile and Meshd:Etcd:ClientKeyFile are set together (PEM files).");
        }

        if ((settings.Etcd.Username is null) != (settings.Etcd.Password is null))
        {
            throw Reader.Fail(settings.Etcd.Username is null ? "Etcd:Username" : "Etcd:Password", "Meshd:Etcd:Username and Meshd:Etcd:Password are set together.");
        }

        if (settings.EtcdEndpoint.Scheme == "http" && (settings.Etcd.CaFile is not null || settings.Etcd.ClientCertificateFile is not null))
        {
            throw Reader.Fail("Etcd:Endpoint", $"'{settings.EtcdEndpoint}' is plain http, but TLS files for etcd are set: use https://.");
        }

        foreach (var url in settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var listen) || listen.Scheme is not ("http" or "https"))
            {
                throw Reader.Fail("Urls", $"'{url}' is not an http:// or https:// address to listen on.");
            }

            if (listen.Scheme == "https" && settings.TlsCertificateFile is null)
            {
                throw Reader.Fail("Urls", $"'{url}' is https: set Meshd:Tls:CertificateFile and Meshd:Tls:KeyFile (PEM files) too.");
            }

            if (listen.Scheme == "http" && !settings.AllowInsecureHttp && !IsLoopback(listen))
            {
                throw Reader.Fail("Urls", $"'{url}' would carry bearer tokens in clear beyond this machine: listen on https:// with Meshd:Tls:CertificateFile and Meshd:Tls:KeyFile, or set Meshd:AllowInsecureHttp=true.");
            }
        }

        return settings;
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>Reads typed values from the section; every failure names the key.</summary>
    internal sealed class Reader(IConfigurationSection section)
    {
        private static readonly string[] s_known =
        [
            "Urls", "DataDirectory", "Store", "Etcd:Endpoint", "Etcd:Prefix", "Etcd:CaFile", "Etcd:ClientCertificateFile", "Etcd:ClientKeyFile",
            "Etcd:Username", "Etcd:Password", "LeaseTtl", "SweepInterval", "WatchWait", "MaxWatchWait", "HealthInterval", "AdminToken",
            "WorkloadToken", "ReaderToken", "Tls:CertificateFile", "Tls:KeyFile", "AllowInsecureHttp", "Limits:MaxConnections", "Limits:MaxConnectionsPerAddress",
            "Limits:DescriptorReserve", "Limits:MaxWatchers", "Limits:WatcherWriteTimeout", "Limits:IdleTimeout", "Limits:MaxBodyBytes",
            "Limits:MaxValueBytes", "Limits:MaxInstancesPerService", "Limits:MaxSnapshotBytes", "Limits:AuthFailuresPerMinute",
            "Limits:MaxPolicyVersions", "Limits:MaxCredentials", "Registry:AllowedNetworks", "Registry:AllowedHostNames", "Registry:AddressMustMatchCaller",
            "RequireServiceCredentials", "Identity:Enabled", "Identity:TrustDomain", "Identity:DefaultTtl", "Identity:MaxTtl", "Identity:ClockSkew",
            "Identity:RootLifetime", "Identity:CertificatePath", "Identity:KeyPath", "Identity:ChainPath",
        ];

        public void RefuseUnknownKeys()
        {
            foreach (var leaf in Leaves(section, string.Empty))
            {
                var known = s_known.Any(k => string.Equals(k, leaf, StringComparison.OrdinalIgnoreCase)
                    || leaf.StartsWith(k + ":", StringComparison.OrdinalIgnoreCase) && k.StartsWith("Registry:Allowed", StringComparison.Ordinal));
                if (!known)
                {
                    throw Fail(leaf, $"is not a meshd setting (known: {string.Join(", ", s_known.Select(k => Section + ":" + k))}).");
                }
            }
        }

        public string? Text(string key) => string.IsNullOrWhiteSpace(section[key]) ? null : section[key]!.Trim();

        public IReadOnlyList<string> List(string key)
        {
            // Either a comma-separated string or an array (Key:0, Key:1, ... in configuration).
            var child = section.GetSection(key);
            var items = child.Value is { } value ? value.Split(',') : child.GetChildren().Select(c => c.Value ?? string.Empty).ToArray();
            return [.. items.Select(i => i.Trim()).Where(i => i.Length > 0)];
        }

        public string? ExistingFile(string key)
        {
            var path = Text(key);
            if (path is not null && !File.Exists(path))
            {
                throw Fail(key, $"the file '{Path.GetFullPath(path)}' does not exist.");
            }

            return path;
        }

        public bool Boolean(string key, bool fallback)
        {
            var text = Text(key);
            return text is null ? fallback : bool.TryParse(text, out var value) ? value : throw Fail(key, $"'{text}' is not true or false.");
        }

        public int Integer(string key, int fallback, int min, int max) => OptionalInteger(key, min, max) ?? fallback;

        public int? OptionalInteger(string key, int min, int max)
        {
            var text = Text(key);
            if (text is null)
            {
                return null;
            }

            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            {
                throw Fail(key, $"'{text}' is not a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");
            }

            return value;
        }

        public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
        {
            var text = Text(key);
            if (text is null)
            {
                return fallback;
            }

            // A bare number is refused: "10" would be read as ten days.
            if (!text.Contains(':', StringComparison.Ordinal) || !TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            {
                throw Fail(key, $"'{text}' is not a duration such as 00:00:10 from {min.ToString("c", CultureInfo.InvariantCulture)} to {max.ToString("c", CultureInfo.InvariantCulture)}.");
            }

            return value;
        }

        public static MeshdStartupException Fail(string key, string message) => new($"{Section}:{key}: {message}");

        private static IEnumerable<string> Leaves(IConfigurationSection parent, string prefix)
        {
            foreach (var child in parent.GetChildren())
            {
                var path = prefix.Length == 0 ? child.Key : prefix + ":" + child.Key;
                var children = child.GetChildren().ToList();
                if (children.Count == 0)
                {
                    yield return path;
                }
                else
                {
                    foreach (var leaf in Leaves(child, path))
                    {
                        yield return leaf;
                    }
                }
            }
        }
    }
}

/// <summary>The stated limits of meshd (<c>Meshd:Limits:*</c>): at a limit, new work is refused and what exists is kept.</summary>
internal sealed class MeshdLimits
{
    /// <summary>Gets the configured number of open connections; null: the file-descriptor limit minus the reserve.</summary>
    public int? MaxConnections { get; init; }

    public int MaxConnectionsPerAddress { get; init; } = 1024;

    public int DescriptorReserve { get; init; } = 512;

    public int MaxWatchers { get; init; } = 16_384;

    public TimeSpan WatcherWriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public int MaxBodyBytes { get; init; } = MeshdSettings.DefaultMaxBodyBytes;

    public int MaxValueBytes { get; init; } = 16 * 1024;

    public int MaxInstancesPerService { get; init; } = 1000;

    public int MaxSnapshotBytes { get; init; } = 16 * 1024 * 1024;

    public int AuthFailuresPerMinute { get; init; } = 30;

    public int MaxPolicyVersions { get; init; } = 1000;

    /// <summary>Gets how many per-service credentials meshd keeps at most; a new one past it is refused until one is revoked.</summary>
    public int MaxCredentials { get; init; } = 10_000;
}

/// <summary>
/// <c>Meshd:Identity:*</c>: whether meshd runs its certificate authority, and the CA's options. Off by default: turning
/// it on makes a root key in the data directory, which is the operator's decision (where keys live, how they are backed
/// up), and replicas on etcd must first be given the same CA files.
/// </summary>
internal sealed class MeshdIdentitySettings
{
    public static readonly MeshdIdentitySettings Disabled = new() { Enabled = false, Authority = new CertificateAuthorityOptions { DataDirectory = "./mesh-data" } };

    /// <summary>Gets whether the CA runs: SVIDs are issued, the bundle is served and in every snapshot, instances may register an identity.</summary>
    public required bool Enabled { get; init; }

    /// <summary>Gets the CA's options, in meshd's data directory.</summary>
    public required CertificateAuthorityOptions Authority { get; init; }

    public static MeshdIdentitySettings Read(MeshdSettings.Reader reader, string dataDirectory)
    {
        var defaults = new CertificateAuthorityOptions { DataDirectory = dataDirectory };
        var options = new CertificateAuthorityOptions
        {
            DataDirectory = dataDirectory,
            TrustDomain = reader.Text("Identity:TrustDomain") ?? defaults.TrustDomain,
            DefaultTtl = reader.Duration("Identity:DefaultTtl", defaults.DefaultTtl, CertificateAuthorityOptions.MinTtl, CertificateAuthorityOptions.MaxTtlBound),
            MaxTtl = reader.Duration("Identity:MaxTtl", defaults.MaxTtl, CertificateAuthorityOptions.MinTtl, CertificateAuthorityOptions.MaxTtlBound),
            ClockSkew = reader.Duration("Identity:ClockSkew", defaults.ClockSkew, TimeSpan.Zero, TimeSpan.FromHours(1)),
            RootLifetime = reader.Duration("Identity:RootLifetime", defaults.RootLifetime, TimeSpan.FromDays(1), TimeSpan.FromDays(30 * 366)),
            CertificatePath = reader.ExistingFile("Identity:CertificatePath"),
            KeyPath = reader.ExistingFile("Identity:KeyPath"),
            ChainPath = reader.ExistingFile("Identity:ChainPath"),
        };

        // Checked whether or not the CA is on, so a mistake is found before the day it is turned on.
        if (options.Validate(MeshdSettings.Section + ":Identity") is [var first, ..])
        {
            throw new MeshdStartupException(first);
        }

        return new MeshdIdentitySettings { Enabled = reader.Boolean("Identity:Enabled", false), Authority = options };
    }
}

/// <summary>TLS and credentials of meshd's connection to etcd.</summary>
internal sealed class EtcdSecurity
{
    public string? CaFile { get; init; }

    public string? ClientCertificateFile { get; init; }

    public string? ClientKeyFile { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }
}

/// <summary>meshd cannot start: a setting is invalid or a file cannot be used; the message names the key or the file and what to do.</summary>
internal sealed class MeshdStartupException : Exception
{
    public MeshdStartupException(string message)
        : base(message)
    {
    }

    public MeshdStartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
