namespace Rank1.Elastic;

/// <summary>The APIs besides <c>_search</c> and <c>_msearch</c> whose URL parameters <see cref="ApiParameters"/> checks.</summary>
internal enum ParameterApi
{
    /// <summary><c>_count</c> (<c>RestCountAction</c>).</summary>
    Count,

    /// <summary><c>GET</c>/<c>HEAD /{index}/_doc/{id}</c> (<c>RestGetAction</c>).</summary>
    Get,

    /// <summary><c>PUT</c>/<c>POST /{index}/_doc[/{id}]</c> and <c>_create/{id}</c> (<c>RestIndexAction</c> and its handlers).</summary>
    Index,

    /// <summary><c>DELETE /{index}/_doc/{id}</c> (<c>RestDeleteAction</c>).</summary>
    Delete,

    /// <summary><c>_mget</c> (<c>RestMultiGetAction</c>).</summary>
    Mget,

    /// <summary><c>_bulk</c> (<c>RestBulkAction</c>).</summary>
    Bulk,

    /// <summary><c>POST /{index}/_update/{id}</c> (<c>RestUpdateAction</c>).</summary>
    Update,

    /// <summary><c>_refresh</c> (<c>RestRefreshAction</c>).</summary>
    Refresh,

    /// <summary><c>DELETE /{index}</c> (<c>RestDeleteIndexAction</c>).</summary>
    DeleteIndex,
}

/// <summary>
/// The URL parameters <c>_count</c>, the single-document APIs (<c>_update</c> included), <c>_mget</c>, <c>_bulk</c>,
/// <c>_refresh</c> and the index deletion take, by engine: those each
/// one's <c>Rest*Action.prepareRequest</c> reads (all of them whether given or not, so all may be suggested), and the
/// parameters every endpoint takes. Any other is refused as <c>BaseRestHandler</c> refuses a parameter its handler did not
/// read (<see cref="UnrecognizedParameters"/>): <c>?refrsh=true</c> on a write was ignored, and the write not made visible.
/// </summary>
internal static class ApiParameters
{
    // FetchSourceContext.parseFromRestRequest; Elasticsearch 9.1 (and 8.19) also reads _source_exclude_vectors.
    private static readonly string[] Source = ["_source", "_source_includes", "_source_excludes"];

    // IndicesOptions.fromRequest.
    private static readonly string[] IndicesOptions = ["expand_wildcards", "ignore_unavailable", "allow_no_indices", "ignore_throttled"];

    // RestActions.urlParamsToQueryBuilder, which RestCountAction calls only without a body.
    private static readonly string[] QueryString = ["q", .. SearchParameters.QueryStringParameters];

    // The versions and compare-and-set parameters of a write (RestActions.parseVersion, VersionType.fromString, paramAsLong).
    private static readonly string[] WriteCondition = ["version", "version_type", "if_seq_no", "if_primary_term"];

    private static readonly Dictionary<ParameterApi, string[]> Elasticsearch = new()
    {
        [ParameterApi.Count] = ["index", .. IndicesOptions, "routing", "min_score", "preference", "terminate_after"],
        [ParameterApi.Get] =
        [
            "index", "id", "refresh", "routing", "preference", "realtime", "fields", "stored_fields", "version", "version_type", .. Source,
            "_source_exclude_vectors", "force_synthetic_source",
        ],
        [ParameterApi.Index] =
        [
            "index", "id", "routing", "pipeline", "timeout", "refresh", .. WriteCondition, "require_alias", "require_data_stream",
            "include_source_on_error", "op_type", "wait_for_active_shards",
        ],
        [ParameterApi.Delete] = ["index", "id", "routing", "timeout", "refresh", .. WriteCondition, "wait_for_active_shards"],
        [ParameterApi.Mget] =
        [
            "index", "refresh", "preference", "realtime", "fields", "stored_fields", .. Source, "_source_exclude_vectors", "routing",
            "force_synthetic_source",
        ],
        [ParameterApi.Bulk] =
        [
            "index", "routing", .. Source, "_source_exclude_vectors", "pipeline", "list_executed_pipelines", "wait_for_active_shards",
            "require_alias", "require_data_stream", "timeout", "refresh", "include_source_on_error",
        ],
        [ParameterApi.Update] =
        [
            "index", "id", "routing", "timeout", "refresh", "wait_for_active_shards", "doc_as_upsert", .. Source, "_source_exclude_vectors",
            "retry_on_conflict", "if_seq_no", "if_primary_term", "require_alias", "include_source_on_error",
        ],
        [ParameterApi.Refresh] = ["index", .. IndicesOptions],
        [ParameterApi.DeleteIndex] = ["index", "timeout", "master_timeout", .. IndicesOptions],
    };

