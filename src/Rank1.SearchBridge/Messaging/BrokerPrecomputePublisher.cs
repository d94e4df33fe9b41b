using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Messaging;

/// <summary>
/// Publishes precompute requests to RabbitMQ (hot-query jobs to the hot-query queue) and waits (up to
/// <see cref="BrokerOptions.PublishTimeout"/>) for the broker to confirm them. A queue RabbitMQ will not declare as the
/// workers do (an operator's classic queue of that name: <c>PRECONDITION_FAILED - inequivalent arg 'x-queue-type'</c>)
/// fails the publish at the broker's first refusal (<see cref="DeclarationRefusal"/>), not after the timeout (each
/// retry refused alike): the refusal is logged once, in RabbitMQ's words (event 2203), and shown in the proxy's health until a
/// publish goes through again (event 2204).
/// </summary>
internal sealed partial class BrokerPrecomputePublisher(IBus bus, IOptions<BrokerOptions> options, TimeProvider time, ILogger<BrokerPrecomputePublisher> logger) : IPrecomputePublisher
{
    private string? _refused;

    /// <summary>RabbitMQ's refusal of the latest publish's declaration, with what to do; null once a publish went through.</summary>
    public string? Refused => Volatile.Read(ref _refused);

    public async Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.Value.PublishTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var hot = message.Reason == PrecomputeReasoning.HotQuery;
        object sent = hot ? new PrecomputeHotQuery(message) : message;
        var declaration = new DeclarationRefusal(linked, sent);
        using (bus.ConnectPublishObserver(declaration))
        {
            try
            {
                await (sent is PrecomputeHotQuery job ? bus.Publish(job, linked.Token) : bus.Publish(message, linked.Token)).ConfigureAwait(false);
            }
            // MassTransit, cancelled while it retries, throws the refusal itself (or a cancellation).
            catch (Exception) when (declaration.Refused is { } refusal && !cancellationToken.IsCancellationRequested)
            {
                var queue = hot ? options.Value.HotQueue : options.Value.Queue;
                var refused = $"{BrokerFailure.Cause(refusal, null)}: {BrokerFailure.DeclaredBefore("the workers and the proxy declare", queue)}";
                if (Interlocked.Exchange(ref _refused, refused) != refused)
                {
                    LogRefused(logger, BrokerAddress.Parsed(options.Value.Url)?.Endpoint ?? string.Empty, refused);
                }

                throw new PublishRefusedException(refused, refusal);
            }
        }

        if (Interlocked.Exchange(ref _refused, null) is not null)
        {
            LogAccepted(logger);
        }
    }

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "The broker at {Broker} refuses the proxy's declaration of the workers' queue, so no precompute job reaches the workers until it is declared as they declare it: {Cause}")]
    private static partial void LogRefused(ILogger logger, string broker, string cause);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Information, Message = "The broker takes the proxy's precompute jobs again")]
    private static partial void LogAccepted(ILogger logger);
}

/// <summary>A publish RabbitMQ refused at once, as it will again until an operator changes what it names (<see cref="BrokerPrecomputePublisher"/>); its message is the refusal and what to do, already logged.</summary>
internal sealed class PublishRefusedException(string refused, Exception inner) : Exception(refused, inner);
