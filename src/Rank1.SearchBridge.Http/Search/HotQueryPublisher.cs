using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;
using static Rank1.SearchBridge.EsAnswers;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// A reranked search's part in the hot queries: every search counts towards its query's heat
/// (<see cref="HotQueryDetector"/>), and a query that turns hot is published for the precompute workers, in the
/// background, so asking them never delays the search.
/// </summary>
internal sealed partial class HotQueryPublisher(HotQueryDetector hotQueries, IPrecomputePublisher publisher, ModelTokenLimits modelLimits, StoredWindowJudge windowJudge,
    Rank1Metrics metrics, ILogger<HotQueryPublisher> logger)
{
    /// <summary>
    /// Counts the search; publishes a precompute job when its query has just turned hot with hits the job would store,
    /// and the job would store the reasoning this search looks up (else counts it <c>skipped</c>).
    /// </summary>
    /// <param name="index">The searched index expression (null: all).</param>
    /// <param name="queryText">The query the model is asked about.</param>
    /// <param name="plan">The search's rerank settings, with the index's rule (<see cref="RerankPlan.Rule"/>).</param>
    /// <param name="fingerprint">The search's reasoning-store fingerprint.</param>
    /// <param name="searchBody">The client's search body.</param>
    /// <param name="misses">The window's passages the reasoning store does not hold; null when the store did not answer (all unstored).</param>
    public void Observe(string? index, string queryText, RerankPlan plan, string fingerprint, JsonObject searchBody, IReadOnlyList<KeyedPassage>? misses)
    {
        // The job takes the operator's rule for the index (window, fields, reasoning budget, token limits), never the
        // caller's ext.rank1: anonymous searches must not be able to make the workers judge 200-passage windows with
        // 32k-token budgets. The plan carries it, resolved once for the search (SearchProxy.Prepare).
        var rule = plan.Rule;

        // Only hits within the rule's window count as unstored: those are what the job judges. A search whose ext.rank1
        // window is larger keeps the hits past it unstored whatever the workers do; counted, its query would be sent
        // again every DedupWindow, forever. Its top hits are still sent once (the window is no part of the fingerprint,
        // so the job's judgements serve it), and the proxy judges the rest live.
        // A passage the model cannot read is never stored either (HotQueryDetector.Unreadable): a job could not store it.
        var unstored = misses is null || misses.Any(m => m.Passage.Index < rule.Window && !hotQueries.IsUnreadable(m.Key));

        // A point-in-time search counts towards its query's heat but is never the one that reports it: it names no index
        // (the pit does), so the workers cannot re-run it (Elasticsearch rejects a pit on an index's _search), and were
        // it reported, the query's one publish per DedupWindow would be spent on a skip while the same query's
        // ordinary searches went unpublished. (Scroll searches are not reranked.)
        if (!hotQueries.Observe(fingerprint, unstored && !searchBody.ContainsKey("pit")))
        {
            return;
        }

        var job = new PrecomputeReasoning(index ?? "_all", queryText, plan.Instructions, rule.Window, rule.EffectiveFields.ToArray(), rule.TitleField, rule.MaxThinkTokens,
            PrecomputeReasoning.HotQuery, SearchBody: null, Guid.NewGuid(), PromptTemplate: plan.PromptTemplate, MaxQueryTokens: rule.MaxQueryTokens, MaxPassageTokens: rule.MaxPassageTokens);
        if (NotPublishable(ReasoningKeys.JobFingerprint(job, modelLimits), fingerprint) is { } reason)
        {
            // Counted once per DedupWindow (the detector remembers it as reported), not once per search.
            metrics.PrecomputeRequest("skipped");
            LogSkipped(logger, queryText, reason);
            return;
        }

        // Fire and forget: asking the workers never delays this response. The job names the model and the fingerprint
        // this proxy looks its judgements up by: a worker that would store them elsewhere refuses it.
        _ = PublishAsync(fingerprint, job with { SearchBody = WorkerSearchBody(searchBody), ModelFingerprint = windowJudge.Model.Fingerprint, Fingerprint = fingerprint });
    }

    /// <summary>
    /// Remembers the window's passages the model could not judge because of their input (<paramref name="failures"/>, by
    /// window index), so that they no longer count as unstored for their query.
    /// </summary>
    /// <param name="window">The window's passages with their reasoning-store keys.</param>
    /// <param name="failures">The passages that failed on their input.</param>
    public void Unreadable(IReadOnlyList<KeyedPassage> window, IReadOnlyList<PassageFailure> failures)
    {
        foreach (var failure in failures)
        {
            if (window.FirstOrDefault(k => k.Passage.Index == failure.Index) is { } passage)
            {
                hotQueries.Unreadable(passage.Key);
            }
        }
    }

    /// <summary>Why a job stored under <paramref name="jobFingerprint"/> would not make this search's window stored, or null when it would.</summary>
    private static string? NotPublishable(string jobFingerprint, string fingerprint)
    {
        // The worker stores under the fingerprint of the job's own settings (the rule's). A search whose ext.rank1
        // changed the budget, fields, title field or token limits looks its reasoning up under another fingerprint, so
        // the job would never make it cached and would be sent again every DedupWindow.
        return jobFingerprint == fingerprint
            ? null
            : "its reasoning-store fingerprint (ext.rank1 settings) is not that of the workers' job, which takes the index's rule";
    }

    // Keys of a search body that do not change which hits come back in which order: a worker re-running the search leaves them out.
    private static readonly string[] PresentationKeys = ["from", "size", "ext", "_source", "aggs", "aggregations", "highlight", "explain", "stored_fields",
        "docvalue_fields", "fields", "script_fields", "track_total_hits", "profile", "suggest", "timeout", "version", "seq_no_primary_term"];

    /// <summary>
    /// The search as a worker should re-run it to judge the same window (null when it has nothing but presentation
    /// keys). Computed only when a query is published; the keys the proxy itself changed (from, size, _source) are
    /// presentation keys, so the forwarded body gives the same result as the client's.
    /// </summary>
    private static string? WorkerSearchBody(JsonObject body)
    {
        var copy = (JsonObject)body.DeepClone();
        foreach (var key in PresentationKeys)
        {
            copy.Remove(key);
        }

        return copy.Count == 0 ? null : copy.ToJsonString(Compact);
    }

    private async Task PublishAsync(string fingerprint, PrecomputeReasoning message)
    {
        try
        {
            await publisher.PublishAsync(message, CancellationToken.None).ConfigureAwait(false);
            metrics.PrecomputeRequest(publisher is NoBrokerPublisher ? "no_broker" : "published");
        }
        catch (PublishRefusedException refused) when (refused.HeldBack)
        {
            // Held back while the proxy backs off after RabbitMQ's refusal: the broker was not asked. The detector keeps
            // the query as sent until the back-off ends (BrokerPrecomputePublisher says then whether it was), so its
            // searches of that time neither count it again nor hold it back again.
            if (refused.FirstHold)
            {
                metrics.PrecomputeRequest("held_back");
            }
        }
        catch (Exception ex)
        {
            metrics.PrecomputeRequest("failed");
            hotQueries.PublishFailed(fingerprint);
            if (ex is not PublishRefusedException)
            {
                // RabbitMQ's refusal is said once by the publisher (event 2203) and in the health: not a warning per query.
                LogPublishFailed(logger, fingerprint, message.Query.Length, ex);
            }
        }
    }

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "Hot query '{Query}' is not sent to the workers: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string query, string reason);

    // A warning names the query by its reasoning-store fingerprint and length, never its text (personal data).
    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Could not ask the workers to precompute hot query {Fingerprint} ({QueryLength} characters)")]
    private static partial void LogPublishFailed(ILogger logger, string fingerprint, int queryLength, Exception exception);
}
