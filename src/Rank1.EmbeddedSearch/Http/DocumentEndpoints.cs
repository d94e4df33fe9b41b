using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>Document APIs: index, create, get, delete, update, bulk and mget.</summary>
internal sealed class DocumentEndpoints(IndexCatalog catalog, SearchFlavor flavor)
{
    public async Task IndexAsync(HttpContext context, string index, string? id, bool createOnly)
    {
        var refresh = EsHttp.Refresh(context.Request);
        var raw = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        if (RequestJson.IsEmpty(raw))
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: source is missing;");
        }

        var opType = context.Request.Query.TryGetValue("op_type", out var named) ? named.ToString() : null;
        if (createOnly && opType is not null && opType.ToLowerInvariant() != "create")
        {
            // RestIndexAction.CreateHandler.validateOpType, before RestIndexAction reads the request.
            throw EsException.IllegalArgument($"opType must be 'create', found: [{opType}]");
        }

        // RestIndexAction reads the versions, then require_alias, require_data_stream and include_source_on_error with
        // paramAsBoolean (strictly: ?require_alias=yes is a 400), then op_type.
        var condition = WriteCondition.FromQuery(EsHttp.Param(context));
        ThrowIfBadWriteBooleans(EsHttp.Param(context), "require_alias", "require_data_stream", "include_source_on_error");
        if (!createOnly && opType is not null)
        {
            // IndexRequest.opType(String), either case; another value is refused, not taken as index (an overwrite).
            createOnly = opType.ToLowerInvariant() switch
            {
                "create" => true,
                "index" => false,
                _ => throw EsException.IllegalArgument($"opType must be 'create' or 'index', found: [{opType}]"),
            };
        }
        else if (!createOnly)
        {
            // RestIndexAction's AutoIdHandler makes a request without an id a create unless it names its op_type.
            createOnly = string.IsNullOrEmpty(id);
        }

