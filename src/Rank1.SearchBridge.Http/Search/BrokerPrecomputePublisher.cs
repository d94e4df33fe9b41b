using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// The proxy's publisher of hot-query jobs to RabbitMQ (to the hot-query queue), waiting (up to
/// <see cref="BrokerOptions.PublishTimeout"/>) for the broker to confirm them. A queue RabbitMQ will not declare as the
/// workers do (an operator's classic queue of that name: <c>PRECONDITION_FAILED - inequivalent arg 'x-queue-type'</c>)
/// fails the publish at the broker's first refusal (<see cref="DeclarationRefusal"/>), not after the timeout (each
/// retry refused alike): the refusal is logged once, in RabbitMQ's words (event 2203), and shown in the proxy's health.
/// Each publish would cost a channel and MassTransit's two errors, so after a refusal the proxy backs off: no job is
/// published for <see cref="FirstBackOff"/>, doubled at each refusal up to <see cref="MaxBackOff"/>; the hot queries
/// of that time are held back (each counted <c>held_back</c> once: the detector keeps it as sent, so its searches of
/// that time do not report it again), and when it ends the latest of them (or the refused one) is published again,
/// without waiting for a search, so the health turns healthy at most <see cref="MaxBackOff"/> after the operator's fix
/// (event 2204, with how many were held back). The detector then forgets the others (their next search may publish
/// them) and keeps the published one as sent (its next search does not publish it again).
/// </summary>
internal sealed partial class BrokerPrecomputePublisher(IBus bus, IOptions<BrokerOptions> options, HotQueryDetector hotQueries, TimeProvider time, Rank1Metrics metrics,
    ILogger<BrokerPrecomputePublisher> logger)
    : IPrecomputePublisher, IDisposable
{
    /// <summary>How long the proxy publishes nothing after a first refusal.</summary>
    public static readonly TimeSpan FirstBackOff = TimeSpan.FromSeconds(5);

    /// <summary>The longest back-off: the longest an operator's fix waits for the health to say so.</summary>
    public static readonly TimeSpan MaxBackOff = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private string? _refused;
    private TimeSpan _backOff;
    private DateTimeOffset _until;
    private PrecomputeReasoning? _held;

    // The fingerprints of the queries held back since the last back-off ended: the detector keeps them as sent until then.
    private readonly HashSet<string> _heldQueries = new(StringComparer.Ordinal);
    private long _heldBack;
    private ITimer? _retry;
    private bool _disposed;

    // Cancelled at disposal: a retry under way when the host stops ends then, not at PublishTimeout on a stopped bus.
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>RabbitMQ's refusal of the latest publish's declaration, with what to do; null once a publish went through.</summary>
    public string? Refused => Volatile.Read(ref _refused);

    public async Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_refused is { } refused && time.GetUtcNow() < _until)
            {
                // Backing off: the job is held (the latest one is tried again when the back-off ends), the broker not asked.
                // held_back counts a query once per back-off: its entry may leave the detector before the back-off ends
                // (a DedupWindow shorter than it, Capacity eviction), and its next search comes here again.
                _held = message;
                var firstHold = Hold(message);
                if (firstHold)
                {
                    _heldBack++;
                }

                throw new PublishRefusedException(refused, null, heldBack: true) { FirstHold = firstHold };
            }
        }

        await SendAsync(message, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.Value.PublishTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var job = new PrecomputeHotQuery(message);
        var declaration = new DeclarationRefusal(linked, job);
        using (bus.ConnectPublishObserver(declaration))
        {
            try
            {
                await bus.Publish(job, linked.Token).ConfigureAwait(false);
            }
            // MassTransit, cancelled while it retries, throws the refusal itself (or a cancellation).
            catch (Exception) when (declaration.Refused is { } refusal && !cancellationToken.IsCancellationRequested)
            {
                var refused = $"{BrokerFailure.Cause(refusal, null)}: {BrokerFailure.DeclaredBefore("the workers and the proxy declare", options.Value.HotQueue)}";
                if (Interlocked.Exchange(ref _refused, refused) != refused)
                {
                    LogRefused(logger, BrokerAddress.Parsed(options.Value.Url)?.Endpoint ?? string.Empty, refused);
                }

                BackOff(message);
                throw new PublishRefusedException(refused, refusal);
            }
        }

        long heldBack;
        string[] notSent;
        lock (_gate)
        {
            heldBack = _heldBack;
            notSent = Released(except: message);
            (_backOff, _until, _held, _heldBack) = (TimeSpan.Zero, default, null, 0);
            _retry?.Dispose();
            _retry = null;
        }

        Forget(notSent);

        if (Interlocked.Exchange(ref _refused, null) is not null)
        {
            LogAccepted(logger, heldBack);
        }
    }

    /// <summary>After a refusal: no publish for the back-off (doubled, up to the cap), then the job held last tried again.</summary>
    private void BackOff(PrecomputeReasoning refused)
    {
        TimeSpan backOff;
        lock (_gate)
        {
            // The refused job is held whatever else is: a retry's job refused after a new search's publish started
            // another back-off is not the one tried next, but is released (forgotten by the detector) when it ends,
            // rather than left marked as sent for a whole DedupWindow.
            _held ??= refused;
            Hold(refused);
            if (_disposed || (_retry is not null && time.GetUtcNow() < _until))
            {
                // Stopping, or already backing off (publishes that were under way when the first was refused): one back-off.
                return;
            }

            _backOff = _backOff == TimeSpan.Zero ? FirstBackOff : TimeSpan.FromTicks(Math.Min(_backOff.Ticks * 2, MaxBackOff.Ticks));
            _until = time.GetUtcNow() + _backOff;
            _retry?.Dispose();
            // The retry is no part of the search whose publish was refused: it does not carry its Activity or AsyncLocals.
            using (ExecutionContext.SuppressFlow())
            {
                _retry = time.CreateTimer(_ => _ = RetryAsync(), null, _backOff, Timeout.InfiniteTimeSpan);
            }

            backOff = _backOff;
        }

        LogBackingOff(logger, backOff.TotalSeconds);
    }

    /// <summary>The back-off's end: the job held last is published again, which asks the broker to declare the queue anew.</summary>
    private async Task RetryAsync()
    {
        PrecomputeReasoning? job;
        string[] notSent;
        CancellationToken stopping;
        lock (_gate)
        {
            if (_disposed)
            {
                return; // the timer fired as the host stopped: its bus is stopping too
            }

            (job, _held) = (_held, null);
            notSent = Released(except: job);
            stopping = _stopping.Token;
        }

        // The back-off is over: the queries held back and not tried now may be published by their next search.
        Forget(notSent);
        if (job is null)
        {
            return;
        }

        // Marked as sent before it is sent, as Observe marks a search's query before its publish: a search of the refused
        // query (which the detector forgot when its publish failed) while the retry is in flight must not publish it a
        // second time. A held query was marked when it turned hot; it is marked again now, the time of its send.
        if (job.Fingerprint is { } fingerprint)
        {
            hotQueries.Published(fingerprint);
        }

        try
        {
            await SendAsync(job, stopping).ConfigureAwait(false);
            metrics.PrecomputeRequest("published");
        }
        catch (PublishRefusedException)
        {
            // Refused again: backed off longer (SendAsync), the job held (still marked) until that back-off ends.
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The host stopped during the retry: not sent. (Queries still held when the host stops stay marked as sent,
            // which lasts at most a DedupWindow, in a detector that goes with the host.)
            if (job.Fingerprint is { } unsent)
            {
                hotQueries.PublishFailed(unsent);
            }
        }
        catch (Exception e)
        {
            // The broker unreachable, or no confirmation in time: the refusal may still stand, so try again later.
            LogRetryFailed(logger, e.Message);
            BackOff(job);
        }
    }

    /// <summary>Counts <paramref name="job"/>'s query as held back until the back-off ends (under the gate); false when it already was.</summary>
    private bool Hold(PrecomputeReasoning job) => job.Fingerprint is not { } fingerprint || _heldQueries.Add(fingerprint);

    /// <summary>The queries held back but for <paramref name="except"/>'s, no longer held (under the gate).</summary>
    private string[] Released(PrecomputeReasoning? except)
    {
        var released = _heldQueries.Where(f => f != except?.Fingerprint).ToArray();
        _heldQueries.Clear();
        return released;
    }

    /// <summary>Tells the detector these held-back queries were not sent: their next search may publish them.</summary>
    private void Forget(string[] notSent)
    {
        foreach (var fingerprint in notSent)
        {
            hotQueries.PublishFailed(fingerprint);
        }
    }

    public void Dispose()
    {
        // The queries still held stay marked as sent in the detector: it stops with the host, and a mark lasts at most a
        // DedupWindow anyway.
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _retry?.Dispose();
            _retry = null;
        }

        _stopping.Cancel();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "The broker at {Broker} refuses the proxy's declaration of the workers' queue, so no precompute job reaches the workers until it is declared as they declare it: {Cause}")]
    private static partial void LogRefused(ILogger logger, string broker, string cause);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Information, Message = "The broker takes the proxy's precompute jobs again ({HeldBack} hot queries held back while it refused)")]
    private static partial void LogAccepted(ILogger logger, long heldBack);

    [LoggerMessage(EventId = 2205, Level = LogLevel.Debug, Message = "Hot queries are held back for {Seconds} s after the broker's refusal, then the latest is published again")]
    private static partial void LogBackingOff(ILogger logger, double seconds);

    [LoggerMessage(EventId = 2206, Level = LogLevel.Debug, Message = "A hot query held back after the broker's refusal could not be published again: {Reason}")]
    private static partial void LogRetryFailed(ILogger logger, string reason);
}

/// <summary>
/// A publish RabbitMQ refused at once, as it will again until an operator changes what it names, or one held back
/// (<paramref name="heldBack"/>) while the proxy backs off after such a refusal (<see cref="BrokerPrecomputePublisher"/>);
/// its message is the refusal and what to do, already logged.
/// </summary>
internal sealed class PublishRefusedException(string refused, Exception? inner, bool heldBack = false) : Exception(refused, inner)
{
    /// <summary>Held back by the back-off: the broker was not asked.</summary>
    public bool HeldBack { get; } = heldBack;

    /// <summary>Held back, and the first time in this back-off for its query: counted <c>held_back</c>.</summary>
    public bool FirstHold { get; init; }
}
