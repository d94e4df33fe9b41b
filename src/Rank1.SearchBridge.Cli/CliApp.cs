using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Commands;

namespace Rank1.SearchBridge.Cli;

/// <summary>The <c>rank1-bridge</c> tool: dispatches to a command and maps failures to one line and an exit code.</summary>
internal static class CliApp
{
    public static IReadOnlyList<CliCommand> Commands { get; } = [new DemoCommand(), new EvalCommand(), new InitCommand(), new PrecomputeCommand(), new ProxyCommand(), new RerankCommand(), new SearchServerCommand(), new SeedCommand(), new ServeCommand()];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context, CancellationToken cancellationToken)
    {
        if (args.Count == 0 || args[0] is "-h" or "--help" or "help")
        {
            await context.Out.WriteLineAsync(Overview()).ConfigureAwait(false);
            return args.Count == 0 ? ExitCodes.Usage : ExitCodes.Ok;
        }

        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            await context.Error.WriteLineAsync($"rank1-bridge: unknown command '{args[0]}' (commands: {string.Join(", ", Commands.Select(c => c.Name))}; see rank1-bridge --help)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var rest = args.Skip(1).ToArray();
        if (rest is ["-h" or "--help"])
        {
            await context.Out.WriteLineAsync(ArgParser.Usage(command.Name, command.Summary, command.Options)).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        try
        {
            var parsed = ArgParser.Parse(rest, command.Options);
            return await command.ExecuteAsync(parsed, context, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException ex)
        {
            await context.Error.WriteLineAsync($"rank1-bridge {command.Name}: {ex.Message} (see rank1-bridge {command.Name} --help)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (ModelLoadException ex)
        {
            await context.Error.WriteLineAsync($"rank1-bridge {command.Name}: model: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ExitCodes.BadModel;
        }
        catch (AcceleratorUnavailableException ex)
        {
            await context.Error.WriteLineAsync($"rank1-bridge {command.Name}: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ExitCodes.NoAccelerator;
        }
        catch (CliException ex)
        {
            await context.Error.WriteLineAsync($"rank1-bridge {command.Name}: {OneLine(ex.Message)}").ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await context.Error.WriteLineAsync($"rank1-bridge {command.Name}: cancelled").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");

    private static string Overview() =>
        "rank1-bridge: Rank1 reasoning reranking in front of Elasticsearch / OpenSearch\n\ncommands:\n" +
        string.Join('\n', Commands.Select(c => $"  {c.Name,-10} {c.Summary}")) +
        "\n\nrank1-bridge COMMAND --help shows a command's options.";
}
