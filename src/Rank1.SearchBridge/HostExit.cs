using Microsoft.Extensions.Options;
using Rank1.Inference;

namespace Rank1.SearchBridge;

/// <summary>
/// How a host that fails ends: one line saying why and an exit code the operator can act on, never an unhandled
/// exception (the runtime aborted the Proxy and Worker hosts with SIGABRT, exit 134, and a stack trace). A failure it
/// cannot classify, a defect, is written with its stack trace after that line. <c>rank1-bridge</c>'s in-process hosts
/// read the same classification. With standard error closed the line is left unsaid and the exit code is the same.
/// </summary>
public static class HostExit
{
    /// <summary>Anything else: a failure at start (an address in use) or while running.</summary>
    public const int Failure = 1;

    /// <summary>Bad configuration: a key that is not a setting, a value out of range, a missing required setting.</summary>
    public const int BadConfiguration = 2;

    /// <summary>The model folder cannot be loaded.</summary>
    public const int BadModel = 3;

    /// <summary>Runs the host; a failure is written to <paramref name="error"/> as one line, <c>rank1: reason</c>, and its exit code returned.</summary>
    public static async Task<int> RunAsync(Func<Task> run, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            await run().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (Classify(ex) is { } known)
            {
                await SayAsync(error, $"rank1: {known.Message.ReplaceLineEndings(" ")}").ConfigureAwait(false);
                return known.Code;
            }

            // Not a setting or a model to fix: a defect, whose stack trace is all there is to go on (a host that failed
            // while being built has no log yet).
            await SayAsync(error, $"rank1: {ex.GetBaseException().Message.ReplaceLineEndings(" ")}{Environment.NewLine}{ex}").ConfigureAwait(false);
            return Failure;
        }
    }

    // A standard error that cannot be written (closed: 2>&-) leaves the reason unsaid, as there is nowhere to say it, and
    // the exit code still says what kind of failure it was; the write threw, and the host aborted (exit 134).
    private static async Task SayAsync(TextWriter error, string text)
    {
        try
        {
            await error.WriteLineAsync(text).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// The exit code and one-line reason of a host that failed to start for a reason the operator must fix, or null for
    /// any other failure. The host may hand a hosted service's exception back as it is or inside an <see cref="AggregateException"/>.
    /// </summary>
    public static (int Code, string Message)? Classify(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (Find<AcceleratorUnavailableException>(ex) is { } refused)
        {
            return (AcceleratorUnavailableException.ExitCode, refused.Message);
        }

        if (Find<Precompute.BrokerGaveUpException>(ex) is { } broker)
        {
            return (Failure, broker.Message);
        }

        if (Find<ModelLoadException>(ex) is { } model)
        {
            return (BadModel, $"model: {model.Message}");
        }

        var options = ex is AggregateException aggregate && aggregate.InnerExceptions.All(e => e is OptionsValidationException)
            ? aggregate.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures).ToArray()
            : Find<OptionsValidationException>(ex)?.Failures.ToArray();
        if (options is { Length: > 0 })
        {
            // Several sections may fail at once (for example a moved key and the then missing new one).
            return (BadConfiguration, $"bad configuration: {string.Join("; ", options)}");
        }

        return ex switch
        {
            // Kestrel's "Failed to bind to address http://127.0.0.1:8080: address already in use."
            IOException io => (Failure, io.Message),
            InvalidOperationException invalid when invalid.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase) => (BadConfiguration, $"bad configuration: {invalid.Message}"),
            _ => null,
        };
    }

    private static T? Find<T>(Exception? ex)
        where T : Exception => ex switch
        {
            null => null,
            T found => found,
            AggregateException agg => agg.InnerExceptions.Select(Find<T>).FirstOrDefault(a => a is not null),
            _ => Find<T>(ex.InnerException),
        };
}
