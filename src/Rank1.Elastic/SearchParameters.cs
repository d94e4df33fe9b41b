namespace Rank1.Elastic;

/// <summary>
/// The URL parameters a <c>_search</c> takes, by engine: those its <c>RestSearchAction</c> reads, and its response
/// parameters (<c>typed_keys</c>, <c>rest_total_hits_as_int</c>, Elasticsearch's <c>include_named_queries_score</c>),
/// and the parameters every endpoint takes. A <c>_search/template</c> takes the same (<c>RestSearchTemplateAction</c>
/// reads them with <c>RestSearchAction.parseSearchRequest</c>). Any other is refused as <c>BaseRestHandler</c> refuses
/// a parameter its handler did not read (<see cref="UnrecognizedParameters"/>), not ignored: <c>?szie=5</c> answered ten
/// hits as if it were not there.
/// </summary>
internal static class SearchParameters
{
    // Elasticsearch 9's RestSearchAction reads these whether they are given or not (request.param, paramAsBoolean...):
    // the parameters BaseRestHandler.unrecognized may suggest. RestActions.urlParamsToQueryBuilder reads q's parameters
    // without q too (to refuse them), parseSuggestUrlParameters suggest_field's, and 9.1's
    // FetchSourceContext.parseFromRestRequest _source_exclude_vectors (which the Python client sends as
    // source_exclude_vectors=False; this backend has no vectors to exclude).
    private static readonly string[] ElasticsearchRead =
    [
        "index", "min_compatible_shard_node", "batched_reduce_size", "search_type", "q", "df", "analyzer", "analyze_wildcard",
        "lenient", "default_operator", "stored_fields", "docvalue_fields", "_source", "_source_includes", "_source_excludes",
        "_source_exclude_vectors", "sort", "stats", "suggest_field", "suggest_text", "suggest_size", "suggest_mode", "request_cache", "scroll", "routing",
        "preference", "expand_wildcards", "ignore_unavailable", "allow_no_indices", "ignore_throttled", "rest_total_hits_as_int",
        "include_named_queries_score", "ccs_minimize_roundtrips", "force_synthetic_source", "typed_keys",
        .. UnrecognizedParameters.EveryEndpoint,
    ];

    // ... and these only when they are given (request.hasParam first), so only then are they suggested.
    private static readonly string[] ElasticsearchReadWhenGiven =
    [
        "pre_filter_shard_size", "enable_fields_emulation", "max_concurrent_shard_requests", "allow_partial_search_results",
        "from", "size", "explain", "version", "seq_no_primary_term", "timeout", "terminate_after", "track_scores", "track_total_hits",
    ];

    // OpenSearch 2.x/3.x's RestSearchAction: its urlParamsToQueryBuilder reads q's parameters only with q, and
    // parseSearchSource the suggest parameters only with suggest_field; it adds search_pipeline,
    // cancel_after_time_interval and phase_took (and, recent ones, coordinator_timeout), and has no
    // min_compatible_shard_node or force_synthetic_source.
    private static readonly string[] OpenSearchRead =
    [
        "index", "batched_reduce_size", "search_type", "q", "stored_fields", "docvalue_fields", "_source", "_source_includes",
        "_source_excludes", "sort", "stats", "suggest_field", "request_cache", "scroll", "routing", "preference",
        "expand_wildcards", "ignore_unavailable", "allow_no_indices", "ignore_throttled", "search_pipeline",
        "rest_total_hits_as_int", "include_named_queries_score", "ccs_minimize_roundtrips", "cancel_after_time_interval",
        "coordinator_timeout", "typed_keys", .. UnrecognizedParameters.EveryEndpoint,
    ];

    private static readonly string[] OpenSearchReadWhenGiven =
    [
        "pre_filter_shard_size", "max_concurrent_shard_requests", "allow_partial_search_results", "phase_took", "from", "size",
        "explain", "version", "seq_no_primary_term", "timeout", "verbose_pipeline", "terminate_after", "track_scores",
        "track_total_hits", "streaming_mode",
    ];

