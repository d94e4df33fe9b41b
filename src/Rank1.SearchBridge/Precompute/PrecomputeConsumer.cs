using MassTransit;
using Microsoft.Extensions.Logging;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Precompute;

/// <summary>Consumes <see cref="PrecomputeReasoning"/> (the jobs of <c>rank1-bridge precompute</c>) from the workers' quorum queue, and announces each stored request.</summary>
internal sealed partial class PrecomputeConsumer(PrecomputeService service, Rank1Metrics metrics, ILogger<PrecomputeConsumer> logger) : IConsumer<PrecomputeReasoning>
{
    public Task Consume(ConsumeContext<PrecomputeReasoning> context) => RunAsync(service, metrics, logger, context, context.Message, "offline");

    /// <summary>
    /// Runs <paramref name="job"/> and answers its completion to the job's response address (the progress queue of the
    /// <c>rank1-bridge precompute --wait</c> run that sent it; published when it has none, as the proxy's jobs); an
    /// overloaded engine is logged and rethrown for the overload retry. Each attempt is counted by its outcome
    /// (<see cref="Rank1Metrics.PrecomputeJob"/>), a job the stopping worker hands back logged as such.
    /// </summary>
    internal static async Task RunAsync(PrecomputeService service, Rank1Metrics metrics, ILogger logger, ConsumeContext context, PrecomputeReasoning job, string queue)
    {
        // The error pipe counts only what never reached a consumer (UnreadableJobCounter): this attempt is counted here.
        JobCounted.Mark(context);
        PrecomputeReasoningCompleted done;
        try
        {
            done = await service.RunAsync(job, context.CancellationToken).ConfigureAwait(false);
        }
        catch (Rank1OverloadedException e)
        {
            metrics.PrecomputeJob(queue, "overloaded");
            LogOverloaded(logger, service.QueryFingerprint(job), job.Query.Length, e.Message);
            throw;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            metrics.PrecomputeJob(queue, "cancelled");
            LogHandedBack(logger, service.QueryFingerprint(job), job.Query.Length);
            throw;
        }
        catch (Exception e) when (PrecomputeFaults.IsPoison(e))
        {
            // The retry policy lets these through: the job goes to the error queue at once (WorkerApplication.Configure).
            metrics.PrecomputeJob(queue, "refused");
            throw;
        }
        catch (Exception)
        {
            metrics.PrecomputeJob(queue, "failed");
            throw;
        }

        metrics.PrecomputeJob(queue, "stored");
        await context.RespondAsync(done).ConfigureAwait(false);
    }

    // The query is named by its fingerprint and length, never its text (personal data): PrecomputeService logs the text at Debug.
    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "The engine is overloaded; query {Fingerprint} ({QueryLength} characters) waits and is tried again with back-off: {Reason}")]
    private static partial void LogOverloaded(ILogger logger, string fingerprint, int queryLength, string reason);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Warning, Message = "The worker is stopping: query {Fingerprint} ({QueryLength} characters) was cancelled before it was stored and goes back to the queue for another worker")]
    private static partial void LogHandedBack(ILogger logger, string fingerprint, int queryLength);
}

/// <summary>Consumes <see cref="PrecomputeHotQuery"/> (the proxy's hot-query jobs) from the workers' hot-query queue.</summary>
internal sealed class HotQueryConsumer(PrecomputeService service, Rank1Metrics metrics, ILogger<HotQueryConsumer> logger) : IConsumer<PrecomputeHotQuery>
{
    public Task Consume(ConsumeContext<PrecomputeHotQuery> context)
    {
        // A message published by hand, or by something else than the proxy, may lack its job: a NullReferenceException
        // was retried RetryLimit times, holding a hot-query slot, and faulted without saying what was wrong.
        if (context.Message.Job is not { } job)
        {
            JobCounted.Mark(context);
            metrics.PrecomputeJob("hot", "refused");
            throw new InvalidPrecomputeRequestException("invalid hot-query message: [job] is required");
        }

        return PrecomputeConsumer.RunAsync(service, metrics, logger, context, job, "hot");
    }
}

