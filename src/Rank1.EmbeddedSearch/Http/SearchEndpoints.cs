using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.EmbeddedSearch.Querying;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>Search, count and multi-search, and the index administration APIs.</summary>
/// <param name="catalog">The indices.</param>
/// <param name="executor">Runs searches.</param>
/// <param name="contexts">Scroll and point-in-time contexts.</param>
/// <param name="time">The clock.</param>
/// <param name="flavor">The engine the server stands in for (how it frames an <c>_msearch</c> body's first line).</param>
internal sealed class SearchEndpoints(IndexCatalog catalog, SearchExecutor executor, SearchContexts contexts, TimeProvider time, SearchFlavor flavor)
{
    public async Task SearchAsync(HttpContext context, string? index)
    {
        if (flavor == SearchFlavor.Elasticsearch)
        {
            // Elasticsearch's urlParamsToQueryBuilder refuses q's parameters without q in its own words; OpenSearch's
            // does not read them then, so they are unrecognized parameters (SearchParameters).
            SearchRequest.ThrowIfQueryStringParamsWithoutQ(EsHttp.Param(context), context.Request.Path);
        }

        var raw = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        // The deprecation warnings logged answer the search whether it succeeds or fails (EsHttp.WithDeprecationWarnings).
        var result = EsHttp.WithDeprecationWarnings(context, flavor, deprecations =>
        {
            var request = SearchRequest.Read(SearchBody.ReadOptional(raw) is { } source ? JsonLocations.Remember(source, raw) : null, EsHttp.Param(context), flavor, deprecations,
                EsHttp.CompatibleWith8(context, flavor));
            _ = catalog.ReadIndicesOptions(EsHttp.Param(context)); // RestSearchAction.parseSearchRequest reads them after the body and q
            // Once the search is read, as BaseRestHandler refuses the parameters its handler did not read.
            SearchParameters.ThrowIfUnknown(context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch);
            return executor.Search(index, request, EsHttp.Param(context));
        });
        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    public async Task CountAsync(HttpContext context, string? index)
    {
        // RestCountAction reads the body with RestActions.getQueryContent: its first token must start an object
        // ("Expected [START_OBJECT] but found [START_ARRAY]"), and it reads to that object's end and no further, so what
        // follows is never read (unlike _search's checkTrailingTokens). It reads the indices options first of all.
        _ = catalog.ReadIndicesOptions(EsHttp.Param(context));
        var raw = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        if (raw.Length == 0 && flavor == SearchFlavor.Elasticsearch)
        {
            // Without a body RestCountAction reads the URL's query (RestActions.urlParamsToQueryBuilder): Elasticsearch's
            // refuses q's parameters without q in its own words; OpenSearch's does not read them then (ApiParameters).
            SearchRequest.ThrowIfQueryStringParamsWithoutQ(EsHttp.Param(context), context.Request.Path);
        }

        var body = RequestJson.IsEmpty(raw) ? null : JsonLocations.Remember(SearchBody.Read(raw, checkTrailingTokens: false), raw);
        var count = EsHttp.WithDeprecationWarnings(context, flavor, deprecations =>
        {
            SearchRequest.CheckCountBody(body, flavor, deprecations);
            // RestCountAction: request.paramAsFloat("min_score", -1f), set on the count's search unless it is -1; then
            // terminate_after, request.paramAsInt and SearchSourceBuilder.terminateAfter ("terminateAfter must be > 0").
            var minScore = MinScoreParam(EsHttp.Param(context)("min_score"));
            var terminateAfter = SearchRequest.TerminateAfterOf(XContentInt.Param("terminate_after", EsHttp.Param(context)("terminate_after")));
            // Once the request is read, as BaseRestHandler refuses the parameters RestCountAction did not read: with a body it
            // reads the body's query and never q or its parameters (withContentOrSourceParamParserOrNull).
            ApiParameters.ThrowIfUnknown(ParameterApi.Count, context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch, hasBody: raw.Length > 0);
            return executor.Count(index, body, EsHttp.Param(context), terminateAfter, minScore);
        });
        await EsHttp.WriteAsync(context, 200, count).ConfigureAwait(false);
    }

    // RestRequest.paramAsFloat: Float.parseFloat ("0.5f" and "0x1p-1" too: XContentInt.ParseJavaDouble, narrowed), else
    // "Failed to parse float parameter [min_score] with value [x]".
    private static float? MinScoreParam(string? value)
    {
        if (value is null)
        {
            return null;
        }

        float f;
        try
        {
            f = (float)XContentInt.ParseJavaDouble(value);
        }
        catch (EsException)
        {
            throw EsException.IllegalArgument($"Failed to parse float parameter [min_score] with value [{value}]");
        }

        return f == -1f ? null : f;
    }

    public async Task MsearchAsync(HttpContext context, string? pathIndex)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        MsearchParameters.ReadBeforeLines(EsHttp.Param(context), templates: false, flavor == SearchFlavor.OpenSearch); // read before the lines, as RestMultiSearchAction does; searches run one by one here
        // Every line is read, and every search body parsed, before any search runs, as Elasticsearch reads them: one bad
        // line, unknown key, negative from or size, or unknown query is a 400 for the whole msearch (SearchRequest.Read).
        var body = await MsearchBodyAsync(context).ConfigureAwait(false);
        // Only the parameters _msearch takes reach its searches while the lines are read (MsearchParameters.Takes).
        var param = EsHttp.Param(context);
        var compatibleWith8 = EsHttp.CompatibleWith8(context, flavor); // the request's Accept, read once for every line
        // Every line's deprecation warnings, those logged before a line is refused too (as _search's).
        var items = EsHttp.WithDeprecationWarnings(context, flavor, deprecations =>
        {
            var read = MsearchLines.Read(body, flavor == SearchFlavor.OpenSearch,
                item => (item.Header, Request: SearchRequest.Read(JsonLocations.Remember(item.Source, item.Body.Span), name => MsearchParameters.Takes(name, flavor == SearchFlavor.OpenSearch, templates: false) ? param(name) : null, flavor, deprecations,
                    compatibleWith8)));
            // A parameter _msearch does not take (q, size, sort...) is refused, as the proxy refuses it, not applied to every
            // search; once every line is read, as BaseRestHandler refuses the parameters its handler did not read.
            MsearchParameters.ThrowIfUnknown(context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch, templates: false);
            return read;
        });
        await AnswerMsearchAsync(context, started, items.Select(i => (Func<JsonObject>)(() => executor.Search(MsearchIndex(i.Header, pathIndex), i.Request, EsHttp.Param(context)))), flavor).ConfigureAwait(false);
    }

