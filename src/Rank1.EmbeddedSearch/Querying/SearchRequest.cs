using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>One sort key: a field (or <c>_score</c> / <c>_doc</c>) and a direction.</summary>
/// <param name="Field">The field, <c>_score</c>, <c>_doc</c> or <c>_shard_doc</c>.</param>
/// <param name="Descending">Whether the order is descending.</param>
/// <param name="MissingFirst">Whether documents without the field come first (<c>"missing": "_first"</c>); else last.</param>
/// <param name="MissingValue">A <c>missing</c> number that documents without the field sort as, or null.</param>
/// <param name="UnmappedType">The <c>unmapped_type</c>: the type to sort an index without the field by, or null.</param>
/// <param name="Mode">The <c>mode</c> (<c>min</c>, <c>max</c>, <c>sum</c>, <c>avg</c> or <c>median</c>, lower-cased) that picks a
/// multi-valued document's value, or null: <c>min</c> ascending, <c>max</c> descending (FieldSortBuilder.localSortMode).</param>
internal sealed record SortKey(string Field, bool Descending, bool MissingFirst = false, double? MissingValue = null, string? UnmappedType = null, string? Mode = null)
{
    /// <summary>The mode that picks a multi-valued document's value: the one given, else min ascending and max descending.</summary>
    public string PickMode => Mode ?? (Descending ? "max" : "min");
}

/// <summary>A parsed search body plus URL parameters.</summary>
internal sealed class SearchRequest
{
    // SearchContext.DEFAULT_TRACK_TOTAL_HITS_UP_TO: the total counted exactly up to 10,000 unless track_total_hits says otherwise.
    private const int DefaultTrackTotalHitsUpTo = 10_000;

    private static readonly HashSet<string> KnownKeys = new(StringComparer.Ordinal)
    {
        "query", "from", "size", "_source", "track_total_hits", "sort", "highlight", "explain", "aggs", "aggregations", "timeout",
        "track_scores", "min_score", "version", "seq_no_primary_term", "stored_fields", "profile", "terminate_after", "search_after", "pit",
        "retriever", "post_filter", "knn", "rank", "rescore", "indices_boost",
    };

    // HighlightBuilder's ObjectParser ("highlight"): fields, and the options AbstractHighlighterBuilder.setupParser declares.
    private static readonly string[] HighlightFields =
    [
        "fields", "pre_tags", "post_tags", "order", "highlight_filter", "fragment_size", "number_of_fragments", "encoder", "tags_schema",
        "require_field_match", "boundary_scanner", "boundary_max_scan", "boundary_chars", "boundary_scanner_locale", "type", "fragmenter",
        "no_match_size", "phrase_limit", "max_analyzed_offset", "options", "highlight_query",
    ];

    // HighlightBuilder.Field's ObjectParser ("highlight_field"): AbstractHighlighterBuilder.setupParser's options (all
    // of the highlight's but fields), fragment_offset and matched_fields.
    private static readonly string[] HighlightFieldFields = [.. HighlightFields.Where(f => f != "fields"), "fragment_offset", "matched_fields"];

    // OpenSearch 2.x's: its setupParser reads force_source and max_analyzer_offset (not max_analyzed_offset), and not
    // encoder or tags_schema, which its HighlightBuilder's own parser declares for the highlight alone.
    private static readonly string[] OpenSearchHighlightFields = [.. HighlightFields.Where(f => f != "max_analyzed_offset"), "force_source", "max_analyzer_offset"];

    private static readonly string[] OpenSearchHighlightFieldFields =
        [.. OpenSearchHighlightFields.Where(f => f is not ("fields" or "encoder" or "tags_schema")), "fragment_offset", "matched_fields"];

    // Elasticsearch 9.0 under compatible-with=8 (#124873): AbstractHighlighterBuilder.setupParser declares force_source again,
    // a ParseField withAllDeprecated() for RestApiVersion V_8 alone, read and ignored.
    private static readonly string[] V8HighlightFields = [.. HighlightFields, "force_source"];

    private static readonly string[] V8HighlightFieldFields = [.. HighlightFieldFields, "force_source"];

    // The ints AbstractHighlighterBuilder.setupParser declares with declareInt (OpenSearch's max_analyzer_offset for
    // max_analyzed_offset), and HighlightBuilder.Field's fragment_offset: each read as its parser meets it
    // (XContentInt.Declared), so a value it refuses is a 400 however many hits the search has. (They were read only
    // while a hit was highlighted: with no hit, "fragment_size": "x" answered 200; no_match_size, phrase_limit and
    // boundary_max_scan were never read.)
    private static readonly string[] HighlightInts =
    [
        "fragment_size", "number_of_fragments", "boundary_max_scan", "no_match_size", "phrase_limit", "max_analyzed_offset", "max_analyzer_offset",
        "fragment_offset",
    ];

    // A highlight int as declareInt reads it, then AbstractHighlighterBuilder.maxAnalyzedOffset, the setter it calls:
    // Elasticsearch 9.0+ (#118895) takes -1 (the index's index.highlight.max_analyzed_offset) and 0, and refuses below -1
    // with "[max_analyzed_offset] must be an integer >= -1", wrapped as ObjectParser.parseValue wraps it. (OpenSearch's
    // max_analyzer_offset has no such check.)
    private static void ReadHighlightInt(string parser, JsonObject spec, string key)
    {
        if (XContentInt.Declared(parser, spec, key) < -1 && key == "max_analyzed_offset")
        {
            throw EsException.SetterRefused(parser, spec, key, "[max_analyzed_offset] must be an integer >= -1");
        }
    }

