using MassTransit;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Messaging;

/// <summary>Publishes precompute requests to RabbitMQ and waits (up to <see cref="BrokerOptions.PublishTimeout"/>) for the broker to confirm them.</summary>
internal sealed class BrokerPrecomputePublisher(IPublishEndpoint publish, IOptions<BrokerOptions> options, TimeProvider time) : IPrecomputePublisher
{
    public async Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.Value.PublishTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        await publish.Publish(message, linked.Token).ConfigureAwait(false);
    }
}
