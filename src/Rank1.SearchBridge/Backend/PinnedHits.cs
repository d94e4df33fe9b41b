using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.Backend;

/// <summary>What pins documents on top of a search (<see cref="PinnedHits.Of"/>).</summary>
/// <param name="Pinner">What pins, as the skip reason names it.</param>
/// <param name="AnswerTells">Whether the backend's answer tells if anything was pinned (<see cref="PinnedHits.IsPin"/>), or the request alone does.</param>
/// <param name="Under">The retriever under an outermost rule or pinned retriever (its retriever key); null when a query pins.</param>
internal sealed record SearchPins(string Pinner, bool AnswerTells, JsonObject? Under);

/// <summary>
/// The one home of the pins of a search: what in a search body pins documents on top (<see cref="Of"/>), which hits of the
/// backend's answer are pins (<see cref="IsPin"/>), and where a window's organic hits start (<see cref="OrganicFrom"/>):
/// the hits pinned on top keep their places and only the organic hits after them are judged, by the proxy's rerank and by
/// the precompute worker alike, so that the worker judges exactly the passages the proxy looks up.
/// </summary>
internal static class PinnedHits
{
    /// <summary>Why a search whose pins the answer cannot tell apart keeps the backend's order (the skip reason).</summary>
    /// <param name="pinner">What pins (<see cref="SearchPins.Pinner"/>).</param>
    public static string Reason(string pinner) => $"the search pins documents on top ({pinner}): they keep the backend's order";

    /// <summary>
    /// Where the organic hits of a window start in the backend's answer to a search that <paramref name="pins"/>: 0 when
    /// nothing pins; the number of leading hits that are pins (<see cref="IsPin"/>) where the answer tells them; null when
    /// the search keeps the backend's order and nothing of it is judged: the request alone tells its pins
    /// (<see cref="SearchPins.AnswerTells"/> false), a pin stands below an organic hit (which Elasticsearch's order by score
    /// never answers), or the window (<paramref name="window"/> hits) holds pins alone.
    /// </summary>
    /// <param name="pins">What pins the search (<see cref="Of"/>), or null.</param>
    /// <param name="hits">The backend's answer's hits, in its order.</param>
    /// <param name="window">The hits judged from the top.</param>
    public static int? OrganicFrom(SearchPins? pins, IReadOnlyList<JsonObject> hits, int window)
    {
        if (pins is null)
        {
            return 0;
        }

        if (!pins.AnswerTells)
        {
            return null;
        }

        var leading = hits.TakeWhile(IsPin).Count();
        return hits.Skip(leading).Any(IsPin) || (leading > 0 && leading >= Math.Min(window, hits.Count)) ? null : leading;
    }

    // What answers the search with documents pinned on top, in the order they were pinned: the outermost retriever when it
    // is a rule retriever (query rules: QueryRuleRetrieverBuilder pins and excludes) or a pinned retriever, or the search's
    // own query (the body's, or a standard retriever's) when it is, or scores with, a pinned or rule query (PinnedQueryBuilder
    // scores the pinned ids above any organic hit). Reranked whole, the pins would be reordered by Rank1's score among the
    // organic hits: where the answer tells the pins they keep their places and only the organic hits after them are reranked.
    // Under rrf or linear a rule's or pinned retriever's hits are fused like any other ranking, so nothing stays pinned
    // there; under text_similarity_reranker or rescorer the cluster itself reorders them: such searches are reranked.
    // AnswerTells: the outermost rule or pinned retriever pins only when a rule matched (RuleQueryBuilder.doRewrite answers
    // the organic query alone, or with the excluded ids under must_not, when no rule pins) or its ids are among the hits, and
    // its pins' scores, which nothing scales (it builds its query with boost 1), are above any organic hit's
    // (IsPin): the backend's answer tells, unless the retriever under it pins with its own query, which the request tells.
    // So does it for a pinned or rule query that is the search's query itself, unboosted (UnboostedPinner); one under
    // another query, or boosted, is told by the request alone, and the search keeps the backend's order.
    // Whatever pins, a body key that scales the hits' scores after the query scored them leaves the answer unable to tell
    // the pins (ScalesScores): the request tells them, and the search keeps the backend's order.
    public static SearchPins? Of(JsonObject? body)
    {
        if (PinningRetriever(body?["retriever"] as JsonObject) is var (outer, inner))
        {
            var innerPins = PinningRetriever(inner) is not null || PinningQuery((inner?["standard"] as JsonObject)?["query"], under: null) is not null;
            return new SearchPins($"the outermost retriever is [{outer}]", !innerPins && !ScalesScores(body), inner);
        }

        var query = body?["query"] as JsonObject ?? (((body?["retriever"] as JsonObject)?["standard"] as JsonObject)?["query"] as JsonObject);
        return PinningQuery(query, under: null) is { } pinning ? new SearchPins(pinning, UnboostedPinner(query) && !ScalesScores(body), null) : null;
    }

    // A body key that scales every hit's score the query gave it, so that pins may score at or below MAX_ORGANIC_SCORE:
    // rescore (QueryRescorer.combine: the first pass's score times query_weight, then score_mode's total, multiply, avg,
    // max or min with the rescore query's), or an indices_boost entry other than 1 (DefaultSearchContext.preProcess wraps
    // the query in a BoostQuery when queryBoost() != AbstractQueryBuilder.DEFAULT_BOOST). min_score, post_filter and
    // aggregations filter or count hits and scale no score.
    private static bool ScalesScores(JsonObject? body) =>
        body?["rescore"] is not null
        || (body?["indices_boost"] switch
        {
            // [{"index": boost}, ...], and the older {"index": boost, ...}.
            JsonArray entries => entries.OfType<JsonObject>().SelectMany(e => e),
            JsonObject entries => entries,
            _ => [],
        }).Any(e => !IsOne(e.Value));

