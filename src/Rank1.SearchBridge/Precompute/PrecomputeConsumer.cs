using MassTransit;
using Microsoft.Extensions.Logging;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Precompute;

/// <summary>Consumes <see cref="PrecomputeReasoning"/> from the workers' quorum queue, and announces each stored request.</summary>
internal sealed partial class PrecomputeConsumer(PrecomputeService service, ILogger<PrecomputeConsumer> logger) : IConsumer<PrecomputeReasoning>
{
    public async Task Consume(ConsumeContext<PrecomputeReasoning> context)
    {
        PrecomputeReasoningCompleted done;
        try
        {
            done = await service.RunAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        }
        catch (Rank1OverloadedException e)
        {
            LogOverloaded(logger, context.Message.Query, e.Message);
            throw;
        }

        await context.Publish(done, context.CancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "The engine is overloaded; '{Query}' waits and is tried again with back-off: {Reason}")]
    private static partial void LogOverloaded(ILogger logger, string query, string reason);
}
