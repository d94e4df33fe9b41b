using MassTransit;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Messaging;

/// <summary>Publishes precompute requests to RabbitMQ (hot-query jobs to the hot-query queue) and waits (up to <see cref="BrokerOptions.PublishTimeout"/>) for the broker to confirm them.</summary>
internal sealed class BrokerPrecomputePublisher(IPublishEndpoint publish, IOptions<BrokerOptions> options, TimeProvider time) : IPrecomputePublisher
{
    public async Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.Value.PublishTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        if (message.Reason == PrecomputeReasoning.HotQuery)
        {
            await publish.Publish(new PrecomputeHotQuery(message), linked.Token).ConfigureAwait(false);
        }
        else
        {
            await publish.Publish(message, linked.Token).ConfigureAwait(false);
        }
    }
}
