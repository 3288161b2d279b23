using System.Globalization;
using System.Net;

namespace Mesh.WatchBench;

/// <summary>The command line: <c>[--watchers N] [--rounds R] [--connections C] [--smoke] [--meshd DLL] [--out FILE]</c>.</summary>
internal sealed class Options
{
    public string Mode { get; private set; } = "run";

    public int Watchers { get; private set; } = 10_000;

    public int Rounds { get; private set; } = 3;

    public int Connections { get; private set; } = 20_000;

    public bool Smoke { get; private set; }

    public string? Meshd { get; private set; }

    public string? Out { get; private set; }

    public Uri? Address { get; private set; }

    public string? Token { get; private set; }

    public int Count { get; private set; }

    public IPAddress[] From { get; private set; } = [IPAddress.Loopback];

    public long Since { get; private set; }

    /// <summary>Seconds to wait after parking when meshd has no <c>/v1/status</c> to count parked watchers (older builds).</summary>
    public int Settle { get; private set; } = 5;

    public static Options Parse(string[] args)
    {
        var options = new Options();
        var i = 0;
        if (args.Length > 0 && args[0] is "park" or "flood")
        {
            options.Mode = args[0];
            i = 1;
        }

        for (; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--watchers": options.Watchers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rounds": options.Rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--connections": options.Connections = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--smoke": options.Smoke = true; options.Watchers = 200; options.Rounds = 2; options.Connections = 400; break;
                case "--meshd": options.Meshd = Next(); break;
                case "--out": options.Out = Next(); break;
                case "--settle": options.Settle = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--address": options.Address = new Uri(Next()); break;
                case "--token": options.Token = Next(); break;
                case "--count": options.Count = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--from": options.From = [.. Next().Split(',').Select(IPAddress.Parse)]; break;
                case "--since": options.Since = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        return options;
    }
}
