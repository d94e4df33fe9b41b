using MassTransit;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Messaging;

/// <summary>
/// The RabbitMQ topology, defined once for every party. <see cref="PrecomputeReasoning"/> is published to its message
/// exchange, which is bound (by publishers too, not only by the worker) to the workers' exchange and durable quorum
/// queue: a request published before any worker ever started waits in the queue instead of being dropped by an
/// exchange with no bindings. Hot-query jobs (<see cref="PrecomputeHotQuery"/>) take the same route to a queue of their
/// own, <see cref="BrokerOptions.HotQueue"/>. Publishes wait for the broker's confirmation.
/// </summary>
public static class Rank1Broker
{
    /// <summary>The exchange <see cref="PrecomputeReasoning"/> is published to.</summary>
    public const string PrecomputeExchange = "Rank1.SearchBridge.Messages:PrecomputeReasoning";

    /// <summary>The exchange <see cref="PrecomputeHotQuery"/> is published to.</summary>
    public const string HotQueryExchange = "Rank1.SearchBridge.Messages:PrecomputeHotQuery";

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

        // The message exchange routes straight to the workers' queue as well as through the worker's own exchange
        // (which exists only once a worker has started); RabbitMQ delivers one copy per queue however many routes lead there.
        cfg.Message<PrecomputeReasoning>(m => m.SetEntityName(PrecomputeExchange));
        cfg.Publish<PrecomputeReasoning>(p => p.BindQueue(PrecomputeExchange, options.Queue, q => q.SetQuorumQueue()));
        cfg.Message<PrecomputeHotQuery>(m => m.SetEntityName(HotQueryExchange));
        cfg.Publish<PrecomputeHotQuery>(p => p.BindQueue(HotQueryExchange, options.HotQueue, q => q.SetQuorumQueue()));
    }
}
