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

    /// <summary><c>PUT /{index}</c> (<c>RestCreateIndexAction</c>).</summary>
    CreateIndex,

    /// <summary><c>GET</c>/<c>HEAD /{index}</c> (<c>RestGetIndicesAction</c>).</summary>
    GetIndex,

    /// <summary><c>GET [/{index}]/_mapping</c> (<c>RestGetMappingAction</c>).</summary>
    GetMapping,

    /// <summary><c>GET [/{index}]/_settings</c> (<c>RestGetSettingsAction</c>).</summary>
    GetSettings,

    /// <summary><c>PUT [/{index}]/_settings</c> (<c>RestUpdateSettingsAction</c>).</summary>
    UpdateSettings,

    /// <summary><c>GET /_cat/indices[/{index}]</c> (<c>RestIndicesAction</c>, an <c>AbstractCatAction</c>).</summary>
    CatIndices,

    /// <summary><c>GET /_cluster/health[/{index}]</c> (<c>RestClusterHealthAction</c>).</summary>
    ClusterHealth,

    /// <summary><c>GET /_nodes[/{nodeId}[/{metrics}]]</c> (<c>RestNodesInfoAction</c>).</summary>
    NodesInfo,

    /// <summary><c>GET</c>/<c>POST /_search/scroll[/{scroll_id}]</c> (<c>RestSearchScrollAction</c>).</summary>
    Scroll,

    /// <summary><c>DELETE /_search/scroll[/{scroll_id}]</c> (<c>RestClearScrollAction</c>).</summary>
    ClearScroll,

    /// <summary>Elasticsearch's <c>POST /{index}/_pit</c> (<c>RestOpenPointInTimeAction</c>).</summary>
    OpenPointInTime,

    /// <summary>Elasticsearch's <c>DELETE /_pit</c> (<c>RestClosePointInTimeAction</c>).</summary>
    ClosePointInTime,

    /// <summary><c>PUT</c>/<c>POST /_scripts/{id}</c> (<c>RestPutStoredScriptAction</c>).</summary>
    PutScript,

    /// <summary><c>GET</c>/<c>HEAD /_scripts/{id}</c> (<c>RestGetStoredScriptAction</c>).</summary>
    GetScript,

    /// <summary><c>DELETE /_scripts/{id}</c> (<c>RestDeleteStoredScriptAction</c>).</summary>
    DeleteScript,

    /// <summary><c>GET</c>/<c>POST /_render/template[/{id}]</c> (lang-mustache's <c>RestRenderSearchTemplateAction</c>).</summary>
    RenderTemplate,

    /// <summary><c>GET</c>/<c>HEAD /</c> (<c>RestMainAction</c>, which reads no parameter).</summary>
    Main,
}

