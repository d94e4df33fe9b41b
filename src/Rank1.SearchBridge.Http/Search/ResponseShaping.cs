using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// What the client asked to see of the answer, kept away from the backend (the rerank needs the passage fields) and
/// applied to the final answer instead.
/// </summary>
/// <remarks>
/// Of Elasticsearch's response parameters, <c>filter_path</c> and <c>pretty</c> shape the whole answer the proxy
/// writes (on <c>_msearch</c>, the whole <c>responses</c> answer: <c>responses.hits.hits._id</c>): <c>filter_path</c>
/// never reaches the backend where the proxy reads its answer, and an msearch passes neither on to its searches. <c>human</c>, <c>typed_keys</c> and
/// <c>rest_total_hits_as_int</c> change only fields the proxy does not read (human-readable twins, aggregation and
/// suggestion names, the total's form), so the backend renders them, for each search of an msearch too, as
/// Elasticsearch's one builder does for the whole answer. <c>error_trace</c> goes to the backend for its errors and
/// adds <c>stack_trace</c> to the proxy's own.
/// </remarks>
internal static class ResponseShaping
{
    /// <summary>Elasticsearch's response filtering: never forwarded where the proxy reads the backend's answer (it would strip the passages).</summary>
    public const string FilterPathParameter = "filter_path";

    /// <summary>Parameters that shape the whole answer the proxy writes: an <c>_msearch</c> never passes them on to its searches.</summary>
    public static readonly string[] AnswerParameters = [FilterPathParameter, "pretty"];

    /// <summary>The answer as written to the client: filtered by <c>filter_path</c>, indented with <c>pretty</c>.</summary>
    public static byte[] Render(JsonNode answer, IQueryCollection query)
    {
        var final = FilterPath.Parse(query.TryGetValue(FilterPathParameter, out var filterPath) ? filterPath.ToString() : null) is { } filter ? filter.Apply(answer) : answer;
        return Encoding.UTF8.GetBytes(final.ToJsonString(EsAnswers.Flag(query, "pretty") ? EsAnswers.Pretty : EsAnswers.Compact));
    }

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
            throw EsException.Parsing(ex.Message);
        }

        return filter is { KeepsEverything: false } ? filter : null;
    }

    /// <summary>Applies the client's _source filter to every hit of the answer.</summary>
    public static void ApplySourceFilter(JsonObject answer, SourceFilter filter)
    {
        foreach (var hit in SearchHits.Hits(answer))
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
