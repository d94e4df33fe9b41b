using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Search templates as Elasticsearch's lang-mustache module renders them. The expected <c>template_output</c> of each
/// test is Elasticsearch's own: the examples of its "Search templates" documentation (docs/reference/search/search-your-data/
/// search-template.asciidoc) and the cases of modules/lang-mustache's MustacheTests and SearchTemplateIT, quoted where used.
/// </summary>
public sealed class SearchTemplateTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private EsClient Es => fx.Client;

    private async Task<JsonNode?> RenderAsync(JsonNode request)
    {
        var response = await Es.PostAsync("/_render/template", request);
        Assert.True(response.Status == 200, response.Body?.ToJsonString());
        return response.Json["template_output"];
    }

    // Three titled documents: two with "dragon" (id 2 scoring higher), one "orbital".
    private async Task SeedBooksAsync(string index)
    {
        await Es.PutAsync($"/{index}", null);
        await Es.BulkAsync($$$"""
            {"index":{"_index":"{{{index}}}","_id":"1"}}
            {"title":"dragon cave","year":1990}
            {"index":{"_index":"{{{index}}}","_id":"2"}}
            {"title":"dragon boats dragon","year":2018}
            {"index":{"_index":"{{{index}}}","_id":"3"}}
            {"title":"orbital mechanics","year":2005}

            """);
    }

    private static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}, got {actual?.ToJsonString()}");

    [Fact]
    public async Task HostileTemplates_AreRefusedInElasticsearchsShape_AndTheServerLivesOn()
    {
        // 5,000 nested sections in 60 KB: each was one level of recursion, and the stack overflow ended the process.
        var deep = string.Concat(Enumerable.Repeat("{{#a}}", 5_000)) + string.Concat(Enumerable.Repeat("{{/a}}", 5_000));
        var nested = await Es.PostAsync("/_render/template", new JsonObject { ["source"] = deep });
        Assert.Equal((400, "script_exception"), (nested.Status, nested.ErrorType));
        Assert.StartsWith("Sections nested deeper than 100", nested.ErrorReason, StringComparison.Ordinal);

        // ScriptService.compile's script.max_size_in_bytes (65535), inline and stored.
        var big = "{\"size\":1" + new string(' ', 70_000) + "}";
        var inline = await Es.PostAsync("/_render/template", new JsonObject { ["source"] = big });
        Assert.Equal((400, "illegal_argument_exception"), (inline.Status, inline.ErrorType));
        Assert.StartsWith($"exceeded max allowed inline script size in bytes [65535] with size [{big.Length}] for script [", inline.ErrorReason, StringComparison.Ordinal);
        var stored = await Es.PutAsync("/_scripts/too-big", new JsonObject { ["script"] = new JsonObject { ["lang"] = "mustache", ["source"] = big } });
        Assert.Equal((400, $"exceeded max allowed stored script size in bytes [65535] with size [{big.Length}] for script [too-big]"), (stored.Status, stored.ErrorReason));

        // Ten sections nested over a list of ten: 10^10 passes for a template of 120 bytes.
        var multiply = string.Concat(Enumerable.Repeat("{{#l}}", 10)) + "x" + string.Concat(Enumerable.Repeat("{{/l}}", 10));
        var blowUp = await Es.PostAsync("/_render/template", new JsonObject { ["source"] = multiply, ["params"] = new JsonObject { ["l"] = new JsonArray(Enumerable.Range(0, 10).Select(i => (JsonNode)i).ToArray()) } });
        Assert.Equal((400, "script_exception"), (blowUp.Status, blowUp.ErrorType));

        var alive = await RenderAsync(JsonNode.Parse("""{"source":"{\"size\":{{n}}}","params":{"n":3}}""")!);
        AssertJson("""{"size":3}""", alive);
    }

    [Fact]
    public async Task RenderTemplate_StoredScriptWithParams_RendersAsTheDocsExample()
    {
        // Docs, "Create a search template" / "Validate a search template": the stored my-search-template rendered with
        // {"query_string":"hello world","from":20,"size":10} is
        // {"template_output":{"query":{"match":{"message":"hello world"}},"from":"20","size":"10"}}.
        var put = await Es.PutAsync("/_scripts/my-search-template", JsonNode.Parse("""
            {"script":{"lang":"mustache","source":{"query":{"match":{"message":"{{query_string}}"}},"from":"{{from}}","size":"{{size}}"}}}
            """));
        Assert.Equal(200, put.Status);
        AssertJson("""{"acknowledged":true}""", put.Body);

        var output = await RenderAsync(JsonNode.Parse("""{"id":"my-search-template","params":{"query_string":"hello world","from":20,"size":10}}""")!);
        AssertJson("""{"query":{"match":{"message":"hello world"}},"from":"20","size":"10"}""", output);

        var byPath = await Es.PostAsync("/_render/template/my-search-template", JsonNode.Parse("""{"params":{"query_string":"hi","from":0,"size":5}}"""));
        AssertJson("""{"query":{"match":{"message":"hi"}},"from":"0","size":"5"}""", byPath.Json["template_output"]);

        // GET _scripts/my-search-template: the object source kept as its JSON text, with the JSON content type.
        var get = await Es.GetAsync("/_scripts/my-search-template");
        Assert.Equal(200, get.Status);
        Assert.Equal("my-search-template", get.Json["_id"]!.GetValue<string>());
        Assert.True(get.Json["found"]!.GetValue<bool>());
        Assert.Equal("mustache", get.Json["script"]!["lang"]!.GetValue<string>());
        AssertJson("""{"query":{"match":{"message":"{{query_string}}"}},"from":"{{from}}","size":"{{size}}"}""", JsonNode.Parse(get.Json["script"]!["source"]!.GetValue<string>()));
        Assert.Equal("application/json; charset=UTF-8", get.Json["script"]!["options"]!["content_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task RenderTemplate_EscapedAndUnescapedVariables_EscapeAsJsonStringsWithoutQuotes()
    {
        // MustacheTests.testEscapeJson: {{value}} in the JSON content type is Jackson's quoteAsString of the value (quotes,
        // backslashes and control characters escaped, no quotes added); {{{value}}} and {{&value}} are written as they are.
        var output = await RenderAsync(new JsonObject
        {
            ["source"] = """{"a":"{{value}}","b":{{{number}}},"c":"{{&plain}}","d":"{{missing}}"}""",
            ["params"] = new JsonObject { ["value"] = "say \"hi\"\\\n\ttab", ["number"] = 42, ["plain"] = "x" },
        });
        AssertJson("""{"a":"say \"hi\"\\\n\ttab","b":42,"c":"x","d":""}""", output);
    }

    // A number param is the Double Jackson reads, written with Java's Double.toString: shortest digits, and an exponent
    // from those digits (1e39, held as 9.99999999999999939E38, is 1.0E39; it rendered 1.0E38).
    [Fact]
    public async Task RenderTemplate_NumberParams_AreWrittenAsJavasDoubleToString()
    {
        var output = await RenderAsync(new JsonObject
        {
            ["source"] = """{"a":"{{big}}","b":"{{small}}","c":"{{plain}}","d":"{{whole}}"}""",
            ["params"] = JsonNode.Parse("""{"big":1e39,"small":1.5e-5,"plain":2.50,"whole":7}"""),
        });
        AssertJson("""{"a":"1.0E39","b":"1.5E-5","c":"2.5","d":"7"}""", output);
    }

    [Fact]
    public async Task RenderTemplate_DottedNamesAndListIndices_ResolveAsElasticsearch()
    {
        // Docs, "Use dot notation" ({{query.string}}) and MustacheTests.testArrayAccess ({{data.0}} {{data.1}}) and
        // testSizeAccessForCollectionsAndArrays ({{data.size}}).
        var output = await RenderAsync(new JsonObject
        {
            ["source"] = """{"query":{"match":{"message":"{{query.string}}"}},"first":"{{data.0}}","second":"{{data.1}}","size":"{{data.size}}","none":"{{data.5}}"}""",
            ["params"] = new JsonObject { ["query"] = new JsonObject { ["string"] = "hello" }, ["data"] = new JsonArray("foo", "bar") },
        });
        AssertJson("""{"query":{"match":{"message":"hello"}},"first":"foo","second":"bar","size":"2","none":""}""", output);
    }

    [Fact]
    public async Task RenderTemplate_SectionsOverListsAndInvertedSections_RenderAsElasticsearch()
    {
        // Docs, "Run a search with conditions": {{#year_scope}}..{{/year_scope}} is left out when year_scope is false.
        const string conditional = """{ "query": { "bool": { "filter": [ {{#year_scope}} { "range": { "@timestamp": { "gte": "now-1y/d", "lt": "now/d" } } }, {{/year_scope}} { "term": { "user.id": "{{user_id}}" }}]}}}""";
        AssertJson("""{"query":{"bool":{"filter":[{"term":{"user.id":"kimchy"}}]}}}""",
            await RenderAsync(new JsonObject { ["source"] = conditional, ["params"] = new JsonObject { ["year_scope"] = false, ["user_id"] = "kimchy" } }));
        AssertJson("""{"query":{"bool":{"filter":[{"range":{"@timestamp":{"gte":"now-1y/d","lt":"now/d"}}},{"term":{"user.id":"kimchy"}}]}}}""",
            await RenderAsync(new JsonObject { ["source"] = conditional, ["params"] = new JsonObject { ["year_scope"] = true, ["user_id"] = "kimchy" } }));

        // Sections over a list with {{.}} (mustache's implicit iterator) and over objects, and inverted sections as defaults
        // (docs, "Set default values": {{^end}}now{{/end}}).
        var output = await RenderAsync(new JsonObject
        {
            ["source"] = """{"tags":[{{#tags}}"{{.}}",{{/tags}}"last"],"people":[{{#people}}"{{name}}",{{/people}}"x"],"end":"{{end}}{{^end}}now{{/end}}","empty":"{{^none}}none{{/none}}{{^list}}empty list{{/list}}"}""",
            ["params"] = new JsonObject
            {
                ["tags"] = new JsonArray("a", "b"),
                ["people"] = new JsonArray(new JsonObject { ["name"] = "ann" }, new JsonObject { ["name"] = "bo" }),
                ["list"] = new JsonArray(),
            },
        });
        AssertJson("""{"tags":["a","b","last"],"people":["ann","bo","x"],"end":"now","empty":"noneempty list"}""", output);
    }

    [Fact]
    public async Task RenderTemplate_ToJson_WritesObjectsAndListsAsJson()
    {
        // Docs, "Convert parameters to JSON": {{#toJson}}tags{{/toJson}} with {"tags":["prod","dev"]} renders
        // {"query":{"terms":{"tags":["prod","dev"]}}}; and {"query":{{#toJson}}my_query{{/toJson}}} with a match_all object.
        AssertJson("""{"query":{"terms":{"tags":["prod","dev"]}}}""", await RenderAsync(new JsonObject
        {
            ["source"] = """{ "query": { "terms": { "tags": {{#toJson}}tags{{/toJson}} }}}""",
            ["params"] = new JsonObject { ["tags"] = new JsonArray("prod", "dev") },
        }));
        AssertJson("""{"query":{"match_all":{}}}""", await RenderAsync(new JsonObject
        {
            ["source"] = """{ "query": {{#toJson}}my_query{{/toJson}} }""",
            ["params"] = new JsonObject { ["my_query"] = new JsonObject { ["match_all"] = new JsonObject() } },
        }));
    }

    // Elasticsearch takes queries nested up to indices.query.bool.max_nested_depth (30) deep. A query of 29 nested bool
    // queries (about 90 levels) as an object source, inline or stored, or written by {{#toJson}}, was a 500 here: the
    // object was written out as text at System.Text.Json's default depth of 64.
    [Fact]
    public async Task RenderTemplate_QueryOf29NestedBools_InlineStoredOrThroughToJson_Renders()
    {
        var query = """{"match":{"text":"onion"}}""";
        for (var i = 0; i < 29; i++)
        {
            query = """{"bool":{"must":[""" + query + "]}}";
        }

        var deep = new System.Text.Json.JsonDocumentOptions { MaxDepth = 1000 };
        var expected = JsonNode.Parse("""{"query":""" + query + "}", documentOptions: deep);
        using var http = new HttpClient { BaseAddress = fx.Server.Url };
        async Task<JsonNode?> Render(HttpMethod method, string path, string body)
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, text);
            return JsonNode.Parse(text, documentOptions: deep)!["template_output"];
        }

        Assert.True(JsonNode.DeepEquals(expected, await Render(HttpMethod.Post, "/_render/template", """{"source":{"query":""" + query + "}}")));
        Assert.Null(await Render(HttpMethod.Put, "/_scripts/deep-bools", """{"script":{"lang":"mustache","source":{"query":""" + query + "}}}"));
        Assert.True(JsonNode.DeepEquals(expected, await Render(HttpMethod.Post, "/_render/template/deep-bools", "{}")));
        Assert.True(JsonNode.DeepEquals(expected, await Render(HttpMethod.Post, "/_render/template", """{"source":"{\"query\":{{#toJson}}q{{/toJson}}}","params":{"q":""" + query + "}}")));
    }

    [Fact]
    public async Task RenderTemplate_JoinAndUrl_RenderAsTheDocsExamples()
    {
        // Docs, "Concatenate values": {{#join}}emails{{/join}} → "user1@example.com,user_one@example.com";
        // {{#join delimiter='||'}}date.formats{{/join delimiter='||'}} → "dd/MM/yyyy||yyyy".
        AssertJson("""{"query":{"match":{"user.group.emails":"user1@example.com,user_one@example.com"}}}""", await RenderAsync(JsonNode.Parse("""
            {"source":{"query":{"match":{"user.group.emails":"{{#join}}emails{{/join}}"}}},"params":{"emails":["user1@example.com","user_one@example.com"]}}
            """)!));
        AssertJson("""{"query":{"range":{"user.effective.date":{"gte":"2098","lte":"06/05/2099","format":"dd/MM/yyyy||yyyy"}}}}""", await RenderAsync(JsonNode.Parse("""
            {"source":{"query":{"range":{"user.effective.date":{"gte":"{{date.min}}","lte":"{{date.max}}","format":"{{#join delimiter='||'}}date.formats{{/join delimiter='||'}}"}}}},
             "params":{"date":{"min":"2098","max":"06/05/2099","formats":["dd/MM/yyyy","yyyy"]}}}
            """)!));

        // Docs, "URL encode strings": {{#url}}{{host}}/{{page}}{{/url}} → "http%3A%2F%2Fexample.com%2Fhello-world".
        AssertJson("""{"query":{"term":{"url.full":"http%3A%2F%2Fexample.com%2Fhello-world"}}}""", await RenderAsync(JsonNode.Parse("""
            {"source":{"query":{"term":{"url.full":"{{#url}}{{host}}/{{page}}{{/url}}"}}},"params":{"host":"http://example.com","page":"hello-world"}}
            """)!));
    }

    [Fact]
    public async Task Scripts_UnknownId_AreElasticsearchs404s()
    {
        // ScriptService.getScriptFromClusterState: "unable to find script [" + id + "] in cluster state".
        (await Es.PostAsync("/_render/template", JsonNode.Parse("""{"id":"no-such-template"}""")))
            .AssertError(404, "resource_not_found_exception", "unable to find script [no-such-template] in cluster state");
        (await Es.PostAsync("/_search/template", JsonNode.Parse("""{"id":"no-such-template"}""")))
            .AssertError(404, "resource_not_found_exception", "unable to find script [no-such-template] in cluster state");
        var get = await Es.GetAsync("/_scripts/no-such-template");
        Assert.Equal(404, get.Status);
        AssertJson("""{"_id":"no-such-template","found":false}""", get.Body);
        (await Es.DeleteAsync("/_scripts/no-such-template"))
            .AssertError(404, "resource_not_found_exception", "stored script [no-such-template] does not exist and cannot be deleted");

        await Es.PutAsync("/_scripts/gone", JsonNode.Parse("""{"script":{"lang":"mustache","source":"{}"}}"""));
        Assert.Equal(200, (await Es.DeleteAsync("/_scripts/gone")).Status);
        Assert.Equal(404, (await Es.GetAsync("/_scripts/gone")).Status);
    }

    [Fact]
    public async Task SearchTemplate_MustacheSyntaxError_IsScriptException400()
    {
        // MustacheScriptEngine.compile: a MustacheException becomes a ScriptException (script_exception, 400) with
        // mustache.java's message.
        var response = await Es.PostAsync("/_render/template", JsonNode.Parse("""{"source":"{\"a\":\"{{#x}}{{/y}}\"}"}"""));
        response.AssertError(400, "script_exception", "Mismatched start/end tags: x != y in query-template:1 @[query-template:1]");
        Assert.Equal("mustache", response.Json["error"]!["lang"]!.GetValue<string>());

        var unclosed = await Es.PostAsync("/_search/template", JsonNode.Parse("""{"source":"{\"a\":\"{{#x}}\"}"}"""));
        unclosed.AssertError(400, "script_exception", "Failed to close 'x' tag @[query-template:1]");
    }

    [Fact]
    public async Task SearchTemplate_RenderedTextNotJson_IsTheParsersError()
    {
        // TransportSearchTemplateAction.convert parses the rendered text as a search body: an unquoted empty value is
        // the JSON parser's 400 at its [line:column]: Jackson's column is the one after the '}' it read (12, not 11).
        var response = await Es.PostAsync("/_search/template", JsonNode.Parse("""{"source":"{\"size\": {{size}} }","params":{}}"""));
        Assert.Equal(400, response.Status);
        Assert.Equal("x_content_parse_exception", response.ErrorType);
        Assert.StartsWith("[1:12] Unexpected character ('}' (code 125)): expected a value", response.ErrorReason);
    }

    [Fact]
    public async Task SearchTemplate_OnIndex_AnswersAsTheSameSearch()
    {
        await SeedBooksAsync("tpl-books");
        var template = await Es.PostAsync("/tpl-books/_search/template", JsonNode.Parse("""
            {"source":{"query":{"match":{"title":"{{q}}"}},"size":"{{size}}"},"params":{"q":"dragon","size":5},"explain":true}
            """));
        var search = await Es.SearchAsync("tpl-books", JsonNode.Parse("""{"query":{"match":{"title":"dragon"}},"size":5,"explain":true}""")!);
        Assert.Equal(200, template.Status);
        var hits = template.Json["hits"]!["hits"]!.AsArray();
        Assert.Equal(["2", "1"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(search.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_score"]!.GetValue<double>()), hits.Select(h => h!["_score"]!.GetValue<double>()));
        Assert.NotNull(hits[0]!["_explanation"]);
        Assert.Equal(2, template.Json["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    [Fact]
    public async Task OfficialClient_PutScriptRenderAndSearchTemplate_Work()
    {
        var client = OfficialClient.For(fx.Server.Url);
        await Es.PutAsync("/tpl-official", null);
        await Es.BulkAsync("""
            {"index":{"_index":"tpl-official","_id":"b1"}}
            {"id":"b1","title":"The Dragon's Hoard","body":"A dragon guards gold in a mountain cave.","genre":"fantasy","year":1990}
            {"index":{"_index":"tpl-official","_id":"b4"}}
            {"id":"b4","title":"Dragon Boats","body":"Teams paddle long boats decorated with a dragon head dragon.","genre":"sport","year":2018}
            {"index":{"_index":"tpl-official","_id":"b2"}}
            {"id":"b2","title":"Orbital Mechanics","body":"Satellites follow elliptical orbits.","genre":"science","year":2005}

            """);

        var put = await client.PutScriptAsync(new PutScriptRequest("book-template",
            new StoredScript { Language = ScriptLanguage.Mustache, Source = """{"query":{"match":{"body":"{{q}}"}},"size":{{size}}}""" }));
        Assert.True(put.IsValidResponse, put.DebugInformation);
        Assert.True(put.Acknowledged);

        var render = await client.RenderSearchTemplateAsync(new RenderSearchTemplateRequest { Id = "book-template", Params = new Dictionary<string, object> { ["q"] = "dragon", ["size"] = 3 } });
        Assert.True(render.IsValidResponse, render.DebugInformation);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"query":{"match":{"body":"dragon"}},"size":3}"""), JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(render.TemplateOutput))),
            render.DebugInformation);

        var search = await client.SearchTemplateAsync<Book>(new SearchTemplateRequest("tpl-official") { Id = "book-template", Params = new Dictionary<string, object> { ["q"] = "dragon", ["size"] = 3 } });
        Assert.True(search.IsValidResponse, search.DebugInformation);
        Assert.Equal(["b4", "b1"], search.Hits.Hits.Select(h => h.Id));
        Assert.Equal("Dragon Boats", search.Hits.Hits.First().Source!.Title);

        var inline = await client.SearchTemplateAsync<Book>(new SearchTemplateRequest("tpl-official")
        {
            Source = """{"query":{"match":{"genre":"{{genre}}"}}}""",
            Params = new Dictionary<string, object> { ["genre"] = "science" },
        });
        Assert.True(inline.IsValidResponse, inline.DebugInformation);
        Assert.Equal(["b2"], inline.Hits.Hits.Select(h => h.Id));

        var missing = await client.SearchTemplateAsync<Book>(new SearchTemplateRequest("tpl-official") { Id = "no-such" });
        Assert.False(missing.IsValidResponse);
        Assert.Equal(404, missing.ApiCallDetails!.HttpStatusCode);
        Assert.Equal("resource_not_found_exception", missing.ElasticsearchServerError?.Error?.Type);
    }

    /// <summary>
    /// <c>_msearch/template</c>, as lang-mustache's RestMultiSearchTemplateAction and TransportMultiSearchTemplateAction
    /// answer it: every item rendered and run as its search, in order, each with its <c>status</c>; a template that does
    /// not render (an unknown stored id: 404), or renders to a search that does not parse (text that is not JSON, an
    /// unknown query), fails that item alone, where a bad line in a plain <c>_msearch</c> fails the whole request.
    /// </summary>
    [Fact]
    public async Task MsearchTemplate_RunsEachRenderedSearch_AndFailsOnlyTheItemsThatDoNotRender()
    {
        await SeedBooksAsync("tpl-multi");
        Assert.Equal(200, (await Es.PutAsync("/_scripts/multi-title", JsonNode.Parse("""{"script":{"lang":"mustache","source":{"query":{"match":{"title":"{{q}}"}}}}}"""))).Status);
        var response = await Es.SendAsync(HttpMethod.Post, "/tpl-multi/_msearch/template", """
            {}
            {"source":{"query":{"match":{"title":"{{q}}"}},"size":"{{size}}"},"params":{"q":"dragon","size":5}}
            {"index":"tpl-multi"}
            {"id":"multi-title","params":{"q":"orbital"}}
            {}
            {"id":"no-such","params":{}}
            {}
            {"source":"{\"size\": {{size}} }","params":{}}
            {}
            {"source":{"query":{"no_such_query":{}}}}

            """, "application/x-ndjson");

        Assert.Equal(200, response.Status);
        var items = response.Json["responses"]!.AsArray();
        Assert.Equal([200, 200, 404, 400, 400], items.Select(i => i!["status"]!.GetValue<int>()));
        var direct = await Es.SearchAsync("tpl-multi", JsonNode.Parse("""{"query":{"match":{"title":"dragon"}},"size":5}""")!);
        Assert.Equal(direct.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()), items[0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(["3"], items[1]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal("resource_not_found_exception", items[2]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("x_content_parse_exception", items[3]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("parsing_exception", items[4]!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task MsearchTemplate_ALineWithAnUnknownKeyOrNoTemplate_Is400ForTheWholeRequest()
    {
        // RestMultiSearchTemplateAction.parseRequest: SearchTemplateRequest.fromXContent on each line, then "Malformed
        // search template" when the line names no script.
        var unknown = await Es.SendAsync(HttpMethod.Post, "/_msearch/template", "{}\n{\"source\":\"{}\"}\n{}\n{\"source\":\"{}\",\"size\":3}\n", "application/x-ndjson");
        unknown.AssertError(400, "x_content_parse_exception", "[search_template] unknown field [size]");
        var noTemplate = await Es.SendAsync(HttpMethod.Post, "/_msearch/template", "{}\n{\"params\":{\"q\":1}}\n", "application/x-ndjson");
        noTemplate.AssertError(400, "illegal_argument_exception", "Malformed search template");
    }

    [Theory]
    [InlineData("/_msearch")]
    [InlineData("/_msearch/template")]
    public async Task MsearchWithNoBody_IsElasticsearchsParseException(string path)
    {
        // RestMultiSearchAction and RestMultiSearchTemplateAction read the lines with RestRequest.contentOrSourceParam;
        // Elasticsearch's RequestsWithoutContentIT.testMultiSearchMissingBody.
        var r = await Es.SendAsync(HttpMethod.Post, path);
        r.AssertError(400, "parse_exception", "request body or source parameter is required");
    }
}
