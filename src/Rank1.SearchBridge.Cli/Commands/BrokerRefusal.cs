using MassTransit;
using Rank1.SearchBridge.Messaging;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// Watches a bus while it connects for RabbitMQ refusing the connection (a login refused, a vhost that does not
/// exist): MassTransit retries those like a broker that is not up yet, so without this the tool would wait its whole
/// <c>--connect-timeout</c> for an answer the broker has already given. Keeps the latest failure, which
/// <see cref="BrokerFailure.Cause"/> puts in words.
/// </summary>
internal sealed class BrokerRefusal(CancellationTokenSource connect) : IReceiveEndpointObserver
{
    // Written on MassTransit's threads, read on the command's.
    private Exception? _refused;
    private Exception? _last;

    /// <summary>The refusal seen, once there is one.</summary>
    public Exception? Refused => Volatile.Read(ref _refused);

    /// <summary>The latest failure to connect, refused or not (a broker not listening yet), once there is one.</summary>
    public Exception? Last => Volatile.Read(ref _last);

    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        if (faulted.Exception is { } e)
        {
            Volatile.Write(ref _last, e);
            if (BrokerFailure.IsRefusal(e) && Interlocked.CompareExchange(ref _refused, e, null) is null)
            {
                connect.Cancel();
            }
        }

        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready) => Task.CompletedTask;

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;
}
