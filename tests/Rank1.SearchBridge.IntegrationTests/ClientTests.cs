using System.Text.Json;
using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

public sealed class ProxyClientDocument
{
    public string Title { get; set; } = "";

    public string Text { get; set; } = "";

    public string Topic { get; set; } = "";
}

/// <summary>The official clients, pointed at the proxy instead of the cluster: nothing else in the app changes.</summary>
public sealed class ClientTests
{
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task DotNetClient_IndexBulkSearchGet_ThroughTheProxy_WithRank1FieldsReadable()
    {
        await using var stack = await ProxyStack.StartAsync();
        var client = new ElasticsearchClient(new ElasticsearchClientSettings(stack.Proxy.Url).DisableDirectStreaming());

        var index = await client.IndexAsync(new ProxyClientDocument { Title = "Onion goggles", Text = "Goggles keep onion gas away from the eyes.", Topic = "food" },
            i => i.Index(ProxyStack.Index).Id("d09").Refresh(global::Elastic.Clients.Elasticsearch.Refresh.True));
        Assert.True(index.IsValidResponse, index.DebugInformation);

        var bulk = await client.BulkAsync(b => b.Index(ProxyStack.Index).Refresh(global::Elastic.Clients.Elasticsearch.Refresh.True)
            .IndexMany(new[] { new ProxyClientDocument { Title = "Eye care", Text = "Rinse your eyes with clean water.", Topic = "health" } }, (d, _) => d.Id("d10")));
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);
        Assert.False(bulk.Errors);

        var get = await client.GetAsync<ProxyClientDocument>(ProxyStack.Index, "d10");
        Assert.True(get.Found);
        Assert.Equal("Eye care", get.Source!.Title);

        var search = await client.SearchAsync<ProxyClientDocument>(s => s.Indices(ProxyStack.Index).Query(q => q.Match(m => m.Field("text").Query("onion eyes"))));
        Assert.True(search.IsValidResponse, search.DebugInformation);
        var window = search.Hits.Take(5).ToArray();
        // The client reads "fields" without custom types: each value is the JSON array Elasticsearch uses.
        static JsonElement Field(global::Elastic.Clients.Elasticsearch.Core.Search.Hit<ProxyClientDocument> h, string name) => ((JsonElement)h.Fields![name])[0];
        var scores = window.Select(h => Field(h, "_rank1.score").GetDouble()).ToArray();
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.All(window, h => Assert.Equal(Field(h, "_rank1.score").GetDouble(), h.Score!.Value, 9));
        Assert.All(window, h => Assert.Equal(Field(h, "_rank1.score").GetDouble() >= 0.5, Field(h, "_rank1.relevant").GetBoolean()));
        Assert.All(window, h => Assert.Equal(JsonValueKind.String, Field(h, "_rank1.reasoning").ValueKind));
        Assert.All(window, h => Assert.Equal("computed", Field(h, "_rank1.source").GetString()));