    /// <summary>
    /// The body of an <c>_msearch</c> (or <c>_msearch/template</c>): Elasticsearch reads its lines with
    /// <c>RestRequest.contentOrSourceParam</c>, which refuses a request with no body as a 400 <c>parse_exception</c>.
    /// </summary>
    internal static async Task<byte[]> MsearchBodyAsync(HttpContext context)
    {
        var body = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        return body.Length > 0 ? body : throw new EsException(400, "parse_exception", "request body or source parameter is required");
    }

    /// <summary>
    /// An msearch's answer: each item run in order, its answer with <c>status</c> 200, or its error (an
    /// <see cref="EsException"/>) in its place; <c>took</c> counted from <paramref name="started"/>.
    /// </summary>
    internal static Task AnswerMsearchAsync(HttpContext context, long started, IEnumerable<Func<JsonObject>> items, SearchFlavor flavor) =>
        WriteMsearchAsync(context, started, RunMsearch(items, flavor));

    /// <summary>
    /// An msearch's items run in order: each its answer with <c>status</c> 200, or its error (an <see cref="EsException"/>)
    /// in its place, in the words of the <paramref name="flavor"/>'s engine.
    /// </summary>
    internal static JsonArray RunMsearch(IEnumerable<Func<JsonObject>> items, SearchFlavor flavor)
    {
        var responses = new JsonArray();
        foreach (var run in items)
        {
            try
            {
                var result = run();
                result["status"] = 200;
                responses.Add(result);
            }
            catch (EsException ex)
            {
                responses.Add(ex.For(flavor == SearchFlavor.OpenSearch).ToBody());
            }
        }

        return responses;
    }

