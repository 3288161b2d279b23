using System.Globalization;

namespace Mesh.LoadBench;

/// <summary>The command line: a mode (comparison by default, <c>balancing</c>, <c>mirroring</c>, or the internal <c>serve</c>) and its knobs.</summary>
internal sealed class BenchOptions
{
    public string Mode { get; private set; } = "comparison";

    public bool Smoke { get; private set; }

    public string? Out { get; private set; }

    /// <summary>Gets the rounds of the comparison: each round runs every configuration once, in turn.</summary>
    public int Rounds { get; private set; }

    /// <summary>Gets the seconds of one measured phase (comparison) or of one whole run (balancing).</summary>
    public double Duration { get; private set; }

    /// <summary>Gets the seconds of warm-up before each configuration's phases (comparison) or run (balancing).</summary>
    public double Warmup { get; private set; }

    public int Concurrency { get; private set; } = 32;

    /// <summary>Gets the configurations to run (with the rows their ratios need), or <see langword="null"/> for all.</summary>
    public IReadOnlyCollection<string>? Rows { get; private set; }

    /// <summary>Gets how many whole comparison runs to make, one after the other, each with its own backends and JSON file.</summary>
    public int Runs { get; private set; } = 1;

    /// <summary>Gets whether the throughput phases also sample which types are allocated (<c>--alloc-profile</c>).</summary>
    public bool AllocationProfile { get; private set; }

    /// <summary>Gets the requests per second of the balancing run's open-loop client.</summary>
    public int Rate { get; private set; }

    /// <summary>Gets what the internal <c>serve</c> mode starts: HTTP/1.1 backends and h2c gRPC backends.</summary>
    public int HttpBackends { get; private set; } = 3;

    public int GrpcBackends { get; private set; } = 3;

    /// <summary>Gets the directory of the certificates the internal <c>serve</c> mode's mutual TLS backends use, if it starts them.</summary>
    public string? TlsDirectory { get; private set; }

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        double? duration = null, warmup = null;
        int? rounds = null, rate = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "serve" or "balancing" or "mirroring" or "comparison" when i == 0:
                    options.Mode = args[i];
                    break;
                case "--smoke":
                    options.Smoke = true;
                    break;
                case "--out":
                    options.Out = Value(args, ref i);
                    break;
                case "--rounds":
                    rounds = Positive(Value(args, ref i), "--rounds");
                    break;
                case "--duration":
                    duration = PositiveSeconds(Value(args, ref i), "--duration");
                    break;
                case "--warmup":
                    warmup = double.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--concurrency":
                    options.Concurrency = Positive(Value(args, ref i), "--concurrency");
                    break;
                case "--rows":
                    options.Rows = Value(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--alloc-profile":
                    options.AllocationProfile = true;
                    break;
                case "--runs":
                    options.Runs = Positive(Value(args, ref i), "--runs");
                    break;
                case "--rate":
                    rate = Positive(Value(args, ref i), "--rate");
                    break;
                case "--http":
                    options.HttpBackends = Positive(Value(args, ref i), "--http");
                    break;
                case "--grpc":
                    options.GrpcBackends = Positive(Value(args, ref i), "--grpc");
                    break;
                case "--tls":
                    options.TlsDirectory = Value(args, ref i);
                    break;
                case "--help" or "-h":
                    throw new UsageException(string.Empty);
                default:
                    throw new UsageException($"unknown argument '{args[i]}'");
            }
        }

        var balancing = options.Mode == "balancing";
        var mirroring = options.Mode == "mirroring";
        options.Rounds = rounds ?? (options.Smoke ? 1 : 5);
        options.Duration = duration ?? (balancing ? (options.Smoke ? 3 : 60) : mirroring ? (options.Smoke ? 2 : 20) : (options.Smoke ? 0.5 : 2));
        options.Warmup = warmup ?? (balancing || mirroring ? (options.Smoke ? 0.5 : 3) : (options.Smoke ? 0.3 : 0.5));
        options.Rate = rate ?? (options.Smoke ? 200 : 500);
        return options;
    }

    public const string Usage = """
        Usage: Mesh.LoadBench [comparison|balancing|mirroring] [--smoke] [--out FILE.json] [options]

          comparison (default)  bare HttpClient, mesh, a plain factory client, the factory client with a handler
                                spinning 2 and 4 us per call (calibration: what a known cost measures as),
                                mesh with each optional feature
                                (rate limit, hedging armed, attempt timeout, routes, OpenTelemetry), standard
                                (ServiceDiscovery + standard resilience) and an nginx sidecar pair over HTTP/1.1,
                                then bare and meshed gRPC unary calls; bare, mesh, sidecar
                                and both gRPC clients again over mutual TLS (certificates made for the run, then
                                deleted); configurations interleaved, each round after a warm-up
            --rounds N          rounds, every configuration once per round (5; smoke 1)
            --duration S        seconds of each measured phase: latency at concurrency 1, then throughput (2; smoke 0.5)
            --warmup S          seconds of warm-up before each configuration's phases (0.5; smoke 0.3)
            --concurrency N     callers in the throughput phase (32)
            --rows A,B,...      only these configurations; a ratio whose baseline (bare, factory, mesh...) is not
                                among them reads 0
            --runs N            N whole runs one after the other, each with its own backends; with --out F.json
                                they write F-1.json ... F-N.json; the ratios of every run side by side at the end
          balancing             11 backends with skewed latency, one stalls at 2 s per request in the middle half;
                                RoundRobin, LeastRequest, PeakEwma and PeakEwma with hedging, each for --duration
            --duration S        seconds of each run (60; smoke 3)
            --rate N            requests per second, open loop (500; smoke 200)
            --warmup S          seconds at that rate before each run, not measured (3; smoke 0.5)
          mirroring             one route, open loop: no mirror, a healthy mirror at 100 %, a mirror that never
                                answers at 100 %; primary p50, p99 and success against the no-mirror row
            --duration S        seconds of each row (20; smoke 2)
            --rate N            requests per second, open loop (500; smoke 200)
            --warmup S          seconds at that rate before each row, not measured (3; smoke 0.5)
            --alloc-profile     also sample the types each configuration allocates in its throughput phase
          --smoke               a few seconds in all, to check that everything runs
          --out FILE            also write the figures, the settings and the machine as JSON
        """;

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new UsageException($"{args[i - 1]} needs a value");

    private static int Positive(string text, string name) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new UsageException($"{name} must be a positive whole number, not '{text}'");

    private static double PositiveSeconds(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new UsageException($"{name} must be a positive number of seconds, not '{text}'");
}

/// <summary>A command line that cannot be run; the message says why.</summary>
internal sealed class UsageException(string message) : Exception(message);
