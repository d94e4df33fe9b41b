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
/// <c>_msearch/template</c> and <c>_scripts/{id}</c>, as Elasticsearch's lang-mustache module answers them.
/// </summary>
/// <param name="scripts">The stored scripts.</param>
/// <param name="executor">Runs the rendered searches.</param>
/// <param name="flavor">The engine the server stands in for (how it frames an <c>_msearch/template</c> body's first line).</param>
internal sealed class TemplateEndpoints(StoredScripts scripts, SearchExecutor executor, SearchFlavor flavor)
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A template request rendered: the text, and the <c>explain</c> and <c>profile</c> flags it set.</summary>
    private sealed record Rendered(string Output, bool Explain, bool Profile);

    /// <summary><c>PUT|POST /_scripts/{id}</c>.</summary>
    public async Task PutScriptAsync(HttpContext context, string id)
    {
        // The body read (StoredScriptSource.parse, in RestPutStoredScriptAction.prepareRequest), BaseRestHandler refuses the
        // parameters it did not read before the script is kept.
        scripts.Put(id, await EsHttp.ReadObjectAsync(context).ConfigureAwait(false), () => ThrowIfUnknownParameters(context, ParameterApi.PutScript));
        await EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true }).ConfigureAwait(false);
    }

    /// <summary><c>GET /_scripts/{id}</c>: <c>{"_id":..,"found":true,"script":{"lang":..,"source":..}}</c>, or a 404 with <c>found: false</c>.</summary>
    public Task GetScriptAsync(HttpContext context, string id)
    {
        ThrowIfUnknownParameters(context, ParameterApi.GetScript);
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
    public Task DeleteScriptAsync(HttpContext context, string id)
    {
        ThrowIfUnknownParameters(context, ParameterApi.DeleteScript);
        return scripts.Delete(id)
            ? EsHttp.WriteAsync(context, 200, new JsonObject { ["acknowledged"] = true })
            : throw new EsException(404, "resource_not_found_exception", $"stored script [{id}] does not exist and cannot be deleted");
    }

    private void ThrowIfUnknownParameters(HttpContext context, ParameterApi api, bool hasBody = false) =>
        SearchEndpoints.ThrowIfUnknownParameters(context, api, flavor, hasBody);

    /// <summary>
    /// <c>GET|POST /_render/template[/{id}]</c>: <c>{"template_output":..}</c>. Elasticsearch copies the rendered text
    /// into its answer as raw JSON (<c>SearchTemplateResponse</c>: <c>builder.rawField</c>), so a template that renders
    /// to something that is not JSON comes back as it rendered; only a search refuses it.
    /// </summary>
    public async Task RenderAsync(HttpContext context, string? id)
    {
        var body = await EsHttp.ReadTemplateRequestAsync(context).ConfigureAwait(false);
        // Once the body is read, before the template renders (in the transport action).
        ThrowIfUnknownParameters(context, ParameterApi.RenderTemplate, hasBody: body is not null);
        var rendered = Render(body, id, context.RequestAborted);
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
        if (flavor == SearchFlavor.Elasticsearch)
        {
            // RestSearchTemplateAction reads the URL with RestSearchAction.parseSearchRequest before the template, and so
            // urlParamsToQueryBuilder refuses q's parameters without q, as _search does (SearchEndpoints.SearchAsync).
            SearchRequest.ThrowIfQueryStringParamsWithoutQ(EsHttp.Param(context), context.Request.Path);
        }

        var template = await EsHttp.ReadTemplateRequestAsync(context).ConfigureAwait(false);
        // RestSearchTemplateAction reads the URL as RestSearchAction does and refuses what it did not read before the
        // template renders (in the transport action).
        SearchParameters.ThrowIfUnknown(context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch);
        var rendered = Render(template, null, context.RequestAborted);
        // The rendered search's deprecation warnings, as _search answers them, its error too (the same thread context in
        // Elasticsearch).
        var result = EsHttp.WithDeprecationWarnings(context, flavor,
            deprecations => executor.Search(index, SearchOf(rendered), EsHttp.Param(context), deprecations));
        await EsHttp.WriteAsync(context, 200, result).ConfigureAwait(false);
    }

    /// <summary>
    /// A search template request (<see cref="SearchTemplateRequest.Read"/>) rendered: a stored script's <paramref name="pathId"/> wins.
    /// </summary>
    private Rendered Render(JsonObject? body, string? pathId, CancellationToken cancellationToken)
    {
        var request = SearchTemplateRequest.Read(body);
        if (pathId is not null)
        {
            request = request with { Id = pathId, Source = null };
        }

        if (!request.HasScript)
        {
            throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: template is missing;2: template's script type is missing;");
        }

        return Render(request, cancellationToken);
    }

    // The search a template rendered to, read as TransportSearchTemplateAction.convert reads it (to its object's end),
    // with the request's explain and profile.
    private static JsonObject SearchOf(Rendered rendered)
    {
        var text = Encoding.UTF8.GetBytes(rendered.Output);
        var body = JsonLocations.Remember(SearchBody.Read(text, checkTrailingTokens: false), text);
        SearchBody.SetTemplateFlags(body, rendered.Explain, rendered.Profile);
        return body;
    }

    private Rendered Render(SearchTemplateRequest request, CancellationToken cancellationToken)
    {
        var template = MustacheTemplate.Compile(request.Source ?? scripts.Source(request.Id!));
        return new Rendered(template.Render(request.Params, cancellationToken), request.Explain, request.Profile);
    }

    /// <summary>
    /// <c>GET|POST [/{index}]/_msearch/template</c>: every line read first, a bad one (an unknown key, a line that names
    /// no template) failing the whole request (<c>RestMultiSearchTemplateAction.parseRequest</c>); then each template
    /// rendered and run as its search, a template that does not render or a rendered search that does not parse being
    /// that item's error (<c>TransportMultiSearchTemplateAction</c>: <c>convert</c> fails the item alone).
    /// </summary>
    public async Task MsearchAsync(HttpContext context, string? pathIndex)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        MsearchParameters.ReadBeforeLines(EsHttp.Param(context), templates: true, flavor == SearchFlavor.OpenSearch); // as RestMultiSearchTemplateAction reads them
        var body = await SearchEndpoints.MsearchBodyAsync(context).ConfigureAwait(false);
        var items = MsearchLines.Read(body, flavor == SearchFlavor.OpenSearch,
            item =>
            {
                var request = SearchTemplateRequest.ReadMsearchLine(item.Source);
                _ = SearchParameters.ValidateSearchRequest(EsHttp.Param(context)); // RestSearchAction.validateSearchRequest, line by line
                return (item.Header, Request: request);
            });
        MsearchParameters.ThrowIfUnknown(context.Request.Path, context.Request.Query.Keys, flavor == SearchFlavor.OpenSearch, templates: true);
        // Every rendered search's deprecation warnings, as _msearch and _search/template answer theirs (each is parsed in
        // the request's thread context in Elasticsearch: TransportSearchTemplateAction.convert's LoggingDeprecationHandler).
        var responses = EsHttp.WithDeprecationWarnings(context, flavor, deprecations => SearchEndpoints.RunMsearch(items.Select(i => (Func<JsonObject>)(() =>
            executor.Search(SearchEndpoints.MsearchIndex(i.Header, pathIndex), SearchOf(Render(i.Request, context.RequestAborted)), EsHttp.Param(context), deprecations))), flavor));
        await SearchEndpoints.WriteMsearchAsync(context, started, responses).ConfigureAwait(false);
    }
}