        ThrowIfUnknownParameters(context, ParameterApi.Index);
        WriteCondition.ThrowIfInvalid(condition.ValidationErrors(createOnly ? WriteOp.Create : WriteOp.Index, hasId: !string.IsNullOrEmpty(id)));
        IndexCatalog.ValidateName(index);
        var target = catalog.GetOrCreate(index);
        // The document is parsed where Elasticsearch parses it, on the shard: once the request is validated and its index
        // created (TransportBulkAction creates it first, so a document that does not parse leaves it created). Its text is
        // kept for the place of a value the mapping refuses, as the shard's parser reads the body sent.
        var body = JsonLocations.Remember(EsHttp.ParseObject(raw, EsHttp.DocumentErrorType), raw);
        var result = target.Index(string.IsNullOrEmpty(id) ? NewId() : id, body, createOnly, condition);
        await AnswerWriteAsync(context, target, result, refresh).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context, string index, string id)
    {
        // RestGetAction reads fields only to refuse it, before stored_fields, version and version_type.
        ThrowIfBadReadBooleans(EsHttp.Param(context));
        if (context.Request.Query.ContainsKey("fields"))
        {
            throw EsException.IllegalArgument("the parameter [fields] is no longer supported, please use [stored_fields] to retrieve stored fields or [_source] to load the field from _source");
        }

        var condition = WriteCondition.FromQuery(EsHttp.Param(context));
        ThrowIfUnknownParameters(context, ParameterApi.Get);
        condition.ValidateForRead();
        var target = catalog.Get(index);
        var doc = target.Get(id);
        if (doc is null)
        {
            await EsHttp.WriteAsync(context, 404, new JsonObject { ["_index"] = index, ["_id"] = id, ["found"] = false }).ConfigureAwait(false);
            return;
        }

        target.ThrowIfConflict(condition.ConflictForRead(id, doc));
        var source = SourceFilter.FromQuery(context.Request.Query["_source"].FirstOrDefault(), context.Request.Query["_source_includes"].FirstOrDefault(),
            context.Request.Query["_source_excludes"].FirstOrDefault()) ?? SourceFilter.All;
        await EsHttp.WriteAsync(context, 200, Found(target, doc, source)).ConfigureAwait(false);
    }

    public async Task DeleteAsync(HttpContext context, string index, string id)
    {
        var refresh = EsHttp.Refresh(context.Request);
        var condition = WriteCondition.FromQuery(EsHttp.Param(context));
        ThrowIfUnknownParameters(context, ParameterApi.Delete);
        WriteCondition.ThrowIfInvalid(condition.ValidationErrors(WriteOp.Delete));
        var target = DeleteTarget(index, condition);
        var result = target.Delete(id, condition);
        await AnswerWriteAsync(context, target, result, refresh).ConfigureAwait(false);
    }

    public async Task UpdateAsync(HttpContext context, string index, string id)
    {
        var param = EsHttp.Param(context);
        var refresh = EsHttp.Refresh(context.Request);
        // RestUpdateAction reads its parameters in this order, then the body, then validates the whole request.
        var docAsUpsert = BoolParam(param, "doc_as_upsert");
        var source = SourceFilter.FromRestRequest(param, flavor == SearchFlavor.Elasticsearch);
        var retryOnConflict = XContentInt.Param("retry_on_conflict", param("retry_on_conflict")) ?? 0;
        if (param("version") is not null || param("version_type") is not null)
        {
            WriteCondition.ThrowIfInvalid(["internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead"]);
        }

        var condition = WriteCondition.FromQuery(param);
        // Then require_alias and include_source_on_error, with paramAsBoolean (strictly), before the body.
        ThrowIfBadWriteBooleans(param, "require_alias", "include_source_on_error");
        var raw = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        var update = RequestJson.IsEmpty(raw)
            ? new UpdateOperation(UpdateBody.Empty, condition, docAsUpsert ?? false, source)
            : UpdateOperation.Of(UpdateBody.Read(raw, flavor), condition, docAsUpsert, source);
        // BaseRestHandler checks the parameters once prepareRequest has read the body, before the request is validated.
        ApiParameters.ThrowIfUnknown(ParameterApi.Update, context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch,
            updatesDocument: update.Body.Doc is not null || update.Body.Upsert is not null);
        WriteCondition.ThrowIfInvalid(update.Body.ValidationErrors(update.Condition, update.DocAsUpsert, retryOnConflict));
        IndexCatalog.ValidateName(index);
        var target = catalog.GetOrCreate(index); // an update creates a missing index, as TransportUpdateAction does ("auto(update api)")
        var result = Update(target, id, update);
        await AnswerWriteAsync(context, target, result, refresh, update.Source).ConfigureAwait(false);
    }

    // Durable, then visible when refresh asks, then answered: as every single-document write is acknowledged.
    // forced_refresh only for refresh=true: a wait_for reports one only when it ran out of refresh listeners
    // (ReplicatedWriteResponse.setForcedRefresh), and a noop update never reaches the shard (TransportUpdateAction).
    private static async Task AnswerWriteAsync(HttpContext context, SearchIndex target, WriteResult result, RefreshPolicy refresh, SourceFilter? fetch = null)
    {
        await target.MakeDurableAsync(context.RequestAborted).ConfigureAwait(false); // acknowledged only once durable
        if (refresh != RefreshPolicy.None)
        {
            target.Refresh(commit: true);
        }

        await EsHttp.WriteAsync(context, result.Status, WriteJson(target, result, refresh == RefreshPolicy.Immediate && result.Result != "noop", fetch)).ConfigureAwait(false);
    }

    public async Task BulkAsync(HttpContext context, string? pathIndex)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // RestBulkAction reads the default _source filtering (FetchSourceContext.parseFromRestRequest), then
        // list_executed_pipelines, require_alias and require_data_stream with paramAsBoolean (strictly), then refresh,
        // then include_source_on_error, all before the body.
        var param = EsHttp.Param(context);
        var defaultFetch = SourceFilter.FromRestRequest(param, flavor == SearchFlavor.Elasticsearch);
        ThrowIfBadWriteBooleans(param, "list_executed_pipelines", "require_alias", "require_data_stream");
        var refresh = EsHttp.Refresh(context.Request);
        ThrowIfBadWriteBooleans(param, "include_source_on_error");
        var body = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        var lines = EsHttp.NdjsonLines(body).ToList();
        // BulkRequestParser.findNextMarker: bytes after the last newline are a line with no end, refused once the parser
        // reaches them (the lines before are read first, and their errors come first). The official clients end every
        // body with a newline.
        var unterminated = body.Length > 0 && body[^1] != (byte)'\n';
        if (unterminated && !body.AsSpan(Array.LastIndexOf(body, (byte)'\n') + 1).Trim(" \t\r"u8).IsEmpty)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        // As Elasticsearch's BulkRequestParser and BulkRequest.validate: every line is read, and every item validated,
        // before any item runs, so a malformed line or an invalid item is a 400 for the whole request with nothing written.
        var parsed = new List<BulkItem>();
        var invalid = new List<string>();
        for (var i = 0; i < lines.Count; i++)
        {
            var (lineNumber, json) = lines[i];
            var (op, meta) = ReadAction(lineNumber, json.Span, flavor == SearchFlavor.OpenSearch);
            if (op == "index" && meta["op_type"].GetString() == "create")
            {
                // BulkRequestParser: an index action with op_type create is a create (IndexRequest.create(true)), answered
                // as one; any other op_type leaves it an index.
                op = "create";
            }

            // Each item's validate(), in its order, all of them in one "Validation Failed": first the index
            // (ReplicationRequest/InstanceShardOperationRequest.validate), then a delete's or update's id.
            var indexName = meta["_index"].GetString() ?? pathIndex;
            var itemErrors = indexName is null ? new List<string> { "index is missing" } : [];
            var id = meta["_id"].GetString();
            var condition = WriteCondition.FromBulkMeta(meta);
            if (op is "delete" or "update" && string.IsNullOrEmpty(id))
            {
                itemErrors.Add("id is missing");
            }

            if (op != "delete" && i + 1 >= lines.Count)
            {
                // The last line is an action whose source line never came: BulkRequestParser stops there (nextMarker == -1)
                // and the action is neither added nor validated (with nothing before it: "no requests added").
                break;
            }

            invalid.AddRange(itemErrors);
            if (op == "delete")
            {
                invalid.AddRange(condition.ValidationErrors(WriteOp.Delete));
                parsed.Add(new BulkItem(op, indexName ?? string.Empty, id, condition, default, null));
                continue;
            }

            i++;

            if (op == "update")
            {
                if (condition.Version != WriteCondition.MatchAny || condition.IsExternal)
                {
                    throw EsException.IllegalArgument("Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead");
                }

                var fetch = meta["_source"] is { } metaSource ? Querying.SearchRequest.ParseSource(metaSource, flavor != SearchFlavor.OpenSearch) : defaultFetch;
                var update = UpdateOperation.Of(UpdateBody.Read(lines[i].Json.Span, flavor), condition, null, null, fetch);
                var retry = meta["retry_on_conflict"] is { } r ? XContentInt.Read("retry_on_conflict", r) : 0;
                invalid.AddRange(update.Body.ValidationErrors(update.Condition, update.DocAsUpsert, retry));
                parsed.Add(new BulkItem(op, indexName ?? string.Empty, id, update.Condition, default, update));
                continue;
            }

            invalid.AddRange(condition.ValidationErrors(op == "create" ? WriteOp.Create : WriteOp.Index, hasId: id is not null));
            parsed.Add(new BulkItem(op, indexName ?? string.Empty, id, condition, lines[i].Json, null));
        }

        if (unterminated)
        {
            throw EsException.IllegalArgument("The bulk request must be terminated by a newline [\\n]");
        }

        // Once every line is read, as BaseRestHandler checks the parameters after prepareRequest; before BulkRequest.validate.
        ThrowIfUnknownParameters(context, ParameterApi.Bulk);

        if (parsed.Count == 0)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
        }

        WriteCondition.ThrowIfInvalid(invalid);
        var items = new JsonArray();
        var touched = new HashSet<SearchIndex>();
        var errors = false;
        foreach (var item in parsed)
        {
            JsonObject answer;
            try
            {
                SearchIndex target;
                WriteResult result;
                switch (item.Op)
                {
                    case "delete":
                        target = DeleteTarget(item.Index, item.Condition);
                        result = target.Delete(item.Id ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;"), item.Condition);
                        break;
                    case "update":
                        IndexCatalog.ValidateName(item.Index);
                        target = catalog.GetOrCreate(item.Index); // updates create missing indices, as TransportBulkAction does
                        result = Update(target, item.Id ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;"), item.Update!);
                        break;
                    default:
                        IndexCatalog.ValidateName(item.Index);
                        target = catalog.GetOrCreate(item.Index);
                        if (item.Id is "")
                        {
                            // IndexRouting.process, on the item once its index exists and before its source is parsed on
                            // the shard: that item's 400, not the request's.
                            throw EsException.IllegalArgument("if _id is specified it must not be empty");
                        }

                        var source = JsonLocations.Remember(EsHttp.ParseObject(item.Source.Span, EsHttp.DocumentErrorType), item.Source.Span);
                        result = target.Index(item.Id ?? NewId(), source, createOnly: item.Op == "create", item.Condition);
                        break;
                }

                touched.Add(target);
                // BulkShardResponse.setForcedRefresh: every item written says forced_refresh when refresh=true.
                answer = WriteJson(target, result, forcedRefresh: refresh == RefreshPolicy.Immediate, item.Update?.Source);
                answer["status"] = result.Status;
            }
            catch (EsException ex)
            {
                errors = true;
                answer = new JsonObject { ["_index"] = item.Index, ["_id"] = item.Id, ["status"] = ex.Status, ["error"] = ex.For(flavor == SearchFlavor.OpenSearch).ToErrorObject().Without("root_cause") };
            }

            items.Add(new JsonObject { [item.Op] = answer });
        }

        foreach (var t in touched)
        {
            await t.MakeDurableAsync(context.RequestAborted).ConfigureAwait(false); // one commit per index, shared with concurrent requests
        }

        if (refresh != RefreshPolicy.None)
        {
            foreach (var t in touched)
            {
                t.Refresh(commit: true);
            }
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject
        {
            ["errors"] = errors,
            ["took"] = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            ["items"] = items,
        }).ConfigureAwait(false);
    }

    // The action metadata BulkRequestParser reads (what it reads of a value and this backend has no use for, such as
    // routing or pipeline, is accepted and ignored); any other is "contains an unknown parameter".
    private static readonly HashSet<string> BulkMetadata = new(StringComparer.Ordinal)
    {
        "_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no", "if_primary_term", "retry_on_conflict",
        "pipeline", "_source", "require_alias", "require_data_stream", "list_executed_pipelines", "dynamic_templates",
    };

    // The metadata whose value may be an object: _source (a FetchSourceContext), and the dynamic_templates map.
    private static readonly HashSet<string> BulkObjectMetadata = new(StringComparer.Ordinal) { "_source", "dynamic_templates" };

    // OpenSearch 2.x's BulkRequestParser (server/src/main/java/org/opensearch/action/bulk/BulkRequestParser.java): the
    // metadata before Elasticsearch added require_data_stream, list_executed_pipelines and dynamic_templates, and only
    // _source as an object.
    private static readonly HashSet<string> OpenSearchBulkMetadata = new(StringComparer.Ordinal)
    {
        "_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no", "if_primary_term", "retry_on_conflict",
        "pipeline", "_source", "require_alias",
    };

    private static readonly HashSet<string> OpenSearchBulkObjectMetadata = new(StringComparer.Ordinal) { "_source" };

    // A bulk action line: {"<op>":{<metadata>}}, checked in the order of BulkRequestParser.parseActionLine and its
    // checkBulkActionIsProperlyClosed (Elasticsearch 9's strict reading, without the REST API version 8 leniency). With
    // the OpenSearch flavor, as OpenSearch 2.x's BulkRequestParser.parse: its words for an unknown action, its metadata,
    // and nothing read after the action's object (a second key is ignored).
    private static (string Op, JsonObject Meta) ReadAction(int lineNumber, ReadOnlySpan<byte> json, bool openSearch)
    {
        JsonNode? node;
        try
        {
            node = RequestJson.Parse(json);
        }
        catch (JsonException e)
        {
            throw RequestJson.ParseFailure(e, json);
        }

        string Malformed(string what) => $"Malformed action/metadata line [{lineNumber}], {what}";
        if (node is not JsonObject action)
        {
            throw EsException.IllegalArgument(Malformed($"expected START_OBJECT but found [{RequestJson.TokenName(node)}]"));
        }

        if (action.Count == 0)
        {
            throw EsException.IllegalArgument(Malformed("expected FIELD_NAME but found [END_OBJECT]"));
        }

        var (op, value) = action.First();
        if (op is not ("index" or "create" or "delete" or "update"))
        {
            throw EsException.IllegalArgument(Malformed(openSearch
                ? $"expected one of [create, delete, index, update] but found [{op}]"
                : $"expected field [create], [delete], [index] or [update] but found [{op}]"));
        }

        if (value is not JsonObject meta)
        {
            throw EsException.IllegalArgument(Malformed($"expected START_OBJECT or END_OBJECT but found [{RequestJson.TokenName(value)}]"));
        }

        foreach (var (key, v) in meta)
        {
            if (v is JsonArray || (v is JsonObject && !(openSearch ? OpenSearchBulkObjectMetadata : BulkObjectMetadata).Contains(key)))
            {
                throw EsException.IllegalArgument(Malformed($"expected a simple value for field [{key}] but found [{RequestJson.TokenName(v)}]"));
            }

            // A null is skipped (it is no value token); _type is unknown since Elasticsearch 8.
            if (v is not null && !(openSearch ? OpenSearchBulkMetadata : BulkMetadata).Contains(key))
            {
                throw EsException.IllegalArgument($"Action/metadata line [{lineNumber}] contains an unknown parameter [{key}]");
            }
        }

        if (action.Count > 1 && !openSearch)
        {
            throw EsException.IllegalArgument(Malformed("expected END_OBJECT but found [FIELD_NAME]"));
        }

        return (op, meta);
    }

    // A delete does not create a missing index, unless it carries an external version (TransportBulkAction's rule).
    private SearchIndex DeleteTarget(string index, WriteCondition condition)
    {
        if (!condition.IsExternal)
        {
            return catalog.Get(index);
        }

        IndexCatalog.ValidateName(index);
        return catalog.GetOrCreate(index);
    }

    public async Task MgetAsync(HttpContext context, string? pathIndex)
    {
        ThrowIfBadReadBooleans(EsHttp.Param(context));
        // RestMultiGetAction reads fields only to refuse it, in its own words, before it reads the body.
        if (context.Request.Query.ContainsKey("fields"))
        {
            throw EsException.IllegalArgument("The parameter [fields] is no longer supported, please use [stored_fields] to retrieve stored fields or _source filtering if the field is not stored");
        }

        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false) ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no documents to get;");
        var items = ReadMget(body, pathIndex);
        ThrowIfUnknownParameters(context, ParameterApi.Mget); // once the body is read, before MultiGetRequest.validate
        var requests = ValidateMget(items);
        var querySource = SourceFilter.FromQuery(context.Request.Query["_source"].FirstOrDefault(), context.Request.Query["_source_includes"].FirstOrDefault(),
            context.Request.Query["_source_excludes"].FirstOrDefault());
        var result = new JsonArray();
        foreach (var (index, id, source) in requests)
        {
            var target = catalog.Find(index);
            if (target is null)
            {
                result.Add(new JsonObject { ["_index"] = index, ["_id"] = id, ["error"] = EsException.IndexNotFound(index).ToErrorObject() });
                continue;
            }

            var doc = target.Get(id);
            result.Add(doc is null
                ? new JsonObject { ["_index"] = index, ["_id"] = id, ["found"] = false }
                : Found(target, doc, source ?? querySource ?? SourceFilter.All));
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["docs"] = result }).ConfigureAwait(false);
    }

    // The fields of a docs element that MultiGetRequest.parseDocuments reads from a value; another is its parse_exception.
    private static readonly HashSet<string> MgetDocFields = new(StringComparer.Ordinal) { "_index", "_id", "routing", "stored_fields", "version", "version_type", "_source" };

    // MultiGetRequest.parseDocuments reads a doc's _source itself, not with FetchSourceContext.fromXContent: a boolean
    // (or its text) or a string; an array of values; an object of includes/include and excludes/exclude, each a value or
    // an array of them (the text of each, numbers too). Anything else is its ElasticsearchParseException: "source
    // definition may not contain [exclude_vectors]" (no other key, whatever its value), "unexpected token while parsing
    // source settings", "illegal type for _source: [VALUE_NUMBER]". Null: not given.
    private static SourceFilter? MgetSource(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                return v.GetValueKind() == JsonValueKind.True ? SourceFilter.All : SourceFilter.None;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return v.GetValue<string>() switch
                {
                    "true" => SourceFilter.All,
                    "false" => SourceFilter.None,
                    var include => SourceFilter.Of([include], []),
                };
            case JsonArray a:
                return SourceFilter.Of(a.Select(MgetSourceText).ToArray(), []);
            case JsonObject o:
                List<string> includes = [], excludes = [];
                foreach (var (key, value) in o)
                {
                    var list = key switch
                    {
                        "includes" or "include" => includes,
                        "excludes" or "exclude" => excludes,
                        _ => throw new EsException(400, "parse_exception", $"source definition may not contain [{key}]"),
                    };
                    list.AddRange(value switch
                    {
                        JsonArray values => values.Select(MgetSourceText),
                        JsonObject => throw new EsException(400, "parse_exception", "unexpected token while parsing source settings"),
                        _ => [MgetSourceText(value)],
                    });
                }

                return SourceFilter.Of([.. includes], [.. excludes]);
            default:
                throw new EsException(400, "parse_exception", $"illegal type for _source: [{RequestJson.TokenName(node)}]");
        }
    }

    // parser.text() of a value in a doc's _source.
    private static string MgetSourceText(JsonNode? value) => value is JsonValue v ? JsonPaths.Text(v) : throw new EsException(400, "parse_exception", "unexpected token while parsing source settings");

    // MultiGetRequest.add: docs and ids, each read in its turn (both may be given: docs and ids in the body's order).
    private static List<(string? Index, string? Id, SourceFilter? Source)> ReadMget(JsonObject body, string? pathIndex)
    {
        var items = new List<(string? Index, string? Id, SourceFilter? Source)>();
        foreach (var (key, value) in body)
        {
            if (value is not JsonArray array)
            {
                throw EsException.Parsing($"unexpected token [{RequestJson.TokenName(value)}], expected [FIELD_NAME] or [START_ARRAY]");
            }

            switch (key)
            {
                case "docs":
                    foreach (var element in array)
                    {
                        if (element is not JsonObject doc)
                        {
                            throw EsException.IllegalArgument("docs array element should include an object");
                        }

                        if (doc.FirstOrDefault(p => p.Value is JsonValue && !MgetDocFields.Contains(p.Key)) is { Key: { } unknown })
                        {
                            throw new EsException(400, "parse_exception", $"failed to parse multi get request. unknown field [{unknown}]");
                        }

                        items.Add((doc["_index"].GetString() ?? pathIndex, doc["_id"].GetString(), MgetSource(doc["_source"])));
                    }

                    break;
                case "ids":
                    foreach (var id in array)
                    {
                        // A null is no value token either.
                        items.Add(id is JsonValue v && v.GetValueKind() != JsonValueKind.Null
                            ? (pathIndex, id.GetString(), null)
                            : throw EsException.IllegalArgument("ids array element should only contain ids"));
                    }

                    break;
                default:
                    throw EsException.Parsing($"unknown key [{key}] for a START_ARRAY, expected [docs] or [ids]");
            }
        }

        return items;
    }

    // MultiGetRequest.validate over every item: "index is missing for doc 2", "id is missing for doc 0", each item named.
    private static List<(string Index, string Id, SourceFilter? Source)> ValidateMget(List<(string? Index, string? Id, SourceFilter? Source)> items)
    {
        if (items.Count == 0)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no documents to get;");
        }

        var invalid = new List<string>();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Index is null)
            {
                invalid.Add($"index is missing for doc {i}");
            }

            if (items[i].Id is null)
            {
                invalid.Add($"id is missing for doc {i}");
            }
        }

        WriteCondition.ThrowIfInvalid(invalid);
        return items.Select(i => (i.Index!, i.Id!, i.Source)).ToList();
    }

    private static WriteResult Update(SearchIndex target, string id, UpdateOperation update)
    {
        if (update.Body.HasScript)
        {
            throw EsException.IllegalArgument("scripted updates are not supported by the embedded search backend: send [doc]");
        }

        var body = update.Body;
        return target.Update(id, new DocumentUpdate(body.Doc!, body.Upsert, update.DocAsUpsert, body.DetectNoop, update.Condition));
    }

    private static JsonObject Found(SearchIndex index, StoredDocument doc, SourceFilter source)
    {
        var o = new JsonObject
        {
            ["_index"] = index.Name,
            ["_id"] = doc.Id,
            ["_version"] = doc.Version,
            ["_seq_no"] = doc.SeqNo,
            ["_primary_term"] = SearchIndex.PrimaryTerm,
            ["found"] = true,
        };
        if (source.Enabled)
        {
            o["_source"] = source.Apply(doc.Source);
        }

        return o;
    }

    private static JsonObject WriteJson(SearchIndex index, WriteResult r, bool forcedRefresh, SourceFilter? fetch = null)
    {
        var o = new JsonObject
        {
            ["_index"] = index.Name,
            ["_id"] = r.Id,
            ["_version"] = r.Version,
            ["result"] = r.Result,
        };
        if (forcedRefresh)
        {
            o["forced_refresh"] = true;
        }

        // A noop replicates nothing: UpdateResponse keeps ReplicationResponse's empty ShardInfo.
        var copies = r.Result == "noop" ? 0 : 1;
        o["_shards"] = new JsonObject { ["total"] = copies, ["successful"] = copies, ["failed"] = 0 };
        o["_seq_no"] = r.SeqNo;
        o["_primary_term"] = SearchIndex.PrimaryTerm;
        if (fetch is { Enabled: true } && r.Source is not null)
        {
            // UpdateHelper.extractGetResult: the document after the update, as the update's "get".
            o["get"] = new JsonObject
            {
                ["_seq_no"] = r.SeqNo,
                ["_primary_term"] = SearchIndex.PrimaryTerm,
                ["found"] = true,
                ["_source"] = fetch.Apply(r.Source),
            };
        }

        return o;
    }

    // RestGetAction and RestMultiGetAction read refresh (a boolean on a read, not a write's RefreshPolicy) and realtime
    // with paramAsBoolean first of all, before refusing fields; every read here is realtime and sees the latest writes.
    private static void ThrowIfBadReadBooleans(Func<string, string?> param)
    {
        _ = BoolParam(param, "refresh");
        _ = BoolParam(param, "realtime");
    }

    // The booleans a write reads with paramAsBoolean and this backend does not apply (one index, no aliases, data
    // streams or pipelines): read all the same, so that a value other than true or false is Elasticsearch's 400.
    // OpenSearch's write handlers read only require_alias of these: the others are parameters they do not know
    // (ApiParameters' 400), whatever their value.
    private void ThrowIfBadWriteBooleans(Func<string, string?> param, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (flavor == SearchFlavor.Elasticsearch || key == "require_alias")
            {
                _ = BoolParam(param, key);
            }
        }
    }

    // RestRequest.paramAsBoolean: empty is true, otherwise exactly "true" or "false".
    private static bool? BoolParam(Func<string, string?> param, string key) => RequestJson.ParamAsBoolean(param(key));

    // BaseRestHandler's refusal of the URL parameters the engine's handler does not read (ApiParameters).
    private void ThrowIfUnknownParameters(HttpContext context, ParameterApi api) => SearchEndpoints.ThrowIfUnknownParameters(context, api, flavor);

    private static string NewId() => Convert.ToBase64String(Guid.NewGuid().ToByteArray())[..20].Replace('+', '-').Replace('/', '_');
}

