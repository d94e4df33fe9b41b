using System.Text;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// The flags every request's channel reads, on the searches the proxy answers itself: Elasticsearch reads
/// <c>pretty</c> and <c>human</c> with <c>paramAsBoolean</c> as it makes the channel (<c>AbstractRestChannel</c>), then
/// <c>error_trace</c> (<c>RestController.tryAllHandlers</c>), strictly (<c>Booleans.parseBoolean</c>: "Failed to parse
/// value [yes] as only [true] or [false] are allowed."), before the 406 media-type check and before any handler reads
/// the request; and <c>RestSearchAction</c> reads <c>explain</c> with <c>paramAsBoolean("explain", null)</c>, so an
/// empty one is no explanation.
/// </summary>
public sealed class ChannelParameterTests(ResponseShapingStack fixture) : IClassFixture<ResponseShapingStack>
{
    private ProxyStack Stack => fixture.Stack;

    private static string Reranked(string text) => "{\"query\":{\"match\":{\"text\":\"" + text + "\"}}}";

    // Read by the proxy, which refuses it itself: parser.intValue() on "many" (number_format_exception).
    private const string ProxyRefuses = """{"query":{"match":{"text":"onion"}},"size":"many"}""";

    private static string Msearch(string text) => string.Join('\n', """{"index":"docs"}""", Reranked(text), "");

    private static string Refused(string value) => $"Failed to parse value [{value}] as only [true] or [false] are allowed.";

    // dispatchBadRequest: the full illegal_argument_exception, through a channel made without the request's parameters.
    private static string ChannelError(string value) =>
        "{\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"" + Refused(value) + "\"}],"
        + "\"type\":\"illegal_argument_exception\",\"reason\":\"" + Refused(value) + "\"},\"status\":400}";

