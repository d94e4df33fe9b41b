using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>One proxy in front of the embedded backend, shared by the tests of a class (response shaping, search features).</summary>
public sealed class ResponseShapingStack : IAsyncLifetime
{
    internal ProxyStack Stack { get; private set; } = null!;

    public async Task InitializeAsync() => Stack = await ProxyStack.StartAsync();

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}

/// <summary>
/// Elasticsearch's response parameters on <c>_search</c> and <c>_msearch</c> through the proxy: <c>filter_path</c> and
/// <c>pretty</c> shape the whole final answer (never the backend's, whose passage fields the rerank reads),
/// <c>typed_keys</c> reaches every search, <c>error_trace</c> adds stack traces to errors only.
/// </summary>
public sealed class ResponseShapingTests(ResponseShapingStack fixture) : IClassFixture<ResponseShapingStack>
{
    // Each test reranks its own query text: the shared proxy's reasoning store would answer a repeated one as "cached".
    private static string Reranked(string text) => "{\"query\":{\"match\":{\"text\":\"" + text + "\"}}}";

    private static string TwoItems(string text) => string.Join('\n',
        """{"index":"docs"}""", Reranked(text),
        """{"index":"docs"}""", """{"query":{"match":{"text":"onion"}},"ext":{"rank1":{"enabled":false}}}""", "");

    private ProxyStack Stack => fixture.Stack;

