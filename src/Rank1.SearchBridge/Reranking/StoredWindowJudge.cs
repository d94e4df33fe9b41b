using Rank1.Inference;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Reranking;

/// <summary>
/// One passage of a window with the key of its judgement in the reasoning store; <paramref name="Replace"/>: a document
/// under that key is there but holds no usable judgement, and the new judgement replaces it.
/// </summary>
internal sealed record KeyedPassage(PassageToJudge Passage, JudgementKey Key, Replacing? Replace = null);

/// <summary>What the reasoning store already holds for a window: reusable judgements, and the passages still to judge.</summary>
internal sealed record StoredLookup(IReadOnlyList<PassageVerdict> Cached, IReadOnlyList<KeyedPassage> Misses);

/// <summary>The query side of a window: what the model is asked, with the settings that change its judgements (<c>Deadline</c> null: none).</summary>
internal sealed record WindowQuery(string Query, string? Instructions, JudgeSettings Settings, TimeSpan? Deadline, string Fingerprint);

/// <summary>
/// The one home of "look the window up in the reasoning store, judge only the misses": shared by the proxy's
/// searches, the rerank service and the precompute worker. A stored judgement is reused only for
/// the same model and the same passage text (<see cref="JudgementRecords.Matches"/>); new judgements go through the
/// <see cref="RerankExecutor"/> (queue limits, circuit, deadline, batching) and are written back (in the background; the worker
/// waits for its write),
/// except forced (deadline) ones, which are weaker than the model's own (a passage the model scored NaN is no verdict but a
/// failure, <see cref="PassageFailure.NotANumber"/>, so it is never stored). Without a store (a rerank service with no
/// cluster) every passage is a miss.
/// </summary>
internal sealed class StoredWindowJudge(RerankExecutor reranker, Rank1Metrics metrics, TimeProvider time, IJudgementStore? store = null)
{
    /// <summary>The model the judgements come from, by id and content: key a window's passages with it.</summary>
    public JudgingModel Model => reranker.Model;

    /// <summary>Stored judgements that still hold for a window (one <c>_mget</c>), and the passages left to judge.</summary>
    public static async Task<StoredLookup> LookupAsync(IJudgementStore store, JudgingModel model, IReadOnlyList<KeyedPassage> window, CancellationToken cancellationToken)
    {
        var stored = await store.LookupAsync(window.Select(k => k.Key.Id).ToArray(), cancellationToken).ConfigureAwait(false);
        var cached = new List<PassageVerdict>();
        var misses = new List<KeyedPassage>();
        foreach (var k in window)
        {
            if (stored.TryGetValue(k.Key.Id, out var s) && JudgementRecords.Matches(s, k.Key, model))
            {
                cached.Add(new PassageVerdict(k.Passage.Index, new Rank1Judgement(s.Score, s.Relevant, s.Reasoning, s.ReasoningTokens, s.End, 0, TimeSpan.Zero, TimeSpan.Zero), PassageSource.Cached));
            }
            else
            {
                // Found under its own id yet not usable (a field missing or wrong, or not what the id promises): replaced
                // by the new judgement, where a create would leave it there and every search would judge it again.
                misses.Add(s is null ? k : k with { Replace = new Replacing(s.Revision) });
            }
        }

        return new StoredLookup(cached, misses);
    }

    /// <summary>The store lookup of a window, counted as cache hits.</summary>
    public async Task<StoredLookup> LookupAsync(IReadOnlyList<KeyedPassage> window, CancellationToken cancellationToken)
    {
        if (store is null)
        {
            return new StoredLookup([], window);
        }

        var lookup = await LookupAsync(store, reranker.Model, window, cancellationToken).ConfigureAwait(false);
        metrics.CacheHits(lookup.Cached.Count);
        return lookup;
    }

    /// <summary>
    /// Judges the misses of a lookup with the model and merges them with the cached judgements; the new ones are written
    /// back in the background. All cached: <see cref="RerankStatus.Cached"/> without a model call. A fallback (timeout,
    /// error, overload) keeps no verdicts; misses that all failed on their input leave the cached ones ranking the
    /// window (<see cref="RerankStatus.Partial"/>, the failures listed).
    /// </summary>
    public async Task<RerankOutcome> JudgeAsync(WindowQuery query, StoredLookup lookup, long startedTimestamp, CancellationToken cancellationToken)
    {
        var (outcome, judged) = await JudgeMissesAsync(query, lookup, startedTimestamp, cancellationToken).ConfigureAwait(false);
        foreach (var j in judged)
        {
            store?.Enqueue(j.Document);
        }

        return outcome;
    }

