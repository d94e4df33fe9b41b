using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Rank1.SearchBridge.Backend;
using Rank1.Inference;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;
using Rank1.Shared;

namespace Rank1.SearchBridge.Search;

/// <summary>The answer to one search, ready to write.</summary>
internal sealed record SearchAnswer(int Status, IReadOnlyList<KeyValuePair<string, string[]>> Headers, byte[] Body, RerankStatus Rerank, string? Reason);

/// <summary>
/// Handles <c>_search</c> and <c>_msearch</c>: asks the backend for the top <c>max(window, from + size)</c> from 0,
/// has Rank1 rerank the window, and answers in Elasticsearch's shape with score and reasoning on every reranked hit.
/// </summary>
internal sealed partial class SearchProxy(BackendClient backend, RerankExecutor reranker, ReasoningStore store, HotQueryDetector hotQueries, IPrecomputePublisher publisher,
    RuleSet rules, ProxyMetrics metrics, TimeProvider time, ILogger<SearchProxy> logger)
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Request headers that describe the body we may have rewritten or decompressed: set anew, never copied.
    private static readonly HashSet<string> BodyHeaders = new(StringComparer.OrdinalIgnoreCase) { "Content-Length", "Content-Encoding" };

    public async Task HandleSearchAsync(HttpContext context, string? index)
    {
        var raw = await ReadBodyAsync(context.Request).ConfigureAwait(false);
        var answer = await SearchAsync(index, raw, context.Request.Query, RequestHeaders(context.Request), context.Request.Method, context.RequestAborted).ConfigureAwait(false);
        await WriteAsync(context, answer, [answer.Rerank.ToHeaderValue()]).ConfigureAwait(false);
    }

    public async Task HandleMsearchAsync(HttpContext context, string? pathIndex)
    {
        var raw = await ReadBodyAsync(context.Request).ConfigureAwait(false);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var lines = Encoding.UTF8.GetString(raw).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0 || lines.Length % 2 != 0)
        {
            throw EsError.BadRequest("The msearch request must be terminated by a newline [\\n] and hold header/body pairs");
        }

        var headers = RequestHeaders(context.Request);
        var items = new Task<SearchAnswer>[lines.Length / 2];
        for (var i = 0; i < items.Length; i++)
        {
            var headerLine = lines[2 * i];
            var bodyLine = Encoding.UTF8.GetBytes(lines[(2 * i) + 1]);
            items[i] = MsearchItemAsync(headerLine, bodyLine, pathIndex, context.Request.Query, headers, context.RequestAborted);
        }

        var answers = await Task.WhenAll(items).ConfigureAwait(false);
        var responses = new JsonArray();
        foreach (var a in answers)
        {
            var node = a.Body.Length == 0 ? new JsonObject() : JsonNode.Parse(a.Body) as JsonObject ?? new JsonObject();
            node["status"] ??= a.Status;
            responses.Add(node);
        }

        var body = new JsonObject { ["took"] = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, ["responses"] = responses };
        var contentType = answers.SelectMany(a => a.Headers).FirstOrDefault(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase));
        var answer = new SearchAnswer(200, contentType.Key is null ? [] : [contentType], Encoding.UTF8.GetBytes(body.ToJsonString(Compact)), RerankStatus.Applied, null);
        await WriteAsync(context, answer, answers.Select(a => a.Rerank.ToHeaderValue()).ToArray()).ConfigureAwait(false);
    }

    private async Task<SearchAnswer> MsearchItemAsync(string headerLine, byte[] body, string? pathIndex, IQueryCollection query, IReadOnlyList<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        try
        {
            var header = ParseObject(Encoding.UTF8.GetBytes(headerLine));
            var index = header["index"] switch
            {
                JsonArray a => string.Join(',', a.Select(x => x!.GetValue<string>())),
                JsonNode n => n.GetValue<string>(),
                null => pathIndex,
            };
            // Per-search options of the msearch header become URL parameters of that search.
            var parameters = new Dictionary<string, StringValues>(StringComparer.Ordinal);
            foreach (var (k, v) in query)
            {
                parameters[k] = v;
            }

            foreach (var (k, v) in header)
            {
                if (k != "index" && v is JsonValue)
                {
                    parameters[k] = v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString();
                }
            }

            return await SearchAsync(index, body, new QueryCollection(parameters), headers, "POST", cancellationToken).ConfigureAwait(false);
        }
        catch (EsError e)
        {
            return new SearchAnswer(e.Status, [], Encoding.UTF8.GetBytes(e.Body().ToJsonString(Compact)), RerankStatus.Skipped, e.Message);
        }
        catch (BackendUnavailableException e)
        {
            return new SearchAnswer(e.Status, [], Encoding.UTF8.GetBytes(e.ToEsError().Body().ToJsonString(Compact)), RerankStatus.Skipped, e.Message);
        }
    }

    /// <summary>One search: plan, ask the backend, rerank the window, rewrite.</summary>
    internal async Task<SearchAnswer> SearchAsync(string? index, byte[] raw, IQueryCollection query, IReadOnlyList<KeyValuePair<string, string[]>> headers, string method, CancellationToken cancellationToken)
    {
        var body = raw.AsSpan().Trim(" \t\r\n"u8).IsEmpty ? null : ParseObject(raw);
        var hadExt = body?["ext"] is JsonObject ext && ext.ContainsKey("rank1");
        var plan = RerankPlan.From(body, rules.Resolve(index));
        var path = SearchPath(index);
        var queryText = plan.QueryText ?? QueryText.Extract(body?["query"]) ?? (query.TryGetValue("q", out var q) ? q.ToString() : null);

        plan = SkipReason(plan, body, query, queryText) is { } reason ? plan.Skip(reason) : plan;
        if (!plan.Enabled)
        {
            if (plan.RequestedByClient && plan.SkipReason == NoQueryText)
            {
                throw EsError.BadRequest("[ext.rank1.query] is required: no query text could be extracted from the query (rank1 reads match, multi_match, query_string, simple_query_string and bool clauses of these)");
            }

            var forwardBody = hadExt ? Encoding.UTF8.GetBytes(body!.ToJsonString(Compact)) : raw;
            var passthrough = await backend.SendAsync(new HttpMethod(method), path + ToQueryString(query), forwardBody.Length == 0 ? null : forwardBody, headers, cancellationToken).ConfigureAwait(false);
            metrics.Searches.WithLabels("skipped").Inc();
            return new SearchAnswer(passthrough.Status, passthrough.Headers, passthrough.Body, RerankStatus.Skipped, plan.SkipReason);
        }

        var from = Int(query, "from") ?? (body?["from"]?.GetValue<int>()) ?? 0;
        var size = Int(query, "size") ?? (body?["size"]?.GetValue<int>()) ?? 10;
        var explain = query.TryGetValue("explain", out var ex) ? ex.ToString() is "" or "true" : body?["explain"]?.GetValue<bool>() ?? false;
        body ??= new JsonObject();
        body["from"] = 0;
        body["size"] = Math.Max(plan.Window, from + size);
        // The passage fields must come back even when the client filters _source: ask for the whole source and
        // apply the client's own filter to the answer.
        var clientSource = ClientSourceFilter(body, query);
        if (clientSource is not null)
        {
            body.Remove("_source");
        }

        var forwarded = new QueryCollection(query.Where(p => p.Key is not ("from" or "size" or "_source" or "_source_includes" or "_source_excludes")).ToDictionary(p => p.Key, p => p.Value));

        var response = await backend.SendAsync(HttpMethod.Post, path + ToQueryString(forwarded), Encoding.UTF8.GetBytes(body.ToJsonString(Compact)), headers, cancellationToken).ConfigureAwait(false);
        if (response.Status != 200)
        {
            metrics.Searches.WithLabels("skipped").Inc();
            return new SearchAnswer(response.Status, response.Headers, response.Body, RerankStatus.Skipped, "the backend answered with an error");
        }

        var (json, headersOut) = DecodeJson(response);
        var hits = HitRewriter.Hits(json);
        var window = hits.Take(plan.Window).Select((h, i) => (Index: i, Passage: HitRewriter.Passage(h, plan.Fields, plan.TitleField))).ToArray();
        RerankOutcome? outcome = null;
        RerankStatus status;
        string? why = null;
        if (window.Length == 0 || window.All(w => w.Passage.Text.Length == 0))
        {
            status = RerankStatus.Skipped;
            why = window.Length == 0 ? "no hits" : $"no passage text in fields [{string.Join(", ", plan.Fields)}]";
        }
        else
        {
            outcome = await RerankWindowAsync(index, queryText!, plan, body, hits, window.Select(w => new PassageToJudge(w.Index, w.Passage.Title, w.Passage.Text)).ToArray(), cancellationToken).ConfigureAwait(false);
            status = outcome.Status;
            why = outcome.Reason;
        }

        HitRewriter.Apply(json, from, size, outcome, plan.IncludeReasoning, explain);
        if (clientSource is not null)
        {
            foreach (var hit in HitRewriter.Hits(json))
            {
                if (!clientSource.Enabled)
                {
                    hit.Remove("_source");
                }
                else if (hit["_source"] is { } src)
                {
                    hit["_source"] = clientSource.Apply(src.DeepClone());
                }
            }
        }
        metrics.Searches.WithLabels(status.ToHeaderValue()).Inc();
        LogSearch(logger, index ?? "_all", status.ToHeaderValue(), outcome?.Verdicts.Count ?? 0, outcome?.Elapsed.TotalMilliseconds ?? 0);
        return new SearchAnswer(200, headersOut, Encoding.UTF8.GetBytes(json.ToJsonString(Compact)), status, why);
    }

    private const string NoQueryText = "no query text to judge";

    /// <summary>
    /// Judges a window, reusing stored reasoning where the stored passage hash matches the passage as it is now
    /// (one _mget for the window). Only the misses go to the model; new judgements are written back in the
    /// background. Stored reasoning is looked up only for hits this search returned, under their own index.
    /// </summary>
    private async Task<RerankOutcome> RerankWindowAsync(string? index, string queryText, RerankPlan plan, JsonObject searchBody, IReadOnlyList<JsonObject> hits, PassageToJudge[] window, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var fingerprint = ReasoningKeys.Fingerprint(queryText, plan.Instructions, plan.MaxThinkTokens, plan.Fields, plan.TitleField);
        var keys = window.Select(p => (Passage: p, Key: JudgementRecords.Key(hits[p.Index], index, reranker.ModelId, fingerprint, p.Title, p.Text))).ToArray();

        var stored = await store.LookupAsync(keys.Select(k => k.Key.Id).ToArray(), cancellationToken).ConfigureAwait(false);
        var cached = new List<PassageVerdict>();
        var misses = new List<PassageToJudge>();
        foreach (var k in keys)
        {
            if (stored.TryGetValue(k.Key.Id, out var s) && JudgementRecords.Matches(s, k.Key, reranker.ModelId))
            {
                cached.Add(new PassageVerdict(k.Passage.Index, new Rank1Judgement(s.Score, s.Relevant, s.Reasoning, s.ReasoningTokens, s.End, 0, TimeSpan.Zero, TimeSpan.Zero), "cached"));
            }
            else
            {
                misses.Add(k.Passage);
            }
        }

        metrics.CacheHits.Inc(cached.Count);
        if (hotQueries.Observe(fingerprint, hasUnstoredHits: misses.Count > 0))
        {
            // Fire and forget: asking the workers never delays this response.
            _ = PublishPrecomputeAsync(fingerprint, new PrecomputeReasoning(index ?? "_all", queryText, plan.Instructions, plan.Window, plan.Fields.ToArray(), plan.TitleField, plan.MaxThinkTokens,
                "hot-query", WorkerSearchBody(searchBody), Guid.NewGuid()));
        }

        if (misses.Count == 0)
        {
            return new RerankOutcome(RerankStatus.Cached, cached, null, time.GetElapsedTime(started));
        }

        var computed = await reranker.RerankAsync(queryText, plan.Instructions, misses, plan.MaxThinkTokens, TimeSpan.FromMilliseconds(plan.DeadlineMs), cancellationToken).ConfigureAwait(false);
        var byIndex = keys.ToDictionary(k => k.Passage.Index);
        foreach (var v in computed.Verdicts.Where(v => v.Source == "computed"))
        {
            // Forced (deadline) judgements are weaker than the model's own: they are not stored.
            store.Enqueue(JudgementRecords.Document(byIndex[v.Index].Key, reranker.ModelId, fingerprint, queryText, plan.Instructions, v.Judgement, time.GetUtcNow()));
        }

        return computed.Status is RerankStatus.Applied or RerankStatus.Partial
            ? computed with { Verdicts = [.. computed.Verdicts, .. cached], Elapsed = time.GetElapsedTime(started) }
            : computed;
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

    /// <summary>The client's _source filter when it restricts the source (URL parameters win over the body, as in Elasticsearch).</summary>
    private static SourceFilter? ClientSourceFilter(JsonObject body, IQueryCollection query)
    {
        SourceFilter? filter;
        try
        {
            filter = SourceFilter.FromQuery(query.TryGetValue("_source", out var s) ? s.ToString() : null,
                query.TryGetValue("_source_includes", out var i) ? i.ToString() : null,
                query.TryGetValue("_source_excludes", out var e) ? e.ToString() : null) ?? (body["_source"] is { } node ? SourceFilter.Parse(node) : null);
        }
        catch (FormatException ex)
        {
            throw EsError.Parsing(ex.Message);
        }

        return filter is { KeepsEverything: false } ? filter : null;
    }

    private async Task PublishPrecomputeAsync(string fingerprint, PrecomputeReasoning message)
    {
        try
        {
            await publisher.PublishAsync(message, CancellationToken.None).ConfigureAwait(false);
            metrics.PrecomputeRequests.WithLabels(publisher is NoBrokerPublisher ? "no_broker" : "published").Inc();
        }
        catch (Exception ex)
        {
            metrics.PrecomputeRequests.WithLabels("failed").Inc();
            hotQueries.PublishFailed(fingerprint);
            LogPublishFailed(logger, message.Query, ex);
        }
    }

    private static string? SkipReason(RerankPlan plan, JsonObject? body, IQueryCollection query, string? queryText)
    {
        if (!plan.Enabled)
        {
            return "reranking is disabled for this search";
        }

        if (query.ContainsKey("scroll"))
        {
            return "scroll searches pass through un-reranked";
        }

        if (body?["search_after"] is not null)
        {
            return "search_after pages pass through un-reranked";
        }

        if (query.ContainsKey("sort") || (body?["sort"] is { } sort && !SortsByScoreOnly(sort)))
        {
            return "the search is sorted by a field";
        }

        if ((Int(query, "size") ?? (body?["size"] is JsonValue s && s.TryGetValue<int>(out var size) ? size : 10)) == 0)
        {
            return "size is 0";
        }

        return queryText is null ? NoQueryText : null;
    }

    private static bool SortsByScoreOnly(JsonNode sort) => sort switch
    {
        JsonValue v => v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "_score",
        JsonArray a => a.All(x => x is not null && SortsByScoreOnly(x)),
        JsonObject o => o.Count == 1 && o.ContainsKey("_score"),
        _ => false,
    };

    private static int? Int(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var v) ? int.TryParse(v.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
            : throw EsError.BadRequest($"Failed to parse int parameter [{name}] with value [{v}]") : null;

    /// <summary>The <c>_search</c> path of an index expression (lists and wildcards kept readable).</summary>
    internal static string SearchPath(string? index) =>
        string.IsNullOrEmpty(index) ? "_search" : $"{Uri.EscapeDataString(index).Replace("%2C", ",", StringComparison.Ordinal).Replace("%2A", "*", StringComparison.Ordinal)}/_search";

    /// <summary>The answer's body with any Content-Encoding undone.</summary>
    internal static byte[] Decoded(BackendResponse response) =>
        response.Headers.FirstOrDefault(h => h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault() is { } encoding
            ? Decode(response.Body, encoding)
            : response.Body;

    private static string ToQueryString(IEnumerable<KeyValuePair<string, StringValues>> query) => QueryString.Create(query).ToUriComponent();

    private static JsonObject ParseObject(byte[] raw)
    {
        try
        {
            return JsonNode.Parse(raw) as JsonObject ?? throw EsError.Parsing("request body or source parameter is required to be a JSON object");
        }
        catch (JsonException e)
        {
            throw EsError.Parsing($"request body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Parses a JSON answer, decoding gzip/deflate/br first. The rewritten answer goes out plain, with Content-Encoding dropped.</summary>
    private static (JsonObject Json, IReadOnlyList<KeyValuePair<string, string[]>> Headers) DecodeJson(BackendResponse response)
    {
        var json = JsonNode.Parse(Decoded(response)) as JsonObject ?? throw new EsError(502, "rank1_backend_response_exception", "the backend's search answer is not a JSON object");
        var headers = response.Headers.Where(h => !h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).ToList();
        return (json, headers);
    }

    internal static byte[] Decode(byte[] body, string encoding)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = encoding.Trim().ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => new GZipStream(input, CompressionMode.Decompress),
            "deflate" => new ZLibStream(input, CompressionMode.Decompress),
            "br" => new BrotliStream(input, CompressionMode.Decompress),
            "identity" => input,
            var other => throw new EsError(502, "rank1_backend_response_exception", $"the backend answered with an unsupported Content-Encoding [{other}]"),
        };
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false);
        var raw = buffer.ToArray();
        var encoding = request.Headers.ContentEncoding.ToString();
        if (string.IsNullOrEmpty(encoding) || raw.Length == 0)
        {
            return raw;
        }

        try
        {
            return Decode(raw, encoding);
        }
        catch (InvalidDataException e)
        {
            throw EsError.BadRequest($"the request body is not valid {encoding}: {e.Message}");
        }
    }

    private static IReadOnlyList<KeyValuePair<string, string[]>> RequestHeaders(HttpRequest request) =>
        request.Headers.Where(h => !BodyHeaders.Contains(h.Key)).Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!)).ToList();

    private static async Task WriteAsync(HttpContext context, SearchAnswer answer, string[] statuses)
    {
        var response = context.Response;
        response.StatusCode = answer.Status;
        foreach (var (name, values) in answer.Headers)
        {
            if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                response.Headers[name] = values;
            }
        }

        response.Headers[RerankStatusNames.Header] = string.Join(", ", statuses);
        if (answer.Reason is not null && statuses.Length == 1)
        {
            response.Headers[RerankStatusNames.ReasonHeader] = answer.Reason;
        }

        response.ContentLength = answer.Body.Length;
        await response.Body.WriteAsync(answer.Body, context.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Could not ask the workers to precompute hot query '{Query}'")]
    private static partial void LogPublishFailed(ILogger logger, string query, Exception exception);

    [LoggerMessage(EventId = 2200, Level = LogLevel.Debug, Message = "Search on {Index}: {Status}, {Judged} passages judged in {ElapsedMs} ms")]
    private static partial void LogSearch(ILogger logger, string index, string status, int judged, double elapsedMs);
}
