using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Querying;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>Document APIs: index, create, get, delete, update, bulk and mget.</summary>
internal sealed class DocumentEndpoints(IndexCatalog catalog)
{
    public async Task IndexAsync(HttpContext context, string index, string? id, bool createOnly)
    {
        var body = await EsHttp.ReadObjectAsync(context, "document_parsing_exception").ConfigureAwait(false)
            ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: source is missing;");
        IndexCatalog.ValidateName(index);
        var opType = context.Request.Query["op_type"].ToString();
        createOnly |= opType == "create";
        var target = catalog.GetOrCreate(index);
        var result = target.Index(string.IsNullOrEmpty(id) ? NewId() : id, body, createOnly);
        await target.MakeDurableAsync(context.RequestAborted).ConfigureAwait(false); // acknowledged only once durable
        if (EsHttp.WantsRefresh(context.Request))
        {
            target.Refresh(commit: true);
        }

        await EsHttp.WriteAsync(context, result.Status, WriteJson(target, result, EsHttp.WantsRefresh(context.Request))).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context, string index, string id)
    {
        var target = catalog.Get(index);
        var doc = target.Get(id);
        if (doc is null)
        {
            await EsHttp.WriteAsync(context, 404, new JsonObject { ["_index"] = index, ["_id"] = id, ["found"] = false }).ConfigureAwait(false);
            return;
        }

        var source = SourceFilter.FromQuery(context.Request.Query["_source"].FirstOrDefault(), context.Request.Query["_source_includes"].FirstOrDefault(),
            context.Request.Query["_source_excludes"].FirstOrDefault()) ?? SourceFilter.All;
        await EsHttp.WriteAsync(context, 200, Found(target, doc, source)).ConfigureAwait(false);
    }

    public async Task DeleteAsync(HttpContext context, string index, string id)
    {
        var target = catalog.Get(index);
        var result = target.Delete(id);
        await target.MakeDurableAsync(context.RequestAborted).ConfigureAwait(false); // acknowledged only once durable
        if (EsHttp.WantsRefresh(context.Request))
        {
            target.Refresh(commit: true);
        }

        await EsHttp.WriteAsync(context, result.Status, WriteJson(target, result, EsHttp.WantsRefresh(context.Request))).ConfigureAwait(false);
    }

