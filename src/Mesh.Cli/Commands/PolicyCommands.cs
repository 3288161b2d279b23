using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary>
/// The policy verbs: <c>apply -f</c> (with <c>--dry-run</c>), <c>diff -f</c>, <c>history</c>, <c>rollback</c>,
/// <c>enable</c> and <c>disable</c> of a feature.
/// </summary>
internal static class PolicyCommands
{
    /// <summary>The largest policy file read, as meshd takes no larger body.</summary>
    private const int MaxFileBytes = 64 * 1024;

    /// <summary>The features <c>enable</c>/<c>disable</c> switch, and the policy key each is.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Features = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["retry"] = "Retry",
        ["hedging"] = "Hedging",
        ["breaker"] = "CircuitBreaker",
        ["outlier-detection"] = "OutlierDetection",
        ["rate-limit"] = "RateLimit",
    };

    // Hedging and RateLimit have no Enabled key: present means on, so enabling adds the section with its defaults.
    private static readonly HashSet<string> s_presenceFeatures = ["Hedging", "RateLimit"];

    public static void Add(RootCommand root, Runner run)
    {
        var file = new Option<FileInfo>("--file", "-f") { Description = "A JSON file, { \"service\": \"orders\", \"policy\": { … } } (as 'get policies X -o json' prints), or the same in YAML when named .yaml or .yml (as '-o yaml' prints); or a bare policy with --service.", Required = true };
        var service = new Option<string?>("--service", "-s") { Description = "The service the file's policy is for, when the file does not say." };

        var apply = new Command("apply", "Replace a service's policy with the file's. With --dry-run: print the diff against the live policy and meshd's verdict, storing nothing.") { file, service };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only validate and show the diff; nothing is stored." };
        var ifMatch = new Option<long?>("--if-match") { Description = "Write only if the live policy is at this version (else exit 1 with 412)." };
        apply.Add(dryRun);
        apply.Add(ifMatch);
        run.Action(apply, (p, x, ct) => ApplyAsync(x, p.GetValue(file)!, p.GetValue(service), p.GetValue(dryRun), p.GetValue(ifMatch), ct));

        var diff = new Command("diff", "Show how the file's policy differs from the live one, key by key. Exit 0 when they are the same, 1 when they differ.") { file, service };
        run.Action(diff, (p, x, ct) => DiffAsync(x, p.GetValue(file)!, p.GetValue(service), ct));

        var name = new Argument<string>("SERVICE") { Description = "The service." };
        var history = new Command("history", "Every version of a service's policy, newest first, with what each changed.") { name };
        run.Action(history, (p, x, ct) => HistoryAsync(x, p.GetValue(name)!, ct));

        var to = new Option<long?>("--to") { Description = "The version to go back to (default: the one before the current)." };
        var rollback = new Command("rollback", "Write an earlier version of a service's policy again, as a new version.") { name, to };
        run.Action(rollback, (p, x, ct) => RollbackAsync(x, p.GetValue(name)!, p.GetValue(to), ct));

        foreach (var on in new[] { true, false })
        {
            var feature = new Argument<string>("FEATURE") { Description = string.Join("|", Features.Keys) };
            feature.AcceptOnlyFromAmong([.. Features.Keys]);
            var target = new Argument<string>("SERVICE") { Description = "The service." };
            var verb = new Command(
                on ? "enable" : "disable",
                on ? "Switch a feature on in a service's policy (a merge patch; hedging and rate-limit get their default settings when absent)."
                   : "Switch a feature off in a service's policy (a merge patch; hedging and rate-limit are removed with their settings).")
            {
                target,
                feature,
            };
            run.Action(verb, (p, x, ct) => SwitchAsync(x, p.GetValue(target)!, p.GetValue(feature)!, on, ct));
            root.Add(verb);
        }

        root.Add(apply);
        root.Add(diff);
        root.Add(history);
        root.Add(rollback);
    }

    private static async Task<int> ApplyAsync(Invocation x, FileInfo file, string? service, bool dryRun, long? ifMatch, CancellationToken ct)
    {
        var (name, document) = Read(file, service);
        using (document)
        {
            var live = await LiveAsync(x, name, ct).ConfigureAwait(false);
            var options = new PolicyWriteOptions { DryRun = dryRun, IfMatch = ifMatch };
            if (!dryRun)
            {
                var stored = await x.Meshd.PutPolicyAsync(name, document.RootElement, options, ct).ConfigureAwait(false);
                if (x.Table)
                {
                    x.Out.WriteLine(live?.Version == stored.Version ? $"{name}: unchanged at v{stored.Version}" : $"{name}: policy v{stored.Version} applied");
                }
                else
                {
                    Output.Document(x.Out, x.Format, stored);
                }

                return Meshctl.Ok;
            }

            var changes = PolicyDiff.Compare(live?.Policy, document.RootElement);
            PolicyRecord? wouldBe = null;
            MeshdValidationException? invalid = null;
            try
            {
                wouldBe = await x.Meshd.PutPolicyAsync(name, document.RootElement, options, ct).ConfigureAwait(false);
                changes = PolicyDiff.Compare(live?.Policy, wouldBe.Policy);
            }
            catch (MeshdValidationException e)
            {
                invalid = e;
            }

            if (!x.Table)
            {
                Output.Document(x.Out, x.Format, new
                {
                    service = name,
                    dryRun = true,
                    liveVersion = live?.Version,
                    valid = invalid is null,
                    errors = invalid?.Errors,
                    policy = wouldBe?.Policy,
                    diff = changes.Select(c => new { op = c.Op, path = c.Path, before = c.Before, after = c.After }),
                });
                return invalid is null ? Meshctl.Ok : Meshctl.Failed;
            }

            x.Out.WriteLine($"# {name}: live v{(live is null ? "-" : live.Version)} → file {file.Name} (dry run, nothing stored)");
            WriteChanges(x.Out, changes);
            if (invalid is null)
            {
                x.Out.WriteLine($"✔ valid: meshd would store it" + (changes.Count == 0 ? " unchanged" : string.Empty));
                return Meshctl.Ok;
            }

            x.Out.WriteLine("✘ invalid: meshd would refuse it");
            foreach (var (field, messages) in invalid.Errors.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                x.Out.WriteLine($"  {field}: {string.Join(" ", messages)}");
            }

            if (invalid.Errors.Count == 0 && invalid.Detail is { } detail)
            {
                x.Out.WriteLine($"  {detail}");
            }

            return Meshctl.Failed;
        }
    }

    private static async Task<int> DiffAsync(Invocation x, FileInfo file, string? service, CancellationToken ct)
    {
        var (name, document) = Read(file, service);
        using (document)
        {
            var live = await LiveAsync(x, name, ct).ConfigureAwait(false);
            var changes = PolicyDiff.Compare(live?.Policy, document.RootElement);
            if (x.Table)
            {
                x.Out.WriteLine($"# {name}: live v{(live is null ? "-" : live.Version)} → file {file.Name}");
                WriteChanges(x.Out, changes);
            }
            else
            {
                Output.Document(x.Out, x.Format, new { service = name, liveVersion = live?.Version, diff = changes.Select(c => new { op = c.Op, path = c.Path, before = c.Before, after = c.After }) });
            }

            return changes.Count == 0 ? Meshctl.Ok : Meshctl.Failed;
        }
    }

    private static async Task<int> HistoryAsync(Invocation x, string name, CancellationToken ct)
    {
        var history = await x.Meshd.GetPolicyHistoryAsync(name, ct).ConfigureAwait(false);
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, history);
            return Meshctl.Ok;
        }

        var rows = new List<IReadOnlyList<string>>();
        for (var i = 0; i < history.Count; i++)
        {
            var previous = i + 1 < history.Count ? history[i + 1].Policy : null;
            rows.Add([$"v{history[i].Version}", history[i].UpdatedAt is { } at ? Output.Time(at) : "-", DescribeCommand.Summary(previous, history[i])]);
        }

        Output.Rows(x.Out, ["VERSION", "UPDATED", "CHANGE"], rows);
        return Meshctl.Ok;
    }

    private static async Task<int> RollbackAsync(Invocation x, string name, long? to, CancellationToken ct)
    {
        var history = await x.Meshd.GetPolicyHistoryAsync(name, ct).ConfigureAwait(false);
        var current = history[0];
        var target = to ?? (history.Count > 1 ? history[1].Version : throw new UsageException($"{name} has only v{current.Version}: there is no earlier version to roll back to."));
        if (target == current.Version)
        {
            throw new UsageException($"{name} is at v{target} already.");
        }

        var restored = await x.Meshd.RestorePolicyAsync(name, target, current.Version, ct).ConfigureAwait(false);
        if (x.Table)
        {
            x.Out.WriteLine($"{name}: rolled back to v{target}, written as v{restored.Version}");
        }
        else
        {
            Output.Document(x.Out, x.Format, restored);
        }

        return Meshctl.Ok;
    }

    private static async Task<int> SwitchAsync(Invocation x, string name, string feature, bool on, CancellationToken ct)
    {
        var key = Features[feature];
        var live = await LiveAsync(x, name, ct).ConfigureAwait(false);
        JsonNode? section;
        if (s_presenceFeatures.Contains(key))
        {
            var present = live?.Policy is { } p && p.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Object;
            if (on == present)
            {
                return Unchanged(x, name, feature, on, live);
            }

            section = on ? new JsonObject() : null;
        }
        else
        {
            section = new JsonObject { ["Enabled"] = on };
        }

        var patch = new JsonObject { [key] = section };
        using var document = JsonDocument.Parse(patch.ToJsonString());
        PolicyRecord written;
        if (live is null)
        {
            if (!on && s_presenceFeatures.Contains(key))
            {
                return Unchanged(x, name, feature, on, live);
            }

            // No policy yet: a merge patch has nothing to patch, so the switch becomes the whole policy.
            written = await x.Meshd.PutPolicyAsync(name, document.RootElement, new PolicyWriteOptions(), ct).ConfigureAwait(false);
        }
        else
        {
            written = await x.Meshd.PatchPolicyAsync(name, document.RootElement, new PolicyWriteOptions { IfMatch = live.Version }, ct).ConfigureAwait(false);
        }

        if (x.Table)
        {
            x.Out.WriteLine(written.Version == live?.Version
                ? $"{name}: {feature} already {(on ? "enabled" : "disabled")} (v{written.Version})"
                : $"{name}: {feature} {(on ? "enabled" : "disabled")}, policy v{written.Version}");
        }
        else
        {
            Output.Document(x.Out, x.Format, written);
        }

        return Meshctl.Ok;
    }

    private static int Unchanged(Invocation x, string name, string feature, bool on, PolicyRecord? live)
    {
        if (x.Table)
        {
            x.Out.WriteLine($"{name}: {feature} already {(on ? "enabled" : "disabled")} ({(live is null ? "no policy" : $"v{live.Version}")})");
        }
        else
        {
            Output.Document(x.Out, x.Format, new { service = name, version = live?.Version, policy = live?.Policy, unchanged = true });
        }

        return Meshctl.Ok;
    }

    private static void WriteChanges(TextWriter output, IReadOnlyList<PolicyDiff.Change> changes)
    {
        if (changes.Count == 0)
        {
            output.WriteLine("(no difference)");
        }

        foreach (var change in changes)
        {
            output.WriteLine(change.ToString());
        }
    }

    private static async Task<PolicyRecord?> LiveAsync(Invocation x, string name, CancellationToken ct)
    {
        try
        {
            return await x.Meshd.GetPolicyAsync(name, ct).ConfigureAwait(false);
        }
        catch (MeshdNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The service and the policy of a file, or a usage error saying what is wrong with it.</summary>
    private static (string Service, JsonDocument Policy) Read(FileInfo file, string? service)
    {
        if (!file.Exists)
        {
            throw new UsageException($"{file.FullName} does not exist.");
        }

        if (file.Length > MaxFileBytes)
        {
            throw new UsageException($"{file.Name} is over {MaxFileBytes / 1024} KiB, more than meshd takes.");
        }

        var yaml = YamlDocument.IsYaml(file);
        JsonDocument document;
        try
        {
            document = yaml
                ? YamlDocument.Parse(File.ReadAllText(file.FullName))
                : JsonDocument.Parse(File.ReadAllBytes(file.FullName), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new UsageException($"{file.Name} is not valid JSON: {e.Message} (name it .yaml or .yml to write it in YAML)");
        }
        catch (FormatException e)
        {
            throw new UsageException($"{file.Name} is not valid YAML: {e.Message}");
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new UsageException($"{file.Name} is not {(yaml ? "a YAML map" : "a JSON object")}.");
        }

        if (root.TryGetProperty("policy", out var policy) && policy.ValueKind == JsonValueKind.Object)
        {
            var named = root.TryGetProperty("service", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            if (service is not null && named is not null && !string.Equals(service, named, StringComparison.Ordinal))
            {
                document.Dispose();
                throw new UsageException($"{file.Name} is the policy of '{named}', not of '{service}'.");
            }

            var inner = JsonDocument.Parse(policy.GetRawText());
            document.Dispose();
            return (service ?? named ?? throw new UsageException($"{file.Name} names no service: add \"service\" to it or give --service."), inner);
        }

        if (service is null)
        {
            document.Dispose();
            throw new UsageException($"{file.Name} is a bare policy: give --service, or write it as {{ \"service\": \"…\", \"policy\": {{ … }} }}.");
        }

        return (service, document);
    }
}
