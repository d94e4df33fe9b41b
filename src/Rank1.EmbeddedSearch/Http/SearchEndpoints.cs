using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.EmbeddedSearch.Querying;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>Search, count and multi-search, and the index administration APIs.</summary>
internal sealed class SearchEndpoints(IndexCatalog catalog, SearchExecutor executor)
{
    public async Task SearchAsync(HttpContext context, string? index)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false);
        var result = executor.Search(index, body, Param(context));
        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    public async Task CountAsync(HttpContext context, string? index)
    {
        var body = await EsHttp.ReadObjectAsync(context).ConfigureAwait(false);
        await EsHttp.WriteAsync(context, 200, executor.Count(index, body, Param(context))).ConfigureAwait(false);
    }

    public async Task MsearchAsync(HttpContext context, string? pathIndex)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var lines = EsHttp.NdjsonLines(await EsHttp.ReadBodyAsync(context).ConfigureAwait(false)).ToList();
        if (lines.Count == 0)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
        }

        if (lines.Count % 2 != 0)
        {
            throw EsException.IllegalArgument("The msearch request must be terminated by a newline [\\n] and contain header/body pairs");
        }

        var responses = new JsonArray();
        for (var i = 0; i < lines.Count; i += 2)
        {
            try
            {
                var header = EsHttp.ParseObject(lines[i].Json.Span);
                var body = EsHttp.ParseObject(lines[i + 1].Json.Span);
                var index = header["index"] switch
                {
                    JsonArray a => string.Join(',', a.Select(x => x!.GetValue<string>())),
                    JsonNode n => n.GetValue<string>(),
                    null => pathIndex,
                };
                var result = executor.Search(index, body, Param(context));
                result["status"] = 200;
                responses.Add(result);
            }
            catch (EsException ex)
            {
                responses.Add(ex.ToBody());
            }
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject
        {
            ["took"] = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            ["responses"] = responses,
        }).ConfigureAwait(false);
    }

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

            if (body["settings"] is JsonObject { Count: > 0 } || body["aliases"] is JsonObject { Count: > 0 })
            {
                // Accepted so that real index definitions load, but nothing of them applies here: say so.
                context.Response.Headers.Append("Warning", "299 Elasticsearch-embedded \"index settings and aliases are ignored by the Rank1 embedded search backend (one shard, standard analyzer, BM25)\"");
            }
        }

        catalog.Create(index, body?["mappings"]);
        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true, ["shards_acknowledged"] = true, ["index"] = index }).ConfigureAwait(false);
    }

    public async Task DeleteIndexAsync(HttpContext context, string index)
    {
        catalog.Delete(index);
        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true }).ConfigureAwait(false);
    }

    public Task IndexExistsAsync(HttpContext context, string index) =>
        EsHttp.WriteAsync(context, catalog.Resolve(index, ignoreUnavailable: true).Count > 0 ? 200 : 404, null);

    public async Task GetIndexAsync(HttpContext context, string index)
    {
        var result = new JsonObject();
        foreach (var i in catalog.Resolve(index))
        {
            result[i.Name] = new JsonObject
            {
                ["aliases"] = new JsonObject(),
                ["mappings"] = i.Mapping.ToJson(),
                ["settings"] = new JsonObject
                {
                    ["index"] = new JsonObject
                    {
                        ["number_of_shards"] = "1",
                        ["number_of_replicas"] = "0",
                        ["uuid"] = i.Uuid,
                        ["provided_name"] = i.Name,
                        ["creation_date"] = i.Created.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    },
                },
            };
        }

        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    public async Task MappingAsync(HttpContext context, string? index)
    {
        var result = new JsonObject();
        foreach (var i in catalog.Resolve(index))
        {
            result[i.Name] = new JsonObject { ["mappings"] = i.Mapping.ToJson() };
        }

        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    public async Task RefreshAsync(HttpContext context, string? index)
    {
        var indices = catalog.Resolve(index);
        foreach (var i in indices)
        {
            i.Refresh(commit: true);
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["_shards"] = new JsonObject { ["total"] = indices.Count, ["successful"] = indices.Count, ["failed"] = 0 } }).ConfigureAwait(false);
    }

    private static Func<string, string?> Param(HttpContext context) => name =>
        context.Request.Query.TryGetValue(name, out var v) ? v.ToString() : null;
}