        // Hits in Rank1 order: what the model says for each passage alone.
        var backendOrder = await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}}}""");
        Assert.Equal(await ExpectedOrder(stack, backendOrder.Take(5).ToArray()), window.Select(h => h.Id));
    }

    private static async Task<string[]> ExpectedOrder(ProxyStack stack, string[] ids)
    {
        using var http = new HttpClient { BaseAddress = stack.Backend.Url };
        using var engine = Rank1.Inference.Rank1Engine.Load(new Rank1.Inference.Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = Rank1.Inference.Model.ExecutionProviderKind.Cpu });
        var scored = new List<(string Id, double Score, int Index)>();
        for (var i = 0; i < ids.Length; i++)
        {
            var doc = JsonNode.Parse(await http.GetStringAsync($"{ProxyStack.Index}/_doc/{ids[i]}"))!["_source"]!;
            var j = engine.Judge(new Rank1.Inference.Rank1Input("onion eyes", doc["text"]!.GetValue<string>(), doc["title"]!.GetValue<string>()),
                new Rank1.Inference.JudgeSettings { MaxThinkTokens = 4 });
            scored.Add((ids[i], j.Score, i));
        }

        return scored.OrderByDescending(s => s.Score).ThenBy(s => s.Index).Select(s => s.Id).ToArray();
    }

    /// <summary>
    /// The official Python client (elasticsearch-py 7.17, Debian's python3-elasticsearch) at its default settings, its
    /// helpers included (scan scrolls, bulk sends in chunks): each call answered as the cluster behind would answer it,
    /// the searches reranked. The oracle is the backend itself and the model judging the window alone.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task PythonClient_SearchHelpersAndTemplates_ThroughTheProxy()
    {
        await using var stack = await ProxyStack.StartAsync();
        var result = await TestProcess.RunPythonAsync("proxy_client_py.py", stack.Proxy.Url.ToString(), ProxyStack.Index);

        using var backend = new HttpClient { BaseAddress = stack.Backend.Url };
        Assert.Equal(JsonNode.Parse(await backend.GetStringAsync("/"))!["version"]!["number"]!.GetValue<string>(), result["version"]!.GetValue<string>());
        var backendOrder = await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion storage"}}}""");
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion storage", backendOrder.Take(5).ToArray(), 4);
        Assert.Equal(expected.Concat(backendOrder.Skip(5)).Take(10), result["search"]!["ids"]!.AsArray().Select(i => i!.GetValue<string>()));
        Assert.All(result["search"]!["sources"]!.AsArray().Take(5), s => Assert.Equal("computed", s!.GetValue<string>()));
        var onion = await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":100}""");
        Assert.Equal(Math.Min(10, JsonNode.Parse(await backend.GetStringAsync($"{ProxyStack.Index}/_search?q=onion"))!["hits"]!["hits"]!.AsArray().Count), result["q"]!.GetValue<int>());
        Assert.Equal([200, 404], result["msearch"]!["statuses"]!.AsArray().Select(s => s!.GetValue<int>()));
        Assert.Equal(["applied", "skipped"], result["msearch"]!["rerank"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(onion.Order(StringComparer.Ordinal), result["scan"]!.AsArray().Select(i => i!.GetValue<string>())); // every hit, once
        Assert.Equal((120, 0, 120), (result["bulk"]!["ok"]!.GetValue<int>(), result["bulk"]!["errors"]!.GetValue<int>(), result["bulk"]!["count"]!.GetValue<int>()));
        Assert.Equal(["computed"], result["template"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(["applied"], result["msearchTemplate"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal((400, "illegal_argument_exception"), (result["error"]!["status"]!.GetValue<int>(), result["error"]!["type"]!.GetValue<string>()));
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("elasticsearch", SearchFlavor.Elasticsearch)]
    [InlineData("opensearch", SearchFlavor.OpenSearch)]
    public async Task JavaScriptClients_RerankedSearchAndPassThrough(string client, SearchFlavor flavor)
    {
        await using var stack = await ProxyStack.StartAsync(flavor: flavor);
        var result = await TestProcess.RunNodeAsync("proxy-clients-smoke.mjs", client, stack.Proxy.Url.ToString(), ProxyStack.Index);
        Assert.Equal("applied", result["rerank"]!.GetValue<string>());
        Assert.Equal(ProxyStack.Corpus.Length, result["count"]!.GetValue<int>()); // _count passed through
        var rank1 = result["rank1Scores"]!.AsArray().Take(5).Select(s => s!.GetValue<double>()).ToArray();
        Assert.Equal(rank1.OrderDescending(), rank1);
        Assert.Equal(rank1, result["scores"]!.AsArray().Take(5).Select(s => s!.GetValue<double>()));
        Assert.Equal([200, 200, 404], result["msearchStatuses"]!.AsArray().Select(s => s!.GetValue<int>()));
        Assert.Equal(["applied", "skipped", "skipped"], result["msearchRerank"]!.AsArray().Select(s => s!.GetValue<string>()));
        // q= alone, no body (the clients' default for search({index, q})): reranked on the body the proxy made up, which
        // the backend reads only with a Content-Type (before, it had none and the backend answered 406).
        Assert.Equal("applied", result["qOnly"]!["rerank"]!.GetValue<string>());
        using var backend = new HttpClient { BaseAddress = stack.Backend.Url };
        var direct = JsonNode.Parse(await backend.GetStringAsync($"{ProxyStack.Index}/_search?q=onion"))!["hits"]!["hits"]!.AsArray().Count;
        Assert.True(direct > 0);
        Assert.Equal(direct, result["qOnly"]!["hits"]!.GetValue<int>());
        // searchTemplate: reranked as the search it renders to, in the order the model gives that window.
        Assert.Equal("applied", result["template"]!["rerank"]!.GetValue<string>());
        var templateBackend = await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion goggles"}}}""");
        var templateExpected = await ProxyStack.ExpectedRank1OrderAsync("onion goggles", templateBackend.Take(5).ToArray(), 4);
        Assert.Equal(templateExpected.Concat(templateBackend.Skip(5)).Take(10), result["template"]!["ids"]!.AsArray().Select(i => i!.GetValue<string>()));
        // msearchTemplate: each item reranked as the search it renders to; a template the cluster does not hold is that item's 404.
        Assert.Equal([200, 404], result["msearchTemplate"]!["statuses"]!.AsArray().Select(s => s!.GetValue<int>()));
        Assert.Equal(["applied", "skipped"], result["msearchTemplate"]!["rerank"]!.AsArray().Select(s => s!.GetValue<string>()));
        var multiBackend = await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion bread"}}}""");
        var multiExpected = await ProxyStack.ExpectedRank1OrderAsync("onion bread", multiBackend.Take(5).ToArray(), 4);
        Assert.Equal(multiExpected.Concat(multiBackend.Skip(5)).Take(10), result["msearchTemplate"]!["ids"]!.AsArray().Select(i => i!.GetValue<string>()));
        if (flavor == SearchFlavor.Elasticsearch)
        {
            Assert.Equal("applied", result["helperItem"]!.GetValue<string>()); // helpers.msearch batches through _msearch
        }

        if (flavor == SearchFlavor.OpenSearch)
        {
            var health = await stack.SendAsync(HttpMethod.Get, "_rank1/health");
            Assert.Equal("opensearch", health.Json["backend"]!["flavor"]!.GetValue<string>());
            var error = await stack.SearchAsync("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"window":0}}}""");
            Assert.False(error.Headers.Contains("X-Elastic-Product")); // OpenSearch clients get no Elastic product header
        }
    }
}