    // OpenSearch 2.x's handlers: no require_data_stream, include_source_on_error, list_executed_pipelines,
    // force_synthetic_source or _source_exclude_vectors; its bulk reads batch_size (2.14 on, deprecated).
    private static readonly Dictionary<ParameterApi, string[]> OpenSearch = new()
    {
        [ParameterApi.Count] = Elasticsearch[ParameterApi.Count],
        [ParameterApi.Get] = ["index", "id", "refresh", "routing", "preference", "realtime", "fields", "stored_fields", "version", "version_type", .. Source],
        [ParameterApi.Index] =
        [
            "index", "id", "routing", "pipeline", "timeout", "refresh", .. WriteCondition, "require_alias", "op_type", "wait_for_active_shards",
        ],
        [ParameterApi.Delete] = Elasticsearch[ParameterApi.Delete],
        [ParameterApi.Mget] = ["index", "refresh", "preference", "realtime", "fields", "stored_fields", .. Source, "routing"],
        [ParameterApi.Bulk] =
        [
            "index", "routing", .. Source, "pipeline", "wait_for_active_shards", "require_alias", "timeout", "refresh", "batch_size",
        ],
        [ParameterApi.Update] =
        [
            "index", "id", "routing", "timeout", "refresh", "wait_for_active_shards", "doc_as_upsert", .. Source, "retry_on_conflict",
            "if_seq_no", "if_primary_term", "require_alias",
        ],
        [ParameterApi.Refresh] = Elasticsearch[ParameterApi.Refresh],

        // cluster_manager_timeout, and the deprecated master_timeout (parseDeprecatedMasterTimeoutParameter).
        [ParameterApi.DeleteIndex] = ["index", "timeout", "cluster_manager_timeout", "master_timeout", .. IndicesOptions],
    };

    /// <summary>
    /// Refuses the URL parameters the engine's handler for <paramref name="api"/> does not read, once it has read the
    /// request (as <c>BaseRestHandler</c> checks them after <c>prepareRequest</c>): 400 <c>illegal_argument_exception</c>
    /// "request [/i/_doc/1] contains unrecognized parameter: [refrsh] -> did you mean [refresh]?".
    /// </summary>
    /// <param name="api">The API.</param>
    /// <param name="path">The request's path, named in the error.</param>
    /// <param name="keys">The request's URL parameter names.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    /// <param name="hasBody">
    /// For <see cref="ParameterApi.Count"/>: whether the request has a body. Without one <c>RestCountAction</c> reads
    /// <c>q</c> and its parameters (Elasticsearch all of them, OpenSearch the others only with <c>q</c>); with one, none.
    /// </param>
    /// <param name="updatesDocument">
    /// For <see cref="ParameterApi.Update"/>: whether the body has a <c>doc</c> or an <c>upsert</c>, whose index requests
    /// <c>RestUpdateAction</c> gives the <c>version</c> and <c>version_type</c> it then reads (given, they were refused before).
    /// </param>
    public static void ThrowIfUnknown(ParameterApi api, string path, IEnumerable<string> keys, bool openSearch, bool hasBody = false, bool updatesDocument = false)
    {
        var given = keys.ToHashSet(StringComparer.Ordinal);
        IEnumerable<string> read = (openSearch ? OpenSearch : Elasticsearch)[api];
        if (api == ParameterApi.Count && !hasBody)
        {
            read = read.Concat(!openSearch || given.Contains("q") ? QueryString : ["q"]);
        }

        if (api == ParameterApi.Update && updatesDocument)
        {
            read = read.Concat(["version", "version_type"]);
        }

        var known = read.Concat(UnrecognizedParameters.EveryEndpoint).ToHashSet(StringComparer.Ordinal);
        if (UnrecognizedParameters.Error(path, given.Where(k => !known.Contains(k)), known) is { } error)
        {
            throw error;
        }
    }
}
