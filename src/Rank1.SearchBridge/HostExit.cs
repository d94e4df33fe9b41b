using Rank1.Inference;

namespace Rank1.SearchBridge;

/// <summary>How the Proxy and Worker hosts end: a start-up refusal the operator must act on gets its own exit code.</summary>
public static class HostExit
{
    /// <summary>
    /// Runs the host. When the start fails because <see cref="Rank1EngineOptions.RequireAccelerator"/> is set and no GPU
    /// provider can run the model, writes the reason to <paramref name="error"/> and returns
    /// <see cref="AcceleratorUnavailableException.ExitCode"/>; other failures propagate as before.
    /// </summary>
    public static async Task<int> RunAsync(Func<Task> run, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            await run().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (Find(ex) is { } refused)
        {
            await error.WriteLineAsync($"rank1: {refused.Message}").ConfigureAwait(false);
            return AcceleratorUnavailableException.ExitCode;
        }
    }

    // The host may hand the hosted service's exception back as it is or inside an AggregateException.
    private static AcceleratorUnavailableException? Find(Exception? ex) => ex switch
    {
        null => null,
        AcceleratorUnavailableException a => a,
        AggregateException agg => agg.InnerExceptions.Select(Find).FirstOrDefault(a => a is not null),
        _ => Find(ex.InnerException),
    };
}