    // HighlightBuilder.fromXContent: a field its ObjectParser does not declare is ErrorOnUnknown's
    // x_content_parse_exception "[1:30] [highlight] unknown field [x]" at the field's name, with its suggestion; so is one
    // in a field's options, "[highlight_field] unknown field [x]", which declareNamedObjects wraps ("[fields] failed to
    // parse field [title]") and the highlight's parser again ("[highlight] failed to parse field [fields]"), both where
    // the parser stands, on the unknown field's value. (They were taken and ignored.)
    // Under compatible-with=8, force_source is matched by ObjectParser's assertSupports once the parser stands on its value
    // (ParseField.match: fully deprecated, LoggingDeprecationHandler.logRemovedField's "[highlight][1:40] " prefix, the
    // parser's name and that value's place), its warning added to deprecations.
    private static void CheckHighlightNames(JsonObject highlight, SearchFlavor flavor, bool compatibleWith8, ICollection<string> deprecations)
    {
        var openSearch = flavor == SearchFlavor.OpenSearch;
        void RemovedField(string parser, JsonObject spec, string key)
        {
            if (key != "force_source")
            {
                return;
            }

            var at = JsonLocations.OfValue(spec, key);
            if (!openSearch)
            {
                var place = at ?? new Location(-1, -1);
                deprecations.Add($"[{parser}][{place.Line}:{place.Column}] Deprecated field [force_source] used, this field is unused and will be removed entirely");
            }

            // Declared with declareBoolean (ValueType.BOOLEAN: a boolean or a string), its value is read though ignored:
            // another token is assertSupports' "[highlight] force_source doesn't support values of type: VALUE_NUMBER"
            // (after the warning, as ParseField.match logs it first), a string booleanValue()'s, wrapped by parseValue.
            var value = spec[key];
            if (value is null || !RequestJson.ReadsAsBoolean(value))
            {
                throw EsException.XContentParse($"[{parser}] force_source doesn't support values of type: {RequestJson.TokenName(value)}", at);
            }

            try
            {
                RequestJson.BooleanValue(value);
            }
            catch (EsException e)
            {
                throw EsException.FailedToParseField(parser, key, at, e);
            }
        }

        var declared = openSearch ? OpenSearchHighlightFields : compatibleWith8 ? V8HighlightFields : HighlightFields;
        QueryTranslator.ReadFields("highlight", highlight, declared, (key, value) =>
        {
            RemovedField("highlight", highlight, key);
            if (HighlightInts.Contains(key))
            {
                ReadHighlightInt("highlight", highlight, key);
            }

            if (key != "fields")
            {
                return;
            }

            // A single object of fields, or an array of objects of one field each.
            var fields = value switch
            {
                JsonObject o => new[] { o },
                JsonArray a => a.OfType<JsonObject>().ToArray(),
                _ => [],
            };
            foreach (var holder in fields)
            {
                foreach (var (field, options) in holder)
                {
                    if (options is JsonObject spec)
                    {
                        // What a field's parser refuses is wrapped by declareNamedObjects and the highlight's parser.
                        EsException InField(EsException inner, string option)
                        {
                            var at = JsonLocations.OfValue(spec, option);
                            return EsException.FailedToParseField("highlight", "fields", at, EsException.FailedToParseField("fields", field, at, inner));
                        }

                        QueryTranslator.ReadFields("highlight_field", spec, openSearch ? OpenSearchHighlightFieldFields : compatibleWith8 ? V8HighlightFieldFields : HighlightFieldFields,
                            (option, _) =>
                            {
                                try
                                {
                                    RemovedField("highlight_field", spec, option);
                                    if (HighlightInts.Contains(option))
                                    {
                                        ReadHighlightInt("highlight_field", spec, option);
                                    }
                                }
                                catch (EsException e)
                                {
                                    throw InField(e, option);
                                }
                            }, refuse: InField);
                    }
                }
            }
        });
    }

    // What a retriever replaces (SearchSourceBuilder.validate: "cannot specify [retriever] and [query, sort]"), in its order.
    private static readonly string[] RetrieverReplaces = ["query", "knn", "search_after", "terminate_after", "sort", "rank", "rescore"];

    // The keys of a standard retriever the embedded backend runs: StandardRetrieverBuilder's query, filter, sort,
    // search_after, terminate_after and min_score, and RetrieverBuilder.declareBaseParserFields' _name (a label).
    private static readonly HashSet<string> StandardKeys = new(StringComparer.Ordinal) { "query", "filter", "sort", "search_after", "terminate_after", "min_score", "_name" };

    public JsonNode? Query { get; private set; }

    /// <summary>
    /// The <c>post_filter</c>: a query the hits (and their total) are filtered by after the aggregations saw the
    /// query's matches, as a faceted search filters by a chosen facet while counting all of them.
    /// </summary>
    public JsonNode? PostFilter { get; private set; }

    public int From { get; private set; }

    public int Size { get; private set; } = 10;

    public SourceFilter Source { get; private set; } = SourceFilter.All;

    /// <summary>Null: totals off; otherwise count exactly up to this many.</summary>
    public int? TrackTotalHitsUpTo { get; private set; } = DefaultTrackTotalHitsUpTo;

    public IReadOnlyList<SortKey> Sort { get; private set; } = [];

    public JsonObject? Highlight { get; private set; }

    public bool Explain { get; private set; }

    /// <summary><c>version</c>: each hit carries its document's <c>_version</c>.</summary>
    public bool Version { get; private set; }

    /// <summary><c>seq_no_primary_term</c>: each hit carries its <c>_seq_no</c> and <c>_primary_term</c> (for optimistic concurrency control).</summary>
    public bool SeqNoPrimaryTerm { get; private set; }

    public bool TrackScores { get; private set; }

    /// <summary><c>profile</c>: the answer carries a <c>profile</c> of where each index's search spent its time.</summary>
    public bool Profile { get; private set; }

    public double? MinScore { get; private set; }

    public JsonObject? Aggregations { get; private set; }

    public bool TypedKeys { get; private set; }

    public bool TotalHitsAsInt { get; private set; }