    /// <summary>The URL parameters <c>RestActions.urlParamsToQueryBuilder</c> reads with <c>q</c> (and, in Elasticsearch, refuses without it).</summary>
    internal static readonly string[] QueryStringParameters = ["df", "analyzer", "analyze_wildcard", "lenient", "default_operator"];

    private static readonly string[] SuggestParameters = ["suggest_text", "suggest_size", "suggest_mode"];

    /// <summary>
    /// What <c>RestSearchAction.parseSearchRequest</c> reads of the URL right after the body, in its order, none of which
    /// changes a search of one shard, but each refused as there: <c>batched_reduce_size</c> (always),
    /// <c>pre_filter_shard_size</c>, Elasticsearch's <c>enable_fields_emulation</c> and <c>max_concurrent_shard_requests</c>
    /// (when given), each with <c>paramAsInt</c> ("Failed to parse int parameter [pre_filter_shard_size] with value [abc]")
    /// or <c>paramAsBoolean</c>, and within <c>SearchRequest</c>'s setters' bounds ("batchedReduceSize must be &gt;= 2",
    /// "preFilterShardSize must be &gt;= 1", "maxConcurrentShardRequests must be &gt;= 1"); then
    /// <c>allow_partial_search_results</c> (<c>paramAsBoolean(name, null)</c>) and <c>search_type</c>
    /// (<c>SearchType.fromString</c>: "No search type for [x]").
    /// </summary>
    /// <param name="param">A URL parameter's value by name, or null when absent.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    public static void ReadAfterBody(Func<string, string?> param, bool openSearch)
    {
        ArgumentNullException.ThrowIfNull(param);
        if (XContentInt.Param("batched_reduce_size", param("batched_reduce_size")) is <= 1)
        {
            throw EsException.IllegalArgument("batchedReduceSize must be >= 2");
        }

        if (XContentInt.Param("pre_filter_shard_size", param("pre_filter_shard_size")) is < 1)
        {
            throw EsException.IllegalArgument("preFilterShardSize must be >= 1");
        }

        if (!openSearch)
        {
            _ = RequestJson.ParamAsBoolean(param("enable_fields_emulation"));
        }

        if (XContentInt.Param("max_concurrent_shard_requests", param("max_concurrent_shard_requests")) is < 1)
        {
            throw EsException.IllegalArgument("maxConcurrentShardRequests must be >= 1");
        }

        _ = RequestJson.ParamAsNullableBoolean(param("allow_partial_search_results"));
        if (param("search_type") is { } searchType && !MsearchHeader.SearchTypes(openSearch).Contains(searchType))
        {
            throw EsException.IllegalArgument($"No search type for [{searchType}]");
        }
    }

    /// <summary>
    /// The flags <c>RestSearchAction.parseSearchRequest</c> reads after the source, each with <c>paramAsBoolean</c>
    /// (<see cref="RequestJson.ParamAsBoolean"/>, strictly: anything but <c>true</c>, <c>false</c> or empty is its 400):
    /// <c>request_cache</c> (its default a <c>Boolean</c>), <c>ccs_minimize_roundtrips</c>, then, in
    /// <c>validateSearchRequest</c>, <c>rest_total_hits_as_int</c> and <c>include_named_queries_score</c>. Read as each
    /// search of an <c>_msearch</c> is read, they fail the whole msearch before any search runs.
    /// </summary>
    /// <param name="param">A URL parameter's value by name, or null when absent.</param>
    /// <param name="trackTotalHitsUpTo">The search's <c>track_total_hits</c> (see <see cref="ValidateSearchRequest"/>).</param>
    public static (bool TotalHitsAsInt, bool IncludeNamedQueriesScore) ReadFlagsAfterSource(Func<string, string?> param, int? trackTotalHitsUpTo = null)
    {
        ArgumentNullException.ThrowIfNull(param);
        _ = RequestJson.ParamAsNullableBoolean(param("request_cache"));
        _ = RequestJson.ParamAsBoolean(param("ccs_minimize_roundtrips"));
        return ValidateSearchRequest(param, trackTotalHitsUpTo);
    }

