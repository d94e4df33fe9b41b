using Microsoft.Extensions.Logging;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>What a command runs with: output streams, environment and logging (injected so tests drive the tool in-process).</summary>
internal sealed class CliContext
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    public required ILoggerFactory LoggerFactory { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    public string CurrentDirectory { get; init; } = Environment.CurrentDirectory;

    /// <summary>For commands that serve (proxy, search-server, demo): returns when the user presses Ctrl+C.</summary>
    public async Task ServeUntilCancelledAsync(CancellationToken cancellationToken)
    {
        await Out.FlushAsync(cancellationToken).ConfigureAwait(false);
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

/// <summary>One <c>rank1-bridge</c> sub-command.</summary>
internal abstract class CliCommand
{
    public abstract string Name { get; }

    public abstract string Summary { get; }

    public abstract IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>Runs the command; returns the process exit code.</summary>
    public abstract Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken);
}

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