    /// <summary><c>include_named_queries_score</c>: each hit's <c>matched_queries</c> is an object of the named queries' scores, not an array of names.</summary>
    public bool IncludeNamedQueriesScore { get; private set; }

    /// <summary>
    /// The search <c>timeout</c> (body, or the URL parameter, which wins as in Elasticsearch); null: none (<c>-1</c>).
    /// Counted from the start of the search over all its indices: past it the search stops collecting and answers the hits
    /// so far with <c>timed_out: true</c>. The unit-less <c>0</c> is accepted as in Elasticsearch.
    /// </summary>
    public TimeSpan? Timeout { get; private set; }

    /// <summary>
    /// <c>terminate_after</c>: the most documents each index (its one shard) collects, or null (0, the default) for no
    /// limit. A search or count that stops there says <c>terminated_early</c>, and its total counts only what was collected.
    /// </summary>
    public int? TerminateAfter { get; private set; }

    public bool SortsByScore => Sort.Count == 0 || Sort.Any(s => s.Field == "_score");

    /// <summary>The sort values of the last hit of the previous page; hits after them are answered.</summary>
    public JsonArray? SearchAfter { get; private set; }

    /// <summary>The point in time to search (<c>pit.id</c>), and the keep-alive to renew it with.</summary>
    public string? PitId { get; private set; }

    public TimeSpan? PitKeepAlive { get; private set; }

    /// <summary>
    /// <c>indices_boost</c>: index expressions and the boost that multiplies the scores of their hits (the first entry
    /// naming an index wins, as <c>TransportSearchAction.resolveIndexBoosts</c> keeps it).
    /// </summary>
    public IReadOnlyList<(string Index, float Boost)> IndicesBoost { get; private set; } = [];

    /// <summary>
    /// A copy that reads from <paramref name="from"/> with the same size: a scroll's page, whose batch
    /// <see cref="CheckWindow"/> bounds when the scroll <paramref name="opens"/>, and no later page.
    /// </summary>
    public SearchRequest Page(int from, bool opens)
    {
        var page = (SearchRequest)MemberwiseClone();
        page.From = from;
        page.window = opens ? WindowBound.ScrollBatch : WindowBound.None;
        return page;
    }

    /// <summary>
    /// Whether this is a scroll's page after its first: the shard's search continues after the last document it
    /// emitted (the scroll context's <c>lastEmittedDoc</c>), as a <c>search_after</c> does.
    /// </summary>
    public bool ContinuesScroll => window == WindowBound.None;

    // What CheckWindow bounds: a search's result window, a scroll's first batch, or nothing (a scroll's later page).
    private enum WindowBound
    {
        ResultWindow,
        ScrollBatch,
        None,
    }

    private WindowBound window = WindowBound.ResultWindow;

    /// <summary>
    /// The sort a point-in-time search runs with: Elasticsearch's implicit <c>_shard_doc</c> tiebreaker after its sort
    /// (<c>_score</c> when it has none), so that its hits carry sort values to page with.
    /// </summary>
    public SearchRequest WithPitTiebreaker()
    {
        var sorted = (SearchRequest)MemberwiseClone();
        SortKey[] keys = Sort.Count == 0 ? [new SortKey("_score", true)] : [.. Sort];
        sorted.Sort = !keys.Any(k => k.Field == "_shard_doc") ? [.. keys, new SortKey("_shard_doc", false)] : keys;
        return sorted;
    }

    // SortBuilder.buildSort: a lone descending _score sort is no sort ("we don't really need sorting"): hits are in score
    // order with their scores and no sort values, and a search_after has no sort to follow.
    private static SortKey[] Effective(SortKey[] keys) => keys is [{ Field: "_score", Descending: true }] ? [] : keys;

    // As Elasticsearch's TimeValue.parseTimeValue: the unit-less "-1" (no timeout) and "0" are time values too.
    private static TimeSpan? ParseTimeout(string value) => value.Trim() switch
    {
        "-1" => null,
        "0" => TimeSpan.Zero,
        _ => SearchContexts.ParseKeepAlive(value, "timeout"),
    };