/// <summary>Marks a received message whose attempt a consumer counted, so that its trip to the error queue is not counted again.</summary>
internal sealed class JobCounted
{
    private static readonly JobCounted Instance = new();

    public static void Mark(ConsumeContext context) => context.ReceiveContext.GetOrAddPayload(() => Instance);

    public static bool IsMarked(ReceiveContext context) => context.TryGetPayload<JobCounted>(out _);
}

/// <summary>
/// Counts the messages MassTransit moved to <c>&lt;queue&gt;_error</c> before any consumer saw them (an envelope that is
/// not JSON, not UTF-8, not an envelope, or whose message has fields of the wrong type: MassTransit's
/// <c>SerializationException</c>) as <c>unreadable</c>, then lets MassTransit's own error pipe (fault event, error
/// queue with its fault headers) do the rest, counting once the move succeeded. A message a consumer saw was counted
/// by it (<see cref="JobCounted"/>).
/// </summary>
internal sealed class UnreadableJobCounter(Rank1Metrics metrics, string queue, MoveRefusal refusal) : IFilter<ExceptionReceiveContext>
{
    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        // Counted once it is in the error queue: a move that fails (the error exchange refused) sends the message back to
        // its queue, and each redelivery counted it again (23 for one message in 20 s).
        await refusal.MoveAsync(context, next).ConfigureAwait(false);
        if (!JobCounted.IsMarked(context))
        {
            metrics.PrecomputeJob(queue, "unreadable");
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("rank1-unreadable-jobs");
}

/// <summary>
/// Counts the messages MassTransit moves to <c>&lt;queue&gt;_skipped</c> (no consumer for their message type: a missing
/// or unknown <c>messageType</c>) as <c>skipped</c>, then lets MassTransit's dead-letter filter move them.
/// </summary>
internal sealed class SkippedJobCounter(Rank1Metrics metrics, string queue, MoveRefusal refusal) : IFilter<ReceiveContext>
{
    public async Task Send(ReceiveContext context, IPipe<ReceiveContext> next)
    {
        // Counted once it is moved, as UnreadableJobCounter: a failed move returns the message for another delivery.
        await refusal.MoveAsync(context, next).ConfigureAwait(false);
        metrics.PrecomputeJob(queue, "skipped");
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("rank1-skipped-jobs");
}

/// <summary>
/// Stops the worker when RabbitMQ refuses to declare where MassTransit moves a message (<c>&lt;queue&gt;_error</c> or
/// <c>&lt;queue&gt;_skipped</c>, declared before with other arguments: PRECONDITION_FAILED). The move fails the same way
/// on every delivery: the message went back to its queue and came again about once a second for ever (and a quorum
/// queue's <c>x-delivery-limit</c>, 20 by default since RabbitMQ 4.0, drops it in the end). Stopped, the worker exits 1
/// naming the refusal (<see cref="BrokerGaveUp"/>), and the message, unacknowledged, stays in its queue.
/// </summary>
internal sealed partial class MoveRefusal(BrokerGaveUp gaveUp, BrokerOptions broker, string target, ILogger<MoveRefusal> logger)
{
    public async Task MoveAsync<T>(T context, IPipe<T> next)
        where T : class, PipeContext
    {
        try
        {
            await next.Send(context).ConfigureAwait(false);
        }
        catch (Exception e) when (BrokerFailure.IsPreconditionFailed(e))
        {
            var cause = Rank1Services.WithoutBrokerCredentials($"{BrokerFailure.Cause(e, null)}: MassTransit cannot move a message to {target}, declared with other arguments than its own; the message stays in its queue. Delete {target} (or declare it as MassTransit does), then start the worker again", broker)!;
            if (gaveUp.Stop(cause))
            {
                LogRefused(logger, target, cause);
            }

            throw;
        }
    }

    [LoggerMessage(EventId = 2409, Level = LogLevel.Critical, Message = "The broker refuses {Target}; the worker stops, exiting 1: {Cause}")]
    private static partial void LogRefused(ILogger logger, string target, string cause);
}
