using System.Globalization;
using System.Text.Json.Nodes;
using Rank1.Inference;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Reranking;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// Turns the backend's answer for the window into the client's answer: the window in Rank1 order (the hits pinned on
/// top first, as the backend answered them, then judged hits by score, those under min_score left out, then any
/// unjudged window hits in backend order), then the hits past the
/// window in backend order, sliced to the client's from/size. A judged hit's <c>_score</c> and <c>_explanation</c> are
/// Rank1's, with its verdict in <c>fields._rank1.*</c>; the hits after the judged ones keep their order, but their
/// <c>_score</c> is their backend score scaled below the lowest kept Rank1 score (see <see cref="Below"/>), their
/// <c>_explanation</c> says so, and they gain <c>fields._rank1.original_score</c>. max_score, took, and a compound
/// retriever's hit's <c>_rank</c> (its place) and <c>sort[0]</c> (its score) reflect the rerank; on a page that hands out
/// cursors the other hits' <c>sort</c> values stay in place by position. Everything else in the response (totals,
/// aggregations, suggest, highlight, _shards, pit_id, _scroll_id, ...) is kept as the backend sent it.
/// </summary>
internal static class HitRewriter
{
    /// <remarks>
    /// With <paramref name="keepSortPositions"/> (the answer is one page whose hits carry <c>sort</c> values: cursors
    /// for <c>search_after</c>), the <c>sort</c> values stay in place by position while the hits are reordered: the
    /// n-th hit from the end of the answer carries the n-th from the end of the backend's, so the last hit carries the
    /// backend's last cursor and the next page starts right after this one, whatever the rerank or
    /// <paramref name="minScore"/> did within it. With <paramref name="minScore"/>, judged hits scoring below it are left
    /// out of the answer. <paramref name="rankFrom"/> is where a compound retriever's places (<c>_rank</c>) count from: the
    /// client's <c>from</c>, which is not <paramref name="from"/> when the backend already answered only the client's page
    /// (it was sent the client's <c>from</c>, and <paramref name="from"/> is 0); <paramref name="from"/> when null.
    /// <paramref name="pinned"/> leading hits are pinned on top (a <c>pinned</c> or <c>rule</c> query's pins): they keep
    /// their places and scores whatever the rerank did, marked <c>_rank1.source</c> <c>pinned</c>.
    /// </remarks>
    public static void Apply(JsonObject response, int from, int size, RerankOutcome? outcome, bool includeReasoning, bool explain, bool keepSortPositions = false, double? minScore = null, int? rankFrom = null,
        int pinned = 0)
    {
        var hits = SearchHits.Hits(response);
        IEnumerable<JsonObject> ordered = hits;
        var reordered = false;
        // The hits pinned on top keep their places, their backend scores (above any organic hit's) and the backend's
        // max_score, which is the first pin's; the hit says why it was not judged, as a failed one does.
        var pins = hits.Take(pinned).ToArray();
        foreach (var pin in pins)
        {
            var fields = Fields(pin);
            fields["_rank1.source"] = new JsonArray(PassageSources.Pinned);
            fields["_rank1.original_score"] = new JsonArray(pin["_score"]?.DeepClone());
        }

        if (outcome is { Status: RerankStatus.Applied or RerankStatus.Partial or RerankStatus.Cached } o)
        {
            reordered = true;
            var judged = o.Verdicts.OrderByDescending(v => v.Judgement.Score).ThenBy(v => v.Index).ToArray();
            var judgedIndices = judged.Select(v => v.Index).ToHashSet();
            foreach (var v in judged)
            {
                Annotate(hits[v.Index], v, includeReasoning, explain);
            }

            var kept = judged.Where(v => minScore is not { } min || v.Judgement.Score >= min).ToArray();
            var rest = hits.Where((h, i) => i >= pins.Length && !judgedIndices.Contains(i)).ToArray();
            ordered = pins.Concat(kept.Select(v => hits[v.Index])).Concat(rest);
            if (kept.Length > 0)
            {
                Below(rest, kept[^1].Judgement.Score, explain);
            }

            if (pins.Length == 0)
            {
                // The best judged hit's; with every judged hit left out (min_score), the best of the hits left, in backend
                // order, as Elasticsearch's max_score is.
                response["hits"]!["max_score"] = kept.Length > 0 ? kept[0].Judgement.Score : rest.Length > 0 ? rest[0]["_score"]?.DeepClone() : null;
            }
        }

        // The time the rerank took, whatever it ended in: a search answered in backend order after waiting 20 s for the
        // model said "took": 0. Parse the JSON text: a JsonValue built in code may hold an int, one parsed from the wire a
        // JsonElement.
        if (outcome is not null && response["took"] is JsonValue took && long.TryParse(took.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
        {
            response["took"] = ms + (long)outcome.Elapsed.TotalMilliseconds;
        }

        // A passage that could not be judged keeps its backend place; the hit says why.
        foreach (var failure in outcome?.Failures ?? [])
        {
            var fields = Fields(hits[failure.Index]);
            fields["_rank1.source"] = new JsonArray(PassageSources.Failed);
            fields["_rank1.error"] = new JsonArray(failure.Reason);
        }

        var page = ordered.Skip(from).Take(size).Select(h => (JsonNode)h.DeepClone()).ToArray();
        if (reordered)
        {
            // A compound retriever's hits (rrf, linear, text_similarity_reranker, rule, ...) carry their place in its
            // ranking as _rank, from + position + 1 (SearchPhaseController.getHits: searchHit.setRank(rankDoc.rank);
            // RankFeaturePhaseRankCoordinatorContext and RRF number them so): once reranked, the place is Rank1's.
            for (var i = 0; i < page.Length; i++)
            {
                if (page[i]!["_rank"] is JsonValue)
                {
                    page[i]!["_rank"] = (rankFrom ?? from) + i + 1;
                    // Such a hit's sort is [its score, its shard and doc] (SearchPhaseController.getHits: for a RankDoc,
                    // sortValues(score, ShardDocSortField.encodeShardAndDoc)): its score there is the one it is answered with.
                    if (page[i]!["sort"] is JsonArray { Count: 2 } sortValues && page[i]!["_score"] is JsonValue score)
                    {
                        sortValues[0] = score.DeepClone();
                    }
                }
            }
        }

        if (keepSortPositions)
        {
            var cursors = hits.Select(h => h["sort"]).ToArray();
            for (var i = 0; i < page.Length; i++)
            {
                if (page[i]!["_rank"] is JsonValue)
                {
                    // A compound retriever's hit: its sort names the hit itself, never a cursor (a compound retriever takes no search_after).
                    continue;
                }

                if (cursors[cursors.Length - page.Length + i] is { } cursor)
                {
                    page[i]!["sort"] = cursor.DeepClone();
                }
                else
                {
                    page[i]!.AsObject().Remove("sort");
                }
            }
        }
        if (response["hits"] is JsonObject hitsObject)
        {
            hitsObject["hits"] = new JsonArray(page);
        }
    }

    /// <summary>The hit's <c>fields</c> object, added when it has none.</summary>
    private static JsonObject Fields(JsonObject hit)
    {
        if (hit["fields"] is not JsonObject fields)
        {
            fields = new JsonObject();
            hit["fields"] = fields;
        }

        return fields;
    }

    /// <summary>
    /// The hits after the judged ones (in the window and not judged, or past it), in backend order: as Elasticsearch answers a
    /// search sorted by score with its hits by <c>_score</c>, best first, their backend scores (BM25, often above any
    /// probability) are scaled below <paramref name="lowest"/>, the lowest Rank1 score shown: the best of them gets half
    /// of it, the others in proportion to their backend scores, which <c>_rank1.original_score</c> keeps. A hit whose backend
    /// score is null (a legacy <c>rank.rrf</c> answer's), negative or not a number gets 0, and no hit gets more than the
    /// hit before it, so the scores never rise down the answer.
    /// </summary>
    private static void Below(IReadOnlyList<JsonObject> rest, double lowest, bool explain)
    {
        var best = rest.Select(Score).Max() ?? 0;
        var previous = double.PositiveInfinity;
        foreach (var hit in rest)
        {
            var original = hit["_score"]?.DeepClone();
            var score = Math.Min(previous, best > 0 && Score(hit) is { } s ? lowest * Math.Max(s, 0) / (2 * best) : 0);
            previous = score;
            hit["_score"] = score;
            Fields(hit)["_rank1.original_score"] = new JsonArray(original);
            if (explain)
            {
                var backend = hit["_explanation"]?.DeepClone();
                hit["_explanation"] = new JsonObject
                {
                    ["value"] = score,
                    ["description"] = "rank1: not judged, so placed after the judged hits: its backend score scaled below the lowest Rank1 score",
                    ["details"] = backend is null ? new JsonArray() : new JsonArray(backend),
                };
            }
        }
    }

    // A number past a double's range (1e400, which no Java float is) reads as infinity: no score, as one that is not a number.
    private static double? Score(JsonObject hit) =>
        hit["_score"] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number && v.GetValue<double>() is var d && double.IsFinite(d) ? d : null;

    private static void Annotate(JsonObject hit, PassageVerdict verdict, bool includeReasoning, bool explain)
    {
        var j = verdict.Judgement;
        var original = hit["_score"]?.DeepClone();
        hit["_score"] = j.Score;
        var fields = Fields(hit);

        // Elasticsearch's "fields" hold arrays: official clients read these without custom types.
        fields["_rank1.score"] = new JsonArray(j.Score);
        fields["_rank1.relevant"] = new JsonArray(j.Relevant);
        fields["_rank1.original_score"] = new JsonArray(original);
        fields["_rank1.source"] = new JsonArray(verdict.Source.Name());
        fields["_rank1.ended"] = new JsonArray(ReasoningEnds.Name(j.End));
        fields["_rank1.reasoning_tokens"] = new JsonArray(j.ReasoningTokens);
        if (j.Truncated)
        {
            fields["_rank1.truncated"] = new JsonArray(true);
        }

        if (includeReasoning)
        {
            fields["_rank1.reasoning"] = new JsonArray(j.Reasoning);
        }

        if (explain)
        {
            var backend = hit["_explanation"]?.DeepClone();
            hit["_explanation"] = new JsonObject
            {
                ["value"] = j.Score,
                ["description"] = string.Create(CultureInfo.InvariantCulture,
                    $"rank1: P(true) = {j.Score:0.####}, {(j.Relevant ? "relevant" : "not relevant")} ({ReasoningEnds.Name(j.End)} after {j.ReasoningTokens} reasoning tokens). Reasoning: {j.Reasoning}"),
                ["details"] = backend is null ? new JsonArray() : new JsonArray(backend),
            };
        }
    }
}
