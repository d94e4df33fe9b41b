using System.CommandLine;
using System.CommandLine.Help;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Commands;

namespace Rank1.SearchBridge.Cli;

/// <summary>
/// The <c>rank1-bridge</c> tool: parses the command line with System.CommandLine, runs the command's action, and maps
/// failures to one line and an exit code. Parse errors are one line and exit code 2 (not System.CommandLine's
/// error-and-help with 1), as the README documents.
/// </summary>
internal static class CliApp
{
    public const string Name = "rank1-bridge";

    /// <summary>The commands, fresh for each run (their options belong to the command they are added to).</summary>
    public static IReadOnlyList<CliCommand> CreateCommands() =>
        [new DemoCommand(), new EvalCommand(), new InitCommand(), new PrecomputeCommand(), new ProxyCommand(), new RerankCommand(), new SearchServerCommand(), new SeedCommand(), new ServeCommand()];

    /// <summary>The root command with every command under it; <c>--help</c> works at the root and on each command.</summary>
    public static Command CreateRootCommand(CliContext context)
    {
        // A plain Command rather than RootCommand: RootCommand names itself after the running executable (the test
        // host, in-process), and its --version and [suggest] directive are not part of this tool.
        var root = new Command(Name, "Rank1 reasoning reranking in front of Elasticsearch / OpenSearch.") { new HelpOption() };
        foreach (var command in CreateCommands())
        {
            root.Subcommands.Add(command.ToCommand(context));
        }

        return root;
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context, CancellationToken cancellationToken)
    {
        var root = CreateRootCommand(context);
        // Response files (@file) are off: an argument that starts with @ is a value like any other.
        var parse = root.Parse(args is [] or ["help"] ? ["--help"] : args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var invocation = new InvocationConfiguration
        {
            Output = context.Out,
            Error = context.Error,
            // Program.cs turns Ctrl+C and SIGTERM into the cancellation token; the commands drain and exit on it.
            ProcessTerminationTimeout = null,
            // Failures are mapped to exit codes below.
            EnableDefaultExceptionHandler = false,
        };
        // Who says a failure: the command, or the tool itself (its --help, a bad first argument).
        var who = parse.CommandResult.Command == root ? Name : $"{Name} {parse.CommandResult.Command.Name}";
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            await context.Error.WriteLineAsync($"{who}: {string.Join("; ", parse.Errors.Select(e => e.Message.TrimEnd('.')))} (see {who} --help)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        try
        {
            var code = await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
            // Bare rank1-bridge shows the overview, but a missing command is still a usage error.
            return args.Count == 0 ? ExitCodes.Usage : code;
        }
        catch (UsageException ex)
        {
            await context.Error.WriteLineAsync($"{who}: {OneLine(ex.Message)} (see {who} --help)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (ModelLoadException ex)
        {
            await context.Error.WriteLineAsync($"{who}: model: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ExitCodes.BadModel;
        }
        catch (AcceleratorUnavailableException ex)
        {
            await context.Error.WriteLineAsync($"{who}: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ExitCodes.NoAccelerator;
        }
        catch (CliException ex)
        {
            await context.Error.WriteLineAsync($"{who}: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (UnauthorizedAccessException ex)
        {
            // A file or folder the command may not read or write (permissions): the commands name their inputs
            // themselves; this is the one line for any other, an output folder included (.NET's message names the path).
            await context.Error.WriteLineAsync($"{who}: permission denied: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (IOException ex)
        {
            // What the commands do not name themselves: chiefly output that cannot be written (standard output redirected
            // to a full disk, or closed: StandardStreams names it), which was an unhandled stack trace and exit 134.
            await context.Error.WriteLineAsync($"{who}: I/O error: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await context.Error.WriteLineAsync($"{who}: cancelled").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
    }

    /// <summary>A message on one line, its control characters (an id's escape sequence) shown as U+FFFD.</summary>
    private static string OneLine(string message) => ConsoleText.Visible(message.ReplaceLineEndings(" "));
}