    /// <summary>
    /// The search read as Elasticsearch reads it before it runs it (<c>SearchSourceBuilder.parseXContent</c> and the URL
    /// parameters of <c>RestSearchAction</c>): an unknown key, a <c>from</c> or <c>size</c> that is negative or that
    /// <c>parser.intValue()</c> refuses (in the body's order) or an unknown query type is thrown here, so that in an
    /// <c>_msearch</c> it fails the whole request. What
    /// Elasticsearch finds later, per search, is <see cref="Validate"/>'s.
    /// </summary>
    /// <param name="body">The search body, or null.</param>
    /// <param name="param">The URL parameters.</param>
    /// <param name="flavor">The product whose query parsers are followed (<see cref="QueryTranslator.CheckNames"/>).</param>
    /// <param name="deprecations">Where the deprecation warnings Elasticsearch's parser logs while it reads the search (a
    /// deprecated name it still reads, such as <c>bool</c>'s <c>mustNot</c>) are added as they are met, in the order logged: the
    /// answer's <c>Warning</c> headers (<see cref="Http.EsHttp.WithDeprecationWarnings"/>), so that those logged before the
    /// search is refused still answer it, as Elasticsearch's thread context keeps them for its error; or null, not kept.</param>
    /// <param name="compatibleWith8">Whether the request asked for Elasticsearch 8's REST API (<c>compatible-with=8</c>,
    /// <see cref="Http.EsHttp.CompatibleWith8"/>), whose parsers read what 9 no longer does (a highlight's <c>force_source</c>).</param>
    public static SearchRequest Read(JsonObject? body, Func<string, string?> param, SearchFlavor flavor, List<string>? deprecations = null, bool compatibleWith8 = false)
    {
        var r = new SearchRequest();
        SortKey[] bodySort = [];
        deprecations ??= [];
        if (body is not null)
        {
            foreach (var (key, value) in body)
            {
                if (key == "ext")
                {
                    var name = value is JsonObject { Count: > 0 } ext ? ext.First().Key : "?";
                    throw EsException.Parsing($"Unknown NamedObject [search_ext_builder][{name}]: the cluster has no search extension named [{name}]");
                }

                // SearchSourceBuilder.parseXContent: a key it does not know for the token its value starts with, a query
                // that is not an object, or a null (no value to Token.isValue(), so any key's throwUnknownKey), is
                // refused where that value starts.
                if (!KnownKeys.Contains(key) || value is null || (key is "query" or "post_filter" or "highlight" or "aggs" or "aggregations" && value is not JsonObject))
                {
                    throw EsException.Parsing($"Unknown key for a {RequestJson.TokenName(value)} in [{key}].", JsonLocations.OfValue(body, key));
                }

                SearchBody.CheckField(key, value);
                if (key is "query" or "post_filter")
                {
                    QueryTranslator.CheckNames(value, flavor, deprecations);
                }

                if (key == "highlight")
                {
                    CheckHighlightNames((JsonObject)value!, flavor, compatibleWith8, deprecations);
                }

                // OpenSearch 2.x's TermsAggregationBuilder and metric parsers declare the same fields (its
                // ValuesSourceAggregationBuilder.declareFields, and the same terms options), in the same ObjectParser words.
                if (key is "aggs" or "aggregations")
                {
                    Querying.Aggregations.CheckNames((JsonObject)value!);
                }
            }

            if (body["retriever"] is { } retriever)
            {
                body = Standard(body, retriever, param, flavor, deprecations);
            }
            else if (new[] { "knn", "rank", "rescore" }.FirstOrDefault(body.ContainsKey) is { } unsupported)
            {
                // Elasticsearch's own sections, not unknown keys: refused saying what this backend lacks.
                throw EsException.IllegalArgument($"the embedded search backend does not run [{unsupported}]: it has no vectors, rank fusion or rescoring");
            }

            r.Query = body["query"];
            r.From = SearchBody.Int(body, "from") ?? 0;
            r.Size = SearchBody.Int(body, "size") ?? 10;
            r.Source = ParseSource(body["_source"], flavor != SearchFlavor.OpenSearch);
            r.TrackTotalHitsUpTo = body.ContainsKey("track_total_hits") ? SearchBody.TrackTotalHits(body["track_total_hits"]) : DefaultTrackTotalHitsUpTo;
            bodySort = ParseSort(body["sort"], flavor);
            r.Sort = Effective(bodySort);
            r.Highlight = body["highlight"] as JsonObject;
            // SearchSourceBuilder.parseXContent reads each with parser.booleanValue().
            r.Explain = SearchBody.Bool(body, "explain") ?? false;
            r.TrackScores = SearchBody.Bool(body, "track_scores") ?? false;
            r.Version = SearchBody.Bool(body, "version") ?? false;
            r.SeqNoPrimaryTerm = SearchBody.Bool(body, "seq_no_primary_term") ?? false;
            r.Profile = SearchBody.Bool(body, "profile") ?? false;
            r.MinScore = ParseMinScore(body["min_score"]);
            r.IndicesBoost = ParseIndicesBoost(body["indices_boost"]);
            r.Aggregations = (body["aggs"] ?? body["aggregations"]) as JsonObject;
            r.PostFilter = body["post_filter"];
            r.SearchAfter = body["search_after"] switch
            {
                null => null,
                JsonArray after => after,
                _ => throw EsException.Parsing("[search_after] must be an array of sort values"),
            };
            r.Timeout = body["timeout"] is { } timeout ? ParseTimeout(timeout.ToString()) : null;
            r.TerminateAfter = TerminateAfterOf(SearchBody.Int(body, "terminate_after"));
            if (body["pit"] is { } pit)
            {
                r.PitId = pit["id"]?.GetValue<string>() ?? throw EsException.Parsing("[pit] requires [id]");
                r.PitKeepAlive = pit["keep_alive"] is { } keepAlive ? SearchContexts.ParseKeepAlive(keepAlive.ToString(), "keep_alive") : null;
            }
        }

        // RestSearchAction.parseSearchRequest reads its boolean URL parameters with paramAsBoolean (exactly true or false,
        // else its 400), even those this backend has no use for; with a null default (the boxed overload) an empty value
        // is null (ParamAsNullableBoolean), with false or true as default it is true (ParamAsBoolean).
        SearchParameters.ReadAfterBody(param, flavor == SearchFlavor.OpenSearch);
        if (param("suggest_field") is not null)
        {
            // RestSearchAction makes a term suggester of it, which this backend does not have.
            throw EsException.IllegalArgument("the embedded search backend does not run [suggest]: it has no suggesters");
        }

        if (param("docvalue_fields") is { Length: > 0 })
        {
            // As in the body, where docvalue_fields is an unknown key here: its hits would lack the fields asked for.
            throw EsException.IllegalArgument("the embedded search backend does not return [docvalue_fields]");
        }

        if (UrlQuery(param) is { } urlQuery)
        {
            r.Query = urlQuery;
        }

        // RestSearchAction reads these with request.paramAsInt (Integer.parseInt): "1.5" is refused here.
        r.From = XContentInt.Param("from", param("from")) ?? r.From;
        r.Size = XContentInt.Param("size", param("size")) ?? r.Size;

        // FetchSourceContext.parseFromRestRequest (9.1): request.paramAsBoolean("_source_exclude_vectors", null); no vectors here.
        _ = RequestJson.ParamAsNullableBoolean(param("_source_exclude_vectors"));
        if (SourceFilter.FromQuery(param("_source"), param("_source_includes"), param("_source_excludes")) is { } src)
        {
            r.Source = src;
        }
        else if (body?["_source"] is null && SearchBody.StoredFields(body, param("stored_fields")) is { } stored && !stored.Contains("_source"))
        {
            // FetchContext.buildFetchSourceContext: a search that asks for stored fields (even none) and names no _source
            // loads no source, unless _source is one of the stored fields named.
            r.Source = SourceFilter.None;
        }

        // paramAsBoolean("track_scores", false), when given.
        r.TrackScores = param("track_scores") is null ? r.TrackScores : RequestJson.ParamAsBoolean(param("track_scores")) ?? false;
        if (param("track_total_hits") is { } tth)
        {
            // RestSearchAction: Booleans.isBoolean, else request.paramAsInt (Integer.parseInt).
            r.TrackTotalHitsUpTo = tth is "true" or "false" ? SearchBody.TrackTotalHits(JsonValue.Create(tth)) : SearchBody.TrackTotalHitsUpTo(XContentInt.Param("track_total_hits", tth)!.Value);
        }

        if (param("sort") is { } sort)
        {
            // After the body's keys: RestSearchAction.parseSearchSource adds them with SearchSourceBuilder.sort (they
            // replaced the body's sort).
            r.Sort = Effective([.. bodySort, .. UrlSort(sort)]);
        }

        // RestSearchAction: request.paramAsInt, then SearchSourceBuilder.terminateAfter, when given.
        if (XContentInt.Param("terminate_after", param("terminate_after")) is { } terminateAfter)
        {
            r.TerminateAfter = TerminateAfterOf(terminateAfter);
        }

        if (param("timeout") is { } urlTimeout)
        {
            r.Timeout = ParseTimeout(urlTimeout);
        }

        // RestSearchAction: the explain, version and seq_no_primary_term parameters, when given, set the source's with
        // paramAsBoolean(name, null): an empty one is null, off, whatever the body asked.
        r.Explain = param("explain") is null ? r.Explain : RequestJson.ParamAsNullableBoolean(param("explain")) ?? false;
        r.Version = param("version") is null ? r.Version : RequestJson.ParamAsNullableBoolean(param("version")) ?? false;
        r.SeqNoPrimaryTerm = param("seq_no_primary_term") is null ? r.SeqNoPrimaryTerm : RequestJson.ParamAsNullableBoolean(param("seq_no_primary_term")) ?? false;

        // Read by parseSearchRequest after the source: request_cache and ccs_minimize_roundtrips (one shard here, nothing
        // to cache or to send to remote clusters), then rest_total_hits_as_int and include_named_queries_score.
        r.TypedKeys = param("typed_keys") is "true" or "";
        var trackTotalHitsGiven = body?.ContainsKey("track_total_hits") == true || param("track_total_hits") is not null;
        (r.TotalHitsAsInt, r.IncludeNamedQueriesScore) = SearchParameters.ReadFlagsAfterSource(param, trackTotalHitsGiven ? r.TrackTotalHitsUpTo : null);
        if (r.From < 0 || r.Size < 0)
        {
            throw SearchBody.NegativeWindow(r.From < 0 ? "from" : "size", r.From < 0 ? r.From : r.Size);
        }

        return r;
    }

