using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Reranking;

/// <summary>One passage of a window to judge.</summary>
internal sealed record PassageToJudge(int Index, string? Title, string Text);

/// <summary>A judged passage and where its judgement came from.</summary>
internal sealed record PassageVerdict(int Index, Rank1Judgement Judgement, PassageSource Source);

/// <summary>Where a verdict came from: a hit's <c>_rank1.source</c> (<see cref="PassageSources.Name"/>).</summary>
internal enum PassageSource
{
    /// <summary>Judged by the model now (<c>computed</c>).</summary>
    Computed,

    /// <summary>Scored from reasoning the deadline cut short (<c>forced</c>).</summary>
    Forced,

    /// <summary>Read from the reasoning store (<c>cached</c>).</summary>
    Cached,
}

/// <summary>The wire names of a hit's <c>_rank1.source</c>: those of <see cref="PassageSource"/>, and of a hit not judged.</summary>
internal static class PassageSources
{
    /// <summary>The <c>_rank1.source</c> of a hit pinned on top (a pinned or rule query's pin): not judged, in its backend place.</summary>
    public const string Pinned = "pinned";

    /// <summary>The <c>_rank1.source</c> of a hit whose passage could not be judged (<see cref="PassageFailure"/>): in its backend place.</summary>
    public const string Failed = "failed";

    /// <summary>The name a hit's <c>_rank1.source</c> carries.</summary>
    public static string Name(this PassageSource source) => source switch
    {
        PassageSource.Computed => "computed",
        PassageSource.Forced => "forced",
        PassageSource.Cached => "cached",
        _ => throw new ArgumentOutOfRangeException(nameof(source), source, null),
    };
}

/// <summary>
/// A passage that could not be judged: because of its input, or because the model scored it NaN (<paramref name="NotANumber"/>).
/// Either way it keeps its backend order, with this reason on the hit, is not stored, and is not judged again by the worker.
/// </summary>
internal sealed record PassageFailure(int Index, string Reason, bool NotANumber = false);

/// <summary>The result of reranking one window.</summary>
internal sealed record RerankOutcome(RerankStatus Status, IReadOnlyList<PassageVerdict> Verdicts, string? Reason, TimeSpan Elapsed)
{
    /// <summary>
    /// Passages that could not be judged (the others were judged as usual): because of their input, or scored NaN by the
    /// model (<see cref="PassageFailure.NotANumber"/>).
    /// </summary>
    public IReadOnlyList<PassageFailure> Failures { get; init; } = [];

    /// <summary>
    /// <see cref="RerankStatus.FallbackTimeout"/> reached while the window was held waiting for capacity: queued for a rerank
    /// slot (the limiter did not grant one at once), or nothing judged while other windows were already in the model ahead
    /// of it. Overload, not a slow model; the rerank service answers it as such (429). A deadline that passes with nothing
    /// judged on an otherwise idle model is not this (the service's 504: a retry with the same deadline fails again).
    /// </summary>
    public bool TimedOutWaiting { get; init; }

    /// <summary>
    /// <see cref="RerankStatus.FallbackError"/> while the model circuit is open (refused by it, or the failure that opened
    /// it): the time left until the circuit lets a call through again, at most <c>Rank1:Proxy:ModelBreakDuration</c>.
    /// Null while the circuit is closed.
    /// </summary>
    public TimeSpan? CircuitOpenFor { get; init; }

    /// <summary>
    /// Of an overload (a full rerank queue, a full engine queue, a deadline passed waiting for the model): how long the
    /// windows in the model and queued for it take to drain at the recent pace (<see cref="RerankExecutor"/>); null before
    /// any window has been judged.
    /// </summary>
    public TimeSpan? DrainsIn { get; init; }
}