    /// <summary>An msearch's answer: its <paramref name="responses"/>, <c>took</c> counted from <paramref name="started"/>.</summary>
    internal static Task WriteMsearchAsync(HttpContext context, long started, JsonArray responses)
    {
        return EsHttp.WriteAsync(context, 200, new JsonObject
        {
            ["took"] = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            ["responses"] = responses,
        });
    }

    /// <summary>The index expression of an msearch item: its header's <c>index</c> (a string or a list), else the path's.</summary>
    internal static string? MsearchIndex(JsonObject header, string? pathIndex) => (header["index"] ?? header["indices"]) switch
    {
        JsonArray a when a.All(x => x is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String) => string.Join(',', a.Select(x => x!.GetValue<string>())),
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        null => pathIndex,
        var other => throw EsException.IllegalArgument($"[index] in an msearch header must be a string or an array of strings, found [{other.ToJsonString()}]"),
    };

    /// <summary><c>GET/POST /_search/scroll</c>: the id and keep-alive from the body or the URL.</summary>
    public async Task ScrollAsync(HttpContext context, string? pathScrollId)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false);
        var id = body?["scroll_id"]?.GetValue<string>() ?? pathScrollId ?? EsHttp.Param(context)("scroll_id");
        if (id is null)
        {
            // SearchScrollRequest.validate, in the transport action: after BaseRestHandler's check.
            ThrowIfUnknownParameters(context, ParameterApi.Scroll);
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;");
        }

        var keepAlive = (body?["scroll"]?.ToString() ?? EsHttp.Param(context)("scroll")) is { } k ? SearchContexts.ParseKeepAlive(k, "scroll") : (TimeSpan?)null;
        ThrowIfUnknownParameters(context, ParameterApi.Scroll);
        // The page's total as this request asks (rest_total_hits_as_int, a response parameter of RestSearchScrollAction
        // read with paramAsBoolean as SearchResponse writes it), not as the search that opened the scroll asked.
        var totalAsInt = RequestJson.ParamAsBoolean(EsHttp.Param(context)("rest_total_hits_as_int")) ?? false;
        await EsHttp.WriteAsync(context, 200, SearchExecutor.WithTotalHitsAsInt(executor.Scroll(id, keepAlive), totalAsInt)).ConfigureAwait(false);
    }

    /// <summary><c>DELETE /_search/scroll</c>: the ids in the body, the URL, or <c>_all</c>; 404 when nothing was freed, as Elasticsearch answers.</summary>
    public async Task ClearScrollAsync(HttpContext context, string? pathScrollIds)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false);
        var ids = Ids(body?["scroll_id"]) ?? pathScrollIds?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? EsHttp.Param(context)("scroll_id")?.Split(',', StringSplitOptions.RemoveEmptyEntries);
        ThrowIfUnknownParameters(context, ParameterApi.ClearScroll); // before ClearScrollRequest.validate, in the transport action
        if (ids is null)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no scroll ids specified;");
        }

        var freed = contexts.Clear(ids is ["_all"] ? null : ids, isPit: false);
        await EsHttp.WriteAsync(context, freed > 0 ? 200 : 404, new JsonObject { ["succeeded"] = true, ["num_freed"] = freed }).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a point in time: Elasticsearch's <c>POST /{index}/_pit</c> answers <c>{"id":..}</c>, OpenSearch's
    /// <c>POST /{index}/_search/point_in_time</c> answers <c>{"pit_id":..,"creation_time":..}</c>.
    /// </summary>
    public async Task OpenPointInTimeAsync(HttpContext context, string index, bool openSearch)
    {
        await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        _ = catalog.ReadIndicesOptions(EsHttp.Param(context)); // RestOpenPointInTimeAction reads them first
        var keepAlive = EsHttp.Param(context)("keep_alive") is { } k ? SearchContexts.ParseKeepAlive(k, "keep_alive") : (TimeSpan?)null;
        // RestOpenPointInTimeAction reads allow_partial_search_results with paramAsBoolean, strictly; OpenSearch's
        // RestCreatePitAction allow_partial_pit_creation.
        _ = RequestJson.ParamAsBoolean(EsHttp.Param(context)(openSearch ? "allow_partial_pit_creation" : "allow_partial_search_results"));
        ThrowIfUnknownParameters(context, ParameterApi.OpenPointInTime); // before OpenPointInTimeRequest.validate, in the transport action

        if (keepAlive is null)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not specified;");
        }

        var pit = executor.OpenPointInTime(index, keepAlive.Value, EsHttp.Param(context));
        var shards = SearchExecutor.Shards(pit.Targets.Count);
        await EsHttp.WriteAsync(context, 200, openSearch
            ? new JsonObject { ["pit_id"] = pit.Id, ["_shards"] = shards, ["creation_time"] = time.GetUtcNow().ToUnixTimeMilliseconds() }
            : new JsonObject { ["id"] = pit.Id, ["_shards"] = shards }).ConfigureAwait(false);
    }

    /// <summary>
    /// Elasticsearch's <c>DELETE /_pit</c> with <c>{"id":..}</c>: <c>{"succeeded":true,"num_freed":N}</c>, a 200 even when
    /// nothing was freed (an unknown, expired or closed id): <c>ClosePointInTimeResponse.status()</c> is OK when succeeded,
    /// and closing always succeeds. (Clearing a scroll, whose response has no such override, is the 404.)
    /// </summary>
    public async Task ClosePointInTimeAsync(HttpContext context)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false);
        ThrowIfUnknownParameters(context, ParameterApi.ClosePointInTime);
        var id = body?["id"]?.GetValue<string>() ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: point in time id is missing;");
        var freed = contexts.Clear([id], isPit: true);
        await EsHttp.WriteAsync(context, 200, new JsonObject { ["succeeded"] = true, ["num_freed"] = freed }).ConfigureAwait(false);
    }

    /// <summary>OpenSearch's <c>DELETE /_search/point_in_time</c> (<c>{"pit_id":[..]}</c>) and <c>/_all</c>: <c>{"pits":[{"successful":..,"pit_id":..}]}</c>.</summary>
    public async Task DeletePointInTimesAsync(HttpContext context, bool all)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false);
        ThrowIfUnknownParameters(context, ParameterApi.ClosePointInTime); // once the body is read, before DeletePitRequest.validate
        var ids = all ? contexts.OpenIds(isPit: true)
            : Ids(body?["pit_id"]) ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no pit ids specified;");
        var pits = new JsonArray();
        foreach (var id in ids)
        {
            pits.Add(new JsonObject { ["successful"] = contexts.Clear([id], isPit: true) > 0, ["pit_id"] = id });
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["pits"] = pits }).ConfigureAwait(false);
    }

    private static string[]? Ids(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => a.Select(x => x!.GetValue<string>()).ToArray(),
        _ => [node.GetValue<string>()],
    };

    public async Task CreateIndexAsync(HttpContext context, string index)
    {
        var body = await EsHttp.ReadObjectAsync(context, "mapper_parsing_exception").ConfigureAwait(false);
        if (body is not null)
        {
            foreach (var (key, _) in body)
            {
                if (key is not ("mappings" or "settings" or "aliases"))
                {
                    throw EsException.Parsing($"unknown key [{key}] for create index");
                }
            }
        }

        // Once the body is read (CreateIndexRequest.source, in RestCreateIndexAction.prepareRequest), before the index is made.
        ThrowIfUnknownParameters(context, ParameterApi.CreateIndex);
        // MetadataCreateIndexService.normalizeRequestSetting validates the settings before the index's name is checked.
        var settings = IndexSettings.Read(body?["settings"] as JsonObject);
        settings.ValidateForCreation();
        catalog.Create(index, body?["mappings"], settings);
        if (settings.HasOthers || body?["aliases"] is JsonObject { Count: > 0 })
        {
            // Accepted so that real index definitions load, but nothing of them applies here: say so.
            context.Response.Headers.Append("Warning", IgnoredSettingsWarning);
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true, ["shards_acknowledged"] = true, ["index"] = index }).ConfigureAwait(false);
    }

    private const string IgnoredSettingsWarning =
        "299 Elasticsearch-embedded \"index settings other than index.hidden and index.max_result_window, and aliases, are ignored by the Rank1 embedded search backend (one shard, standard analyzer, BM25)\"";

    /// <summary>
    /// <c>PUT [/{index}]/_settings</c> (<c>RestUpdateSettingsAction</c>): the body's settings (or those of its
    /// <c>settings</c> object), read and validated as <c>MetadataUpdateSettingsService</c> validates them, applied
    /// to every index named: <c>index.hidden</c> and <c>index.max_result_window</c> (null resets either); any other is accepted, ignored and reported
    /// in a <c>Warning</c> header. Answers <c>{"acknowledged":true}</c>.
    /// </summary>
    public async Task UpdateSettingsAsync(HttpContext context, string? index)
    {
        var param = EsHttp.Param(context);
        var preserveExisting = RequestJson.ParamAsBoolean(param("preserve_existing")) == true;
        _ = RequestJson.ParamAsBoolean(param("reopen"));
        _ = catalog.ReadIndicesOptions(param);
        var allowNoIndices = RequestJson.NodeBooleanValue(param("allow_no_indices"), "allow_no_indices", withDefault: false) == true;
        // request.contentParser(): a request without a body is refused.
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false) ?? throw new EsException(400, "parse_exception", "request body is required");
        ThrowIfUnknownParameters(context, ParameterApi.UpdateSettings);
        var settings = IndexSettings.Read(body["settings"] as JsonObject ?? body);
        if (!settings.GivesAny)
        {
            // UpdateSettingsRequest.validate, run by TransportAction.execute before the indices are resolved.
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no settings to update;");
        }

        // TransportUpdateSettingsAction resolves the indices (UpdateSettingsRequest's indices options are
        // fromOptions(false, false, true, true): allow_no_indices off by default), then MetadataUpdateSettingsService
        // validates the keys, refuses what is not dynamic, and only then reads the values, index by index.
        var targets = catalog.Resolve(index, param, allowNoIndices);
        settings.ValidateKeys(flavor);
        if (settings.NonDynamic.Count > 0 && targets.Count > 0)
        {
            // MetadataUpdateSettingsService: a setting that is not dynamic is skipped for an open index, then refused with
            // the set of them and the open indices (Index.toString, [name/uuid]); every index here is open. Elasticsearch's
            // sets have no order; indices here go by name.
            var open = string.Join(", ", targets.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => $"[{t.Name}/{t.Uuid}]"));
            throw EsException.IllegalArgument($"Can't update non dynamic settings [[{string.Join(", ", settings.NonDynamic)}]] for open indices [{open}]");
        }

        if (targets.Count > 0)
        {
            settings.ValidateValues();
        }

        // IndexMetadata.INDEX_HIDDEN_SETTING is dynamic: the index leaves (or, false, comes back to) wildcard expansion.
        // preserve_existing: MetadataUpdateSettingsService keeps a setting the index already has, false too.
        if (settings.SetsHidden || settings.SetsMaxResultWindow)
        {
            foreach (var target in targets)
            {
                target.UpdateSettings((settings.SetsHidden, settings.Hidden), (settings.SetsMaxResultWindow, settings.MaxResultWindow), preserveExisting);
            }
        }

        if (settings.HasOthers)
        {
            context.Response.Headers.Append("Warning", IgnoredSettingsWarning);
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true }).ConfigureAwait(false);
    }

    /// <summary><c>GET [/{index}]/_settings</c> (<c>RestGetSettingsAction</c>): each index's settings, as <c>GET /{index}</c> has them.</summary>
    public async Task GetSettingsAsync(HttpContext context, string? index, string? name = null)
    {
        var param = EsHttp.Param(context);
        var includeDefaults = RequestJson.ParamAsBoolean(param("include_defaults")) == true;
        _ = RequestJson.ParamAsBoolean(param("local"));
        _ = catalog.ReadIndicesOptions(param);
        ThrowIfUnknownParameters(context, ParameterApi.GetSettings);
        // RestGetSettingsAction: the names, split at commas; TransportGetSettingsAction keeps the keys that
        // Regex.simpleMatch one of them (settings and defaults alike).
        var names = string.IsNullOrEmpty(name) ? null : IndexCatalog.ExpressionParts(name).Select(JsonPaths.Wildcard).ToArray();
        var targets = Indices(context, index);
        // Settings.toXContent reads flat_settings with paramAsBoolean, strictly, when it writes the settings.
        var flat = RequestJson.ParamAsBoolean(param("flat_settings")) ?? false;
        var result = new JsonObject();
        foreach (var i in targets)
        {
            var settings = Keep(FlatSettings(i), names);
            var defaults = includeDefaults ? Keep(DefaultSettings(i), names) : [];
            // GetSettingsResponse omits an index whose (filtered) settings are empty, unless defaults were asked for.
            if (settings.Count == 0 && !includeDefaults)
            {
                continue;
            }

            var entry = new JsonObject { ["settings"] = SettingsXContent(settings, flat) };
            if (includeDefaults)
            {
                entry["defaults"] = SettingsXContent(defaults, flat);
            }

            result[i.Name] = entry;
        }

        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    private static List<KeyValuePair<string, string>> Keep(IEnumerable<KeyValuePair<string, string>> settings, System.Text.RegularExpressions.Regex[]? names) =>
        settings.Where(s => names is null || names.Any(n => n.IsMatch(s.Key))).ToList();

    // An index's settings as dotted keys (Settings' own form), in the order SettingsJson writes them.
    private static IEnumerable<KeyValuePair<string, string>> FlatSettings(SearchIndex i) =>
        SettingsJson(i)["index"]!.AsObject().Select(p => KeyValuePair.Create("index." + p.Key, p.Value!.GetValue<string>()));

    // IndexScopedSettings.diff(settings, EMPTY): the default of each setting this backend knows that the index has not set.
    private static IEnumerable<KeyValuePair<string, string>> DefaultSettings(SearchIndex i)
    {
        if (i.HiddenSetting is null)
        {
            yield return KeyValuePair.Create(IndexSettings.HiddenKey, "false");
        }

        if (i.MaxResultWindowSetting is null)
        {
            yield return KeyValuePair.Create(IndexSettings.MaxResultWindowKey, IndexSettings.DefaultMaxResultWindow.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    // Settings.toXContent: flat_settings writes the dotted keys, else each key's parts as nested objects.
    private static JsonObject SettingsXContent(List<KeyValuePair<string, string>> settings, bool flat)
    {
        var root = new JsonObject();
        foreach (var (key, value) in settings)
        {
            if (flat)
            {
                root[key] = value;
                continue;
            }

            var parts = key.Split('.');
            var node = root;
            foreach (var part in parts[..^1])
            {
                node = node[part] as JsonObject ?? (JsonObject)(node[part] = new JsonObject());
            }

            node[parts[^1]] = value;
        }

        return root;
    }

    // An index's settings as Elasticsearch writes them (nested, every value a string).
    private static JsonObject SettingsJson(SearchIndex i)
    {
        var index = new JsonObject
        {
            ["number_of_shards"] = "1",
            ["number_of_replicas"] = "0",
            ["uuid"] = i.Uuid,
            ["provided_name"] = i.Name,
            ["creation_date"] = i.Created.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (i.HiddenSetting is { } hidden)
        {
            index["hidden"] = hidden ? "true" : "false";
        }

        if (i.MaxResultWindowSetting is { } window)
        {
            index["max_result_window"] = window.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return new JsonObject { ["index"] = index };
    }

    /// <summary>
    /// <c>DELETE /{index}</c>. With the Elasticsearch flavour a wildcard or <c>_all</c> is refused, as Elasticsearch 8+
    /// refuses it by default (<c>action.destructive_requires_name: true</c>, <c>DestructiveOperations.failDestructive</c>:
    /// only the exact pair <c>*,-*</c> passes); OpenSearch's default (false) deletes what the expression matches.
    /// </summary>
    public async Task DeleteIndexAsync(HttpContext context, string index)
    {
        _ = catalog.ReadIndicesOptions(EsHttp.Param(context)); // RestDeleteIndexAction: IndicesOptions.fromRequest
        ThrowIfUnknownParameters(context, ParameterApi.DeleteIndex);
        if (flavor == SearchFlavor.Elasticsearch && RequiresName(index))
        {
            throw EsException.IllegalArgument("Wildcard expressions or all indices are not allowed");
        }

        catalog.Delete(Indices(context, index));
        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true }).ConfigureAwait(false);
    }

    private static bool RequiresName(string expression)
    {
        var parts = expression.Split(',');
        return parts is not ["*", "-*"] && parts.Any(p => p == "_all" || p.Contains('*', StringComparison.Ordinal));
    }

    // RestGetIndicesAction answers HEAD as GET: one missing index of the list is its 404 (index_not_found_exception),
    // unless ignore_unavailable; no index at all (a wildcard matching none) is a 404 here too.
    public Task IndexExistsAsync(HttpContext context, string index)
    {
        ReadGetIndexParameters(context);
        int found;
        try
        {
            found = Indices(context, index).Count;
        }
        catch (EsException e) when (e.Status == 404)
        {
            found = 0;
        }

        return EsHttp.WriteAsync(context, found > 0 ? 200 : 404, null);
    }

    // The indices an index API names, resolved with its ignore_unavailable and expand_wildcards (IndicesOptions.fromRequest).
    private IReadOnlyList<SearchIndex> Indices(HttpContext context, string? index) =>
        catalog.Resolve(index, EsHttp.Param(context));

    public async Task GetIndexAsync(HttpContext context, string index)
    {
        ReadGetIndexParameters(context);
        var result = new JsonObject();
        foreach (var i in Indices(context, index))
        {
            result[i.Name] = new JsonObject
            {
                ["aliases"] = new JsonObject(),
                ["mappings"] = i.Mapping.ToJson(),
                ["settings"] = SettingsJson(i),
            };
        }

        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    public async Task MappingAsync(HttpContext context, string? index)
    {
        // RestGetMappingAction reads the indices options, then local with paramAsBoolean
        // (RestUtils.consumeDeprecatedLocalParameter), strictly.
        _ = catalog.ReadIndicesOptions(EsHttp.Param(context));
        _ = RequestJson.ParamAsBoolean(EsHttp.Param(context)("local"));
        ThrowIfUnknownParameters(context, ParameterApi.GetMapping);
        var result = new JsonObject();
        foreach (var i in Indices(context, index))
        {
            result[i.Name] = new JsonObject { ["mappings"] = i.Mapping.ToJson() };
        }

        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    public async Task RefreshAsync(HttpContext context, string? index)
    {
        _ = catalog.ReadIndicesOptions(EsHttp.Param(context)); // RestRefreshAction: IndicesOptions.fromRequest
        ThrowIfUnknownParameters(context, ParameterApi.Refresh);
        var indices = Indices(context, index);
        foreach (var i in indices)
        {
            i.Refresh(commit: true);
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["_shards"] = new JsonObject { ["total"] = indices.Count, ["successful"] = indices.Count, ["failed"] = 0 } }).ConfigureAwait(false);
    }

    // RestGetIndicesAction (GET and HEAD) reads local, human and include_defaults with paramAsBoolean, strictly.
    private void ReadGetIndexParameters(HttpContext context)
    {
        _ = catalog.ReadIndicesOptions(EsHttp.Param(context)); // first, with the index
        foreach (var name in (string[])["local", "human", "include_defaults"])
        {
            _ = RequestJson.ParamAsBoolean(EsHttp.Param(context)(name));
        }

        ThrowIfUnknownParameters(context, ParameterApi.GetIndex);
    }

    /// <summary>
    /// Refuses the URL parameters the handler for <paramref name="api"/> did not read (<see cref="ApiParameters"/>), once
    /// it has read the request, as <c>BaseRestHandler</c> does.
    /// </summary>
    internal static void ThrowIfUnknownParameters(HttpContext context, ParameterApi api, SearchFlavor flavor, bool hasBody = false)
    {
        ApiParameters.ThrowIfUnknown(api, context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch, hasBody);
        if (ApiParameters.ReadsNoBody(api, flavor == SearchFlavor.OpenSearch))
        {
            EsHttp.ThrowIfBody(context);
        }
    }

    private void ThrowIfUnknownParameters(HttpContext context, ParameterApi api) => ThrowIfUnknownParameters(context, api, flavor);
}
