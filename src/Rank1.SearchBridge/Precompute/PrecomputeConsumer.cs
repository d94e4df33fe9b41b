using MassTransit;
using Microsoft.Extensions.Logging;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Precompute;

/// <summary>Consumes <see cref="PrecomputeReasoning"/> (the jobs of <c>rank1-bridge precompute</c>) from the workers' quorum queue, and announces each stored request.</summary>
internal sealed partial class PrecomputeConsumer(PrecomputeService service, ILogger<PrecomputeConsumer> logger) : IConsumer<PrecomputeReasoning>
{
    public Task Consume(ConsumeContext<PrecomputeReasoning> context) => RunAsync(service, logger, context, context.Message);

    /// <summary>
    /// Runs <paramref name="job"/> and answers its completion to the job's response address (the progress queue of the
    /// <c>rank1-bridge precompute --wait</c> run that sent it; published when it has none, as the proxy's jobs); an
    /// overloaded engine is logged and rethrown for the overload retry.
    /// </summary>
    internal static async Task RunAsync(PrecomputeService service, ILogger logger, ConsumeContext context, PrecomputeReasoning job)
    {
        PrecomputeReasoningCompleted done;
        try
        {
            done = await service.RunAsync(job, context.CancellationToken).ConfigureAwait(false);
        }
        catch (Rank1OverloadedException e)
        {
            LogOverloaded(logger, job.Query, e.Message);
            throw;
        }

        await context.RespondAsync(done).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "The engine is overloaded; '{Query}' waits and is tried again with back-off: {Reason}")]
    private static partial void LogOverloaded(ILogger logger, string query, string reason);
}

/// <summary>Consumes <see cref="PrecomputeHotQuery"/> (the proxy's hot-query jobs) from the workers' hot-query queue.</summary>
internal sealed class HotQueryConsumer(PrecomputeService service, ILogger<HotQueryConsumer> logger) : IConsumer<PrecomputeHotQuery>
{
    public Task Consume(ConsumeContext<PrecomputeHotQuery> context) => PrecomputeConsumer.RunAsync(service, logger, context, context.Message.Job);
}