/// <summary>
/// Feeds the model carefully: a bounded queue in front of it (full, or the engine's own queue full:
/// <c>fallback-overload</c>), a circuit breaker
/// around it (failing: <c>fallback-error</c>), and a deadline over the whole window. At the deadline the passage
/// being judged is scored from its reasoning so far (the engine forces <c>&lt;/think&gt;</c>), and passages not
/// yet started stay in backend order after the judged ones (<c>partial</c>). Nothing judged by then:
/// <c>fallback-timeout</c>. A passage that cannot be judged because of its input (<see cref="Rank1InputException"/>),
/// or that the model scored NaN (<see cref="PassageResult.ScoreIsNaN"/>), stays in backend order with its reason while
/// the rest of the window is reranked (<c>partial</c>); neither counts towards the model circuit, so one caller's
/// documents or query cannot turn reranking off for others.
/// Reranking never turns a working search into an error.
/// </summary>
internal sealed partial class RerankExecutor : IAsyncDisposable
{
    private readonly IPassageJudge _judge;
    private readonly TimeProvider _time;
    private readonly Rank1Metrics _metrics;
    private readonly ILogger<RerankExecutor> _logger;
    private readonly ConcurrencyLimiter _limiter;
    private readonly ResiliencePipeline _modelBreaker;
    private readonly TimeSpan _deadlineGrace;
    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly TimeSpan _breakDuration;

    // Windows in the model now: a window that enters while others are in it queues behind their rows.
    private int _inModel;

    private readonly int _permits;
    private readonly Lock _paceLock = new();

    // How long a window holds its rerank slot, weighted towards the recent (each new window an eighth): the pace the
    // backlog drains at, for the Retry-After of an overload.
    private TimeSpan? _meanHeld;