    private static async Task<(int Status, string Text)> PostAsync(HttpClient client, string path, string body, string contentType)
    {
        using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, contentType));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    // The embedded backend's own answer to the same request: the cluster the proxy stands in front of.
    private static async Task<(int Status, string Text)> BackendPostAsync(ProxyStack stack, string path, string body, string contentType)
    {
        using var http = new HttpClient { BaseAddress = stack.Backend.Url };
        return await PostAsync(http, path, body, contentType);
    }

    [Theory]
    [InlineData("_msearch?pretty=yes", "yes")]
    [InlineData("_msearch?human=True", "True")]
    [InlineData("docs/_msearch?pretty=1&error_trace=true", "1")]
    public async Task Msearch_PrettyOrHumanNeitherTrueNorFalse_IsTheClustersBadRequest_NotTheSearches(string path, string value)
    {
        var (status, text) = await PostAsync(Stack.Http, path, Msearch("onion crown"), "application/x-ndjson");
        Assert.Equal(400, status);
        Assert.Equal(ChannelError(value), text); // neither indented nor traced: the channel that answers has no parameters
        Assert.Equal((status, text), await BackendPostAsync(Stack, path, Msearch("onion crown"), "application/x-ndjson"));
    }

    [Fact]
    public async Task ErrorTraceNeitherTrueNorFalse_IsTheSimpleBadRequest_BeforeTheSearchIsRead()
    {
        var (status, text) = await PostAsync(Stack.Http, "_msearch?error_trace=yes", Msearch("onion crumbs"), "application/x-ndjson");
        Assert.Equal(400, status);
        Assert.Equal("{\"error\":\"" + Refused("yes") + "\",\"status\":400}", text);

        // Before the body the proxy would refuse itself, indented when pretty asks.
        (status, text) = await PostAsync(Stack.Http, "docs/_search?error_trace=no&pretty", ProxyRefuses, "application/json");
        Assert.Equal(400, status);
        Assert.StartsWith("{\n  \"error\"", text, StringComparison.Ordinal);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("{\"error\":\"" + Refused("no") + "\",\"status\":400}"), JsonNode.Parse(text)), text);
    }

    [Fact]
    public async Task PrettyNeitherTrueNorFalse_ComesBeforeTheProxysOwnErrors_AndTheMediaTypeCheck()
    {
        var (status, text) = await PostAsync(Stack.Http, "docs/_search?pretty=on", ProxyRefuses, "application/json");
        Assert.Equal(400, status);
        Assert.Equal(ChannelError("on"), text);

        // RestController.dispatchRequest checks the Content-Type (406) only after the channel and error_trace.
        (status, text) = await PostAsync(Stack.Http, "docs/_search?human=yes", Reranked("onion"), "text/plain");
        Assert.Equal(400, status);
        Assert.Equal(ChannelError("yes"), text);
    }

    /// <summary>
    /// The proxy's own endpoints took any <c>pretty</c>, <c>human</c> or <c>error_trace</c> (<c>/_rank1/health?pretty=maybe</c>
    /// with a valid admin key was a 200), where the cluster refuses them on any route, before its handler. Now they are
    /// the 400 the searches answer, the cluster's own on its <c>_cluster/health</c>.
    /// </summary>
    [Fact]
    public async Task AdminEndpoints_FlagsNeitherTrueNorFalse_AreTheClustersBadRequest_AsOnAnyRoute()
    {
        const string key = "an-admin-key-of-24-chars";
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:AdminApiKey"] = key });
        using var backend = new HttpClient { BaseAddress = stack.Backend.Url };
        async Task<(int Status, string Text)> GetAsync(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("ApiKey", key);
            using var response = await stack.Http.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        foreach (var (path, value) in new[] { ("_rank1/health?pretty=maybe", "maybe"), ("_rank1/live?human=yes", "yes"), ("_rank1/metrics?pretty=1&error_trace=true", "1") })
        {
            var answer = await GetAsync(path);
            Assert.Equal((400, ChannelError(value)), answer);
            using var cluster = await backend.GetAsync("_cluster/health?" + path.Split('?')[1]);
            Assert.Equal(((int)cluster.StatusCode, await cluster.Content.ReadAsStringAsync()), answer);
        }

        Assert.Equal((400, "{\"error\":\"" + Refused("yes") + "\",\"status\":400}"), await GetAsync("_rank1/health?error_trace=yes"));
        Assert.Equal(200, (await GetAsync("_rank1/health?pretty=true&human&error_trace=false")).Status);
    }

    [Fact]
    public async Task EmptyExplain_IsNoExplanation_AsTheClusterReadsIt()
    {
        var empty = await Stack.SearchAsync(Reranked("onion skins"), "docs/_search?explain");
        Assert.Equal(200, empty.Status);
        Assert.Equal("applied", empty.Rerank);
        Assert.All(empty.Json["hits"]!["hits"]!.AsArray(), hit => Assert.False(hit!.AsObject().ContainsKey("_explanation")));

        var asked = await Stack.SearchAsync(Reranked("onion peel"), "docs/_search?explain=true");
        Assert.Equal("applied", asked.Rerank);
        Assert.All(asked.Json["hits"]!["hits"]!.AsArray(), hit => Assert.StartsWith("rank1", hit!["_explanation"]!["description"]!.GetValue<string>(), StringComparison.Ordinal));

        var refused = await Stack.SearchAsync(Reranked("onion"), "docs/_search?explain=yes");
        Assert.Equal(400, refused.Status);
        Assert.Equal("illegal_argument_exception", refused.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal(Refused("yes"), refused.Json["error"]!["reason"]!.GetValue<string>());
    }

    // RestSearchAction.checkRestTotalHits (validateSearchRequest, for a _search and for each line of an _msearch) refuses
    // rest_total_hits_as_int beside a track_total_hits that counts up to a number (true and false, -1, are taken), in
    // Elasticsearch's words (RestSearchActionTests: "... not accurate, got 100"). The embedded backend took it, and the
    // proxy sent each msearch search on, as that item's answer in a 200.
    [Theory]
    [InlineData("_search", "100", 400)]
    [InlineData("_msearch", "100", 400)]
    [InlineData("_search", "true", 200)]
    [InlineData("_msearch", "false", 200)]
    [InlineData("_msearch", "-1", 200)]
    public async Task RestTotalHitsAsInt_BesideATrackTotalHitsUpToANumber_IsRefusedAsElasticsearchRefusesIt(string endpoint, string track, int expected)
    {
        var search = "{\"query\":{\"match\":{\"text\":\"onion\"}},\"track_total_hits\":" + track + "}";
        var (path, body, contentType) = endpoint == "_search"
            ? ("docs/_search?rest_total_hits_as_int=true", search, "application/json")
            : ("_msearch?rest_total_hits_as_int=true", Msearch("onion sets") + "{\"index\":\"docs\"}\n" + search + "\n", "application/x-ndjson");
        var (status, text) = await PostAsync(Stack.Http, path, body, contentType);
        Assert.Equal(expected, status);
        if (expected == 400)
        {
            var error = JsonNode.Parse(text)!["error"]!;
            Assert.Equal(("illegal_argument_exception", "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got 100"),
                (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
            Assert.Equal((status, text), await BackendPostAsync(Stack, path, body, contentType));
        }
    }

    // RestMultiSearchAction reads each line as a search (RestSearchAction.validateSearchRequest: rest_total_hits_as_int,
    // include_named_queries_score; then ccs_minimize_roundtrips), with paramAsBoolean: a bad value fails the whole msearch
    // before any search runs, not each search as its own error in a 200.
    [Theory]
    [InlineData("rest_total_hits_as_int", "yes")]
    [InlineData("ccs_minimize_roundtrips", "no")]
    [InlineData("include_named_queries_score", "1")]
    public async Task Msearch_ASearchFlagNeitherTrueNorFalse_FailsTheWholeMsearch(string name, string value)
    {
        var path = $"_msearch?{name}={value}";
        var body = Msearch("onion sets") + """{"index":"docs"}""" + "\n" + """{"query":{"match":{"text":"onion"}},"ext":{"rank1":{"enabled":false}}}""" + "\n";
        var (status, text) = await PostAsync(Stack.Http, path, body, "application/x-ndjson");
        Assert.Equal(400, status);
        Assert.Equal(ChannelError(value), text);
        Assert.Equal((status, text), await BackendPostAsync(Stack, path, body, "application/x-ndjson"));
    }

    // RestMultiSearchTemplateAction reads each line with RestSearchAction.validateSearchRequest too (rest_total_hits_as_int,
    // include_named_queries_score): a bad value fails the whole request before any template is rendered, where the proxy
    // and the embedded backend answered each item's own error in a 200 (rest_total_hits_as_int) or refused the parameter as
    // unrecognized (include_named_queries_score, which Elasticsearch consumes there and so takes).
    [Theory]
    [InlineData("rest_total_hits_as_int", "yes")]
    [InlineData("include_named_queries_score", "1")]
    public async Task MsearchTemplate_ASearchFlagNeitherTrueNorFalse_FailsTheWholeRequest(string name, string value)
    {
        var body = string.Join('\n', """{"index":"docs"}""", """{"source":{"query":{"match":{"text":"{{q}}"}}},"params":{"q":"onion"}}""", "");
        var (status, text) = await PostAsync(Stack.Http, $"_msearch/template?{name}={value}", body, "application/x-ndjson");
        Assert.Equal(400, status);
        Assert.Equal(ChannelError(value), text);
        Assert.Equal((status, text), await BackendPostAsync(Stack, $"_msearch/template?{name}={value}", body, "application/x-ndjson"));

        var (taken, answer) = await PostAsync(Stack.Http, $"_msearch/template?{name}=true", body, "application/x-ndjson");
        Assert.True(taken == 200, answer);
        Assert.Equal(200, JsonNode.Parse(answer)!["responses"]![0]!["status"]!.GetValue<int>());
    }

    // RestMultiSearchAction.parseRequest reads these of the URL before any line (the indices options with
    // IndicesOptions.fromRequest, max_concurrent_searches, pre_filter_shard_size and max_concurrent_shard_requests with
    // paramAsInt, then parseMultiLineRequest's ccs_minimize_roundtrips; RestMultiSearchTemplateAction the second and the
    // last): before a bad first line, and refused for the whole msearch, where the proxy had run its searches and
    // answered 200 (the indices options: each search its own 400).
    [Theory]
    [InlineData("_msearch?ignore_unavailable=yes", "Could not convert [ignore_unavailable] to boolean")]
    [InlineData("_msearch?expand_wildcards=bogus", "No valid expand wildcard value [bogus]")]
    [InlineData("_msearch?pre_filter_shard_size=abc", "Failed to parse int parameter [pre_filter_shard_size] with value [abc]")]
    [InlineData("_msearch?max_concurrent_shard_requests=1.5", "Failed to parse int parameter [max_concurrent_shard_requests] with value [1.5]")]
    [InlineData("_msearch?ccs_minimize_roundtrips=yes", "Failed to parse value [yes] as only [true] or [false] are allowed.")]
    [InlineData("_msearch/template?ccs_minimize_roundtrips=yes", "Failed to parse value [yes] as only [true] or [false] are allowed.")]
    public async Task Msearch_WhatIsReadBeforeTheLines_IsRefusedBeforeABadLine(string path, string reason)
    {
        // The first line's body does not parse: it would be the answer if the parameter were read after it.
        var body = """{"index":"docs"}""" + "\n" + """{"query":""" + "\n";
        var (status, text) = await PostAsync(Stack.Http, path, body, "application/x-ndjson");
        Assert.Equal(400, status);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("illegal_argument_exception", error["type"]!.GetValue<string>());
        Assert.Equal(reason, error["reason"]!.GetValue<string>());
        Assert.Equal((status, text), await BackendPostAsync(Stack, path, body, "application/x-ndjson"));

        // With good lines too: the whole msearch is refused, no search answered.
        (status, text) = await PostAsync(Stack.Http, path, path.StartsWith("_msearch/template", StringComparison.Ordinal)
            ? """{"index":"docs"}""" + "\n" + """{"source":{"query":{"match":{"text":"onion"}}}}""" + "\n" : Msearch("onion jam"), "application/x-ndjson");
        Assert.Equal(400, status);
        Assert.Equal(reason, JsonNode.Parse(text)!["error"]!["reason"]!.GetValue<string>());
    }

    // RestRequest.paramAsInt: new IllegalArgumentException("Failed to parse int parameter [..] with value [..]", e), e
    // Integer.parseInt's NumberFormatException, which the error body shows as caused_by. The proxy reads size itself.
    [Fact]
    public async Task SizeNotAnInt_IsCausedByParseIntsNumberFormatException()
    {
        var refused = await Stack.SearchAsync(Reranked("onion"), "docs/_search?size=1.5");
        Assert.Equal(400, refused.Status);
        Assert.Equal("applied", (await Stack.SearchAsync(Reranked("onion relish"), "docs/_search?size=2")).Rerank); // the proxy's own reading
        var error = refused.Json["error"]!;
        Assert.Equal("Failed to parse int parameter [size] with value [1.5]", error["reason"]!.GetValue<string>());
        Assert.Equal("illegal_argument_exception", error["root_cause"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("number_format_exception", error["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal("For input string: \"1.5\"", error["caused_by"]!["reason"]!.GetValue<string>());
    }

    // OpenSearch itself sends no answer here (its RestController throws again while answering: "failed to send failure
    // response"); the proxy, and the embedded backend's OpenSearch flavour, answer what that error would be, as a 400.
    [Fact]
    public async Task OpenSearch_ErrorTraceNeitherTrueNorFalse_IsTheFullException()
    {
        await using var stack = await ProxyStack.StartAsync(flavor: Rank1.EmbeddedSearch.SearchFlavor.OpenSearch);
        var (status, text) = await PostAsync(stack.Http, "_msearch?error_trace=yes", Msearch("onion"), "application/x-ndjson");
        Assert.Equal(400, status);
        Assert.Equal(ChannelError("yes"), text);
        Assert.Equal((status, text), await BackendPostAsync(stack, "_msearch?error_trace=yes", Msearch("onion"), "application/x-ndjson"));
    }
}
