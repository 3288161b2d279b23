using System.Reflection;

namespace Meshd;

/// <summary>
/// The command line's own verbs: <c>--help</c> (<c>-h</c>, <c>-?</c>) and <c>--version</c> print and end meshd before
/// anything starts, so asking for help never opens a port or writes a token file. Every other argument is a setting
/// (<c>--Meshd:Key=value</c>).
/// </summary>
internal static class MeshdCommandLine
{
    /// <summary>Prints help or the version when <paramref name="args"/> asks for it; returns the exit code then, else <see langword="null"/>.</summary>
    public static int? TryHandle(string[] args, TextWriter output)
    {
        if (args.Any(a => a is "--help" or "-h" or "-?" or "/?"))
        {
            output.Write(Help);
            return 0;
        }

        if (args.Any(a => a is "--version"))
        {
            output.WriteLine($"meshd {Version}");
            return 0;
        }

        return null;
    }

    /// <summary>Gets the version meshd was built as, such as <c>0.1.0</c>.</summary>
    internal static string Version
    {
        get
        {
            var assembly = typeof(MeshdCommandLine).Assembly;
            var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

            // The source revision the SDK appends after '+' says nothing to an operator.
            return informational?.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "unknown";
        }
    }

    internal const string Help = """
        meshd — the control plane of Mesh: registry, versioned policies, watch API, credentials, certificate authority.

        Usage:
          meshd [--Meshd:Key=value ...]    start serving (settings also from Meshd__Key environment variables or appsettings.json)
          meshd --help | -h                print this help and exit
          meshd --version                  print the version and exit

        Common settings (all of them: the package's README, "Settings"):
          --Meshd:Urls=URL                 where to listen (default http://127.0.0.1:7070; http://127.0.0.1:0 for any free port)
          --Meshd:DataDirectory=PATH       the file store and the generated tokens (default ./mesh-data)
          --Meshd:Store=file|etcd          one node on files (default), or replicas sharing an etcd
          --Meshd:Etcd:Endpoint=URL        the etcd client URL (default http://127.0.0.1:2379)
          --Meshd:AdminToken=TOKEN         the token for every route (default: generated into the data directory)
          --Meshd:WorkloadToken=TOKEN      the shared workload token (default: generated; see RequireServiceCredentials)
          --Meshd:ReaderToken=TOKEN        a read-only token for the dashboard, meshctl's reads and /metrics (default: none)
          --Meshd:RequireServiceCredentials=true   workloads must use per-service credentials
          --Meshd:Identity:Enabled=true    run the certificate authority that signs SPIFFE X.509-SVIDs
          --Meshd:Tls:CertificateFile=PEM --Meshd:Tls:KeyFile=PEM   serve https://
          --Meshd:AllowInsecureHttp=true   allow plain http on an address other than loopback

        Exit codes: 0 after a clean shutdown, help or version; 2 when a setting or data file cannot be used.
        meshd prints "meshd: serving on <address>" once it serves; GET /healthz and /readyz answer without a token.

        """;
}
