namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Search templates (<c>_search/template</c>) through the proxy, in front of the embedded backend, with the tiny model:
/// rendered by the backend's <c>_render/template</c>, then reranked as the <c>_search</c> they render to.
/// </summary>
public sealed class ProxySearchTemplateTests : IAsyncLifetime
{
    private ProxyStack _stack = null!;

    public async Task InitializeAsync() => _stack = await ProxyStack.StartAsync();

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    private const string Template = """{"query":{"match":{"text":"{{q}}"}},"size":{{size}}}""";

    // The template as a JSON string value.
    private static readonly string Quoted = System.Text.Json.JsonSerializer.Serialize(Template);

    [Fact]
    public async Task SearchTemplate_IsRerankedAsTheSearchItRendersTo()
    {
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}}}""");
        var template = await _stack.SearchAsync("""{"source":""" + Quoted + ""","params":{"q":"onion eyes","size":10}}""",
            $"{ProxyStack.Index}/_search/template");

        Assert.Equal((200, "applied", "Elasticsearch"), (template.Status, template.Rerank, template.Headers.GetValues("X-Elastic-Product").Single()));
        // Rank1's order of the 5-hit window, then the backend's, as for the plain search (ProxySearchTests).
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", backendOrder.Take(5).ToArray(), 4);
        Assert.Equal(expected.Concat(backendOrder.Skip(5)).Take(10), template.Ids);
        var top = template.Json["hits"]!["hits"]![0]!;
        Assert.All(template.Json["hits"]!["hits"]!.AsArray().Take(5), h => Assert.Equal("computed", h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
        Assert.Equal(top["fields"]!["_rank1.score"]![0]!.GetValue<double>(), top["_score"]!.GetValue<double>());

        // The same search sent plainly, once the template search's judgements are stored: the same hits in the same order,
        // read from the store under the plain search's key (a template search is keyed as the search it renders to).
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(_stack, 5));
        var plain = await _stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}},"size":10}""");
        Assert.Equal("cached", plain.Rerank);
        Assert.Equal(plain.Ids, template.Ids);

        // A template stored on the cluster (PUT _scripts passes through to it), by id, with the template's explain flag.
        var put = await _stack.SendAsync(HttpMethod.Put, "_scripts/onion-template", """{"script":{"lang":"mustache","source":""" + Quoted + "}}");
        Assert.Equal(200, put.Status);
        var stored = await _stack.SearchAsync("""{"id":"onion-template","params":{"q":"onion eyes","size":10},"explain":true}""", $"{ProxyStack.Index}/_search/template");
        Assert.Equal(200, stored.Status);
        Assert.Equal("cached", stored.Rerank);
        Assert.Equal(plain.Ids, stored.Ids);
        Assert.NotNull(stored.Json["hits"]!["hits"]![0]!["_explanation"]);
    }

    [Fact]
    public async Task SearchTemplate_TheBackendCannotRender_IsItsAnswerAsItGaveIt()
    {
        // Elasticsearch: ScriptService's 404 for an unknown stored id; MustacheScriptEngine's 400 script_exception.
        var missing = await _stack.SearchAsync("""{"id":"no-such-template","params":{}}""", $"{ProxyStack.Index}/_search/template");
        Assert.Equal(404, missing.Status);
        Assert.Equal("resource_not_found_exception", missing.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal("unable to find script [no-such-template] in cluster state", missing.Json["error"]!["reason"]!.GetValue<string>());
        Assert.Equal("skipped", missing.Rerank);

        var syntax = await _stack.SearchAsync("""{"source":"{\"query\":{{#q}}}","params":{}}""", "_search/template");
        Assert.Equal(400, syntax.Status);
        Assert.Equal("script_exception", syntax.Json["error"]!["type"]!.GetValue<string>());

        // Rendered text that is not JSON: the search parser's 400 at its [line:column], as Elasticsearch gives it.
        var notJson = await _stack.SearchAsync("""{"source":"{\"size\": {{size}} }","params":{}}""", $"{ProxyStack.Index}/_search/template");
        Assert.Equal(400, notJson.Status);
        Assert.Equal("x_content_parse_exception", notJson.Json["error"]!["type"]!.GetValue<string>());
        Assert.StartsWith("[1:11] ", notJson.Json["error"]!["reason"]!.GetValue<string>());
    }
}
