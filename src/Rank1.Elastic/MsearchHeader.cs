using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// An <c>_msearch</c> header line read as <c>MultiSearchRequest.readMultiLineFormat</c> reads it: its keys, each one
/// Elasticsearch (or OpenSearch) takes in the metadata section, and the URL parameter each one is of the search.
/// </summary>
internal static class MsearchHeader
{
    // readMultiLineFormat's keys and their camelCase aliases, by the URL parameter each one sets (index: the search's path).
    private static readonly FrozenDictionary<string, string> ElasticsearchKeys = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["index"] = "index", ["indices"] = "index",
        ["search_type"] = "search_type", ["searchType"] = "search_type",
        ["ccs_minimize_roundtrips"] = "ccs_minimize_roundtrips", ["ccsMinimizeRoundtrips"] = "ccs_minimize_roundtrips",
        ["request_cache"] = "request_cache", ["requestCache"] = "request_cache",
        ["preference"] = "preference", ["routing"] = "routing", ["allow_partial_search_results"] = "allow_partial_search_results",
        ["expand_wildcards"] = "expand_wildcards", ["expandWildcards"] = "expand_wildcards",
        ["ignore_unavailable"] = "ignore_unavailable", ["ignoreUnavailable"] = "ignore_unavailable",
        ["allow_no_indices"] = "allow_no_indices", ["allowNoIndices"] = "allow_no_indices",
        ["ignore_throttled"] = "ignore_throttled", ["ignoreThrottled"] = "ignore_throttled",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    // OpenSearch's readMultiLineFormat takes these too.
    private static readonly FrozenDictionary<string, string> OpenSearchKeys = ElasticsearchKeys.Concat(new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["cancel_after_time_interval"] = "cancel_after_time_interval", ["cancelAfterTimeInterval"] = "cancel_after_time_interval", ["phase_took"] = "phase_took",
    }).ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>
    /// The header's keys, or a 400 for the whole msearch. Its JSON is read by <c>parser.map()</c>, which reads a value
    /// that is not an object as no keys (<c>AbstractXContentParser.findNonEmptyMapStart</c>); Elasticsearch 8 and 9 then
    /// refuse any token after what it read (<c>x_content_parse_exception</c> "Unexpected token after end of object":
    /// an array's first token), OpenSearch reads none. A key it does not take is an <c>illegal_argument_exception</c>
    /// "key [x] is not supported in the metadata section", a <c>search_type</c> that is not one an
    /// <c>illegal_argument_exception</c> "No search type for [x]" (<c>SearchType.fromString</c>), a boolean that is not
    /// <c>true</c> or <c>false</c> its refusal (<c>request_cache</c>'s "Could not convert [request_cache] to boolean").
    /// JSON that does not parse: <see cref="RequestJson.ParseFailure"/>.
    /// </summary>
    /// <param name="line">The header line (an empty one is the default header <c>{}</c>).</param>
    /// <param name="openSearch">Whether OpenSearch's keys and leniency apply.</param>
    public static JsonObject Read(ReadOnlySpan<byte> line, bool openSearch)
    {
        line = RequestJson.ByteOrderMarkAsSpaces(line);
        JsonNode? node;
        try
        {
            var reader = new Utf8JsonReader(line, RequestJson.ReaderOptions with { AllowMultipleValues = true });
            if (!reader.Read())
            {
                // No token (a comment alone): parser.map() reads no entry, the default header.
                return [];
            }

            if (reader.TokenType == JsonTokenType.StartArray)
            {
                if (openSearch)
                {
                    return [];
                }

                reader.Read();
                throw new EsException(400, "x_content_parse_exception", $"[1:{reader.TokenStartIndex + 1}] Unexpected token after end of object");
            }

            if (!openSearch && reader.TokenType == JsonTokenType.StartObject)
            {
                // The object first (its own errors: a duplicate key), then what follows it (MsearchLines.ThrowIfAnythingAfter).
                var end = RequestJson.ObjectEnd(ref reader, line.Length, out _);
                node = RequestJson.Parse(line[..end]);
                MsearchLines.ThrowIfAnythingAfter(line, end);
            }
            else
            {
                node = RequestJson.Parse(line);
            }
        }
        catch (JsonException e)
        {
            throw RequestJson.ParseFailure(e, line);
        }

        if (node is not JsonObject header)
        {
            return [];
        }

        var keys = openSearch ? OpenSearchKeys : ElasticsearchKeys;
        foreach (var (key, value) in header)
        {
            if (!keys.TryGetValue(key, out var parameter))
            {
                throw EsException.IllegalArgument($"key [{key}] is not supported in the metadata section");
            }

            // searchRequest.searchType(nodeStringValue(value, null)): SearchType.fromString refuses any other name.
            if (parameter == "search_type" && value is JsonValue v && v.GetValueKind() != JsonValueKind.Null && !SearchTypes(openSearch).Contains(JsonPaths.Text(v)))
            {
                throw EsException.IllegalArgument($"No search type for [{JsonPaths.Text(v)}]");
            }

            if (value is not null)
            {
                ReadBoolean(key, parameter, value);
            }
        }

        return header;
    }

    // The booleans, each as readMultiLineFormat reads it, from the value's Java toString (Booleans.parseBoolean: exactly
    // true or false): request_cache with nodeBooleanValue(value, key), "Could not convert [key] to boolean" caused by the
    // refusal; ccs_minimize_roundtrips (and OpenSearch's phase_took) with nodeBooleanValue(value), the refusal itself;
    // allow_partial_search_results with nodeBooleanValue(value, null), so "Could not convert [null] to boolean". A JSON
    // null is left to the search it is sent with.
    private static void ReadBoolean(string key, string parameter, JsonNode value)
    {
        switch (parameter)
        {
            case "request_cache":
                _ = RequestJson.NodeBooleanValue(JavaObjects.Text(value), key, withDefault: false);
                break;
            case "ccs_minimize_roundtrips" or "phase_took":
                _ = RequestJson.ParseBoolean(JavaObjects.Text(value));
                break;
            case "allow_partial_search_results":
                _ = RequestJson.NodeBooleanValue(JavaObjects.Text(value), "null", withDefault: false);
                break;
        }
    }

    // SearchType.fromString's names; OpenSearch 2.x adds "stream".
    internal static string[] SearchTypes(bool openSearch) => openSearch ? ["query_then_fetch", "dfs_query_then_fetch", "stream"] : ["query_then_fetch", "dfs_query_then_fetch"];

    /// <summary>The URL parameter a header key sets: its own name, or the snake_case one of a camelCase alias (<c>searchType</c>).</summary>
    /// <param name="key">A key <see cref="Read"/> accepted.</param>
    public static string Parameter(string key) => OpenSearchKeys.TryGetValue(key, out var parameter) ? parameter : key;
}
