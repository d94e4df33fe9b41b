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

    // XContent's other formats, by the format parameter's name (XContentType.fromFormat, lower-cased) and by media type
    // (XContentType.fromMediaType, parameters and case ignored): the proxy reads and writes JSON only.
    private static readonly Dictionary<string, string> OtherFormats = new(StringComparer.OrdinalIgnoreCase)
    {
        ["application/yaml"] = "YAML", ["application/vnd.elasticsearch+yaml"] = "YAML",
        ["application/smile"] = "SMILE", ["application/vnd.elasticsearch+smile"] = "SMILE",
        ["application/cbor"] = "CBOR", ["application/vnd.elasticsearch+cbor"] = "CBOR",
    };

    private static readonly HashSet<string> JsonMediaTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "application/json", "application/x-ndjson", "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson",
    };

    /// <summary>
    /// Why the proxy cannot read or write this request's search as JSON, or null when it can: a body sent in YAML, SMILE or
    /// CBOR (its <c>Content-Type</c>; <c>Body</c> is then true), or an answer asked in one of them. Elasticsearch picks the
    /// answer's format as <c>AbstractRestChannel.newBuilder</c> does: the <c>format</c> parameter when it names one
    /// (<c>json</c>, <c>yaml</c>, <c>smile</c>, <c>cbor</c>, any case), else the <c>Accept</c> header when it names one,
    /// else the request's <c>Content-Type</c>. Such a search goes to the backend as it came, for the backend to answer in
    /// that format.
    /// </summary>
    /// <param name="query">The request's URL parameters.</param>
    /// <param name="accept">The request's <c>Accept</c> header.</param>
    /// <param name="requestContentType">The body's media type (<see cref="SearchHttp.BodyOrSource"/>).</param>
    /// <param name="hasBody">Whether the request has a body.</param>
    public static (string Reason, bool Body)? NotJson(IQueryCollection query, string? accept, string? requestContentType, bool hasBody)
    {
        var contentType = MediaType(requestContentType);
        if (hasBody && contentType is not null && OtherFormats.TryGetValue(contentType, out var bodyFormat))
        {
            return ($"the request body is {bodyFormat}, which the proxy does not read", true);
        }

        var format = query.TryGetValue("format", out var f) ? f.ToString() : "";
        var asked = format.ToLowerInvariant() switch
        {
            "json" => "json",
            "yaml" or "smile" or "cbor" => format.ToUpperInvariant(),
            _ => null,
        } ?? Known(MediaType(accept)) ?? Known(contentType);
        return asked is null or "json" ? null : ($"the answer is asked in {asked}, which the proxy does not write", false);

        static string? Known(string? mediaType) =>
            mediaType is null ? null : OtherFormats.TryGetValue(mediaType, out var name) ? name : JsonMediaTypes.Contains(mediaType) ? "json" : null;
    }

    /// <summary>
    /// Whether Elasticsearch reads a body of this <c>Content-Type</c> (one of XContent's media types, its parameters left
    /// out: JSON, NDJSON, YAML, SMILE, CBOR, their <c>vnd.elasticsearch</c> forms, and <c>application/*</c>); a body of
    /// another is refused before any handler runs.
    /// </summary>
    public static bool Readable(string contentType) => MediaType(contentType) is { } type
        && (JsonMediaTypes.Contains(type) || OtherFormats.ContainsKey(type) || type == "application/*");

    // The type/subtype of a Content-Type or Accept value, its parameters (charset, compatible-with) left out.
    private static string? MediaType(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Split(';')[0].Trim();

    /// <summary>
    /// The client's _source filter when it restricts the source (URL parameters win over the body, as in Elasticsearch).
    /// A search that names no <c>_source</c> but asks for <c>stored_fields</c> (without <c>_source</c> among them) or
    /// <c>script_fields</c> gets no source from Elasticsearch (<c>FetchContext.buildFetchSourceContext</c>): its filter is
    /// <see cref="SourceFilter.None"/>, so that the passage fields are asked for and taken off the answer again, as for
    /// <c>"_source": false</c>.
    /// </summary>
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

        if (filter is null && NoImplicitSource(body, query))
        {
            return SourceFilter.None;
        }

        return filter is { KeepsEverything: false } ? filter : null;
    }

    // Elasticsearch loads no source implicitly for a search with stored fields (the URL's stored_fields replacing the
    // body's; even an empty list) or script fields, unless _source is one of the stored fields named.
    private static bool NoImplicitSource(JsonObject body, IQueryCollection query) =>
        SearchBody.StoredFields(body, query.TryGetValue("stored_fields", out var url) ? url.ToString() : null) is { } stored
            ? !stored.Contains("_source")
            : body["script_fields"] is JsonObject { Count: > 0 };

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
