using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Reranking;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// The <c>_msearch</c> wire format: the NDJSON request's header/body pairs (<see cref="MsearchLines"/>), an item's header turned into
/// the index and parameters of its search, and the item answers joined into one <c>responses</c> answer that
/// carries each item's rerank status (<c>_rank1</c>) and a response header whose size does not grow with the items.
/// </summary>
internal static class MsearchFraming
{
    /// <summary>The item's own rerank status in each <c>responses[]</c> entry.</summary>
    public const string StatusKey = "_rank1";

    // Parameters of the msearch request itself, never copied onto each search: its concurrency, and the shaping of
    // the whole answer (filter_path applies to the combined answer, e.g. responses.hits.hits._id).
    private static readonly string[] MsearchOnlyParameters = [MsearchParameters.MaxConcurrentSearches, .. ResponseShaping.AnswerParameters];

    // Header keys that are an item's own search parameters (the rest of Elasticsearch's header keys: index, and
    // those the backend reads as URL parameters).
    private static readonly HashSet<string> IndexKeys = new(StringComparer.Ordinal) { "index", "indices" };

    /// <summary>
    /// Refuses URL parameters the backend flavour's _msearch does not take (<c>q</c>, <c>size</c>, <c>from</c>, <c>sort</c>...),
    /// as Elasticsearch does, instead of copying them onto every search (<see cref="MsearchParameters.ThrowIfUnknown"/>).
    /// </summary>
    /// <param name="path">The request's path, named in the error.</param>
    /// <param name="query">The request's URL parameters.</param>
    /// <param name="flavor">The backend's flavour.</param>
    /// <param name="templates">Whether it is an <c>_msearch/template</c>.</param>
    public static void CheckParameters(string path, IQueryCollection query, BackendFlavor flavor, bool templates = false) =>
        MsearchParameters.ThrowIfUnknown(path, query.Keys, flavor == BackendFlavor.OpenSearch, templates);

    /// <summary>
    /// The msearch's URL parameters that the engine's msearch takes (<see cref="MsearchParameters.Takes"/>): what its
    /// searches may read while the lines are read, before <see cref="CheckParameters"/> refuses the others.
    /// </summary>
    public static IQueryCollection Taken(IQueryCollection query, BackendFlavor flavor, bool templates) =>
        query.All(p => MsearchParameters.Takes(p.Key, flavor == BackendFlavor.OpenSearch, templates)) ? query
            : new QueryCollection(query.Where(p => MsearchParameters.Takes(p.Key, flavor == BackendFlavor.OpenSearch, templates)).ToDictionary(StringComparer.Ordinal));

    /// <summary>
    /// The msearch's <c>max_concurrent_searches</c>, within the operator's cap, read with what the engine reads of the
    /// URL before the lines (<see cref="MsearchParameters.ReadBeforeLines"/>): a bad one is a 400 for the whole msearch.
    /// </summary>
    public static int Concurrency(IQueryCollection query, int cap, bool templates, BackendFlavor flavor) =>
        MsearchParameters.ReadBeforeLines(EsAnswers.Param(query), templates, flavor == BackendFlavor.OpenSearch) is { } n ? Math.Min(n, cap) : cap;

    /// <summary>
    /// The index and URL parameters of one item's search: the header's index (else the path's), the msearch's own
    /// URL parameters less those Elasticsearch keeps for the msearch itself, and the header's per-search options.
    /// </summary>
    /// <param name="header">The item's header, as <see cref="MsearchHeader.Read"/> read it.</param>
    /// <param name="pathIndex">The index of the msearch's path, if any.</param>
    /// <param name="query">The msearch's URL parameters.</param>
    public static (string? Index, IQueryCollection Parameters) Target(JsonObject header, string? pathIndex, IQueryCollection query)
    {
        var index = header["index"] ?? header["indices"];
        var indexText = index switch
        {
            null => pathIndex,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonArray a when a.All(x => x is JsonValue xv && xv.GetValueKind() == JsonValueKind.String) => string.Join(',', a.Select(x => x!.GetValue<string>())),
            _ => throw EsException.Parsing($"[index] of an msearch header must be a string or an array of strings, got [{index.ToJsonString()}]"),
        };
        var parameters = new Dictionary<string, StringValues>(StringComparer.Ordinal);
        foreach (var (k, v) in query)
        {
            if (!MsearchOnlyParameters.Contains(k, StringComparer.Ordinal))
            {
                parameters[k] = v;
            }
        }

        // Per-search options of the msearch header become URL parameters of that search, a camelCase key under its
        // URL name (searchType: search_type); a list (expand_wildcards: ["open","hidden"]) as the comma-separated value the URL takes.
        foreach (var (k, v) in header)
        {
            if (!IndexKeys.Contains(k) && (v is JsonValue || (v is JsonArray a && a.All(x => x is JsonValue))))
            {
                parameters[MsearchHeader.Parameter(k)] = v is JsonArray list ? string.Join(',', list.Select(x => JsonPaths.Text(x!.AsValue()))) : JsonPaths.Text(v.AsValue());
            }
        }

        return (indexText, new QueryCollection(parameters));
    }