    public RerankExecutor(IPassageJudge judge, IOptions<ProxyOptions> options, TimeProvider time, Rank1Metrics metrics, ILogger<RerankExecutor> logger)
    {
        _judge = judge;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        var o = options.Value;
        _deadlineGrace = o.DeadlineGrace;
        _permits = o.MaxConcurrentReranks;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = o.MaxConcurrentReranks,
            QueueLimit = o.MaxQueuedReranks,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _breakDuration = o.ModelBreakDuration;
        _modelBreaker = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                // Every call in the window failed, at least N of them: the model is broken, stop calling it.
                FailureRatio = 1.0,
                MinimumThroughput = o.ModelFailuresBeforeBreak,
                SamplingDuration = TimeSpan.FromMinutes(5),
                BreakDuration = o.ModelBreakDuration,
                // Cancellation, a full engine queue and a caller's input say nothing about the model's health.
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not (OperationCanceledException or Rank1OverloadedException or Rank1InputException)),
                StateProvider = _circuit,
            })
            .Build();
    }

    /// <summary>The model the judgements come from, as the reasoning store keys them.</summary>
    public JudgingModel Model => JudgingModel.Of(_judge);

    /// <summary>
    /// Judges one window within <paramref name="deadlineAfter"/> (null: no deadline, every passage is judged, as the
    /// precompute worker wants).
    /// </summary>
    /// <param name="query">The query the passages are judged against.</param>
    /// <param name="instructions">What the caller asks of the judgement beyond the query, if anything.</param>
    /// <param name="passages">The passages to judge: the window, or the part of it not judged already.</param>
    /// <param name="judgeSettings">The engine settings of every judgement (its deadline is set here).</param>
    /// <param name="deadlineAfter">How long the window may take; null: no deadline.</param>
    /// <param name="judgedAlready">
    /// How many other passages of the window are judged already (the reasoning store's): when every one of
    /// <paramref name="passages"/> fails on its input they still rank the window, which is then <see cref="RerankStatus.Partial"/>,
    /// not a fallback.
    /// </param>
    /// <param name="cancellationToken">The caller going away.</param>
    public async Task<RerankOutcome> RerankAsync(string query, string? instructions, IReadOnlyList<PassageToJudge> passages, JudgeSettings judgeSettings, TimeSpan? deadlineAfter,
        int judgedAlready, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var deadline = _time.GetUtcNow() + deadlineAfter;
        using var deadlineCts = new CancellationTokenSource(deadlineAfter ?? Timeout.InfiniteTimeSpan, _time);
        using var waitCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadlineCts.Token);
        _metrics.QueueDepth(+1);
        try
        {
            // A slot at once, or a wait in the limiter's queue: a deadline passed after waiting there is overload.
            var lease = _limiter.AttemptAcquire(1);
            var waited = !lease.IsAcquired;
            try
            {
                if (waited)
                {
                    lease.Dispose();
                    lease = await _limiter.AcquireAsync(1, waitCts.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Done(RerankStatus.FallbackTimeout, [], "the deadline passed while waiting for the model", started) with { TimedOutWaiting = true, DrainsIn = DrainTime() };
            }

            using (lease)
            {
                if (!lease.IsAcquired)
                {
                    return Done(RerankStatus.FallbackOverload, [], "the rerank queue is full", started) with { DrainsIn = DrainTime() };
                }

                var leased = _time.GetTimestamp();

                var verdicts = new List<PassageVerdict>(passages.Count);
                var failures = new List<PassageFailure>();
                var settings = judgeSettings with { Deadline = deadline };

                // The engine answers at the deadline, except for passages whose prefill began before it and has not ended:
                // past the deadline by Rank1:Proxy:DeadlineGrace, the whole call is cancelled and the search answered in backend order.
                // Counted from the call's start, as the deadline is, not from the lease: a search that waited for the model must
                // not be given that wait again past its deadline (measured: cuts 0.5-1.6 s late in the soak's 1 MB windows).
                using var lateCts = new CancellationTokenSource(deadlineAfter is { } after ? Max(after + _deadlineGrace - _time.GetElapsedTime(started), TimeSpan.Zero) : Timeout.InfiniteTimeSpan, _time);
                using var judgeCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lateCts.Token);
                var behindOthers = Interlocked.Increment(ref _inModel) > 1;
                try
                {
                    // The engine batches the window's passages with those of concurrent searches; passages it had not
                    // started by the deadline come back not started and keep their backend order.
                    var window = passages.Select(p => (p.Title, p.Text)).ToArray();
                    var judgements = await _modelBreaker.ExecuteAsync(
                        static async (state, ct) => await state.Judge.JudgeWindowAsync(state.Query, state.Instructions, state.Window, state.Settings, ct).ConfigureAwait(false),
                        (Judge: _judge, Query: query, Instructions: instructions, Window: window, Settings: settings),
                        judgeCts.Token).ConfigureAwait(false);
                    for (var i = 0; i < passages.Count; i++)
                    {
                        if (judgements[i].Judgement is { } judgement)
                        {
                            verdicts.Add(Verdict(passages[i], judgement));
                        }
                        else if (judgements[i].Error is { } error)
                        {
                            // Its input, or a NaN score: PassageResult.Judged, the one place a NaN becomes "not judged".
                            failures.Add(new PassageFailure(passages[i].Index, error, judgements[i].NotANumber));
                        }
                    }
                }
                catch (OperationCanceledException) when (lateCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    return Done(RerankStatus.FallbackTimeout, [], "the deadline passed while the model was still reading the window", started);
                }
                catch (BrokenCircuitException refused)
                {
                    // Polly's own time left, read under the breaker's lock on its clock as it refused this call.
                    return Done(RerankStatus.FallbackError, [], "the model circuit is open after repeated failures", started) with { CircuitOpenFor = refused.RetryAfter };
                }
                catch (Rank1OverloadedException ex)
                {
                    return Done(RerankStatus.FallbackOverload, [], ex.Message, started) with { DrainsIn = DrainTime() };
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogModelFailure(_logger, ex);

                    // Open now: this failure opened it, and its whole break is left (a call still in the model when another's
                    // failure opened it is told up to its own length more: the break's end is Polly's alone to read).
                    return Done(RerankStatus.FallbackError, [], $"the model failed: {ex.Message}", started) with { CircuitOpenFor = _circuit.CircuitState is CircuitState.Open or CircuitState.Isolated ? _breakDuration : null };
                }
                finally
                {
                    Interlocked.Decrement(ref _inModel);

                    // The pace a backlog drains at is that of windows the model read to their end or deadline: a caller
                    // who left after 0.3 s said nothing of it (a few abandoned calls made Retry-After ~40x too short).
                    if (!cancellationToken.IsCancellationRequested)
                    {
                        Held(_time.GetElapsedTime(leased));
                    }
                }

                // Every passage failing on its own input (or scored NaN) says nothing of the model's availability: judgements
                // made already still rank the window, partly, as when some passages were judged now.
                var (status, reason) = verdicts.Count > 0 || (judgedAlready > 0 && failures.Count > 0 && failures.Count == passages.Count)
                    ? (verdicts.Count < passages.Count || verdicts.Any(v => v.Source == PassageSource.Forced) ? RerankStatus.Partial : RerankStatus.Applied, (string?)null)
                    : failures.Count > 0
                        ? (RerankStatus.FallbackError, $"no passage of the window could be judged: {failures[0].Reason}")
                        : (RerankStatus.FallbackTimeout, "the deadline passed before any passage was judged");
                var nan = failures.Count(f => f.NotANumber);
                _metrics.PassagesFailed(failures.Count - nan, Rank1Metrics.FailedOnInput);
                _metrics.PassagesFailed(nan, Rank1Metrics.FailedNaN);

                // No verdict and no failure: no passage was started by the deadline. Overload when the window waited for a
                // rerank slot or entered the model behind other windows' rows; on an idle model the deadline was simply too short.
                var timedOutWaiting = status == RerankStatus.FallbackTimeout && (waited || behindOthers);
                return Done(status, verdicts, reason, started) with { Failures = failures, TimedOutWaiting = timedOutWaiting, DrainsIn = timedOutWaiting ? DrainTime() : null };
            }
        }
        finally
        {
            _metrics.QueueDepth(-1);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private void Held(TimeSpan held)
    {
        lock (_paceLock)
        {
            _meanHeld = _meanHeld is { } mean ? mean + ((held - mean) / 8) : held;
        }
    }

    /// <summary>
    /// The time the windows holding a rerank slot and those queued for one take to drain, at the recent pace: each holds
    /// a slot for about the recent mean, <c>MaxConcurrentReranks</c> at a time. An overloaded caller told this comes back
    /// when there is room, where a fixed second (Cohere's SDK waits exactly Retry-After, twice) sent every refused caller
    /// back together into the same full queue.
    /// </summary>
    private TimeSpan? DrainTime()
    {
        TimeSpan? mean;
        lock (_paceLock)
        {
            mean = _meanHeld;
        }

        var stats = _limiter.GetStatistics() ?? throw new InvalidOperationException("the rerank limiter keeps no statistics");
        var backlog = _permits - stats.CurrentAvailablePermits + stats.CurrentQueuedCount;
        return mean is { } m && backlog > 0 ? m * backlog / _permits : null;
    }

    private PassageVerdict Verdict(PassageToJudge passage, Rank1Judgement judgement)
    {
        _metrics.Judged(ReasoningEnds.Name(judgement.End));
        return new PassageVerdict(passage.Index, judgement, judgement.End == ReasoningEnd.Deadline ? PassageSource.Forced : PassageSource.Computed);
    }

    private RerankOutcome Done(RerankStatus status, IReadOnlyList<PassageVerdict> verdicts, string? reason, long started)
    {
        var elapsed = _time.GetElapsedTime(started);
        _metrics.Reranked(elapsed);
        if (status is RerankStatus.FallbackError or RerankStatus.FallbackOverload or RerankStatus.FallbackTimeout)
        {
            _metrics.Fallback(status.ToHeaderValue());
        }

        return new RerankOutcome(status, verdicts, reason, elapsed);
    }

    public ValueTask DisposeAsync() => _limiter.DisposeAsync();

    [LoggerMessage(EventId = 2100, Level = LogLevel.Warning, Message = "Rank1 model failed; answering in backend order")]
    private static partial void LogModelFailure(ILogger logger, Exception exception);
}
