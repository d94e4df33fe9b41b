using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// What a command runs with: output streams, environment and logging (injected so tests drive the tool in-process). Paths
/// are the process's own: a relative one (an input file, <c>--run-out</c>, the folder the test model is looked for from)
/// is relative to its current directory, and messages name it as typed.
/// </summary>
internal sealed class CliContext
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    public required ILoggerFactory LoggerFactory { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>
    /// For commands that serve (proxy, search-server, demo): returns when the user presses Ctrl+C, also when that came
    /// before this call (right after the "listening on" line): the flush of what was printed is not cancelled by it.
    /// </summary>
    public async Task ServeUntilCancelledAsync(CancellationToken cancellationToken)
    {
        await Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await Out.WriteLineAsync("Stopping.").ConfigureAwait(false);
        }
    }
}

/// <summary>
/// One <c>rank1-bridge</c> sub-command: its System.CommandLine options (typed, validated while parsing) and what it
/// runs with the parse result. A fresh instance per run, since an option belongs to the command it is added to.
/// </summary>
internal abstract class CliCommand
{
    public abstract string Name { get; }

    public abstract string Summary { get; }

    /// <summary>The command's options, in the order <c>--help</c> lists them.</summary>
    public abstract IReadOnlyList<Option> Options { get; }

    /// <summary>Runs the command on a parse result without errors; returns the process exit code.</summary>
    public abstract Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken);

    /// <summary>The System.CommandLine command, whose action runs <see cref="ExecuteAsync"/>.</summary>
    public Command ToCommand(CliContext context)
    {
        var command = new Command(Name, Summary);
        foreach (var option in Options)
        {
            command.Options.Add(option);
        }

        command.SetAction((args, cancellationToken) => ExecuteAsync(args, context, cancellationToken));
        return command;
    }
}

/// <summary>A bad command line that only the command can see (two options that do not go together): one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Exit codes of <c>rank1-bridge</c>.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int BadModel = 3;
    public const int BadInput = 4;
    public const int NoAccelerator = Rank1.Inference.AcceleratorUnavailableException.ExitCode;
    public const int Cancelled = 130;
}

/// <summary>A failure with a one-line message and an exit code (bad input file, unreachable service, ...).</summary>
internal sealed class CliException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
