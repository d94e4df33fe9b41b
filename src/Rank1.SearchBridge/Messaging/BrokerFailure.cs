using System.Security.Authentication;
using System.Text.RegularExpressions;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Rank1.SearchBridge.Messaging;

/// <summary>
/// Why a connection to the broker failed, in words an operator can act on: RabbitMQ's own reply when it refused
/// (<c>ACCESS_REFUSED - Login was refused ...</c>, <c>NOT_ALLOWED - vhost novhost not found</c>), the likely cause when
/// TLS and the port disagree, else the innermost exception's message (<c>Connection refused</c>). One home for the
/// worker's health and the <c>precompute</c> command's error.
/// </summary>
public static partial class BrokerFailure
{
    /// <summary>The cause of <paramref name="failure"/>, a connection to <paramref name="address"/> (null: no TLS hint).</summary>
    public static string Cause(Exception failure, BrokerAddress? address)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var innermost = failure;
        foreach (var e in Chain(failure))
        {
            if (e is OperationInterruptedException { ShutdownReason: { Initiator: ShutdownInitiator.Peer } reason })
            {
                // A refusal seen on a connection already closed by it comes back wrapped: "Connection is already closed:
                // AMQP close-reason, initiated by Peer, code=530, text='NOT_ALLOWED - vhost x not found', ...".
                return Reply(reason);
            }

            innermost = e;
        }

        if (address is { Tls: true } && Chain(failure).Any(e => e is AuthenticationException))
        {
            // SslStream reading an AMQP server's plain reply: "Cannot determine the frame size or a corrupted frame was received."
            return $"the TLS handshake with {address.Host}:{address.Port} failed ({innermost.Message}): the URL is amqps://, and the port may be a plain AMQP one (RabbitMQ's default is 5672 for amqp://, 5671 for amqps://)";
        }

        if (address is { Tls: false } && Chain(failure).Any(e => e is EndOfStreamException) && Chain(failure).Any(e => e is IOException { Message: var m } && m.Contains("connection.start", StringComparison.Ordinal)))
        {
            // RabbitMQ.Client's "connection.start was never received, likely due to a network timeout": the server closed
            // the connection instead of answering the AMQP header, as a TLS listener does.
            return $"{address.Host}:{address.Port} closed the connection without starting AMQP (connection.start was never received): the URL is amqp://, and the port may take TLS only (use amqps://; RabbitMQ's default TLS port is 5671)";
        }

        return innermost.Message;
    }

    /// <summary>
    /// True when the failure names no cause but RabbitMQ.Client's own teardown: an <see cref="ObjectDisposedException"/>
    /// ("Cannot access a disposed object", a SemaphoreSlim) with no reply of the broker in the chain. RabbitMQ.Client 7
    /// throws it from a connection's open when the broker closes the connection (a vhost not found) while the open
    /// still waits on it, in place of the broker's reply (rabbitmq-dotnet-client #1749, #1760); the next attempt names
    /// the reply.
    /// </summary>
    public static bool IsTeardownArtefact(Exception failure)
    {
        var disposed = false;
        foreach (var e in Chain(failure))
        {
            if (e is OperationInterruptedException { ShutdownReason.Initiator: ShutdownInitiator.Peer } or AuthenticationFailureException)
            {
                return false; // the broker's reply (or a refused login) is in the chain: that is the cause
            }

            disposed |= e is ObjectDisposedException;
        }

        return disposed;
    }

    /// <summary>True when RabbitMQ refused the login or the vhost: no retry can succeed.</summary>
    public static bool IsRefusal(Exception failure) => IsLoginRefused(failure)
        || Chain(failure).Any(e => e is OperationInterruptedException { ShutdownReason: { Initiator: ShutdownInitiator.Peer, ReplyCode: Constants.AccessRefused or Constants.NotAllowed } });

    /// <summary>
    /// True when RabbitMQ refused the login (RabbitMQ.Client's <see cref="AuthenticationFailureException"/>): the one
    /// connection failure MassTransit never tries again (RabbitMqConnectionException.IsExceptionTransient). A vhost not
    /// found is tried again.
    /// </summary>
    public static bool IsLoginRefused(Exception failure) => Chain(failure).Any(e => e is AuthenticationFailureException);

    /// <summary>
    /// What an operator reads after RabbitMQ's refusal of a queue declared before with other arguments (an operator's
    /// classic queue where the product declares a quorum one, <see cref="IsPreconditionFailed"/>), the same wherever it is
    /// met (the worker, the proxy, the precompute tool): <paramref name="declarers"/> (<c>the workers and the proxy
    /// declare</c>) and the queue, then what the topology is (Rank1Broker) and what to do.
    /// </summary>
    public static string DeclaredBefore(string declarers, string queue) =>
        $"{declarers} {queue} as a durable quorum queue behind a durable fanout exchange of that name, and RabbitMQ keeps what was declared first; " +
        "delete what it names (its messages moved out first) or declare it so";

    /// <summary>
    /// True when RabbitMQ refused a declaration as inequivalent to what is there (<c>PRECONDITION_FAILED - inequivalent
    /// arg ...</c>, rabbit_misc:assert_args_equivalence): no retry can succeed. Not any other 406 that closes a channel,
    /// such as a consumer's <c>delivery acknowledgement on channel N timed out</c> or an <c>unknown delivery tag</c>.
    /// </summary>
    public static bool IsPreconditionFailed(Exception failure) => Chain(failure).Any(e => e is OperationInterruptedException { ShutdownReason: { Initiator: ShutdownInitiator.Peer, ReplyCode: Constants.PreconditionFailed } reason }
        && Reply(reason).StartsWith("PRECONDITION_FAILED - inequivalent arg ", StringComparison.Ordinal));

    private static string Reply(ShutdownEventArgs reason) => WrappedReply().Match(reason.ReplyText) is { Success: true } wrapped ? wrapped.Groups[1].Value : reason.ReplyText;

    [GeneratedRegex("initiated by Peer, code=[0-9]+, text='([^']*)'")]
    private static partial Regex WrappedReply();

    private static IEnumerable<Exception> Chain(Exception failure)
    {
        for (Exception? e = failure; e is not null; e = e is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[0] : e.InnerException)
        {
            yield return e;
        }
    }
}
