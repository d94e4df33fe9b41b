using MassTransit;

namespace Rank1.SearchBridge.Messaging;

/// <summary>
/// Watches the publishes for RabbitMQ refusing the declaration of the workers' queue or its exchange as inequivalent to
/// what is there (<c>PRECONDITION_FAILED - inequivalent arg 'x-queue-type'</c>: a classic queue of that name).
/// MassTransit tries such a publish again until it is cancelled (the <c>precompute</c> command hung without a word, the
/// proxy waited out its <see cref="BrokerOptions.PublishTimeout"/> for each hot query); this cancels the publishing
/// at the first refusal instead, keeping it for the error.
/// </summary>
/// <param name="publishing">Cancelled at the first refusal.</param>
/// <param name="message">The one message whose publish is watched (the proxy's: one observer per publish); null: any.</param>
public sealed class DeclarationRefusal(CancellationTokenSource publishing, object? message = null) : IPublishObserver
{
    private Exception? _refused;

    /// <summary>The refusal seen, once there is one.</summary>
    public Exception? Refused => Volatile.Read(ref _refused);

    /// <inheritdoc />
    public Task PublishFault<T>(PublishContext<T> context, Exception exception)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        if ((message is null || ReferenceEquals(context.Message, message)) && BrokerFailure.IsPreconditionFailed(exception)
            && Interlocked.CompareExchange(ref _refused, exception, null) is null)
        {
            try
            {
                publishing.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The publish it watched has ended (and its source with it): nothing is left to stop.
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task PrePublish<T>(PublishContext<T> context)
        where T : class => Task.CompletedTask;

    /// <inheritdoc />
    public Task PostPublish<T>(PublishContext<T> context)
        where T : class => Task.CompletedTask;
}
