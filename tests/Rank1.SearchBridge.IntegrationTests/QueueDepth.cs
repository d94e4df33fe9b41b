using RabbitMQ.Client;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>What the broker says of a queue (a passive declare with the plain RabbitMQ client, as an operator's <c>rabbitmqctl list_queues</c>).</summary>
internal static class QueueDepth
{
    /// <summary>The ready messages and the consumers of <paramref name="queue"/>, which must exist.</summary>
    public static async Task<(uint Messages, uint Consumers)> ReadAsync(string url, string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var declared = await channel.QueueDeclarePassiveAsync(queue);
        return (declared.MessageCount, declared.ConsumerCount);
    }
}