/// <summary>
/// The URL parameters <c>_count</c>, the single-document APIs (<c>_update</c> included), <c>_mget</c>, <c>_bulk</c>,
/// <c>_refresh</c>, the index APIs (create, get, delete, mapping), <c>_cat/indices</c>, <c>_cluster/health</c>,
/// <c>_nodes</c>, scroll, point in time, stored scripts, <c>_render/template</c> and the root (<c>GET /</c>) take, by engine: those each
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

    // Settings.FORMAT_PARAMS: the response parameters of the APIs that answer settings.
    private static readonly string[] SettingsFormat = ["settings_filter", "flat_settings"];

    // AbstractCatAction: help (read by prepareRequest) and its RESPONSE_PARAMS.
    private static readonly string[] Cat = ["help", "format", "h", "v", "ts", "pri", "bytes", "size", "time", "s"];

    // RestClusterHealthAction.fromRequest (Elasticsearch's ClusterHealthRequest.fromRestRequest), but for the master
    // timeout, and its response parameter level.
    private static readonly string[] Health =
    [
        "index", .. IndicesOptions, "local", "timeout", "wait_for_status", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards",
        "wait_for_active_shards", "wait_for_nodes", "wait_for_events", "level",
    ];

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
        [ParameterApi.CreateIndex] = ["index", "timeout", "master_timeout", "wait_for_active_shards"],

        // RestUtils.consumeDeprecatedLocalParameter reads local; GetIndexRequest.Feature.fromRequest features.
        [ParameterApi.GetIndex] = ["index", "master_timeout", .. IndicesOptions, "local", "human", "include_defaults", "features", .. SettingsFormat],
        [ParameterApi.GetMapping] = ["index", "master_timeout", .. IndicesOptions, "local"],

        // RestGetSettingsAction: name, include_defaults, local, master_timeout, the indices options; Settings.FORMAT_PARAMS.
        // RestUpdateSettingsAction: timeout, preserve_existing, master_timeout, the indices options, reopen; FORMAT_PARAMS.
        [ParameterApi.GetSettings] = ["index", "name", "include_defaults", "local", "master_timeout", .. IndicesOptions, .. SettingsFormat],
        [ParameterApi.UpdateSettings] = ["index", "timeout", "preserve_existing", "master_timeout", .. IndicesOptions, "reopen", .. SettingsFormat],

        // RestIndicesAction.doCatRequest and its response parameters local and health.
        [ParameterApi.CatIndices] = ["index", .. IndicesOptions, "master_timeout", "include_unloaded_segments", "local", "health", .. Cat],
        [ParameterApi.ClusterHealth] = [.. Health, "master_timeout"],

        // SettingsFilter.addFilterSettingParams reads settings_filter.
        [ParameterApi.NodesInfo] = ["nodeId", "metrics", "timeout", .. SettingsFormat],
        [ParameterApi.Scroll] = ["scroll_id", "scroll", "rest_total_hits_as_int"],
        [ParameterApi.ClearScroll] = ["scroll_id"],
        [ParameterApi.OpenPointInTime] =
        [
            "index", .. IndicesOptions, "routing", "preference", "keep_alive", "allow_partial_search_results", "max_concurrent_shard_requests",
        ],
        [ParameterApi.ClosePointInTime] = [],
        [ParameterApi.PutScript] = ["id", "context", "master_timeout", "timeout"],
        [ParameterApi.GetScript] = ["id", "master_timeout"],
        [ParameterApi.DeleteScript] = ["id", "master_timeout", "timeout"],

        // RestRenderSearchTemplateAction reads the body with contentOrSourceParamParser: source and its
        // source_content_type only without a body (RenderTemplateSource).
        [ParameterApi.RenderTemplate] = ["id"],
        [ParameterApi.Main] = [],
    };

    // The parameters contentOrSourceParam reads when a request has no body.
    private static readonly string[] RenderTemplateSource = ["source", "source_content_type"];

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
        [ParameterApi.CreateIndex] = ["index", "timeout", "cluster_manager_timeout", "master_timeout", "wait_for_active_shards"],
        [ParameterApi.GetIndex] =
        [
            "index", .. IndicesOptions, "local", "cluster_manager_timeout", "master_timeout", "human", "include_defaults", .. SettingsFormat,
        ],
        [ParameterApi.GetMapping] = ["index", .. IndicesOptions, "cluster_manager_timeout", "master_timeout", "local"],
        [ParameterApi.GetSettings] = ["index", "name", "include_defaults", "local", "cluster_manager_timeout", "master_timeout", .. IndicesOptions, .. SettingsFormat],
        [ParameterApi.UpdateSettings] = ["index", "timeout", "preserve_existing", "cluster_manager_timeout", "master_timeout", .. IndicesOptions, .. SettingsFormat],

        // ensure_node_weighed_in and awareness_attribute are OpenSearch's own.
        [ParameterApi.ClusterHealth] = [.. Health, "cluster_manager_timeout", "master_timeout", "ensure_node_weighed_in", "awareness_attribute"],
        [ParameterApi.Scroll] = Elasticsearch[ParameterApi.Scroll],
        [ParameterApi.ClearScroll] = Elasticsearch[ParameterApi.ClearScroll],
        [ParameterApi.RenderTemplate] = Elasticsearch[ParameterApi.RenderTemplate],

        // RestNodesInfoAction: timeout, SettingsFilter.addFilterSettingParams and its responseParams, Settings.FORMAT_PARAMS.
        [ParameterApi.NodesInfo] = Elasticsearch[ParameterApi.NodesInfo],

        // RestCreatePitAction (POST /{index}/_search/point_in_time): allow_partial_pit_creation, keep_alive, the indices
        // options, preference and routing.
        [ParameterApi.OpenPointInTime] = ["index", "allow_partial_pit_creation", "keep_alive", .. IndicesOptions, "preference", "routing"],

        // RestIndicesAction (not paginated: AbstractListAction reads no page parameters for it): the indices options,
        // local, cluster_manager_timeout, master_timeout, include_unloaded_segments; AbstractCatAction's help and
        // response parameters, with OpenSearch's timeout and limit, and its own health.
        [ParameterApi.CatIndices] =
        [
            "index", .. IndicesOptions, "local", "cluster_manager_timeout", "master_timeout", "include_unloaded_segments", "health", .. Cat, "timeout", "limit",
        ],

        // RestDeletePitAction (DELETE /_search/point_in_time[/_all]) reads no parameter: its body only, or source and
        // source_content_type in its stead (withContentOrSourceParamParserOrNull), which the embedded server has made the body.
        [ParameterApi.ClosePointInTime] = [],

        // RestPutStoredScriptAction, RestGetStoredScriptAction, RestDeleteStoredScriptAction: cluster_manager_timeout and the
        // deprecated master_timeout (parseDeprecatedMasterTimeoutParameter).
        [ParameterApi.PutScript] = ["id", "context", "cluster_manager_timeout", "master_timeout", "timeout"],
        [ParameterApi.GetScript] = ["id", "cluster_manager_timeout", "master_timeout"],
        [ParameterApi.DeleteScript] = ["id", "timeout", "cluster_manager_timeout", "master_timeout"],
        [ParameterApi.Main] = [],
    };

    /// <summary>
    /// Whether the engine's handler for <paramref name="api"/> reads no body, so that <c>BaseRestHandler</c> refuses one
    /// ("request [GET /_cat/indices] does not support having a body") once the parameters have passed: the root, nodes
    /// info, <c>_cat/indices</c>, cluster health, GET/HEAD/DELETE of an index or a document, mappings, refresh, GET/DELETE of
    /// a stored script, and OpenSearch's point in time (<c>RestCreatePitAction</c>; Elasticsearch's reads an <c>index_filter</c>).
    /// </summary>
    /// <param name="api">The API.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    public static bool ReadsNoBody(ParameterApi api, bool openSearch) => api switch
    {
        ParameterApi.Main or ParameterApi.NodesInfo or ParameterApi.CatIndices or ParameterApi.ClusterHealth or ParameterApi.Get or ParameterApi.Delete
            or ParameterApi.GetIndex or ParameterApi.DeleteIndex or ParameterApi.GetMapping or ParameterApi.GetSettings or ParameterApi.Refresh or ParameterApi.GetScript or ParameterApi.DeleteScript => true,
        ParameterApi.OpenPointInTime => openSearch,
        _ => false,
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
    /// For <see cref="ParameterApi.RenderTemplate"/>: without one it reads <c>source</c> and <c>source_content_type</c>.
    /// </param>
    /// <param name="updatesDocument">
    /// For <see cref="ParameterApi.Update"/>: whether the body has a <c>doc</c> or an <c>upsert</c>, whose index requests
    /// <c>RestUpdateAction</c> gives the <c>version</c> and <c>version_type</c> it then reads (given, they were refused before).
    /// </param>
    public static void ThrowIfUnknown(ParameterApi api, string path, IEnumerable<string> keys, bool openSearch, bool hasBody = false, bool updatesDocument = false)
    {
        var handler = (openSearch ? OpenSearch : Elasticsearch)[api];

        var given = keys.ToHashSet(StringComparer.Ordinal);
        IEnumerable<string> read = handler;
        if (api == ParameterApi.Count && !hasBody)
        {
            read = read.Concat(!openSearch || given.Contains("q") ? QueryString : ["q"]);
        }

        if (api == ParameterApi.RenderTemplate && !hasBody)
        {
            read = read.Concat(RenderTemplateSource);
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