    /// <summary>
    /// A body with a <c>standard</c> retriever read as the search it stands for: its query (with its filter as a
    /// <c>bool</c> filter), sort, search_after and min_score in the body's place. A retriever beside what it replaces
    /// (in the body, or the <c>q</c>, <c>sort</c> and <c>terminate_after</c> URL parameters, which RestSearchAction puts
    /// in the body) is Elasticsearch's validation error, found once the retriever has parsed; any other retriever (rrf,
    /// knn, linear, text_similarity_reranker, ...) needs what the embedded backend does not have (vectors, inference, a
    /// license), and is refused saying so.
    /// </summary>
    private static JsonObject Standard(JsonObject body, JsonNode retriever, Func<string, string?> param, SearchFlavor flavor, ICollection<string> deprecations)
    {
        if (retriever is not JsonObject { Count: 1 } one)
        {
            throw EsException.Parsing("[retriever] must be an object naming one retriever");
        }

        var (type, value) = one.First();
        var standard = value as JsonObject;
        if (type == "standard" && standard is null)
        {
            throw EsException.Parsing("[standard] retriever must be an object");
        }

        if (standard?.Select(p => p.Key).FirstOrDefault(k => !StandardKeys.Contains(k)) is { } unknown && type == "standard")
        {
            throw new EsException(400, "x_content_parse_exception", $"[standard] unknown field [{unknown}]");
        }

        // SearchSourceBuilder.validate lists what is set: terminate_after only when not its default (0).
        var replaced = RetrieverReplaces.Where(key => key switch
        {
            "query" => body.ContainsKey(key) || param("q") is not null,
            "sort" => body.ContainsKey(key) || param("sort") is not null,
            "terminate_after" => (body[key] is JsonValue v && v.TryGetValue<int>(out var n) ? n != 0 : body.ContainsKey(key)) || param(key) is not (null or "0"),
            _ => body.ContainsKey(key),
        }).ToArray();
        if (replaced.Length > 0)
        {
            throw new EsException(400, "action_request_validation_exception", $"Validation Failed: 1: cannot specify [retriever] and [{string.Join(", ", replaced)}];");
        }

        if (type != "standard" || standard is null)
        {
            // The pinned retriever needs none of those, but is a compound retriever (PinnedRetrieverBuilder: a rank window
            // of its child's hits, ranked again with _rank), which this backend does not run: its pinned query pins alike.
            throw EsException.IllegalArgument(type == "pinned" && flavor == SearchFlavor.Elasticsearch
                ? "the embedded search backend runs only the [standard] retriever, not [pinned]: it runs no compound retriever; a [standard] retriever whose query is a [pinned] query pins the same documents"
                : $"the embedded search backend runs only the [standard] retriever, not [{type}]: it has no vectors, inference or rank fusion");
        }

        var search = (JsonObject)body.DeepClone();
        search.Remove("retriever");

        var query = standard["query"]?.DeepClone();
        // StandardRetrieverBuilder.extractToSearchSourceBuilder: a bool of the query (as must, when there is one) and the
        // filters; with no query every hit scores 0, as a filter-only bool scores.
        search["query"] = standard["filter"] is { } filter
            ? new JsonObject { ["bool"] = query is null ? new JsonObject { ["filter"] = filter.DeepClone() } : new JsonObject { ["must"] = query, ["filter"] = filter.DeepClone() } }
            : query;
        foreach (var key in new[] { "sort", "search_after", "terminate_after", "min_score" })
        {
            if (standard[key] is { } setting)
            {
                search[key] = setting.DeepClone();
            }
        }

        if (search["query"] is { } q)
        {
            QueryTranslator.CheckNames(q, flavor, deprecations);
        }

        return search;
    }

