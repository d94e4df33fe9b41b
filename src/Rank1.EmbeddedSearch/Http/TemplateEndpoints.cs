using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Querying;
using Rank1.EmbeddedSearch.Scripting;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>
/// Search templates and the stored scripts that hold them: <c>_render/template</c>, <c>_search/template</c> and
/// <c>_scripts/{id}</c>, as Elasticsearch's lang-mustache module answers them.
/// </summary>
/// <param name="scripts">The stored scripts.</param>
/// <param name="executor">Runs the rendered searches.</param>
internal sealed class TemplateEndpoints(StoredScripts scripts, SearchExecutor executor)
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A template request rendered: the text, and the <c>explain</c> and <c>profile</c> flags it set.</summary>
    private sealed record Rendered(string Output, bool Explain, bool Profile);

    /// <summary><c>PUT|POST /_scripts/{id}</c>.</summary>
    public async Task PutScriptAsync(HttpContext context, string id)
    {
        scripts.Put(id, await EsHttp.ReadObjectAsync(context).ConfigureAwait(false));
        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true }).ConfigureAwait(false);
    }

    /// <summary><c>GET /_scripts/{id}</c>: <c>{"_id":..,"found":true,"script":{"lang":..,"source":..}}</c>, or a 404 with <c>found: false</c>.</summary>
    public Task GetScriptAsync(HttpContext context, string id)
    {
        if (scripts.Get(id) is not { } script)
        {
            return EsHttp.WriteAsync(context, 404, new JsonObject { ["_id"] = id, ["found"] = false });
        }

        var source = new JsonObject { ["lang"] = script.Lang, ["source"] = script.Source };
        if (script.ContentType is { } contentType)
        {
            source["options"] = new JsonObject { ["content_type"] = contentType };
        }

        return EsHttp.WriteAsync(context, 200, new JsonObject { ["_id"] = id, ["found"] = true, ["script"] = source });
    }

    /// <summary><c>DELETE /_scripts/{id}</c>.</summary>
    public Task DeleteScriptAsync(HttpContext context, string id) => scripts.Delete(id)
        ? EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true })
        : throw new EsException(404, "resource_not_found_exception", $"stored script [{id}] does not exist and cannot be deleted");

    /// <summary>
    /// <c>GET|POST /_render/template[/{id}]</c>: <c>{"template_output":..}</c>. Elasticsearch copies the rendered text
    /// into its answer as raw JSON (<c>SearchTemplateResponse</c>: <c>builder.rawField</c>), so a template that renders
    /// to something that is not JSON comes back as it rendered; only a search refuses it.
    /// </summary>
    public async Task RenderAsync(HttpContext context, string? id)
    {
        var rendered = Render(await EsHttp.ReadObjectAsync(context).ConfigureAwait(false), id, context.RequestAborted);
        JsonNode? output;
        try
        {
            output = RequestJson.Parse(Encoding.UTF8.GetBytes(rendered.Output));
        }
        catch (Exception e) when (e is JsonException or EsException)
        {
            var raw = Encoding.UTF8.GetBytes($"{{\"template_output\":{rendered.Output}}}");
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(raw, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        await EsHttp.WriteAsync(context, 200, new JsonObject { ["template_output"] = output }).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET|POST [/{index}]/_search/template</c>: the template rendered, read as a search body
    /// (<c>TransportSearchTemplateAction.convert</c>: a rendered text that is not JSON is the parser's 400), with the
    /// request's <c>explain</c> and <c>profile</c> set on it, and run as <c>_search</c> on the same indices and URL
    /// parameters.
    /// </summary>
    public async Task SearchAsync(HttpContext context, string? index)
    {
        var rendered = Render(await EsHttp.ReadObjectAsync(context).ConfigureAwait(false), null, context.RequestAborted);
        var body = SearchBody.Read(Encoding.UTF8.GetBytes(rendered.Output));
        SearchBody.SetTemplateFlags(body, rendered.Explain, rendered.Profile);
        await EsHttp.WriteAsync(context, 200, executor.Search(index, body, SearchEndpoints.Param(context))).ConfigureAwait(false);
    }

    /// <summary>
    /// A search template request as <c>SearchTemplateRequest</c>'s parser reads it: <c>source</c> (or its old names
    /// <c>inline</c> and <c>template</c>) as a string or an object (rendered as its JSON text), or a stored script's
    /// <c>id</c> (<paramref name="pathId"/> wins); <c>params</c>; <c>explain</c>; <c>profile</c>.
    /// </summary>
    private Rendered Render(JsonObject? body, string? pathId, CancellationToken cancellationToken)
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

        if (pathId is not null)
        {
            (id, source) = (pathId, null);
        }

        if (id is null && source is null)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: template is missing;2: template's script type is missing;");
        }

        var template = MustacheTemplate.Compile(source ?? scripts.Source(id!));
        return new Rendered(template.Render(parameters, cancellationToken), explain, profile);
    }

    private static EsException Unsupported(string key, JsonNode? value) =>
        new(400, "x_content_parse_exception", $"[search_template] {key} doesn't support values of type: {RequestJson.TokenName(value)}");
}
