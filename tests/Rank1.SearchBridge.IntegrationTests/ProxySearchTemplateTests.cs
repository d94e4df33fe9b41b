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

    // Elasticsearch takes queries nested up to indices.query.bool.max_nested_depth (30) deep. A template whose source is
    // such a query as a JSON object (29 nested bool queries, about 90 levels) made the proxy's reading of an
    // _msearch/template line throw (a 500 with an empty body) and the backend's _search/template answer a 500: the object
    // source was written out as text at System.Text.Json's default depth of 64.
    [Fact]
    public async Task SearchTemplate_ObjectSourceOf29NestedBoolQueries_IsRunAndRerankedAlone_AndInAnMsearch()
    {
        var query = """{"match":{"text":"onion eyes"}}""";
        for (var i = 0; i < 29; i++)
        {
            query = """{"bool":{"must":[""" + query + "]}}";
        }

        var template = """{"source":{"query":""" + query + ""","size":10}}""";
        var single = await _stack.SearchAsync(template, $"{ProxyStack.Index}/_search/template");
        Assert.Equal((200, "applied"), (single.Status, single.Rerank));
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}},"size":10}""");
        Assert.Equal(backendOrder.Order(), single.Ids.Order());

        var multi = await _stack.SendAsync(HttpMethod.Post, "_msearch/template", $"{{\"index\":\"{ProxyStack.Index}\"}}\n{template}\n", "application/x-ndjson");
        Assert.Equal(200, multi.Status);
        var item = multi.Json["responses"]![0]!;
        Assert.Equal(200, item["status"]!.GetValue<int>());
        Assert.Equal(single.Ids, item["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
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
        // Jackson's column is the one after the '}' it read.
        Assert.StartsWith("[1:12] Unexpected character ('}' (code 125)): expected a value", notJson.Json["error"]!["reason"]!.GetValue<string>());
    }

    /// <summary>
    /// <c>_msearch/template</c> (the clients' <c>msearchTemplate</c>): each item rendered by the backend and reranked as
    /// the search it renders to, each item's failure its own (<c>TransportMultiSearchTemplateAction</c>: a template that
    /// does not render, or renders to a search that does not parse, fails that item alone). Before, the proxy passed it
    /// through, so these came back in BM25 order.
    /// </summary>
    [Fact]
    public async Task MsearchTemplate_EachItemIsRerankedAsItsSearch_AndEachFailureIsThatItemsAlone()
    {
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion rings"}}}""");
        var put = await _stack.SendAsync(HttpMethod.Put, "_scripts/rings-template", """{"script":{"lang":"mustache","source":""" + Quoted + "}}");
        Assert.Equal(200, put.Status);
        var lines = string.Join('\n',
            "{}", """{"source":""" + Quoted + ""","params":{"q":"onion rings","size":10}}""",
            """{"index":"docs"}""", """{"id":"rings-template","params":{"q":"onion rings","size":0}}""",
            "{}", """{"id":"no-such-template","params":{}}""",
            "{}", """{"source":"{\"size\": {{size}} }","params":{}}""") + "\n";
        var answer = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_msearch/template", lines, "application/x-ndjson");

        Assert.Equal(200, answer.Status);
        Assert.Equal("applied=1, skipped=3", answer.Rerank);
        var items = answer.Json["responses"]!.AsArray();
        Assert.Equal([200, 200, 404, 400], items.Select(i => i!["status"]!.GetValue<int>()));
        Assert.Equal(["applied", "skipped", "skipped", "skipped"], items.Select(i => i!["_rank1"]!["rerank"]!.GetValue<string>()));
        // The first item in Rank1's order of the 5-hit window, then the backend's, as the same template alone.
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion rings", backendOrder.Take(5).ToArray(), 4);
        Assert.Equal(expected.Concat(backendOrder.Skip(5)).Take(10), items[0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal("computed", items[0]!["hits"]!["hits"]![0]!["fields"]!["_rank1.source"]![0]!.GetValue<string>());
        Assert.Empty(items[1]!["hits"]!["hits"]!.AsArray()); // the stored template, rendered with size 0
        Assert.Equal("resource_not_found_exception", items[2]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("x_content_parse_exception", items[3]!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task MsearchTemplate_ABadLine_OrAParameterItDoesNotTake_Is400ForTheWholeRequest()
    {
        // RestMultiSearchTemplateAction.parseRequest reads every line first: SearchTemplateRequest's parser refuses an
        // unknown key, and a line naming no template is "Malformed search template"; no search of it runs.
        var good = """{"source":""" + Quoted + ""","params":{"q":"onion","size":3}}""";
        var unknown = await _stack.SendAsync(HttpMethod.Post, "_msearch/template", "{}\n" + good + "\n{}\n{\"source\":\"{}\",\"size\":3}\n", "application/x-ndjson");
        Assert.Equal((400, "x_content_parse_exception", "[search_template] unknown field [size]"),
            (unknown.Status, unknown.Json["error"]!["type"]!.GetValue<string>(), unknown.Json["error"]!["reason"]!.GetValue<string>()));
        var noTemplate = await _stack.SendAsync(HttpMethod.Post, "_msearch/template", "{}\n" + good + "\n{}\n{\"params\":{}}\n", "application/x-ndjson");
        Assert.Equal((400, "illegal_argument_exception", "Malformed search template"),
            (noTemplate.Status, noTemplate.Json["error"]!["type"]!.GetValue<string>(), noTemplate.Json["error"]!["reason"]!.GetValue<string>()));
        // RestMultiSearchTemplateAction reads no pre_filter_shard_size, which _msearch reads. (It does consume
        // include_named_queries_score, line by line: ChannelParameterTests.)
        var parameter = await _stack.SendAsync(HttpMethod.Post, "_msearch/template?pre_filter_shard_size=1", "{}\n" + good + "\n", "application/x-ndjson");
        Assert.Equal((400, "request [/_msearch/template] contains unrecognized parameter: [pre_filter_shard_size]"),
            (parameter.Status, parameter.Json["error"]!["reason"]!.GetValue<string>()));
    }

    /// <summary>
    /// A lone template whose search is not reranked (it renders to size 0) is the backend's answer to that search,
    /// streamed by the forwarder to the rendered search's own path; <c>_msearch/template</c> takes <c>routing</c>, which
    /// Elasticsearch reads for every multi search (<c>RestMultiSearchAction.parseMultiLineRequest</c>).
    /// </summary>
    [Fact]
    public async Task SearchTemplate_NotReranked_IsTheBackendsAnswerToItsSearch_AndMsearchTemplateTakesRouting()
    {
        var skipped = await _stack.SearchAsync("""{"source":""" + Quoted + ""","params":{"q":"onion","size":0}}""", $"{ProxyStack.Index}/_search/template");
        Assert.Equal((200, "skipped"), (skipped.Status, skipped.Rerank));
        Assert.Equal("size is 0", skipped.Headers.GetValues("X-Rank1-Reason").Single());
        using (var backend = new HttpClient { BaseAddress = _stack.Backend.Url })
        {
            var direct = System.Text.Json.Nodes.JsonNode.Parse(await (await backend.PostAsync($"{ProxyStack.Index}/_search",
                new StringContent("""{"query":{"match":{"text":"onion"}},"size":0}""", System.Text.Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync())!;
            Assert.Equal(direct["hits"]!["total"]!.ToJsonString(), skipped.Json["hits"]!["total"]!.ToJsonString());
        }

        var routed = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_msearch/template?routing=r1",
            "{}\n" + """{"source":""" + Quoted + ""","params":{"q":"onion","size":3}}""" + "\n", "application/x-ndjson");
        Assert.Equal(200, routed.Status);
        Assert.Equal(200, routed.Json["responses"]![0]!["status"]!.GetValue<int>());
    }
}
