using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Shared;

namespace Rank1.SearchBridge.Search;

/// <summary>
/// What the client asked to see of the answer, kept away from the backend (the rerank needs the passage fields) and
/// applied to the final answer instead.
/// </summary>
internal static class ResponseShaping
{
    /// <summary>The client's _source filter when it restricts the source (URL parameters win over the body, as in Elasticsearch).</summary>
    public static SourceFilter? ClientSourceFilter(JsonObject body, IQueryCollection query)
    {
        SourceFilter? filter;
        try
        {
            filter = SourceFilter.FromQuery(query.TryGetValue("_source", out var s) ? s.ToString() : null,
                query.TryGetValue("_source_includes", out var i) ? i.ToString() : null,
                query.TryGetValue("_source_excludes", out var e) ? e.ToString() : null) ?? (body["_source"] is { } node ? SourceFilter.Parse(node) : null);
        }
        catch (FormatException ex)
        {
            throw EsError.Parsing(ex.Message);
        }

        return filter is { KeepsEverything: false } ? filter : null;
    }

    /// <summary>Applies the client's _source filter to every hit of the answer.</summary>
    public static void ApplySourceFilter(JsonObject answer, SourceFilter filter)
    {
        foreach (var hit in HitRewriter.Hits(answer))
        {
            if (!filter.Enabled)
            {
                hit.Remove("_source");
            }
            else if (hit["_source"] is { } src)
            {
                hit["_source"] = filter.Apply(src.DeepClone());
            }
        }
    }
}
