using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// The rerank of one search's window, once the backend has answered: the store lookup (bounded by the deadline), the
/// hot-query count (<see cref="HotQueryPublisher"/>), then the model for the misses, within the deadline and, for the
/// searches of one <c>_msearch</c>, its share of the model. <see cref="SearchProxy"/> orchestrates the search around it.
/// </summary>
internal sealed class SearchWindowRerank(StoredWindowJudge windowJudge, HotQueryPublisher hotQueries, ModelTokenLimits modelLimits, TimeProvider time, Rank1Metrics metrics)
{
    /// <summary>
    /// Judges a window, reusing stored reasoning where the stored passage hash matches the passage as it is now
    /// (one _mget for the window). Only the misses go to the model; new judgements are written back in the
    /// background. Stored reasoning is looked up only for hits this search returned, under their own index.
    /// </summary>
    public async Task<RerankOutcome> RerankAsync(string? index, string queryText, RerankPlan plan, JsonObject searchBody, IReadOnlyList<JsonObject> hits, PassageToJudge[] window,
        SemaphoreSlim? share, SearchDeadline deadline, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var fingerprint = plan.Fingerprint(queryText, modelLimits);
        var model = windowJudge.Model;
        var keyed = window.Select(p => new KeyedPassage(p, JudgementRecords.Key(hits[p.Index], index, model, fingerprint, p.Title, p.Text))).ToArray();
        var lookup = await LookupWithinAsync(windowJudge, time, keyed, deadline, cancellationToken).ConfigureAwait(false);

        // Every search counts towards its query's heat, whatever its deadline; an unanswered lookup counts as unstored.
        hotQueries.Observe(index, queryText, plan, fingerprint, searchBody, lookup?.Misses);

        // The searches of one msearch are one caller of the engine (its share semaphore is per request): they share one
        // sub-queue and one Rank1:Model:MaxQueuedPassagesPerCaller, and an item that would pass it is refused alone.
        if (CutOff(lookup, deadline, time, started, out var cutOff))
        {
            return cutOff;
        }

        var query = new WindowQuery(queryText, plan.Instructions, plan.JudgeSettings() with { Caller = share }, Remaining(deadline), fingerprint);

        if (share is null || lookup.Misses.Count == 0)
        {
            return Remember(await windowJudge.JudgeAsync(query, lookup, started, cancellationToken).ConfigureAwait(false));
        }

        if (!await EnterWithinAsync(share, deadline, cancellationToken, metrics.ShareWaiting).ConfigureAwait(false))
        {
            return TimedOut(time, "the deadline passed while the other searches of this request held its share of the model", started);
        }

        try
        {
            return Remember(await windowJudge.JudgeAsync(query with { Deadline = Remaining(deadline) }, lookup, started, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            share.Release();
        }

        // Passages the model could not read stay unstored; the hot-query count must know them (HotQueryPublisher.Unreadable).
        RerankOutcome Remember(RerankOutcome outcome)
        {
            hotQueries.Unreadable(keyed, outcome.Failures);
            return outcome;
        }
    }

    /// <summary>The least time the reasoning-store lookup is given, even once the deadline has passed.</summary>
    internal static readonly TimeSpan StoreLookupFloor = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The store lookup of a window within <paramref name="deadline"/> (a search's, or a rerank service call's); null when
    /// the store had not answered by then. The store is read even when the deadline has passed (while the backend
    /// answered, say): precomputed reasoning costs one _mget, and a hot query must still be served from it. Its wait is
    /// bounded by the deadline's rest, at least <see cref="StoreLookupFloor"/>.
    /// </summary>
    internal static async Task<StoredLookup?> LookupWithinAsync(StoredWindowJudge windowJudge, TimeProvider time, IReadOnlyList<KeyedPassage> window, SearchDeadline deadline,
        CancellationToken cancellationToken)
    {
        using var lookupTimeout = new CancellationTokenSource(deadline.Left > StoreLookupFloor ? deadline.Left : StoreLookupFloor, time);
        using var lookupToken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lookupTimeout.Token);
        try
        {
            return await windowJudge.LookupAsync(window, lookupToken.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    // What is left of the deadline (at least a moment: the executor then answers fallback-timeout itself).
    internal static TimeSpan Remaining(SearchDeadline deadline) => deadline.Left > TimeSpan.FromMilliseconds(1) ? deadline.Left : TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Whether the deadline cut a window off before the model was asked (a search's, or a rerank service call's): the
    /// store did not answer in time (<paramref name="lookup"/> null, <see cref="LookupWithinAsync"/>), or passages still
    /// need the model and nothing is left. Then <paramref name="outcome"/> is its fallback-timeout, in first-stage order.
    /// </summary>
    internal static bool CutOff([NotNullWhen(false)] StoredLookup? lookup, SearchDeadline deadline, TimeProvider time, long started, [NotNullWhen(true)] out RerankOutcome? outcome)
    {
        outcome = lookup is null ? TimedOut(time, "the deadline passed while reading stored reasoning", started)
            : lookup.Misses.Count > 0 && deadline.Passed ? TimedOut(time, ModelNotAsked, started)
            : null;
        return outcome is not null;
    }

    /// <summary>The reason of a window whose deadline passed before the model was asked (<see cref="CutOff"/>).</summary>
    internal const string ModelNotAsked = "the deadline passed before the model was asked";

    /// <summary>A window (a search's, or a rerank service call's) whose deadline passed before the model judged anything: fallback-timeout, backend order.</summary>
    internal static RerankOutcome TimedOut(TimeProvider time, string reason, long started) => new(RerankStatus.FallbackTimeout, [], reason, time.GetElapsedTime(started));

    /// <summary>
    /// Takes a place of <paramref name="gate"/> (an <c>_msearch</c>'s share of the model, the rerank service's measuring
    /// turns) within <paramref name="deadline"/>: at once when one is free and time is left, without waiting or counting;
    /// otherwise waits until the deadline passes, false when it passed first. A caller already gone throws, and a deadline
    /// already passed is false, at once: neither waits, is counted or takes a place. Only a wait is told to
    /// <paramref name="waiting"/> (<c>rank1.rerank.share_waiting</c>): +1 once the deadline runs (its timer set), and -1
    /// when the wait ends.
    /// </summary>
    internal static async Task<bool> EnterWithinAsync(SemaphoreSlim gate, SearchDeadline deadline, CancellationToken cancellationToken, Action<int>? waiting = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (deadline.Passed)
        {
            return false;
        }

        if (gate.Wait(0, CancellationToken.None))
        {
            return true;
        }

        using var timeout = new CancellationTokenSource(deadline.Left, deadline.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        waiting?.Invoke(1);
        try
        {
            await gate.WaitAsync(linked.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        finally
        {
            waiting?.Invoke(-1);
        }
    }
}