    /// <summary>
    /// What <c>RestSearchAction.validateSearchRequest</c> reads, strictly as <see cref="RequestJson.ParamAsBoolean"/>:
    /// <c>rest_total_hits_as_int</c> (<c>checkRestTotalHits</c>, which refuses it beside a <c>track_total_hits</c> that
    /// counts up to a number: 400 <c>illegal_argument_exception</c> "[rest_total_hits_as_int] cannot be used if the
    /// tracking of total hits is not accurate, got 100"), then <c>include_named_queries_score</c>. Called for every line
    /// of an <c>_msearch/template</c> too (<c>RestMultiSearchTemplateAction.parseRequest</c>, before the template is
    /// rendered: no <c>track_total_hits</c> yet), so a bad value fails the whole request before any template is rendered.
    /// </summary>
    /// <param name="param">A URL parameter's value by name, or null when absent.</param>
    /// <param name="trackTotalHitsUpTo">
    /// The search's <c>track_total_hits</c> (its body's, or its URL's over it) as <see cref="SearchBody.TrackTotalHits"/>
    /// reads it: null when not given or off (<c>false</c>, <c>-1</c>), <see cref="int.MaxValue"/> when accurate.
    /// </param>
    public static (bool TotalHitsAsInt, bool IncludeNamedQueriesScore) ValidateSearchRequest(Func<string, string?> param, int? trackTotalHitsUpTo = null)
    {
        ArgumentNullException.ThrowIfNull(param);
        var totalHitsAsInt = RequestJson.ParamAsBoolean(param("rest_total_hits_as_int")) ?? false;
        if (totalHitsAsInt && trackTotalHitsUpTo is { } upTo && upTo != int.MaxValue)
        {
            throw EsException.IllegalArgument($"[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got {upTo}");
        }

        return (totalHitsAsInt, RequestJson.ParamAsBoolean(param("include_named_queries_score")) ?? false);
    }

    /// <summary>
    /// Refuses the URL parameters the engine's <c>_search</c> does not read, once the search has been read (as
    /// <c>BaseRestHandler</c> checks them after <c>prepareRequest</c>): 400 <c>illegal_argument_exception</c> "request
    /// [/i/_search] contains unrecognized parameter: [szie] -> did you mean [size]?". With Elasticsearch, the suggest
    /// parameters without <c>suggest_field</c> are its own 400 first ("request [/i/_search] contains parameters
    /// [suggest_text] but missing 'suggest_field' parameter.", <c>RestSearchAction.parseSuggestUrlParameters</c>).
    /// </summary>
    /// <param name="path">The request's path, named in the error.</param>
    /// <param name="keys">The request's URL parameter names.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    public static void ThrowIfUnknown(string path, IEnumerable<string> keys, bool openSearch)
    {
        var given = keys.ToHashSet(StringComparer.Ordinal);
        if (!openSearch && !given.Contains("suggest_field") && SuggestParameters.Where(given.Contains).ToArray() is { Length: > 0 } stray)
        {
            throw EsException.IllegalArgument($"request [{path}] contains parameters [{string.Join(", ", stray)}] but missing 'suggest_field' parameter.");
        }

        var read = openSearch
            ? OpenSearchRead.Concat(OpenSearchReadWhenGiven.Where(given.Contains))
                .Concat(given.Contains("q") ? QueryStringParameters : Array.Empty<string>())
                .Concat(given.Contains("suggest_field") ? SuggestParameters : Array.Empty<string>())
            : ElasticsearchRead.Concat(ElasticsearchReadWhenGiven.Where(given.Contains));
        var known = read.ToHashSet(StringComparer.Ordinal);
        if (UnrecognizedParameters.Error(path, given.Where(k => !known.Contains(k)), known) is { } error)
        {
            throw error;
        }
    }
}