    /// <summary>
    /// The precompute worker's way: judges the misses as <see cref="JudgeAsync"/> does, but writes the new judgements
    /// before returning (a message is acknowledged only once its work is stored). A window with passages that failed on
    /// their input (<see cref="RerankStatus.Partial"/>) has the others written too: the worker sends it to the error queue
    /// without retrying, so this is their only chance. Returns the outcome, the judgements this call stored and those the
    /// store already held (a racing worker stored the same judgement first): no judgement is counted in both. Throws <see cref="ReasoningStoreException"/>
    /// when the store does not take them; with <paramref name="unstored"/>, those judgements are kept there, and the
    /// retry's misses found there are written without being judged again.
    /// </summary>
    public async Task<(RerankOutcome Outcome, int Written, int AlreadyStored)> JudgeAndStoreAsync(WindowQuery query, StoredLookup lookup, long startedTimestamp,
        CancellationToken cancellationToken, UnstoredJudgements? unstored = null)
    {
        // Judgements an earlier attempt made but could not store (the index was down): the model time is not spent again.
        var kept = new List<(KeyedPassage Miss, UnstoredJudgements.Entry Entry)>();
        if (unstored is not null && store is not null && unstored.Count > 0)
        {
            var misses = new List<KeyedPassage>(lookup.Misses.Count);
            foreach (var miss in lookup.Misses)
            {
                if (unstored.TryTake(miss.Key.Id, out var entry))
                {
                    kept.Add((miss, entry));
                }
                else
                {
                    misses.Add(miss);
                }
            }

            lookup = lookup with { Misses = misses };
        }

        // Whatever ends this attempt short of storing them (the store refusing the write, the worker stopping, a fault of
        // the model's), the judgements taken from unstored and those made now are kept for the next attempt.
        IReadOnlyList<UnstoredJudgements.Entry> pending = [.. kept.Select(k => k.Entry)];
        try
        {
            var (outcome, judged) = await JudgeMissesAsync(query, lookup, startedTimestamp, cancellationToken).ConfigureAwait(false);
            if (kept.Count > 0)
            {
                if (outcome.Status is not (RerankStatus.Applied or RerankStatus.Partial or RerankStatus.Cached))
                {
                    unstored!.Keep(pending); // for the next attempt
                    return (outcome, 0, 0);
                }

                // As if judged now: the window's verdicts at this attempt's positions, their documents written with the rest.
                var status = outcome.Status == RerankStatus.Cached ? RerankStatus.Applied : outcome.Status;
                outcome = outcome with { Status = status, Verdicts = [.. outcome.Verdicts, .. kept.Select(k => new PassageVerdict(k.Miss.Passage.Index, k.Entry.Judgement, PassageSource.Computed))] };
                judged = [.. judged, .. kept.Select(k => k.Entry with { Document = k.Entry.Document with { Replace = k.Miss.Replace } })];
            }

            if (outcome.Status is not (RerankStatus.Applied or RerankStatus.Partial) || store is null || judged.Count == 0)
            {
                return (outcome, 0, 0);
            }

            pending = judged;
            var written = await store.WriteAsync(judged.Select(j => j.Document).ToArray(), cancellationToken).ConfigureAwait(false);
            // Written and AlreadyStored part the batch: a judgement a racing worker stored first is counted once, as
            // already stored (counted as written too, a job's written + already stored exceeded its hits).
            return (outcome, written.Written, written.AlreadyStored);
        }
        catch (Exception)
        {
            unstored?.Keep(pending);
            throw;
        }
    }

    /// <summary>The misses judged through the executor, merged with the cached; and the new (not forced) judgements to store.</summary>
    private async Task<(RerankOutcome Outcome, IReadOnlyList<UnstoredJudgements.Entry> Judged)> JudgeMissesAsync(WindowQuery query, StoredLookup lookup, long startedTimestamp,
        CancellationToken cancellationToken)
    {
        if (lookup.Misses.Count == 0)
        {
            return (new RerankOutcome(RerankStatus.Cached, lookup.Cached, null, time.GetElapsedTime(startedTimestamp)), []);
        }

        var computed = await reranker.RerankAsync(query.Query, query.Instructions, lookup.Misses.Select(m => m.Passage).ToArray(), query.Settings, query.Deadline,
            lookup.Cached.Count, cancellationToken).ConfigureAwait(false);
        var byIndex = lookup.Misses.ToDictionary(k => k.Passage.Index);
        // No verdict scores NaN: the executor makes such a passage a failure (RerankExecutor.RerankAsync), so none reaches the store.
        var judged = computed.Verdicts.Where(v => v.Source == PassageSource.Computed)
            .Select(v => new UnstoredJudgements.Entry(JudgementRecords.Document(byIndex[v.Index].Key, reranker.Model, query.Fingerprint, query.Query, query.Instructions, v.Judgement, time.GetUtcNow())
                with { Replace = byIndex[v.Index].Replace }, v.Judgement))
            .ToArray();
        var outcome = computed.Status is RerankStatus.Applied or RerankStatus.Partial
            ? computed with { Verdicts = [.. computed.Verdicts, .. lookup.Cached], Elapsed = time.GetElapsedTime(startedTimestamp) }
            : computed;
        return (outcome, judged);
    }
}
