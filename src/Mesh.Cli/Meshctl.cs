using System.CommandLine;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary>
/// meshctl's entry: parses the command line, runs the verb against meshd and returns the exit code. Everything it
/// prints goes to the writers it is given and everything it reads of its environment comes from the dictionary, so a
/// test runs it in its own process exactly as a shell would.
/// </summary>
internal static class Meshctl
{
    /// <summary>The verb did what was asked (a check passed, a caller is allowed, a diff found no difference).</summary>
    public const int Ok = 0;

    /// <summary>A check failed, a caller is denied, a diff found differences, or meshd refused the request (a 4xx other than 401/403, or 5xx).</summary>
    public const int Failed = 1;

    /// <summary>The command line is wrong: an unknown verb or option, a missing argument, a file that cannot be read, no address.</summary>
    public const int Usage = 2;

    /// <summary>meshd cannot be reached, or it refused the token (401/403).</summary>
    public const int Unreachable = 3;

    /// <summary>Ctrl+C ended a verb that is not a live view (128 + SIGINT, as shells do).</summary>
    public const int Interrupted = 130;

    private const string Description = """
        meshctl: the command line of Mesh, over meshd's API.

        Context: --address/--token, else $MESH_ADDRESS/$MESH_TOKEN, else $XDG_CONFIG_HOME/mesh/meshctl.json
        ({ "address": "...", "token": "..." }, owner-only). Exit codes: 0 ok; 1 a check failed, a caller is denied, a diff
        differs, or meshd refused the request; 2 usage; 3 meshd unreachable or the token refused.
        """;

    public static async Task<int> RunAsync(
        string[] args,
        TextWriter output,
        TextWriter error,
        IReadOnlyDictionary<string, string?> environment,
        bool interactive = false,
        TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        var globals = new Globals();
        var root = new RootCommand(Description)
        {
            globals.Address,
            globals.Token,
            globals.Format,
            globals.Timeout,
        };

        root.HelpName = "meshctl";
        var run = new Runner(globals, output, error, environment, interactive, time ?? TimeProvider.System);
        GetCommands.Add(root, run);
        DescribeCommand.Add(root, run);
        PolicyCommands.Add(root, run);
        FleetCommands.Add(root, run);
        CheckCommand.Add(root, run);
        AuthzCommand.Add(root, run);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors)
            {
                await error.WriteLineAsync($"meshctl: {problem.Message}").ConfigureAwait(false);
            }

            await error.WriteLineAsync("Run 'meshctl --help' (or 'meshctl VERB --help') for usage.").ConfigureAwait(false);
            return Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The options every verb takes.</summary>
    internal sealed class Globals
    {
        public Option<string?> Address { get; } = new("--address", "-a")
        {
            Description = $"meshd's address, such as http://127.0.0.1:7070 (default: ${CliContext.AddressVariable}, then the config file).",
            Recursive = true,
        };

        public Option<string?> Token { get; } = new("--token")
        {
            Description = $"The bearer token: admin or read-only (default: ${CliContext.TokenVariable}, then the config file). Never printed.",
            Recursive = true,
        };

        public Option<string> Format { get; } = CreateFormat();

        public Option<double> Timeout { get; } = new("--timeout")
        {
            Description = "Seconds one request to meshd may take.",
            DefaultValueFactory = _ => 15,
            Recursive = true,
        };

        private static Option<string> CreateFormat()
        {
            var option = new Option<string>("--output", "-o")
            {
                Description = "How to print: table (for people), json or yaml (for scripts).",
                DefaultValueFactory = _ => Output.Table,
                Recursive = true,
            };
            option.AcceptOnlyFromAmong(Output.Table, Output.Json, Output.Yaml);
            return option;
        }
    }
}

/// <summary>What a verb's action is given: the writers, the output form, the clock and a client of meshd.</summary>
internal sealed class Invocation(TextWriter output, TextWriter error, string format, MeshdClient meshd, CliContext context, TimeProvider time, bool interactive)
{
    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    public string Format { get; } = format;

    public bool Table => Format == Output.Table;

    public MeshdClient Meshd { get; } = meshd;

    public CliContext Context { get; } = context;

    public TimeProvider Time { get; } = time;

    public bool Interactive { get; } = interactive;
}

/// <summary>Runs a verb: resolves the context, and turns what meshd answered into an exit code and a line on stderr.</summary>
internal sealed class Runner(Meshctl.Globals globals, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?> environment, bool interactive, TimeProvider time)
{
    public Meshctl.Globals Globals { get; } = globals;

    public void Action(Command command, Func<ParseResult, Invocation, CancellationToken, Task<int>> action) =>
        command.SetAction((parsed, cancellationToken) => RunAsync(parsed, action, cancellationToken));

    private async Task<int> RunAsync(ParseResult parsed, Func<ParseResult, Invocation, CancellationToken, Task<int>> action, CancellationToken cancellationToken)
    {
        try
        {
            var context = CliContext.Resolve(parsed.GetValue(Globals.Address), parsed.GetValue(Globals.Token), environment);
            var seconds = parsed.GetValue(Globals.Timeout);
            if (!(seconds > 0 && seconds <= 3600))
            {
                throw new UsageException("--timeout is a number of seconds above 0, at most 3600.");
            }

            using var meshd = context.Client(TimeSpan.FromSeconds(seconds));
            var invocation = new Invocation(output, error, parsed.GetValue(Globals.Format) ?? Output.Table, meshd, context, time, interactive);
            return await action(parsed, invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            await error.WriteLineAsync($"meshctl: {e.Message}").ConfigureAwait(false);
            return Meshctl.Usage;
        }
        catch (MeshdUnreachableException e)
        {
            await error.WriteLineAsync($"meshctl: {e.Message}").ConfigureAwait(false);
            return Meshctl.Unreachable;
        }
        catch (MeshdUnauthorizedException e)
        {
            await error.WriteLineAsync($"meshctl: {e.Message}").ConfigureAwait(false);
            await error.WriteLineAsync(e.IsForbidden
                ? "hint: the token may not do this (a read-only token writes nothing): use the admin token."
                : $"hint: meshd does not take the token: check --token, ${CliContext.TokenVariable} or the config file.").ConfigureAwait(false);
            return Meshctl.Unreachable;
        }
        catch (MeshdException e)
        {
            await error.WriteLineAsync($"meshctl: {e.Message}").ConfigureAwait(false);
            return Meshctl.Failed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Meshctl.Interrupted;
        }
    }
}
