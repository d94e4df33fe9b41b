namespace Rank1.Elastic;

/// <summary>
/// The URL parameters an <c>_msearch</c> or <c>_msearch/template</c> takes, by engine: those of each one's REST spec,
/// plus the parameters every endpoint takes. Any other (<c>q</c>, <c>size</c>, <c>from</c>, <c>sort</c>...) is refused,
/// as Elasticsearch's BaseRestHandler refuses a parameter its handler did not consume, rather than copied onto every
/// search. The proxy and the embedded backend check alike.
/// </summary>
internal static class MsearchParameters
{
    /// <summary>The msearch's own concurrency: Elasticsearch's _search has no such parameter.</summary>
    public const string MaxConcurrentSearches = "max_concurrent_searches";

    // source and source_content_type (the body given in the URL) are read by the proxy as the body of a request sent
    // without one, and consumed (SearchHttp.BodyOrSource) before this check; beside a body they are refused, as
    // Elasticsearch does not consume them then.
    private static readonly string[] Common =
    [
        MaxConcurrentSearches, "allow_no_indices", "ccs_minimize_roundtrips", "expand_wildcards", "ignore_throttled",
        "ignore_unavailable", "max_concurrent_shard_requests", "pre_filter_shard_size", "rest_total_hits_as_int", "routing",
        "search_type", "typed_keys", .. UnrecognizedParameters.EveryEndpoint,
    ];

    private static readonly HashSet<string> Elasticsearch = new([.. Common, "include_named_queries_score"], StringComparer.Ordinal);

    // OpenSearch's msearch (opensearch-api-specification) takes cancel_after_time_interval, and not Elasticsearch's
    // include_named_queries_score; recent OpenSearch's RestMultiSearchAction.parseRequest also reads coordinator_timeout
    // (each search's own, else this one), which an OpenSearch without it refuses itself: the proxy, which does not know
    // the cluster's version, sends it on with each search for the cluster to judge, rather than refuse what it takes.
    private static readonly HashSet<string> OpenSearch = new([.. Common, "cancel_after_time_interval", "coordinator_timeout"], StringComparer.Ordinal);

    // _msearch/template takes fewer: those of msearch_template.json in Elasticsearch's and OpenSearch's REST specs,
    // routing (which RestMultiSearchAction.parseMultiLineRequest reads for every msearch), and the parameters every
    // endpoint takes.
    private static readonly HashSet<string> Templates = new(
        [MaxConcurrentSearches, "ccs_minimize_roundtrips", "rest_total_hits_as_int", "routing", "search_type", "typed_keys", .. UnrecognizedParameters.EveryEndpoint],
        StringComparer.Ordinal);

    // Elasticsearch's RestMultiSearchTemplateAction also consumes include_named_queries_score, reading each line with
    // RestSearchAction.validateSearchRequest (OpenSearch's reads rest_total_hits_as_int alone).
    private static readonly HashSet<string> ElasticsearchTemplates = new([.. Templates, "include_named_queries_score"], StringComparer.Ordinal);

    /// <summary>
    /// What the msearch reads of its URL before its lines, in its order, and its <c>max_concurrent_searches</c>
    /// (<see cref="MsearchLines.MaxConcurrentSearches"/>), or null when absent. <c>RestMultiSearchAction.parseRequest</c>:
    /// the indices options (<c>IndicesOptions.fromRequest</c>, <see cref="IndicesOptionsParameters.Read"/>), then
    /// <c>max_concurrent_searches</c>, then <c>pre_filter_shard_size</c> and <c>max_concurrent_shard_requests</c> with
    /// <c>paramAsInt</c> ("Failed to parse int parameter [pre_filter_shard_size] with value [x]"), then
    /// <c>parseMultiLineRequest</c>'s <c>paramAsBoolean("ccs_minimize_roundtrips", true)</c>; an
    /// <c>_msearch/template</c> (<c>RestMultiSearchTemplateAction</c>) the first and the last. Each refusal is a 400 for
    /// the whole msearch, before its body is read.
    /// </summary>
    /// <param name="param">A URL parameter's value by name, or null when absent.</param>
    /// <param name="templates">Whether it is an <c>_msearch/template</c>.</param>
    /// <param name="openSearch">Whether OpenSearch's reading of the indices options applies.</param>
    public static int? ReadBeforeLines(Func<string, string?> param, bool templates, bool openSearch)
    {
        ArgumentNullException.ThrowIfNull(param);
        if (!templates)
        {
            _ = IndicesOptionsParameters.Read(param, openSearch); // IndicesOptions.fromRequest, first of all
        }

        var concurrency = MsearchLines.MaxConcurrentSearches(param(MaxConcurrentSearches));
        if (!templates)
        {
            _ = XContentInt.Param("pre_filter_shard_size", param("pre_filter_shard_size"));
            _ = XContentInt.Param("max_concurrent_shard_requests", param("max_concurrent_shard_requests"));
        }

        _ = RequestJson.ParamAsBoolean(param("ccs_minimize_roundtrips"));
        return concurrency;
    }

    /// <summary>
    /// Whether the engine's msearch takes the URL parameter <paramref name="name"/>. Only those reach the msearch's
    /// searches: the lines are read before <see cref="ThrowIfUnknown"/> refuses the others, as Elasticsearch reads them
    /// before BaseRestHandler does, and RestMultiSearchAction never reads a search's <c>size</c> or <c>sort</c> from the
    /// URL (a <c>?size=abc</c> was that search's parse error instead of the unrecognized parameter).
    /// </summary>
    public static bool Takes(string name, bool openSearch, bool templates) => Known(openSearch, templates).Contains(name);

    private static HashSet<string> Known(bool openSearch, bool templates) => templates ? (openSearch ? Templates : ElasticsearchTemplates) : openSearch ? OpenSearch : Elasticsearch;

    /// <summary>
    /// Refuses the parameters the engine's msearch does not take: 400 <c>illegal_argument_exception</c> naming them in
    /// Elasticsearch's words (<c>BaseRestHandler.unrecognized</c>, the same in OpenSearch): sorted, each followed by
    /// "-> did you mean [..]?" (or "any of [..]") naming the parameters the handler read whose Levenshtein similarity to
    /// it is over 0.5, best first. The handler reads <c>index</c> and every parameter it takes, but
    /// <c>max_concurrent_searches</c>, <c>pre_filter_shard_size</c> and <c>max_concurrent_shard_requests</c> only when
    /// they are given (<c>hasParam</c> first), so only then are they suggested.
    /// </summary>
    /// <param name="path">The request's path, named in the error.</param>
    /// <param name="keys">The request's URL parameter names.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    /// <param name="templates">Whether it is an <c>_msearch/template</c>.</param>
    public static void ThrowIfUnknown(string path, IEnumerable<string> keys, bool openSearch, bool templates)
    {
        var known = Known(openSearch, templates);
        var given = keys.ToArray();
        string[] readWhenGiven = [MaxConcurrentSearches, "pre_filter_shard_size", "max_concurrent_shard_requests"];
        var read = known.Where(k => !readWhenGiven.Contains(k, StringComparer.Ordinal) || given.Contains(k, StringComparer.Ordinal)).Append("index");
        if (UnrecognizedParameters.Error(path, given.Where(k => !known.Contains(k)), read) is { } error)
        {
            throw error;
        }
    }
}