    // A JSON number equal to 1: a boost that scales nothing.
    private static bool IsOne(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.GetValue<double>() == 1;

    /// <summary>
    /// Whether a query of this type pins documents on top of its organic query: pinned (PinnedQueryBuilder), rule and its
    /// older name rule_query (RuleQueryBuilder). The one list, read here and by the proxy's query text (QueryText).
    /// </summary>
    /// <param name="type">The query's type, its key in the query DSL.</param>
    public static bool IsPinningQueryType(string type) => type is "pinned" or "rule" or "rule_query";

    // The search's query is itself a pinned or rule query with no boost but 1: its pins score as the pinned retriever's
    // (PinnedQueryBuilder.doToQuery; RuleQueryBuilder.doToQuery builds one from the rules that match), and
    // AbstractQueryBuilder.toQuery scales nothing, so the answer tells them. A boost, or a query around it, may scale them;
    // one that pins again in its organic query has those pins capped to MAX_ORGANIC_SCORE, still above the other organic
    // hits, which the answer does not tell: the request does, as for a retriever under the outermost one that pins.
    private static bool UnboostedPinner(JsonObject? query) =>
        query is { Count: 1 } && query.First() is { Key: var type, Value: JsonObject spec } && IsPinningQueryType(type)
        && (spec["boost"] is null || IsOne(spec["boost"]))
        && PinningQuery(spec["organic"], under: null) is null;

    // The retriever when it is a rule or pinned retriever, and the retriever under it (its retriever key).
    private static (string Type, JsonObject? Inner)? PinningRetriever(JsonObject? retriever) =>
        retriever?.FirstOrDefault(p => p.Key is "rule" or "pinned") is { Key: { } type, Value: var spec }
            ? (type, (spec as JsonObject)?["retriever"] as JsonObject)
            : null;

    // PinnedQueryBuilder.MAX_ORGANIC_SCORE, Float.intBitsToFloat(0xfe << 23) - 1: 2^127 as a float. Where a PinnedQueryBuilder
    // is built (a pinned retriever, a rule retriever whose rules pin) it caps the organic query's scores at it and each pin
    // scores above it (doToQuery: the floats just above it, the first pin highest). A rule retriever whose rules pin nothing
    // runs its organic query uncapped (RuleQueryBuilder.doRewrite): a function_score or script_score hit above it reads as a
    // pin, and keeps its place on top with its backend score (the safe way: not judged, where the backend put it).
    private static readonly float MaxOrganicScore = BitConverter.Int32BitsToSingle(0xfe << 23);

    // A hit a pinned query put on top: its score above MaxOrganicScore, as PinnedRetrieverBuilder.combineInnerRetrieverResults
    // tells one (scoreDoc.score > PinnedQueryBuilder.MAX_ORGANIC_SCORE). Elasticsearch writes the float (Float.toString,
    // "1.7014122E38"), which reads back as that float. A score that is not a number (null) is no pin.
    public static bool IsPin(JsonObject hit) =>
        hit["_score"] is JsonValue score && score.GetValueKind() == JsonValueKind.Number && (float)score.GetValue<double>() > MaxOrganicScore;

    // A pinned or rule query whose score reaches the hit's: the query itself, or one in a scoring place under it (bool's must
    // and should add the clauses' scores, dis_max takes the best, function_score multiplies by default, boosting keeps its
    // positive query's, script_score, nested, has_child and has_parent read the inner query's score), where the pins'
    // scores (PinnedQueryBuilder: above MAX_ORGANIC_SCORE, which caps the organic query) may still put them on top.
    // In a filter (bool's filter, constant_score) or a must_not it scores nothing and pins nothing.
    private static string? PinningQuery(JsonNode? node, string? under)
    {
        if (node is not JsonObject query)
        {
            return null;
        }

        foreach (var (type, spec) in query)
        {
            if (IsPinningQueryType(type))
            {
                return under is null ? $"the query is [{type}]" : $"the query is [{type}] under [{under}]";
            }

            var inner = spec as JsonObject;
            IEnumerable<JsonNode?> scoring = type switch
            {
                "bool" => new[] { "must", "should" }.SelectMany<string, JsonNode?>(clause => inner?[clause] switch
                {
                    // Typed: a collection expression here would be a JsonArray, which cannot hold a node that has a parent.
                    JsonArray many => (IEnumerable<JsonNode?>)many,
                    JsonObject one => new JsonNode?[] { one },
                    _ => [],
                }),
                "dis_max" => inner?["queries"] as JsonArray ?? [],
                "function_score" => [inner?["query"]],
                "boosting" => [inner?["positive"]],
                // The query whose score the script reads (script_score), or the child's, parent's or nested documents'
                // whose scores a score_mode (or has_parent's score) brings into the hit's: the pins' scores are the
                // wrapper's to change, so the answer does not tell them (the request does).
                "script_score" => [inner?["query"]],
                "nested" when inner?["score_mode"]?.ToString() != "none" => [inner?["query"]],
                "has_child" when inner?["score_mode"] is { } mode && mode.ToString() != "none" => [inner?["query"]],
                "has_parent" when inner?["score"] is JsonValue score && score.GetValueKind() == JsonValueKind.True => [inner?["query"]],
                _ => [],
            };
            foreach (var clause in scoring)
            {
                if (PinningQuery(clause, under ?? type) is { } found)
                {
                    return found;
                }
            }
        }

        return null;
    }
}
