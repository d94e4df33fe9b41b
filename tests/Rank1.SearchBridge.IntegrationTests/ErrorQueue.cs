using System.Text;
using RabbitMQ.Client;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>Reads (without consuming) the messages of an error queue with the plain RabbitMQ client, as an operator would inspect it; a queue not yet declared is empty.</summary>
internal static class ErrorQueue
{
    public sealed record Entry(string Reason, string ExceptionType, string Body);

    public static async Task<IReadOnlyList<Entry>> ReadAsync(string url, string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var entries = new List<Entry>();
        try
        {
            while (await channel.BasicGetAsync(queue, autoAck: false) is { } message)
            {
                var headers = message.BasicProperties.Headers ?? new Dictionary<string, object?>();
                entries.Add(new Entry(Header(headers, "MT-Fault-Message"), Header(headers, "MT-Fault-ExceptionType"), Encoding.UTF8.GetString(message.Body.Span)));
            }
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404 && entries.Count == 0)
        {
            // MassTransit declares an error queue with its first fault: one never declared has no messages.
        }

        // Not acknowledged: closing the channel returns them to the queue.
        return entries;
    }

    /// <summary>
    /// <see cref="ReadAsync"/> inside a wait for the first fault: a queue MassTransit is declaring at that moment answers
    /// 541 <c>noproc</c> (its queue process is not up yet) and counts as nothing to read yet, so the wait goes on. Not for
    /// a test's final reading, where that answer fails the test.
    /// </summary>
    public static async Task<IReadOnlyList<Entry>> PollAsync(string url, string queue)
    {
        try
        {
            return await ReadAsync(url, queue);
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 541 && e.Message.Contains("noproc", StringComparison.Ordinal))
        {
            return [];
        }
    }

    private static string Header(IDictionary<string, object?> headers, string name) =>
        headers.TryGetValue(name, out var v) ? v switch { byte[] b => Encoding.UTF8.GetString(b), null => string.Empty, _ => v.ToString() ?? string.Empty } : string.Empty;
}
