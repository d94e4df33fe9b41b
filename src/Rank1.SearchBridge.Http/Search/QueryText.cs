using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// The text a search asks about, for Rank1 to judge: from <c>match</c>, <c>match_phrase</c>, <c>multi_match</c>,
/// <c>query_string</c>, <c>simple_query_string</c>, and the scoring clauses (<c>must</c>, <c>should</c>) of
/// <c>bool</c> queries of these. Filters and negations are not what the user is asking about, so they are left out.
/// </summary>
internal static class QueryText
{
    public static string? Extract(JsonNode? query)
    {
        var parts = new List<string>();
        Collect(query, parts);
        var distinct = parts.Select(p => p.Trim()).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        return distinct.Length == 0 ? null : string.Join(' ', distinct);
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
                case "multi_match" or "query_string" or "simple_query_string" or "combined_fields":
                    if (Text((body as JsonObject)?["query"]) is { } q)
                    {
                        parts.Add(q);
                    }

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
