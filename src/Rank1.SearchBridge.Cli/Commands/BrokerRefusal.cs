using MassTransit;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// Watches a bus while it connects for RabbitMQ refusing the connection (a login refused, a vhost that does not
/// exist): MassTransit retries those like a broker that is not up yet, so without this the tool would wait its whole
/// <c>--connect-timeout</c> for an answer the broker has already given. Also says, in RabbitMQ's words, why a
/// connection failed.
/// </summary>
internal sealed class BrokerRefusal(CancellationTokenSource connect) : IReceiveEndpointObserver
{
    // Written on MassTransit's threads, read on the command's.
    private Exception? _refused;
    private Exception? _last;

    /// <summary>The refusal seen, once there is one.</summary>
    public Exception? Refused => Volatile.Read(ref _refused);

    /// <summary>
    /// Why <paramref name="failure"/> happened, as RabbitMQ said it (<c>ACCESS_REFUSED - Login was refused ...</c>,
    /// <c>NOT_ALLOWED - vhost novhost not found</c>) when it did, else the innermost exception's message.
    /// </summary>
    public static string Cause(Exception failure)
    {
        var innermost = failure;
        foreach (var e in Chain(failure))
        {
            if (e is OperationInterruptedException { ShutdownReason: { Initiator: ShutdownInitiator.Peer } reason })
            {
                return reason.ReplyText;
            }

            innermost = e;
        }

        return innermost.Message;
    }

    /// <summary>True when RabbitMQ refused the login or the vhost: no retry can succeed.</summary>
    public static bool IsRefusal(Exception failure) => Chain(failure).Any(e => e is AuthenticationFailureException
        || e is OperationInterruptedException { ShutdownReason: { Initiator: ShutdownInitiator.Peer, ReplyCode: Constants.AccessRefused or Constants.NotAllowed } });

    /// <summary>The latest failure to connect, refused or not (a broker not listening yet), once there is one.</summary>
    public Exception? Last => Volatile.Read(ref _last);

    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        if (faulted.Exception is { } e)
        {
            Volatile.Write(ref _last, e);
            if (IsRefusal(e) && Interlocked.CompareExchange(ref _refused, e, null) is null)
            {
                connect.Cancel();
            }
        }

        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready) => Task.CompletedTask;

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    private static IEnumerable<Exception> Chain(Exception failure)
    {
        for (Exception? e = failure; e is not null; e = e is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[0] : e.InnerException)
        {
            yield return e;
        }
    }
}
