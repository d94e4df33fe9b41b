using MassTransit;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Messaging;

/// <summary>
/// The RabbitMQ topology, defined once for every party. A job goes to its deployment's queue and to no other:
/// <see cref="PrecomputeReasoning"/> is published to the exchange named after <see cref="BrokerOptions.Queue"/> (the
/// exchange MassTransit puts in front of every receive endpoint's queue), which publishers bind to that durable quorum
/// queue, and <see cref="PrecomputeHotQuery"/> likewise through <see cref="BrokerOptions.HotQueue"/>. A request published
/// before any worker ever started waits in its queue instead of being dropped by an exchange with no bindings, and two
/// deployments with different queues on one vhost never see each other's jobs. Publishes wait for the broker's confirmation.
/// </summary>
/// <remarks>
/// Not a <c>queue:NAME</c> send endpoint: MassTransit 8 declares that queue without <c>x-queue-type</c>, which RabbitMQ
/// refuses for a quorum queue (PRECONDITION_FAILED, MassTransit issues 2709 and 5827), and an <c>exchange:NAME</c> one
/// declares no queue, so a job sent before the first worker would be dropped. The publish topology declares both, the
/// queue as quorum.
/// </remarks>
public static class Rank1Broker
{
    /// <summary>Connects to the broker of <paramref name="options"/> and declares the shared topology.</summary>
    public static void Configure(IRabbitMqBusFactoryConfigurator cfg, BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        ArgumentNullException.ThrowIfNull(options);
        var error = BrokerAddress.TryParse(options.Url ?? string.Empty, out var address);
        if (address is null)
        {
            throw new ArgumentException($"{BrokerOptions.SectionName}:Url {error}", nameof(options));
        }

        cfg.Host(address.Host, (ushort)address.Port, address.VirtualHost, h =>
        {
            h.Username(address.User);
            h.Password(address.Password);
            h.PublisherConfirmation = true;
            h.RequestedConnectionTimeout(TimeSpan.FromSeconds(10));
            if (address.Tls)
            {
                h.UseSsl(s => s.ServerName = address.Host);
            }
        });

        // The message's exchange is the queue's own (fanout, declared alike by the worker's receive endpoint), bound to
        // that queue only; the workers' endpoints bind no message exchange (ConfigureConsumeTopology = false).
        cfg.Message<PrecomputeReasoning>(m => m.SetEntityName(options.Queue));
        cfg.Publish<PrecomputeReasoning>(p => p.BindQueue(options.Queue, options.Queue, q => q.SetQuorumQueue()));
        cfg.Message<PrecomputeHotQuery>(m => m.SetEntityName(options.HotQueue));
        cfg.Publish<PrecomputeHotQuery>(p => p.BindQueue(options.HotQueue, options.HotQueue, q => q.SetQuorumQueue()));
    }
}
