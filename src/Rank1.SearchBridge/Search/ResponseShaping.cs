using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Search;

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

    private static readonly JsonSerializerOptions Pretty = new(SearchHttp.Compact) { WriteIndented = true };

    /// <summary>A boolean URL parameter as Elasticsearch reads it: present with no value, or <c>true</c>.</summary>
    public static bool Flag(IQueryCollection query, string name) => query.TryGetValue(name, out var v) && v.ToString() is "" or "true";

    /// <summary>The answer as written to the client: filtered by <c>filter_path</c>, indented with <c>pretty</c>.</summary>
    public static byte[] Render(JsonNode answer, IQueryCollection query)
    {
        var final = FilterPath.Parse(query.TryGetValue(FilterPathParameter, out var filterPath) ? filterPath.ToString() : null) is { } filter ? filter.Apply(answer) : answer;
        return Encoding.UTF8.GetBytes(final.ToJsonString(Flag(query, "pretty") ? Pretty : SearchHttp.Compact));
    }

    /// <summary>
    /// An error the proxy answers itself: never filtered (Elasticsearch turns <c>filter_path</c> off for errors, so
    /// the client always sees what went wrong), indented with <c>pretty</c>, with <paramref name="cause"/>'s stack trace
    /// when <c>error_trace</c> asks for it.
    /// </summary>
    public static byte[] RenderError(EsException error, Exception cause, IQueryCollection query) =>
        Encoding.UTF8.GetBytes(ErrorBody(error, cause, query).ToJsonString(Flag(query, "pretty") ? Pretty : SearchHttp.Compact));

    /// <summary>The body of an error the proxy answers itself, with <c>stack_trace</c> when <c>error_trace</c> asks for it.</summary>
    public static JsonObject ErrorBody(EsException error, Exception cause, IQueryCollection query) =>
        error.ToBody(Flag(query, "error_trace") ? cause : null);

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