    public async Task UpdateAsync(HttpContext context, string index, string id)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false) ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;");
        var target = catalog.Get(index);
        var result = Update(target, id, body);
        await target.MakeDurableAsync(context.RequestAborted).ConfigureAwait(false); // acknowledged only once durable
        if (EsHttp.WantsRefresh(context.Request))
        {
            target.Refresh(commit: true);
        }

        await EsHttp.WriteAsync(context, result.Status, WriteJson(target, result, EsHttp.WantsRefresh(context.Request))).ConfigureAwait(false);
    }

    public async Task BulkAsync(HttpContext context, string? pathIndex)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var body = await EsHttp.ReadBodyAsync(context).ConfigureAwait(false);
        var lines = EsHttp.NdjsonLines(body).ToList();
        if (lines.Count == 0)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
        }

        var items = new JsonArray();
        var touched = new HashSet<SearchIndex>();
        var errors = false;
        for (var i = 0; i < lines.Count; i++)
        {
            var (lineNumber, json) = lines[i];
            JsonObject action;
            try
            {
                action = EsHttp.ParseObject(json.Span, "illegal_argument_exception");
            }
            catch (EsException)
            {
                throw EsException.IllegalArgument($"Malformed action/metadata line [{lineNumber}], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]");
            }

            if (action.Count != 1 || action.First().Value is not JsonObject meta)
            {
                throw EsException.IllegalArgument($"Malformed action/metadata line [{lineNumber}], expected a simple value for field [{action.FirstOrDefault().Key}] but found [START_OBJECT]");
            }

            var op = action.First().Key;
            if (op is not ("index" or "create" or "delete" or "update"))
            {
                throw EsException.IllegalArgument($"Malformed action/metadata line [{lineNumber}], expected one of [create, delete, index, update] but found [{op}]");
            }

            var indexName = meta["_index"]?.GetValue<string>() ?? pathIndex
                ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;");
            var id = meta["_id"]?.ToString();
            JsonObject? source = null;
            JsonObject item;
            if (op != "delete")
            {
                if (++i >= lines.Count)
                {
                    throw EsException.IllegalArgument($"The bulk request must be terminated by a newline [\\n] (action on line {lineNumber} has no source)");
                }
            }

            try
            {
                if (op != "delete")
                {
                    source = EsHttp.ParseObject(lines[i].Json.Span, "document_parsing_exception");
                }

                SearchIndex target;
                WriteResult result;
                switch (op)
                {
                    case "delete":
                        target = catalog.Get(indexName);
                        result = target.Delete(id ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;"));
                        break;
                    case "update":
                        target = catalog.Get(indexName);
                        result = Update(target, id ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;"), source!);
                        break;
                    default:
                        IndexCatalog.ValidateName(indexName);
                        target = catalog.GetOrCreate(indexName);
                        result = target.Index(id ?? NewId(), source!, createOnly: op == "create");
                        break;
                }

                touched.Add(target);
                item = WriteJson(target, result, forcedRefresh: false);
                item["status"] = result.Status;
            }
            catch (EsException ex)
            {
                errors = true;
                item = new JsonObject { ["_index"] = indexName, ["_id"] = id, ["status"] = ex.Status, ["error"] = ex.ToErrorObject().Without("root_cause") };
            }

            items.Add(new JsonObject { [op] = item });
        }

        foreach (var t in touched)
        {
            await t.MakeDurableAsync(context.RequestAborted).ConfigureAwait(false); // one commit per index, shared with concurrent requests
        }

        if (EsHttp.WantsRefresh(context.Request))
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

    public async Task MgetAsync(HttpContext context, string? pathIndex)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false) ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no documents to get;");
        var requests = new List<(string? Index, string Id, JsonNode? Source)>();
        if (body["docs"] is JsonArray docs)
        {
            requests.AddRange(docs.OfType<JsonObject>().Select(d => (d["_index"]?.GetValue<string>() ?? pathIndex, d["_id"]?.ToString() ?? string.Empty, d["_source"])));
        }
        else if (body["ids"] is JsonArray ids)
        {
            requests.AddRange(ids.Select(i => (pathIndex, i?.ToString() ?? string.Empty, (JsonNode?)null)));
        }
        else
        {
            throw EsException.Parsing("unknown parameter for mget: expected [docs] or [ids]");
        }

        if (requests.Count == 0)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no documents to get;");
        }

        var querySource = SourceFilter.FromQuery(context.Request.Query["_source"].FirstOrDefault(), context.Request.Query["_source_includes"].FirstOrDefault(),
            context.Request.Query["_source_excludes"].FirstOrDefault());
        var result = new JsonArray();
        foreach (var (index, id, source) in requests)
        {
            if (index is null)
            {
                throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: index is missing for doc 0;");
            }

            var target = catalog.Find(index);
            if (target is null)
            {
                result.Add(new JsonObject { ["_index"] = index, ["_id"] = id, ["error"] = EsException.IndexNotFound(index).ToErrorObject() });
                continue;
            }

            var doc = target.Get(id);
            result.Add(doc is null
                ? new JsonObject { ["_index"] = index, ["_id"] = id, ["found"] = false }
                : Found(target, doc, source is null ? querySource ?? SourceFilter.All : SearchRequest.ParseSource(source)));
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["docs"] = result }).ConfigureAwait(false);
    }

    private static WriteResult Update(SearchIndex target, string id, JsonObject body)
    {
        if (body["script"] is not null)
        {
            throw EsException.IllegalArgument("scripted updates are not supported by the embedded search backend: send [doc]");
        }

        var doc = body["doc"] as JsonObject ?? throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;");
        return target.Update(id, doc, body["doc_as_upsert"]?.GetValue<bool>() ?? false);
    }

    private static JsonObject Found(SearchIndex index, StoredDocument doc, SourceFilter source)
    {
        var o = new JsonObject
        {
            ["_index"] = index.Name,
            ["_id"] = doc.Id,
            ["_version"] = doc.Version,
            ["_seq_no"] = doc.SeqNo,
            ["_primary_term"] = 1,
            ["found"] = true,
        };
        if (source.Enabled)
        {
            o["_source"] = source.Apply(doc.Source);
        }

        return o;
    }

    private static JsonObject WriteJson(SearchIndex index, WriteResult r, bool forcedRefresh)
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

        o["_shards"] = new JsonObject { ["total"] = 1, ["successful"] = r.Result == "noop" ? 0 : 1, ["failed"] = 0 };
        o["_seq_no"] = r.SeqNo;
        o["_primary_term"] = 1;
        return o;
    }

    private static string NewId() => Convert.ToBase64String(Guid.NewGuid().ToByteArray())[..20].Replace('+', '-').Replace('/', '_');
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