/// <summary>One item of a <c>_bulk</c> request, read and validated before any item runs.</summary>
/// <param name="Op">index, create, delete or update.</param>
/// <param name="Index">The target index.</param>
/// <param name="Id">The document's id, or null.</param>
/// <param name="Condition">Its optimistic concurrency control.</param>
/// <param name="Source">The source line of an index or create (parsed when the item runs, so a bad one fails only that item).</param>
/// <param name="Update">An update's body and options.</param>
internal sealed record BulkItem(string Op, string Index, string? Id, WriteCondition Condition, ReadOnlyMemory<byte> Source, UpdateOperation? Update);

/// <summary>One update, single or in a <c>_bulk</c>: its body, and what the URL or bulk metadata add to it.</summary>
/// <param name="Body">The body.</param>
/// <param name="Condition">The <c>if_seq_no</c>/<c>if_primary_term</c>, URL or metadata overridden by the body's.</param>
/// <param name="DocAsUpsert">The effective <c>doc_as_upsert</c> (the body's, else the URL's).</param>
/// <param name="Source">What of the updated document to return as <c>get</c>, or null for nothing.</param>
internal sealed record UpdateOperation(UpdateBody Body, WriteCondition Condition, bool DocAsUpsert, SourceFilter? Source)
{
    /// <summary>
    /// Combines a body with the request's options: the body's <c>if_seq_no</c>, <c>if_primary_term</c>,
    /// <c>doc_as_upsert</c> and <c>_source</c> override the URL's (the parser sets them after the URL's), and a bulk
    /// item's metadata <c>_source</c> (<paramref name="overrideSource"/>) overrides the body's, as BulkRequestParser sets it last.
    /// </summary>
    /// <param name="body">The update body.</param>
    /// <param name="condition">The URL's or metadata's condition.</param>
    /// <param name="docAsUpsert">The URL's <c>doc_as_upsert</c>, or null.</param>
    /// <param name="source">The URL's <c>_source</c>, or null.</param>
    /// <param name="overrideSource">The bulk metadata's (or the bulk URL's) <c>_source</c>, or null.</param>
    public static UpdateOperation Of(UpdateBody body, WriteCondition condition, bool? docAsUpsert, SourceFilter? source, SourceFilter? overrideSource = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(condition);
        return new UpdateOperation(body, condition.With(body.IfSeqNo, body.IfPrimaryTerm), body.DocAsUpsert ?? docAsUpsert ?? false,
            overrideSource ?? body.Source ?? source);
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject Without(this JsonObject o, string key)
    {
        o.Remove(key);
        return o;
    }

    public static string? GetString(this JsonNode? node) => node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node?.ToJsonString();
}