    private async Task<(string Text, string? Rerank)> MsearchAsync(string query, string body)
    {
        using var response = await Stack.Http.PostAsync("_msearch" + query, new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        Assert.Equal(200, (int)response.StatusCode);
        return (await response.Content.ReadAsStringAsync(), response.Headers.GetValues("X-Rank1-Rerank").Single());
    }

    private static string[] Ids(JsonNode? hits) => hits!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray();

    [Fact]
    public async Task Msearch_FilterPathAndPretty_ShapeTheWholeAnswer_AndTheItemsAreStillReranked()
    {
        var (text, rerank) = await MsearchAsync("?filter_path=responses.hits.hits._id,responses.status&pretty", TwoItems("onion eyes"));
        Assert.Equal("applied=1, skipped=1", rerank);
        Assert.StartsWith("{\n  \"responses\"", text, StringComparison.Ordinal);
        var json = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(["responses"], json.Select(p => p.Key));
        var items = json["responses"]!.AsArray();
        Assert.All(items, item => Assert.Equal(["hits", "status"], item!.AsObject().Select(p => p.Key).Order()));
        Assert.All(items, item => Assert.All(item!["hits"]!["hits"]!.AsArray(), hit => Assert.Equal(["_id"], hit!.AsObject().Select(p => p.Key))));
        // The first item is in Rank1's order (the rerank read the passages), the same as a _search's; the second in the backend's.
        var reranked = await Stack.SearchAsync(Reranked("onion eyes"));
        Assert.NotEqual(await Stack.BackendIdsAsync(Reranked("onion eyes")), reranked.Ids);
        Assert.Equal(reranked.Ids, Ids(items[0]!["hits"]!["hits"]));
        Assert.Equal(await Stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}}}"""), Ids(items[1]!["hits"]!["hits"]));
        Assert.Equal([200, 200], items.Select(i => i!["status"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Msearch_FilterPathExclusionsAndDoubleWildcard_ApplyToTheCombinedAnswer()
    {
        var (excludedText, _) = await MsearchAsync("?filter_path=-took,-responses._rank1,-responses.hits.hits._source", TwoItems("onion tears"));
        var excluded = JsonNode.Parse(excludedText)!.AsObject();
        Assert.Equal(["responses"], excluded.Select(p => p.Key));
        var first = excluded["responses"]![0]!.AsObject();
        Assert.DoesNotContain("_rank1", first.Select(p => p.Key));
        Assert.Contains("timed_out", first.Select(p => p.Key));
        Assert.Null(first["hits"]!["hits"]![0]!["_source"]);
        Assert.NotNull(first["hits"]!["hits"]![0]!["fields"]!["_rank1.score"]);

        var (deepText, _) = await MsearchAsync("?filter_path=**._id,responses._rank1.rerank", TwoItems("onion soup"));
        var deep = JsonNode.Parse(deepText)!["responses"]!.AsArray();
        Assert.Equal(["applied", "skipped"], deep.Select(i => i!["_rank1"]!["rerank"]!.GetValue<string>()));
        Assert.All(deep, item => Assert.Equal(["_id"], item!["hits"]!["hits"]![0]!.AsObject().Select(p => p.Key)));
    }

    [Fact]
    public async Task Msearch_TypedKeys_PrefixesTheAggregationsOfEverySearch()
    {
        const string aggs = "\"aggs\":{\"topics\":{\"terms\":{\"field\":\"topic\"}}}";
        var body = string.Join('\n', """{"index":"docs"}""", "{\"query\":{\"match\":{\"text\":\"onion bread\"}}," + aggs + "}",
            """{"index":"docs"}""", "{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":0," + aggs + "}", "");
        var (text, rerank) = await MsearchAsync("?typed_keys=true&human=true", body);
        Assert.Equal("applied=1, skipped=1", rerank);
        var items = JsonNode.Parse(text)!["responses"]!.AsArray();
        Assert.All(items, item => Assert.Equal(["sterms#topics"], item!["aggregations"]!.AsObject().Select(p => p.Key)));
        Assert.NotNull(items[0]!["hits"]!["hits"]![0]!["fields"]!["_rank1.score"]);
    }

    [Fact]
    public async Task ErrorTrace_AddsStackTracesToTheProxysErrorsOnly()
    {
        const string bad = """{"query":{"match":{"text":"onion"}},"size":"many"}""";
        var plain = await Stack.SearchAsync(bad);
        Assert.Equal(400, plain.Status);
        Assert.Null(plain.Json["error"]!["stack_trace"]);

        var traced = await Stack.SearchAsync(bad, "docs/_search?error_trace=true");
        Assert.Equal(400, traced.Status);
        Assert.Equal("number_format_exception", traced.Json["error"]!["type"]!.GetValue<string>()); // parser.intValue(): Double.parseDouble("many")
        AssertThrownBy(Proxy, traced.Json["error"]!["stack_trace"]);
        AssertThrownBy(Proxy, traced.Json["error"]!["root_cause"]![0]!["stack_trace"]);

        var ok = await Stack.SearchAsync(Reranked("onion rings"), "docs/_search?error_trace=true");
        Assert.Equal("applied", ok.Rerank);
        Assert.DoesNotContain("stack_trace", ok.Json.ToJsonString(), StringComparison.Ordinal);

        // The backend's own errors: error_trace reaches it (the embedded backend adds its stack traces as Elasticsearch does).
        var missing = await Stack.SearchAsync(Reranked("onion"), "ghost/_search?error_trace=true");
        Assert.Equal(404, missing.Status);
        AssertThrownBy(Backend, missing.Json["error"]!["stack_trace"]);
        AssertThrownBy(Backend, missing.Json["error"]!["root_cause"]![0]!["stack_trace"]);
        Assert.Null((await Stack.SearchAsync(Reranked("onion"), "ghost/_search")).Json["error"]!["stack_trace"]);

        // pretty indents errors too, the backend's (a search to rerank) and the proxy's own.
        using (var prettyMissing = await Stack.Http.PostAsync("ghost/_search?pretty", ProxyStack.Json(Reranked("onion"))))
        {
            Assert.StartsWith("{\n  \"error\"", await prettyMissing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var prettyBad = await Stack.Http.PostAsync("docs/_search?pretty", ProxyStack.Json(bad)))
        {
            Assert.StartsWith("{\n  \"error\"", await prettyBad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var (text, _) = await MsearchAsync("?error_trace=true", TwoItems("onion storage") + "{\"index\":{}}\n" + Reranked("onion storage") + "\n"
            + "{\"index\":\"ghost\"}\n" + Reranked("onion") + "\n");
        var items = JsonNode.Parse(text)!["responses"]!.AsArray();
        Assert.Equal([200, 200, 400, 404], items.Select(i => i!["status"]!.GetValue<int>()));
        Assert.DoesNotContain("stack_trace", items[0]!.ToJsonString(), StringComparison.Ordinal);
        AssertThrownBy(Proxy, items[2]!["error"]!["stack_trace"]);
        AssertThrownBy(Backend, items[3]!["error"]!["stack_trace"]);
    }

    // Elasticsearch's error_trace names classes and line numbers (SearchSourceBuilder.java:1234), never the file system
    // of the machine that built it. The proxy's and the backend's frames named the checkout's absolute paths
    // (/home/someone/src/Rank1.SearchBridge/src/...); they are /_/src/... now (Directory.Build.props' PathMap), with
    // their line numbers.
    [Fact]
    public async Task ErrorTrace_StackTraces_NameNoPathOfTheBuildMachine()
    {
        var traced = await Stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"size":"many"}""", "docs/_search?error_trace=true");
        var missing = await Stack.SearchAsync(Reranked("onion"), "ghost/_search?error_trace=true");
        foreach (var trace in new[] { traced.Json["error"]!["stack_trace"]!.GetValue<string>(), missing.Json["error"]!["stack_trace"]!.GetValue<string>() })
        {
            // Each frame's source path, as .NET writes it ("   at Type.Method(...) in PATH:line N"): none under the checkout
            // (a substring test would fail on a checkout at /src, which every /_/src/... path contains).
            var root = TestPaths.RepoRoot.TrimEnd('/') + "/";
            var paths = Regex.Matches(trace, @"^   at [^\n]+ in ([^\n]+):line [0-9]+$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToArray();
            Assert.NotEmpty(paths);
            Assert.DoesNotContain(paths, path => path.StartsWith(root, StringComparison.Ordinal));
            Assert.Matches(@"\n   at Rank1\.[^\n]+ in /_/src/Rank1\.[^\n]+\.cs:line [0-9]+\n", trace);
        }
    }

    private const string Proxy = "Rank1.SearchBridge.";
    private const string Backend = "Rank1.EmbeddedSearch.";

    // Proxy and embedded backend throw the one error type (Rank1.Elastic.EsException); whose error it is shows in the frames.
    private static void AssertThrownBy(string side, JsonNode? stackTrace)
    {
        var text = stackTrace!.GetValue<string>();
        Assert.StartsWith("Rank1.Elastic.EsException: ", text, StringComparison.Ordinal);
        Assert.Contains("   at " + side, text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at " + (side == Proxy ? Backend : Proxy), text, StringComparison.Ordinal);
    }
}
