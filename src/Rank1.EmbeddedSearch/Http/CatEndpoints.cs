using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>
/// <c>_cat/indices</c> as Elasticsearch answers it: an aligned text table (numbers right-aligned, <c>v</c> for the
/// header, <c>h</c> to pick columns, <c>s</c> to sort, <c>bytes</c> for the unit) or, with <c>format=json</c>, an
/// array of objects whose values are all strings.
/// </summary>
internal sealed class CatEndpoints(IndexCatalog catalog, SearchFlavor flavor)
{
    private static readonly (string Name, bool Right)[] IndexColumns =
    [
        ("health", false), ("status", false), ("index", false), ("uuid", false), ("pri", true), ("rep", true),
        ("docs.count", true), ("docs.deleted", true), ("store.size", true), ("pri.store.size", true), ("dataset.size", true),
    ];

    // OpenSearch's RestIndicesAction has no dataset.size (Elasticsearch 8's); its other columns are not shown by default.
    private static readonly (string Name, bool Right)[] OpenSearchIndexColumns = IndexColumns.Where(c => c.Name != "dataset.size").ToArray();

    public async Task IndicesAsync(HttpContext context, string? index)
    {
        var query = context.Request.Query;
        // AbstractCatAction.prepareRequest reads help, RestIndicesAction include_unloaded_segments, with paramAsBoolean
        // (strictly); then BaseRestHandler refuses what they did not read.
        var param = EsHttp.Param(context);
        _ = RequestJson.ParamAsBoolean(param("help"));
        _ = catalog.ReadIndicesOptions(param); // RestIndicesAction: IndicesOptions.fromRequest
        if (flavor == SearchFlavor.OpenSearch)
        {
            // OpenSearch's RestIndicesAction.doCatRequest: local (paramAsBoolean), cluster_manager_timeout (paramAsTime),
            // then the deprecated master_timeout, refused beside cluster_manager_timeout whatever their values.
            _ = RequestJson.ParamAsBoolean(param("local"));
            _ = ClusterHealth.TimeParam(param, "cluster_manager_timeout");
            if (query.ContainsKey("master_timeout"))
            {
                if (query.ContainsKey("cluster_manager_timeout"))
                {
                    throw new EsException(400, "parse_exception", "Please only use one of the request parameters [master_timeout, cluster_manager_timeout].");
                }

                _ = ClusterHealth.TimeParam(param, "master_timeout");
            }
        }

        _ = RequestJson.ParamAsBoolean(param("include_unloaded_segments"));
        SearchEndpoints.ThrowIfUnknownParameters(context, ParameterApi.CatIndices, flavor);
        var bytes = query["bytes"].ToString();
        var rows = catalog.Resolve(index, expandHidden: IndexCatalog.ExpandsHidden(query["expand_wildcards"].ToString())).Select(i =>
        {
            var size = Bytes(i.StoreBytes, bytes);
            return new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["health"] = "green",
                ["status"] = "open",
                ["index"] = i.Name,
                ["uuid"] = i.Uuid,
                ["pri"] = "1",
                ["rep"] = "0",
                ["docs.count"] = i.Count.ToString(CultureInfo.InvariantCulture),
                ["docs.deleted"] = i.DeletedDocs.ToString(CultureInfo.InvariantCulture),
                ["store.size"] = size,
                ["pri.store.size"] = size,
                ["dataset.size"] = size,
            };
        }).ToList();
        await WriteTableAsync(context, flavor == SearchFlavor.OpenSearch ? OpenSearchIndexColumns : IndexColumns, rows).ConfigureAwait(false);
    }

    private static async Task WriteTableAsync(HttpContext context, (string Name, bool Right)[] all, List<Dictionary<string, string>> rows)
    {
        var query = context.Request.Query;
        var columns = all;
        if (query["h"].ToString() is { Length: > 0 } h)
        {
            columns = h.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(name =>
                all.FirstOrDefault(c => c.Name == name) is { Name: not null } c ? c
                    : throw EsException.IllegalArgument($"header [{name}] is not supported by this cat API")).ToArray();
        }

        rows = Sorted(rows, query["s"].ToString(), all);
        var format = query["format"].ToString();
        if (format == "json")
        {
            var array = new JsonArray();
            foreach (var row in rows)
            {
                var o = new JsonObject();
                foreach (var (name, _) in columns)
                {
                    o[name] = row[name];
                }

                array.Add(o);
            }

            await EsHttp.WriteAsync(context, 200, array).ConfigureAwait(false);
            return;
        }

        if (format is not ("" or "txt" or "text"))
        {
            throw EsException.IllegalArgument($"Unsupported format [{format}]: the embedded search backend answers _cat in text and json");
        }

        // RestTable.buildResponse: request.paramAsBoolean("v", false), strictly (?v=yes is a 400, not no header).
        var header = RequestJson.ParamAsBoolean(EsHttp.Param(context)("v")) ?? false;
        var widths = columns.Select(c => rows.Select(r => r[c.Name].Length).Append(header ? c.Name.Length : 0).Max()).ToArray();
        var text = new StringBuilder();
        if (header)
        {
            AppendRow(text, columns, widths, columns.ToDictionary(c => c.Name, c => c.Name), headerRow: true);
        }

        foreach (var row in rows)
        {
            AppendRow(text, columns, widths, row, headerRow: false);
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain; charset=UTF-8";
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.WriteAsync(text.ToString(), context.RequestAborted).ConfigureAwait(false);
        }
    }


    // Elasticsearch pads every cell to its column's width; numbers on the left, text on the right (but the last column).
    private static void AppendRow(StringBuilder text, (string Name, bool Right)[] columns, int[] widths, Dictionary<string, string> row, bool headerRow)
    {
        for (var i = 0; i < columns.Length; i++)
        {
            if (i > 0)
            {
                text.Append(' ');
            }

            var value = row[columns[i].Name];
            var padding = new string(' ', widths[i] - value.Length);
            if (columns[i].Right && !headerRow)
            {
                text.Append(padding).Append(value);
            }
            else
            {
                text.Append(value);
                if (i < columns.Length - 1)
                {
                    text.Append(padding);
                }
            }
        }

        text.Append('\n');
    }

    private static List<Dictionary<string, string>> Sorted(List<Dictionary<string, string>> rows, string spec, (string Name, bool Right)[] all)
    {
        IOrderedEnumerable<Dictionary<string, string>>? ordered = null;
        foreach (var key in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = key.Split(':');
            var column = all.FirstOrDefault(c => c.Name == parts[0]);
            if (column.Name is null)
            {
                throw new EsException(400, "unsupported_operation_exception", $"Unable to sort by unknown sort key `{parts[0]}`");
            }

            var descending = parts.Length > 1 && parts[1] == "desc";
            var comparer = Comparer<string>.Create((a, b) => column.Right && double.TryParse(a, CultureInfo.InvariantCulture, out var x) && double.TryParse(b, CultureInfo.InvariantCulture, out var y)
                ? x.CompareTo(y) : string.CompareOrdinal(a, b));
            ordered = ordered is null
                ? descending ? rows.OrderByDescending(r => r[column.Name], comparer) : rows.OrderBy(r => r[column.Name], comparer)
                : descending ? ordered.ThenByDescending(r => r[column.Name], comparer) : ordered.ThenBy(r => r[column.Name], comparer);
        }

        return ordered?.ToList() ?? rows;
    }

    // Elasticsearch's ByteSizeValue: the largest unit with a value of at least 1, one decimal at most ("4.5kb", "5kb").
    private static string Bytes(long bytes, string unit)
    {
        string[] units = ["b", "kb", "mb", "gb", "tb", "pb"];
        var fixedUnit = Array.IndexOf(units, unit);
        if (fixedUnit >= 0)
        {
            return (bytes / Math.Pow(1024, fixedUnit)).ToString("0", CultureInfo.InvariantCulture);
        }

        var u = 0;
        double value = bytes;
        while (value >= 1024 && u < units.Length - 1)
        {
            value /= 1024;
            u++;
        }

        return value.ToString("0.#", CultureInfo.InvariantCulture) + units[u];
    }
}
