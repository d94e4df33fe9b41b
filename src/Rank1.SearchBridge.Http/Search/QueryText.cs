using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// The text a search asks about, for Rank1 to judge: from <c>match</c>, <c>match_phrase</c>, <c>multi_match</c>,
/// <c>query_string</c>, <c>simple_query_string</c>, <c>combined_fields</c>, <c>semantic</c>, <c>sparse_vector</c>,
/// <c>text_expansion</c> and <c>knn</c> (its <c>model_text</c>), OpenSearch's <c>neural</c> and <c>neural_sparse</c>
/// (their <c>query_text</c>), and the scoring clauses (<c>must</c>, <c>should</c>) of <c>bool</c> queries of these,
/// through <c>boosting</c>, <c>constant_score</c>, <c>function_score</c>, <c>dis_max</c>, <c>nested</c>, the
/// <c>organic</c> query of <c>pinned</c> and <c>rule</c>, and OpenSearch's <c>hybrid</c>. Filters and negations are not
/// what the user is asking about, so they are left out.
/// </summary>
internal static class QueryText
{
    /// <summary>
    /// The text of a whole search body: its <c>query</c>, its top-level <c>knn</c> searches' <c>model_text</c>, and its
    /// <c>retriever</c> tree (Elasticsearch 8.14 and later): a <c>standard</c> retriever's query, a <c>knn</c> retriever's
    /// <c>model_text</c>, the <c>query</c> and sub-retrievers of <c>rrf</c> and <c>linear</c>, the retriever under
    /// <c>rule</c>, <c>pinned</c> and <c>rescorer</c>, and a <c>text_similarity_reranker</c>'s <c>inference_text</c> (the
    /// text the cluster's own reranker would be asked about, taken alone). Null when there is none.
    /// </summary>
    /// <param name="body">The search body, or null.</param>
    public static string? FromBody(JsonObject? body)
    {
        var parts = new List<string>();
        Collect(body?["query"], parts);
        IEnumerable<JsonNode?> knns = body?["knn"] switch
        {
            JsonArray many => many,
            JsonObject one => new JsonNode?[] { one },
            _ => Array.Empty<JsonNode?>(),
        };
        foreach (var knn in knns)
        {
            ModelText(knn, parts);
        }

        Retriever(body?["retriever"], parts);
        return Join(parts);
    }

    private static string? Join(List<string> parts)
    {
        // A part of white space and control characters only (Trim keeps U+0001) asks nothing: the worker refuses a job of
        // it (PrecomputeReasoning.IsBlankQuery), so a search of only such parts has no query text, as an empty one.
        var distinct = parts.Where(p => !PrecomputeReasoning.IsBlankQuery(p)).Select(p => p.Trim()).Distinct(StringComparer.Ordinal).ToArray();
        return distinct.Length == 0 ? null : string.Join(' ', distinct);
    }

    private static void Retriever(JsonNode? node, List<string> parts)
    {
        if (node is not JsonObject retriever)
        {
            return;
        }

        foreach (var (type, value) in retriever)
        {
            var body = value as JsonObject;
            switch (type)
            {
                case "standard":
                    Collect(body?["query"], parts);
                    break;
                case "knn":
                    ModelText(body, parts);
                    break;
                case "rrf" or "linear":
                    if (Text(body?["query"]) is { } query)
                    {
                        parts.Add(query);
                    }

                    foreach (var entry in body?["retrievers"] as JsonArray ?? [])
                    {
                        // An entry is a retriever, or (linear, weighted rrf) {"retriever": ..., "weight": ...}.
                        Retriever(entry is JsonObject o && o["retriever"] is JsonObject inner ? inner : entry, parts);
                    }

                    break;
                case "text_similarity_reranker":
                    if (Text(body?["inference_text"]) is { } text)
                    {
                        parts.Add(text);
                    }
                    else
                    {
                        Retriever(body?["retriever"], parts);
                    }

                    break;
                case "rule" or "pinned" or "rescorer":
                    Retriever(body?["retriever"], parts);
                    break;
            }
        }
    }

    // A knn search's text: query_vector_builder.text_embedding.model_text (a query_vector has none).
    private static void ModelText(JsonNode? knn, List<string> parts)
    {
        if (Text(((knn as JsonObject)?["query_vector_builder"] as JsonObject)?["text_embedding"] is JsonObject embedding ? embedding["model_text"] : null) is { } text)
        {
            parts.Add(text);
        }
    }

    private static void Collect(JsonNode? node, List<string> parts)
    {
        if (node is not JsonObject obj)
        {
            return;
        }

        foreach (var (type, body) in obj)
        {
            switch (type)
            {
                case "match" or "match_phrase" or "match_bool_prefix" or "match_phrase_prefix":
                    if (body is JsonObject fields)
                    {
                        foreach (var (_, spec) in fields)
                        {
                            if (Text(spec is JsonObject o ? o["query"] : spec) is { } t)
                            {
                                parts.Add(t);
                            }
                        }
                    }

                    break;
                case "multi_match" or "query_string" or "simple_query_string" or "combined_fields" or "semantic" or "sparse_vector":
                    if (Text((body as JsonObject)?["query"]) is { } q)
                    {
                        parts.Add(q);
                    }

                    break;
                case "text_expansion":
                    foreach (var (_, spec) in body as JsonObject ?? [])
                    {
                        if (Text((spec as JsonObject)?["model_text"]) is { } t)
                        {
                            parts.Add(t);
                        }
                    }

                    break;
                case "knn":
                    ModelText(body, parts);
                    break;
                case "neural" or "neural_sparse":
                    // OpenSearch's neural search plugin: {"neural": {"<field>": {"query_text": "...", "model_id": ...}}}.
                    foreach (var (_, spec) in body as JsonObject ?? [])
                    {
                        if (Text((spec as JsonObject)?["query_text"]) is { } t)
                        {
                            parts.Add(t);
                        }
                    }

                    break;
                case "hybrid":
                    // OpenSearch's hybrid query: its sub-queries are scored and combined (a search pipeline normalizes them).
                    foreach (var sub in (body as JsonObject)?["queries"] as JsonArray ?? [])
                    {
                        Collect(sub, parts);
                    }

                    break;
                case "nested":
                    Collect((body as JsonObject)?["query"], parts);
                    break;
                case var pinner when PinnedHits.IsPinningQueryType(pinner):
                    // The organic query is the user's (PinnedQueryBuilder, RuleQueryBuilder: ORGANIC_QUERY_FIELD); the pins are ids.
                    Collect((body as JsonObject)?["organic"], parts);
                    break;
                case "bool":
                    foreach (var clause in new[] { "must", "should" })
                    {
                        switch ((body as JsonObject)?[clause])
                        {
                            case JsonArray arr:
                                foreach (var c in arr)
                                {
                                    Collect(c, parts);
                                }

                                break;
                            case JsonObject one:
                                Collect(one, parts);
                                break;
                        }
                    }

                    break;
                case "boosting":
                    Collect((body as JsonObject)?["positive"], parts);
                    break;
                case "constant_score" or "function_score" or "dis_max":
                    Collect((body as JsonObject)?["query"] ?? (body as JsonObject)?["filter"], parts);
                    if ((body as JsonObject)?["queries"] is JsonArray queries)
                    {
                        foreach (var q2 in queries)
                        {
                            Collect(q2, parts);
                        }
                    }

                    break;
            }
        }
    }

    private static string? Text(JsonNode? node) => node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;
}