    /// <summary>
    /// The msearch answer: every item's answer in order (decoded from the backend's Content-Encoding; an answer
    /// that is not JSON becomes that item's 502), each with its <c>status</c> and its <c>_rank1</c> rerank status.
    /// The headers are those of the first item the backend answered (product, warnings, opaque id), less the body's
    /// own; Content-Type is always set, and the answer goes out in that item's Content-Encoding. The msearch's
    /// <c>filter_path</c> and <c>pretty</c> shape the combined answer.
    /// </summary>
    public static SearchAnswer Combine(IReadOnlyList<SearchAnswer> answers, TimeSpan took, IReadOnlyList<KeyValuePair<string, string[]>> fallbackHeaders, IQueryCollection query)
    {
        var responses = new JsonArray();
        foreach (var a in answers)
        {
            var node = ItemJson(a);
            node["status"] ??= a.Status;
            node[StatusKey] = a.Reason is null
                ? new JsonObject { ["rerank"] = a.Rerank.ToHeaderValue() }
                : new JsonObject { ["rerank"] = a.Rerank.ToHeaderValue(), ["reason"] = a.Reason };
            MirrorInFields(node, a);
            responses.Add(node);
        }

        var body = new JsonObject { ["took"] = (long)took.TotalMilliseconds, ["responses"] = responses };
        var first = answers.FirstOrDefault(a => a.Headers.Count > 0);
        var source = first?.Headers ?? fallbackHeaders;
        var headers = source.Where(h => !h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase) && !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).ToList();
        if (!headers.Any(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
        {
            headers.Add(new("Content-Type", ["application/json"]));
        }

        // In the encoding that item came in: the backend's choice for this client (SearchAnswer.EncodeAs).
        return new SearchAnswer(200, headers, ResponseShaping.Render(body, query), RerankStatus.Applied, null)
        {
            EncodeAs = first is null ? null : first.EncodeAs ?? ContentCoding.CompressionOf(first.Headers),
        };
    }

    // The errors Elasticsearch (and OpenSearch) raise only while reading a search body, which a _search answers at once and
    // unwrapped: SearchSourceBuilder.parseXContent's and the query parsers' ParsingException ("Unknown key for a
    // START_OBJECT in [x].", "unknown query [x]"), JsonXContentParser's XContentParseException and XContentEOFException,
    // parser.namedObject's NamedObjectNotFoundException, parser.intValue()'s NumberFormatException. What fails while a
    // search runs comes back as search_phase_execution_exception (a shard's failure: a sort on an unmapped field),
    // index_not_found_exception or action_request_validation_exception, and stays that item's answer in an msearch.
    private static readonly HashSet<string> ParseErrorTypes = new(StringComparer.Ordinal)
    {
        "parsing_exception", "x_content_parse_exception", "x_content_e_o_f_exception", "named_object_not_found_exception", "number_format_exception",
    };

    /// <summary>
    /// The first answer, in the msearch's order, that is the backend refusing its search while reading the body
    /// (<see cref="ParseErrorTypes"/>), or null. Elasticsearch parses every body of an msearch before it runs any search
    /// (<c>RestMultiSearchAction.parseRequest</c>), so such an error is the whole msearch's answer, not an item's; the
    /// proxy asks the backend one search at a time and learns of it only from that search's answer.
    /// </summary>
    /// <param name="answers">The backend's answers to the items, in order.</param>
    public static SearchAnswer? RefusedWhileParsing(IEnumerable<SearchAnswer> answers) =>
        answers.FirstOrDefault(a => a.Status == 400 && ItemJson(a)["error"] is JsonObject error && error["type"] is JsonValue type
            && type.GetValueKind() == JsonValueKind.String && ParseErrorTypes.Contains(type.GetValue<string>()));

    /// <summary>
    /// The rerank-status header of an msearch: how many items ended in each status (<c>applied=3, skipped=2</c>), so
    /// its size is bounded by the number of statuses, not of items. Each item's own status is in its <c>_rank1</c>.
    /// </summary>
    public static string StatusSummary(IEnumerable<SearchAnswer> answers) =>
        string.Join(", ", answers.GroupBy(a => a.Rerank).OrderBy(g => g.Key).Select(g => $"{g.Key.ToHeaderValue()}={g.Count()}"));

    /// <summary>
    /// The status again in the item's top-level <c>fields</c> (<c>_rank1.rerank</c>, <c>_rank1.reason</c>, each a
    /// one-value array like a hit's fields): typed clients drop keys their search response does not know, such as
    /// <c>_rank1</c>, but keep <c>fields</c> (Elastic.Clients.Elasticsearch: <c>MultiSearchItem.Fields</c>). An error
    /// item is the backend's error object, left as it is.
    /// </summary>
    private static void MirrorInFields(JsonObject node, SearchAnswer answer)
    {
        if (node.ContainsKey("error") || (node["fields"] is { } existing && existing is not JsonObject))
        {
            return;
        }

        if (node["fields"] is not JsonObject fields)
        {
            node["fields"] = fields = new JsonObject();
        }

        fields[$"{StatusKey}.rerank"] = new JsonArray(answer.Rerank.ToHeaderValue());
        if (answer.Reason is not null)
        {
            fields[$"{StatusKey}.reason"] = new JsonArray(answer.Reason);
        }
    }

    private static JsonObject ItemJson(SearchAnswer answer)
    {
        if (answer.Body.Length == 0)
        {
            return new JsonObject();
        }

        try
        {
            var encoding = answer.Headers.FirstOrDefault(h => h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
            if (LoneSurrogates.ParseAnswer(encoding is null ? answer.Body : ContentCoding.Decode(answer.Body, encoding)) is JsonObject json)
            {
                return json;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or EsException)
        {
            return new EsException(502, "rank1_backend_response_exception", $"the backend's answer for this search is not JSON: {e.Message}").ToBody();
        }

        return new EsException(502, "rank1_backend_response_exception", "the backend's answer for this search is not a JSON object").ToBody();
    }
}