    public void Validate()
    {
        if (SearchAfter is not null)
        {
            if (From > 0)
            {
                throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;");
            }

            // SearchAfterBuilder.buildFieldDoc.
            var sortCount = PitId is null ? Sort.Count : WithPitTiebreaker().Sort.Count;
            if (sortCount == 0)
            {
                throw EsException.IllegalArgument("Sort must contain at least one field.");
            }

            if (SearchAfter.Count != sortCount)
            {
                throw EsException.IllegalArgument($"search_after has {SearchAfter.Count} value(s) but sort has {sortCount}.");
            }
        }
    }

    /// <summary>
    /// <c>DefaultSearchContext.preProcess</c>, run on each shard once its query, sort and aggregations are built: a search
    /// whose <c>from + size</c> (added as longs, so a window past an int's range is too large too) is past the shard's
    /// index's <c>index.max_result_window</c> (<paramref name="maxResultWindow"/>), or a scroll whose batch is, is that
    /// shard's <c>illegal_argument_exception</c> (so, when every shard refuses, the search's
    /// <c>search_phase_execution_exception</c> "all shards failed"). A scroll's later pages are not bounded (<see cref="Page"/>).
    /// </summary>
    /// <param name="maxResultWindow">The shard's index's <c>index.max_result_window</c>.</param>
    internal void CheckWindow(int maxResultWindow)
    {
        var size = (long)From + Size;
        if (window == WindowBound.None || size <= maxResultWindow)
        {
            return;
        }

        throw new ShardSearchException(EsException.IllegalArgument(window == WindowBound.ScrollBatch
            ? $"Batch size is too large, size must be less than or equal to: [{maxResultWindow}] but was [{size}]. " +
              "Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting."
            : $"Result window is too large, from + size must be less than or equal to: [{maxResultWindow}] but was [{size}]. " +
              "See the scroll api for a more efficient way to request large data sets. " +
              "This limit can be set by changing the [index.max_result_window] index level setting."));
    }

    internal static SourceFilter ParseSource(JsonNode? node, bool readsExcludeVectors)
    {
        try
        {
            return SourceFilter.Parse(node, readsExcludeVectors);
        }
        catch (FormatException e)
        {
            throw EsException.Parsing(e.Message);
        }
    }

