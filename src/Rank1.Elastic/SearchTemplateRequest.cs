using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// A search template request (the body of <c>_search/template</c>, <c>_render/template</c> and of each
/// <c>_msearch/template</c> search) as Elasticsearch's <c>SearchTemplateRequest</c> parser reads it: <c>source</c> (or
/// its old names <c>inline</c> and <c>template</c>) as a string or an object (its JSON text), or a stored script's
/// <c>id</c>, the later of the two winning; <c>params</c>; <c>explain</c>; <c>profile</c>. Any other key, or a value of
/// the wrong type, is the parser's 400 <c>x_content_parse_exception</c>. The one reading of it, for the embedded
/// backend and for the proxy's <c>_msearch/template</c>, which refuses a bad line for the whole request as
/// Elasticsearch's <c>RestMultiSearchTemplateAction</c> does.
/// </summary>
/// <param name="Source">The template's text, or null for a stored one.</param>
/// <param name="Id">The stored script's id, or null.</param>
/// <param name="Params">The template's parameters.</param>
/// <param name="Explain">Whether the rendered search explains its hits.</param>
/// <param name="Profile">Whether the rendered search is profiled.</param>
internal sealed record SearchTemplateRequest(string? Source, string? Id, JsonObject? Params, bool Explain, bool Profile)
{
    // An object source is written as deep as the request holding it was read (RequestJson.MaxDepth); System.Text.Json's
    // default of 64 threw on a template of 21 nested bool queries, which Elasticsearch takes (up to 30).
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = RequestJson.MaxDepth };

    /// <summary>Whether it names a template: a source or a stored id.</summary>
    public bool HasScript => Source is not null || Id is not null;

    /// <summary>Reads a template request body (null: an empty one).</summary>
    public static SearchTemplateRequest Read(JsonObject? body)
    {
        string? source = null, id = null;
        JsonObject? parameters = null;
        bool explain = false, profile = false;
        foreach (var (key, value) in body ?? [])
        {
            switch (key)
            {
                case "source" or "inline" or "template":
                    source = value switch
                    {
                        JsonObject or JsonArray => value.ToJsonString(Compact),
                        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                        _ => throw Unsupported(key, value),
                    };
                    id = null;
                    break;
                case "id":
                    id = value is JsonValue s && s.GetValueKind() == JsonValueKind.String ? s.GetValue<string>() : throw Unsupported(key, value);
                    source = null;
                    break;
                case "params":
                    parameters = value switch
                    {
                        null => null,
                        JsonObject o => o,
                        _ => throw Unsupported(key, value),
                    };
                    break;
                case "explain":
                    explain = RequestJson.Bool(value, key) ?? false;
                    break;
                case "profile":
                    profile = RequestJson.Bool(value, key) ?? false;
                    break;
                default:
                    throw new EsException(400, "x_content_parse_exception", $"[search_template] unknown field [{key}]");
            }
        }

        return new SearchTemplateRequest(source, id, parameters, explain, profile);
    }

    /// <summary>
    /// One search line of an <c>_msearch/template</c>, read as <c>RestMultiSearchTemplateAction.parseRequest</c> reads
    /// it: a line that names no template is its 400 "Malformed search template", for the whole request.
    /// </summary>
    public static SearchTemplateRequest ReadMsearchLine(JsonObject body) =>
        Read(body) is { HasScript: true } request ? request : throw EsException.IllegalArgument("Malformed search template");

    private static EsException Unsupported(string key, JsonNode? value) =>
        new(400, "x_content_parse_exception", $"[search_template] {key} doesn't support values of type: {RequestJson.TokenName(value)}");
}
