using MassTransit;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Precompute;

/// <summary>Consumes <see cref="PrecomputeReasoning"/> from the workers' quorum queue, and announces each stored request.</summary>
internal sealed class PrecomputeConsumer(PrecomputeService service) : IConsumer<PrecomputeReasoning>
{
    public async Task Consume(ConsumeContext<PrecomputeReasoning> context)
    {
        var done = await service.RunAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        await context.Publish(done, context.CancellationToken).ConfigureAwait(false);
    }
}