    // As SearchSourceBuilder reads it (parser.floatValue(), strings coerced): a number, or a string of one.
    private static double? ParseMinScore(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => double.TryParse(v.GetValue<string>(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
            ? d
            : throw new EsException(400, "number_format_exception", $"For input string: \"{v.GetValue<string>()}\""),
        _ => throw new EsException(400, "x_content_parse_exception", $"[search] min_score doesn't support values of type: {RequestJson.TokenName(node)}"),
    };

    // SearchSourceBuilder.parseXContent reads indices_boost as an array of one-entry objects (SearchSourceBuilder.IndexBoost:
    // an index name and a number); Elasticsearch 8 and later no longer take the object form.
    private static (string Index, float Boost)[] ParseIndicesBoost(JsonNode? node) => node switch
    {
        null => [],
        JsonArray entries => entries.Select(entry => entry switch
        {
            JsonObject { Count: 1 } one when one.First().Value is JsonValue v && v.GetValueKind() == JsonValueKind.Number => (one.First().Key, (float)v.GetValue<double>()),
            JsonObject { Count: 1 } one => throw EsException.Parsing($"Expected [VALUE_NUMBER] in [indices_boost] but found [{RequestJson.TokenName(one.First().Value)}]"),
            JsonObject { Count: 0 } => throw EsException.Parsing("Expected [FIELD_NAME] in [indices_boost] but found [END_OBJECT]"),
            JsonObject => throw EsException.Parsing("Expected [END_OBJECT] in [indices_boost] but found [FIELD_NAME]"),
            _ => throw EsException.Parsing($"Expected [START_OBJECT] in [indices_boost] but found [{RequestJson.TokenName(entry)}]"),
        }).ToArray(),
        _ => throw EsException.Parsing($"Unknown key for a {RequestJson.TokenName(node)} in [indices_boost]."),
    };

    /// <summary>
    /// A <c>terminate_after</c> as <c>SearchSourceBuilder.terminateAfter</c> takes it: 0 (<c>DEFAULT_TERMINATE_AFTER</c>)
    /// is no limit, null here; a negative one its 400 "terminateAfter must be > 0".
    /// </summary>
    /// <param name="value">The value read (body or URL), or null when none was given.</param>
    public static int? TerminateAfterOf(int? value) => value switch
    {
        null or 0 => null,
        < 0 => throw EsException.IllegalArgument("terminateAfter must be > 0"),
        var n => n,
    };

    /// <summary>
    /// A <c>_count</c> body read as <c>RestActions.getQueryContent</c> reads it, while the request is read and before any
    /// index is counted: its keys in order, <c>query</c> alone ("request does not support [size]"), the query checked as a
    /// search's is (<see cref="QueryTranslator.CheckNames"/>: a misspelt <c>operater</c> in a <c>match</c> is its
    /// <c>parsing_exception</c>, where it counted with OR).
    /// </summary>
    /// <param name="body">The body, or null.</param>
    /// <param name="flavor">The product whose query parsers are followed.</param>
    /// <param name="deprecations">Where the deprecation warnings the parser logs are added as they are met.</param>
    public static void CheckCountBody(JsonObject? body, SearchFlavor flavor, ICollection<string> deprecations)
    {
        foreach (var (key, value) in body ?? [])
        {
            if (key != "query")
            {
                throw EsException.Parsing($"request does not support [{key}]", JsonLocations.OfName(body!, key));
            }

            // parseInnerQueryBuilder reads on from the field's name for a START_OBJECT.
            QueryTranslator.CheckNames(value as JsonObject ?? throw EsException.Parsing("[_na] query malformed, must start with start_object", JsonLocations.OfValue(body!, key)), flavor, deprecations);
        }
    }

    /// <summary>
    /// The <c>q</c> parameter's query, as <c>RestActions.urlParamsToQueryBuilder</c> builds it: a <c>query_string</c> with
    /// the <c>df</c>, <c>default_operator</c> and <c>lenient</c> parameters; null without <c>q</c>.
    /// </summary>
    /// <param name="param">The request's URL parameters.</param>
    public static JsonObject? UrlQuery(Func<string, string?> param)
    {
        if (param("q") is not { } q)
        {
            return null;
        }

        var spec = new JsonObject { ["query"] = q };
        if (param("df") is { } df)
        {
            spec["default_field"] = df;
        }

        // paramAsBoolean("analyze_wildcard", false): no wildcard analysis here, but a value other than true or false is its 400.
        _ = RequestJson.ParamAsBoolean(param("analyze_wildcard"));
        spec["default_operator"] = param("default_operator") ?? "OR";
        // request.paramAsBoolean("lenient", null): Booleans.parseBoolean, an empty (or blank) value being no value.
        if (RequestJson.ParamAsNullableBoolean(param("lenient")) is { } lenient)
        {
            spec["lenient"] = lenient;
        }

        return new JsonObject { ["query_string"] = spec };
    }

    /// <summary>
    /// <c>RestActions.urlParamsToQueryBuilder</c>'s 400 for query string parameters without <c>q</c>: "request [/i/_count]
    /// contains parameters [df] but missing query string parameter 'q'."
    /// </summary>
    /// <param name="param">The request's URL parameters.</param>
    /// <param name="path">The request's path.</param>
    public static void ThrowIfQueryStringParamsWithoutQ(Func<string, string?> param, string path)
    {
        var stray = SearchParameters.QueryStringParameters.Where(k => param(k) is not null).ToArray();
        if (param("q") is null && stray.Length > 0)
        {
            throw EsException.IllegalArgument($"request [{path}] contains parameters [{string.Join(", ", stray)}] but missing query string parameter 'q'.");
        }
    }

    // RestSearchAction.parseSearchSource: the comma-separated sorts (String.split, trailing empty ones dropped), each split
    // at its last colon: a direction exactly asc or desc sorts by the field before it, any other adds no sort at all (it
    // sorted ascending, "n:DESC" too); without a colon, the field in its default order (_score's descending).
    private static SortKey[] UrlSort(string param)
    {
        var sorts = param.Split(',').ToList();
        while (sorts.Count > 0 && sorts[^1].Length == 0)
        {
            sorts.RemoveAt(sorts.Count - 1);
        }

        var keys = new List<SortKey>();
        foreach (var sort in sorts)
        {
            var colon = sort.LastIndexOf(':');
            if (colon < 0)
            {
                keys.Add(FieldOrScore(sort));
            }
            else if (sort[(colon + 1)..] is "asc" or "desc")
            {
                keys.Add(new SortKey(sort[..colon], sort[(colon + 1)..] == "desc"));
            }
        }

        return [.. keys];
    }

    // SearchSourceBuilder.parseXContent and SortBuilder.fromXContent: a string (or another value, read as its text) is a
    // field in its default order; an object holds one sort per field, in order (SortBuilder.parseCompoundSortField); an
    // array holds strings and such objects, anything else in it SortBuilder's IllegalArgumentException.
    private static SortKey[] ParseSort(JsonNode? node, SearchFlavor flavor)
    {
        switch (node)
        {
            case null:
                return [];
            case JsonValue v:
                return [FieldOrScore(v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString())];
            case JsonObject o:
                return Compound(o, flavor);
        }

        var keys = new List<SortKey>();
        foreach (var item in node.AsArray())
        {
            keys.AddRange(item switch
            {
                JsonValue v when v.GetValueKind() == JsonValueKind.String => [FieldOrScore(v.GetValue<string>())],
                JsonObject o => Compound(o, flavor),
                _ => throw EsException.IllegalArgument("malformed sort format, within the sort array, an object, or an actual string are allowed"),
            });
        }

        return [.. keys];
    }

    private static SortKey FieldOrScore(string field) => new(field, field == "_score");

    private static string SortParser(string field) => field == "_score" ? "_score" : "field_sort";

    // SortBuilder.parseCompoundSortField: each field of the object, in order; a string is SortOrder.fromString's order
    // (its IllegalArgumentException bare), anything else FieldSortBuilder's ObjectParser, which takes the object it stands
    // on or, from another token, the next one: "[field_sort] Expected START_OBJECT but was: END_OBJECT" at that token
    // (_score's is ScoreSortBuilder's, "[_score] ...").
    private static SortKey[] Compound(JsonObject sorts, SearchFlavor flavor)
    {
        var keys = new List<SortKey>();
        var names = sorts.Select(p => p.Key).ToList();
        for (var i = 0; i < names.Count; i++)
        {
            var (field, value) = (names[i], sorts[names[i]]);
            keys.Add(value switch
            {
                JsonValue dir when dir.GetValueKind() == JsonValueKind.String => new SortKey(field, Order(dir.GetValue<string>(), flavor)),
                JsonObject spec => FieldSort(field, spec, flavor),
                JsonArray { Count: > 0 } a when a[0] is JsonObject spec => FieldSort(field, spec, flavor),
                JsonArray a => throw EsException.XContentParse(
                    $"[{SortParser(field)}] Expected START_OBJECT but was: {(a.Count == 0 ? "END_ARRAY" : RequestJson.TokenName(a[0]))}",
                    a.Count == 0 ? JsonLocations.OfLast(a) : JsonLocations.OfElement(a, 0)),
                _ => throw EsException.XContentParse(
                    $"[{SortParser(field)}] Expected START_OBJECT but was: {(i + 1 < names.Count ? "FIELD_NAME" : "END_OBJECT")}",
                    i + 1 < names.Count ? JsonLocations.OfName(sorts, names[i + 1]) : JsonLocations.OfLast(sorts)),
            });
        }

        return [.. keys];
    }

    // FieldSortBuilder's order, missing (_last, the default, _first, or a value documents without the field sort as) and
    // unmapped_type (an index without the field sorts as if it were of that type, every document missing it) and mode
    // (which of a multi-valued document's values sorts); its nested, numeric_type and format are checked
    // (ReadSortOptions) and not applied.
    private static SortKey FieldSort(string field, JsonObject spec, SearchFlavor flavor)
    {
        var (descending, mode) = ReadSortOptions(field, spec, flavor);
        var missing = spec["missing"] as JsonValue;
        var missingText = missing?.ToString();
        double? missingValue = null;
        if (missing is not null && missingText is not ("_first" or "_last"))
        {
            missingValue = Indexing.DocumentFields.TryNumber(missing, out var number)
                ? number
                : throw EsException.IllegalArgument($"the embedded search backend sorts documents without [{field}] as [_first], [_last] or a number, not [{missingText}]");
        }

        var unmapped = spec["unmapped_type"] is JsonValue type ? type.ToString() : null;
        return new SortKey(field, descending ?? field == "_score", missingText == "_first", missingValue, unmapped, mode);
    }

    // The fields FieldSortBuilder's ObjectParser ("field_sort") declares, those of its declareString among them; _score's
    // is ScoreSortBuilder's ("_score"), which declares order alone. OpenSearch 2.x's FieldSortBuilder declares no format
    // and still the deprecated nested_path (a string) and nested_filter (a query), taken and, like nested, not applied.
    private static readonly string[] FieldSortFields = ["missing", "unmapped_type", "order", "mode", "nested", "numeric_type", "format"];
    private static readonly string[] OpenSearchFieldSortFields = ["missing", "nested_path", "unmapped_type", "order", "mode", "nested_filter", "nested", "numeric_type"];
    private static readonly string[] FieldSortStrings = ["unmapped_type", "order", "mode", "numeric_type", "format", "nested_path"];
    private static readonly string[] ScoreSortFields = ["order"];

    // A sort's options read in order as its ObjectParser reads them (QueryTranslator.ReadFields): a field it does not
    // declare is ErrorOnUnknown's x_content_parse_exception "[1:30] [field_sort] unknown field [bogus]" at the name
    // (Elasticsearch's names, or OpenSearch's with that flavour); a string field given another token assertSupports'
    // "[field_sort] order doesn't support values of type: VALUE_NUMBER", and an order or mode that SortOrder.fromString or
    // SortMode.fromString refuses "[field_sort] failed to parse field [order]" caused by its IllegalArgumentException,
    // both at the value. (An unknown field, a mode, were taken and ignored.) The order read (descending or not) and the
    // mode (lower-cased), each null when not given.
    private static (bool? Descending, string? Mode) ReadSortOptions(string field, JsonObject spec, SearchFlavor flavor)
    {
        var parser = SortParser(field);
        var declared = field == "_score" ? ScoreSortFields : flavor == SearchFlavor.OpenSearch ? OpenSearchFieldSortFields : FieldSortFields;
        bool? descending = null;
        string? mode = null;
        QueryTranslator.ReadFields(parser, spec, declared, (key, value) =>
        {
            // The value is located in the request's text only for an error, which is rare: most sorts pass.
            if (FieldSortStrings.Contains(key) && !(value is JsonValue v && v.GetValueKind() == JsonValueKind.String))
            {
                throw EsException.XContentParse($"[{parser}] {key} doesn't support values of type: {RequestJson.TokenName(value)}", JsonLocations.OfValue(spec, key));
            }

            try
            {
                switch (key)
                {
                    case "order":
                        descending = Order(value!.GetValue<string>(), flavor);
                        break;
                    case "mode":
                        mode = SortMode(value!.GetValue<string>());
                        break;
                }
            }
            catch (EsException e)
            {
                throw EsException.XContentParse($"[{parser}] failed to parse field [{key}]", JsonLocations.OfValue(spec, key), e);
            }
        });
        return (descending, mode);
    }

    // SortMode.fromString: min, max, sum, avg or median, in any case (not "first", which it refuses); lower-cased.
    private static string SortMode(string mode) => mode.ToLowerInvariant() is "min" or "max" or "sum" or "avg" or "median"
        ? mode.ToLowerInvariant()
        : throw EsException.IllegalArgument($"Unknown SortMode [{mode}]");

    // SortOrder.fromString: Enum.valueOf of the text upper-cased, so asc or desc in any case; another is its
    // IllegalArgumentException, naming the product's enum (it was "Unknown SortOrder [x]", nobody's words).
    private static bool Order(string order, SearchFlavor flavor) => order.ToUpperInvariant() switch
    {
        "DESC" => true,
        "ASC" => false,
        var other => throw EsException.IllegalArgument(
            $"No enum constant org.{(flavor == SearchFlavor.OpenSearch ? "opensearch" : "elasticsearch")}.search.sort.SortOrder.{other}"),
    };
}
