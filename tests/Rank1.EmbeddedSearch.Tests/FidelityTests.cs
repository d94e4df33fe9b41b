using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Where clients depend on Elasticsearch's exact behaviour, the embedded server behaves the same: response
/// filtering, compression, sniffing, paging contexts, index listing and the answers to wrong methods.
/// </summary>
public sealed class FidelityTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        Assert.False((await Es.BulkAsync(Books(1, 5))).Json["errors"]!.GetValue<bool>());
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    private static string Books(int first, int last) => string.Concat(Enumerable.Range(first, last - first + 1).Select(i =>
        $"{{\"index\":{{\"_index\":\"books\",\"_id\":\"{i}\"}}}}\n{{\"title\":\"river book {i}\",\"rank\":{i}}}\n"));

    private static string[] Ids(EsResponse r) => r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray();

    // Elasticsearch decodes the URL parameters before any handler runs (RestUtils.decodeQueryString): a malformed percent
    // escape is a 400 bad_parameter_exception on any path (its Netty4BadRequestTests: "/_cluster/settings?pretty=%").
    [Theory]
    [InlineData("/books/_search?q=%", "unterminated escape sequence at end of string: %")]
    [InlineData("/_cluster/health?pretty=%", "unterminated escape sequence at end of string: %")]
    [InlineData("/books/_search?q=river%4", "partial escape sequence at end of string: river%4")]
    [InlineData("/books/_search?size=1;q=a%zzb", "invalid escape sequence `%zz' at index 1 of: a%zzb")]
    public async Task Url_MalformedPercentEscape_IsBadParameter(string path, string cause)
    {
        // The URL as written: Uri's canonicalization would escape the stray % itself.
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(_fx.Server.Url.ToString().TrimEnd('/') + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal(("bad_parameter_exception", $"java.lang.IllegalArgumentException: {cause}"), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        Assert.Equal(("illegal_argument_exception", cause), (error["caused_by"]!["type"]!.GetValue<string>(), error["caused_by"]!["reason"]!.GetValue<string>()));
    }

    // RestController.tryAllHandlers: PathTrie decodes the segment a route's parameter takes (RestUtils.decodeComponent);
    // its IllegalArgumentException is answered by handleUnsupportedHttpMethod, a 405 whose error is the exception's
    // message and the path's methods (getValidHandlerMethodSet), with Allow. Kestrel kept the escape as text: the
    // searches were a 404 "no such index [books%ZZ]".
    [Theory]
    [InlineData("/books%ZZ/_search", "invalid escape sequence `%ZZ' at index 5 of: books%ZZ", "GET, POST")]
    [InlineData("/books%2/_count", "partial escape sequence at end of string: books%2", "GET, POST")]
    [InlineData("/_cluster/health/books%", "unterminated escape sequence at end of string: books%", "GET")]
    [InlineData("/books%2/_doc/1", "partial escape sequence at end of string: books%2", "GET, POST, PUT, DELETE, HEAD")]
    public async Task Path_MalformedPercentEscapeInAParameter_IsA405WithThePathsMethods(string path, string message, string allowed)
    {
        // The URL as written: Uri's canonicalization would escape the stray % itself.
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(_fx.Server.Url.ToString().TrimEnd('/') + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(($"{message}, allowed: [{allowed}]", 405, 2), (body["error"]!.GetValue<string>(), body["status"]!.GetValue<int>(), body.Count));
        Assert.Equal(allowed.Replace(" ", "", StringComparison.Ordinal), string.Join(',', response.Content.Headers.Allow));
    }

    // RestController.handleNoHandlerFound: the methods getValidHandlerMethodSet finds, each route's MethodHandlers'
    // (an EnumSet, in RestRequest.Method's order), HEAD among them where Elasticsearch registers it (RestGetAction's
    // HEAD /{index}/_doc/{id}, RestGetIndicesAction's HEAD /{index}, RestMainAction's HEAD /), not where it does not
    // (RestSearchAction); the uri as sent (RestRequest.uri()), escapes kept. HEAD was left out of every Allow, and
    // /books%2/_doc/1 was quoted as /books%252/_doc/1.
    [Theory]
    [InlineData("PATCH", "/books/_doc/1", "GET, POST, PUT, DELETE, HEAD")]
    [InlineData("POST", "/books", "GET, PUT, DELETE, HEAD")]
    [InlineData("POST", "/", "GET, HEAD")]
    [InlineData("PATCH", "/books%2/_doc/1", "GET, POST, PUT, DELETE, HEAD")]
    [InlineData("PUT", "/books/_search", "GET, POST")]
    public async Task WrongMethod_AllowListsTheMethodsElasticsearchRegistersForThePath(string method, string path, string allowed)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(_fx.Server.Url.ToString().TrimEnd('/') + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal($$"""{"error":"Incorrect HTTP method for uri [{{path}}] and method [{{method}}], allowed: [{{allowed}}]","status":405}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(allowed.Replace(" ", "", StringComparison.Ordinal), string.Join(',', response.Content.Headers.Allow));
    }

    // RestController.handleBadRequest quotes RestRequest.uri(), the target as sent; OpenSearch's the path alone, decoded
    // (new URI(uri).getPath()). Both were the path as ASP.NET holds it, decoded and escaped again: /booksA/_nope for
    // Elasticsearch, /books%20x/_nope for OpenSearch.
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, "/books%41/_nope?pretty", "/books%41/_nope?pretty")]
    [InlineData(SearchFlavor.OpenSearch, "/books%20x/_nope?pretty", "/books x/_nope")]
    public async Task UnknownPath_NoHandlerFound_QuotesTheUriAsItsEngineDoes(SearchFlavor flavor, string target, string quoted)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = flavor });
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(server.Url.ToString().TrimEnd('/') + target, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($"no handler found for uri [{quoted}] and method [GET]", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
    }

    // PathTrie.retrieve, matching root wildcards, takes any first segment into the /{index} routes' parameter and decodes
    // it there (RestUtils.decodeComponent) before the rest of the path is matched: on a path no route takes, a malformed
    // escape there is tryAllHandlers' 405 with no methods to list (getValidHandlerMethodSet decodes nothing). Elasticsearch's
    // handleUnsupportedHttpMethod writes the exception's message, OpenSearch's (2.1+, #3459) the fixed "Unexpected HTTP
    // method" (OpenSearch wrote Elasticsearch's words); on a path with methods, ", allowed: [..]" follows, with Allow.
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, "/books%ZZ/_nope", "invalid escape sequence `%ZZ' at index 5 of: books%ZZ", "")]
    [InlineData(SearchFlavor.OpenSearch, "/books%ZZ/_nope", "Unexpected HTTP method", "")]
    [InlineData(SearchFlavor.OpenSearch, "/books%ZZ/_search", "Unexpected HTTP method, allowed: [GET, POST]", "GET,POST")]
    public async Task MalformedEscapeInAParameter_IsTheEnginesOwn405(SearchFlavor flavor, string target, string error, string allow)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = flavor });
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(server.Url.ToString().TrimEnd('/') + target, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal($$"""{"error":"{{error}}","status":405}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(allow, string.Join(',', response.Content.Headers.Allow));
    }

    // OpenSearch's RestController.handleBadRequest quotes new URI(uri).getPath(), the path decoded (%2F a slash too), and
    // answers "invalid uri has been requested" where java.net.URI refuses the target. It quoted the path as ASP.NET holds
    // it (/a%2Fb/_nope), and quoted targets Java refuses.
    [Theory]
    [InlineData("/a%2Fb/_nope", "no handler found for uri [/a/b/_nope] and method [GET]")]
    [InlineData("/books/_nope%ZZ", "invalid uri has been requested")]
    [InlineData("/books/_nope|x", "invalid uri has been requested")]
    [InlineData("/books/_nope{", "invalid uri has been requested")]
    public async Task OpenSearch_NoHandlerFound_QuotesJavasUriPath(string target, string error)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(server.Url.ToString().TrimEnd('/') + target, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($$"""{"error":"{{error}}"}""", await response.Content.ReadAsStringAsync());
    }

    // RestController.handleNoHandlerFound answers OPTIONS on the first of tryAllHandlers' tries (explicit nodes only,
    // nothing decoded): a path no route takes is handleOptionsRequest's 200, an empty text/plain body and no Allow, a
    // malformed escape included; OpenSearch 2.x's alike. They were the 400 "no handler found" and the 405.
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, "/books%ZZ/_nope")]
    [InlineData(SearchFlavor.Elasticsearch, "/nope/_nope")]
    [InlineData(SearchFlavor.OpenSearch, "/books%ZZ/_nope")]
    [InlineData(SearchFlavor.OpenSearch, "/nope/_nope")]
    public async Task Options_OnAnUnknownPath_Is200WithNoBodyAndNoAllow(SearchFlavor flavor, string target)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = flavor });
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, new Uri(server.Url.ToString().TrimEnd('/') + target, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        using var response = await http.SendAsync(request);
        Assert.Equal((HttpStatusCode.OK, "", "text/plain", ""), (response.StatusCode, await response.Content.ReadAsStringAsync(),
            response.Content.Headers.ContentType?.MediaType, string.Join(',', response.Content.Headers.Allow)));
    }

    // AbstractRestChannel reads pretty and human with paramAsBoolean when it is made, RestController.tryAllHandlers
    // error_trace, on every path, before any handler: another value than true, false or empty is a 400 (the channel's
    // the exception, answered without the request's parameters; error_trace Elasticsearch's simple error). They were
    // taken (pretty=false pretty-printed, error_trace=yes was no trace), and the search answered.
    [Theory]
    [InlineData("/books/_search?pretty=yes&filter_path=took")]
    [InlineData("/_cluster/health?human=1")]
    [InlineData("/books/_search?error_trace=yes")]
    [InlineData("/_nope?error_trace=TRUE")]
    public async Task PrettyHumanAndErrorTrace_TakeOnlyTrueOrFalse(string path)
    {
        var r = await Es.GetAsync(path);
        var value = path[(path.IndexOf('=') + 1)..].Split('&')[0];
        var reason = $"Failed to parse value [{value}] as only [true] or [false] are allowed.";
        if (path.Contains("error_trace", StringComparison.Ordinal))
        {
            Assert.Equal(400, r.Status);
            Assert.Equal(new JsonObject { ["error"] = reason, ["status"] = 400 }.ToJsonString(), r.Json.ToJsonString());
        }
        else
        {
            r.AssertError(400, "illegal_argument_exception", reason);
        }

        // pretty=false is not pretty; pretty (empty) is.
        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        Assert.DoesNotContain("\n", await http.GetStringAsync("/_cluster/health?pretty=false"), StringComparison.Ordinal);
        Assert.Contains("\n", await http.GetStringAsync("/_cluster/health?pretty"), StringComparison.Ordinal);
    }

    // RestMultiSearchAction (and RestMultiSearchTemplateAction) read max_concurrent_searches with paramAsInt and hand it to
    // MultiSearchRequest.maxConcurrentSearchRequests, which refuses one below 1. This server ignored the parameter.
    [Theory]
    [InlineData("/_msearch", "0", "maxConcurrentSearchRequests must be positive")]
    [InlineData("/_msearch", "abc", "Failed to parse int parameter [max_concurrent_searches] with value [abc]")]
    [InlineData("/_msearch/template", "-1", "maxConcurrentSearchRequests must be positive")]
    [InlineData("/_msearch/template", "1.5", "Failed to parse int parameter [max_concurrent_searches] with value [1.5]")]
    public async Task Msearch_MaxConcurrentSearchesNotAPositiveInt_Is400(string path, string value, string reason)
    {
        var line = path == "/_msearch" ? """{"query":{"match_all":{}}}""" : """{"source":{"query":{"match_all":{}}}}""";
        var r = await Es.SendAsync(HttpMethod.Post, $"{path}?max_concurrent_searches={value}", "{\"index\":\"books\"}\n" + line + "\n", "application/x-ndjson");
        r.AssertError(400, "illegal_argument_exception", reason);

        var ok = await Es.SendAsync(HttpMethod.Post, $"{path}?max_concurrent_searches=1", "{\"index\":\"books\"}\n" + line + "\n", "application/x-ndjson");
        Assert.Equal(200, ok.Json["responses"]![0]!["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task FilterPath_ShapesAnswersButNeverErrors()
    {
        var r = await Es.PostAsync("/books/_search?filter_path=took,hits.hits._id,-hits.hits._score", JsonNode.Parse("""{"sort":[{"rank":"asc"}],"size":2}"""));
        Assert.Equal(200, r.Status);
        Assert.Equal(["took", "hits"], r.Json.AsObject().Select(p => p.Key));
        Assert.Equal("""{"hits":[{"_id":"1"},{"_id":"2"}]}""", r.Json["hits"]!.ToJsonString());

        var msearch = await Es.SendAsync(HttpMethod.Post, "/_msearch?filter_path=responses.status,responses.error.type", "{\"index\":\"books\"}\n{}\n{\"index\":\"ghost\"}\n{}\n", "application/x-ndjson");
        Assert.Equal("""{"responses":[{"status":200},{"error":{"type":"index_not_found_exception"},"status":404}]}""", msearch.Json.ToJsonString());

        var error = await Es.GetAsync("/ghost/_search?filter_path=took");
        Assert.Equal(404, error.Status);
        Assert.Equal("index_not_found_exception", error.ErrorType);

        var nothing = await Es.GetAsync("/books/_count?filter_path=nope");
        Assert.Equal("{}", nothing.Json.ToJsonString());
    }

    [Fact]
    public async Task Gzip_JsonAndCatText_AndOpaqueIdEchoed()
    {
        using var handler = new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { BaseAddress = _fx.Server.Url };
        foreach (var path in new[] { "/books/_search", "/_cat/indices?v" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
            request.Headers.Add("X-Opaque-Id", "trace-42");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
            Assert.Equal("trace-42", response.Headers.GetValues("X-Opaque-Id").Single());
            await using var gz = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
            var text = await new StreamReader(gz).ReadToEndAsync();
            Assert.Contains("books", text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/_nodes/_all/http", false)]
    [InlineData("/_nodes/http,settings?flat_settings=true&timeout=2s", true)]
    [InlineData("/_nodes/http", false)]
    public async Task Sniff_NodesInfoPublishesAnAddressThatAnswers(string path, bool settings)
    {
        var r = await Es.GetAsync(path);
        Assert.Equal(200, r.Status);
        var node = Assert.Single(r.Json["nodes"]!.AsObject()).Value!;
        Assert.Equal(settings, node["settings"] is not null);
        if (settings)
        {
            Assert.Equal("rank1-embedded", node["settings"]!["cluster.name"]!.GetValue<string>());
        }

        var publish = node["http"]!["publish_address"]!.GetValue<string>();
        Assert.Equal($"{_fx.Server.Url.Host}:{_fx.Server.Url.Port}", publish);
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://{publish}/")).StatusCode);
    }

    [Fact]
    public async Task Scroll_PagesASnapshotUntilEmptyThenClears()
    {
        var first = await Es.PostAsync("/books/_search?scroll=1m", JsonNode.Parse("""{"size":2,"sort":["_doc"]}"""));
        Assert.Equal(200, first.Status);
        Assert.Equal("_scroll_id", first.Json.AsObject().First().Key);
        var id = first.Json["_scroll_id"]!.GetValue<string>();
        // Written after the scroll opened: not part of it.
        await Es.BulkAsync(Books(6, 6));

        var seen = Ids(first).ToList();
        while (true)
        {
            var page = await Es.PostAsync("/_search/scroll", new JsonObject { ["scroll"] = "1m", ["scroll_id"] = id });
            Assert.Equal(200, page.Status);
            Assert.Equal(5, page.Json["hits"]!["total"]!["value"]!.GetValue<int>());
            if (Ids(page).Length == 0)
            {
                break;
            }

            seen.AddRange(Ids(page));
        }

        Assert.Equal(["1", "2", "3", "4", "5"], seen);
        var cleared = await Es.SendAsync(HttpMethod.Delete, "/_search/scroll", new JsonObject { ["scroll_id"] = new JsonArray(id) });
        Assert.Equal(200, cleared.Status);
        Assert.Equal("""{"succeeded":true,"num_freed":1}""", cleared.Json.ToJsonString());
        var gone = await Es.PostAsync("/_search/scroll", new JsonObject { ["scroll_id"] = id });
        Assert.Equal(404, gone.Status);
        Assert.Equal("search_phase_execution_exception", gone.ErrorType);
        Assert.Equal("all shards failed", gone.ErrorReason);
        var missing = $"No search context found for id [{id}]";
        Assert.Equal(missing, gone.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
        Assert.Equal("search_context_missing_exception", gone.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal(missing, gone.Json["error"]!["failed_shards"]![0]!["reason"]!["reason"]!.GetValue<string>());
        var again = await Es.SendAsync(HttpMethod.Delete, "/_search/scroll", new JsonObject { ["scroll_id"] = id });
        Assert.Equal(404, again.Status);
        Assert.Equal(0, again.Json["num_freed"]!.GetValue<int>());

        Assert.Equal(400, (await Es.PostAsync("/books/_search?scroll=1m", JsonNode.Parse("""{"from":2}"""))).Status);
        Assert.Equal("parse_exception", (await Es.PostAsync("/books/_search?scroll=soon", JsonNode.Parse("{}"))).ErrorType);
        var tooLong = await Es.PostAsync("/books/_search?scroll=2d", JsonNode.Parse("{}"));
        Assert.Equal(400, tooLong.Status);
        Assert.StartsWith("Keep alive for request (2d) is too large. It must be less than (1d).", tooLong.ErrorReason, StringComparison.Ordinal);
        Assert.Equal(400, (await Es.PostAsync("/books/_pit?keep_alive=25h")).Status);
    }

    [Fact]
    public async Task Scroll_OpenContextsAreBoundedAsInElasticsearch()
    {
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal(200, (await Es.GetAsync("/books/_search?scroll=1m&size=1")).Status);
        }

        var refused = await Es.GetAsync("/books/_search?scroll=1m&size=1");
        Assert.Equal(429, refused.Status);
        Assert.Equal("too_many_scroll_contexts_exception", refused.ErrorType);
        var cleared = await Es.DeleteAsync("/_search/scroll/_all");
        Assert.Equal(500, cleared.Json["num_freed"]!.GetValue<int>());
        Assert.Equal(200, (await Es.GetAsync("/books/_search?scroll=1m&size=1")).Status);
    }

    [Fact]
    public async Task KeepAlive_RunsOnTheTimeProvider()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 }, timeProvider: time);
        using var es = new EsClient(server.Url);
        await es.BulkAsync(Books(1, 3));
        var scroll = (await es.PostAsync("/books/_search?scroll=1m", JsonNode.Parse("""{"size":1}"""))).Json["_scroll_id"]!.GetValue<string>();
        var pit = (await es.PostAsync("/books/_pit?keep_alive=2m")).Json["id"]!.GetValue<string>();

        time.Advance(TimeSpan.FromSeconds(50));
        // Each use renews the keep-alive it names.
        Assert.Equal(200, (await es.PostAsync("/_search/scroll", new JsonObject { ["scroll"] = "1m", ["scroll_id"] = scroll })).Status);
        time.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(200, (await es.PostAsync("/_search/scroll", new JsonObject { ["scroll_id"] = scroll })).Status);
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(404, (await es.PostAsync("/_search/scroll", new JsonObject { ["scroll_id"] = scroll })).Status);
        Assert.Equal(200, (await es.PostAsync("/_search", new JsonObject { ["pit"] = new JsonObject { ["id"] = pit } })).Status);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(404, (await es.PostAsync("/_search", new JsonObject { ["pit"] = new JsonObject { ["id"] = pit } })).Status);
    }

    [Fact]
    public async Task Timeout_StopsCollectingOnTheTimeProvider_AnswersTheHitsSoFarAsTimedOut()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 }, timeProvider: time);
        using var es = new EsClient(server.Url);
        await es.BulkAsync(Books(1, 40));
        var river = JsonNode.Parse("""{"query":{"match":{"title":"river"}},"size":40}""")!.AsObject();

        // The clock stands still: the whole collection is within 10 ms.
        var inTime = await es.PostAsync("/books/_search?timeout=10ms", river.DeepClone());
        Assert.False(inTime.Json["timed_out"]!.GetValue<bool>());
        Assert.Equal(40, Ids(inTime).Length);

        // Every read of the clock moves it 1 ms, and the collector reads it once per matching document: the first ten
        // documents are collected within 10 ms, the eleventh finds the time up.
        time.AutoAdvanceAmount = TimeSpan.FromMilliseconds(1);
        const int collectedIn10Ms = 10;
        var sorted = (JsonObject)river.DeepClone();
        sorted["sort"] = new JsonArray(new JsonObject { ["rank"] = "asc" });
        var inBody = (JsonObject)river.DeepClone();
        inBody["timeout"] = "10ms";
        var overridden = (JsonObject)river.DeepClone();
        overridden["timeout"] = "1h"; // the URL parameter wins, as in Elasticsearch
        foreach (var (path, body) in new[] { ("/books/_search?timeout=10ms", river), ("/books/_search?timeout=10ms", sorted), ("/books/_search", inBody), ("/books/_search?timeout=10ms", overridden) })
        {
            var r = await es.PostAsync(path, body.DeepClone());
            Assert.Equal(200, r.Status);
            Assert.True(r.Json["timed_out"]!.GetValue<bool>(), path + " " + body.ToJsonString());
            Assert.Equal(collectedIn10Ms, Ids(r).Length);
            Assert.Equal(collectedIn10Ms, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        }

        // The timeout bounds the whole search, not each index: over two indices of 40 matches each it still stops after
        // ten documents in all (with a clock per index it would collect ten in each).
        await es.BulkAsync(Books(1, 40).Replace("\"_index\":\"books\"", "\"_index\":\"novels\"", StringComparison.Ordinal));
        var both = await es.PostAsync("/books,novels/_search?timeout=10ms", river.DeepClone());
        Assert.Equal(200, both.Status);
        Assert.True(both.Json["timed_out"]!.GetValue<bool>());
        Assert.Equal(collectedIn10Ms, Ids(both).Length);

        // The unit-less 0 is a time value, as in Elasticsearch: no time at all, so the first document already finds it up.
        var zero = await es.PostAsync("/books/_search?timeout=0", river.DeepClone());
        Assert.Equal(200, zero.Status);
        Assert.True(zero.Json["timed_out"]!.GetValue<bool>());
        Assert.Empty(Ids(zero));

        // -1 is no timeout; anything that is not a time value is Elasticsearch's parse error.
        var none = await es.PostAsync("/books/_search?timeout=-1", river.DeepClone());
        Assert.False(none.Json["timed_out"]!.GetValue<bool>());
        Assert.Equal(40, Ids(none).Length);
        var bad = await es.PostAsync("/books/_search?timeout=soon", river.DeepClone());
        Assert.Equal(400, bad.Status);
        Assert.Equal("parse_exception", bad.ErrorType);
        Assert.Equal("failed to parse setting [timeout] with value [soon] as a time value: unit is missing or unrecognized", bad.ErrorReason);
    }

    [Fact]
    public async Task SearchAfter_PagesBySortValues()
    {
        var first = await Es.PostAsync("/books/_search", JsonNode.Parse("""{"size":2,"sort":[{"rank":"desc"}]}"""));
        Assert.Equal(["5", "4"], Ids(first));
        var last = first.Json["hits"]!["hits"]![1]!["sort"]!.DeepClone();
        var next = await Es.PostAsync("/books/_search", new JsonObject { ["size"] = 2, ["sort"] = new JsonArray(new JsonObject { ["rank"] = "desc" }), ["search_after"] = last });
        Assert.Equal(200, next.Status);
        Assert.Equal(["3", "2"], Ids(next));
        Assert.Equal(5, next.Json["hits"]!["total"]!["value"]!.GetValue<int>());

        var mismatch = await Es.PostAsync("/books/_search", JsonNode.Parse("""{"sort":[{"rank":"asc"}],"search_after":[1,2]}"""));
        Assert.Equal(400, mismatch.Status);
        Assert.Contains("search_after has 2 value(s) but sort has 1", mismatch.ErrorReason, StringComparison.Ordinal);
        Assert.Equal(400, (await Es.PostAsync("/books/_search", JsonNode.Parse("""{"from":1,"sort":[{"rank":"asc"}],"search_after":[1]}"""))).Status);
    }

    private async Task<string[]> ScoredAsync()
    {
        var bulk = string.Concat(Enumerable.Range(1, 8).Select(i =>
            $"{{\"index\":{{\"_index\":\"scored\",\"_id\":\"s{i}\"}}}}\n{{\"text\":\"river {string.Join(' ', Enumerable.Repeat("bank", i))}\"}}\n"));
        Assert.False((await Es.BulkAsync(bulk + "{\"index\":{\"_index\":\"scored\",\"_id\":\"x\"}}\n{\"text\":\"sea\"}\n")).Json["errors"]!.GetValue<bool>());
        var all = await Es.PostAsync("/scored/_search", JsonNode.Parse("""{"size":100,"query":{"match":{"text":"river"}}}"""));
        Assert.Equal(8, all.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_score"]!.GetValue<double>()).Distinct().Count());
        return Ids(all);
    }

    [Fact]
    public async Task SearchAfter_OnAPointInTimesScores_PagesEveryHitOnce()
    {
        // A score is a float, written as the shortest text that reads back as that float (1.145896); read back as a
        // double that can be past the float, so the hit it came from was after its own cursor and came back forever
        // (SearchAfterBuilder reads a score cursor as a float).
        var expected = await ScoredAsync();
        var pit = (await Es.PostAsync("/scored/_pit?keep_alive=1m")).Json["id"]!.GetValue<string>();
        var seen = new List<string>();
        JsonNode? after = null;
        for (var page = 0; page <= expected.Length; page++)
        {
            var body = new JsonObject { ["size"] = 1, ["query"] = JsonNode.Parse("""{"match":{"text":"river"}}"""), ["pit"] = new JsonObject { ["id"] = pit } };
            if (after is not null)
            {
                body["search_after"] = after.DeepClone();
            }

            var hits = (await Es.PostAsync("/_search", body)).Json["hits"]!["hits"]!.AsArray();
            if (hits.Count == 0)
            {
                break;
            }

            seen.Add(hits[0]!["_id"]!.GetValue<string>());
            after = hits[0]!["sort"];
        }

        Assert.Equal(expected, seen);
    }

    [Theory]
    [InlineData("""["_score"]""")]
    [InlineData("""{"_score":"desc"}""")]
    [InlineData("""[{"_score":{"order":"desc"}}]""")]
    public async Task LoneDescendingScoreSort_IsNoSort_ScoresKept_NoCursorToFollow(string sort)
    {
        // SortBuilder.buildSort: "optimize if we just sort on score non reversed, we don't really need sorting". The
        // hits are the unsorted search's, with their scores and no sort values (they had sort values and a null
        // _score), and a search_after has no sort to follow (SearchAfterBuilder.buildFieldDoc).
        var expected = await ScoredAsync();
        var plain = await Es.PostAsync("/scored/_search", JsonNode.Parse("""{"query":{"match":{"text":"river"}}}"""));
        var sorted = await Es.PostAsync("/scored/_search", JsonNode.Parse("""{"query":{"match":{"text":"river"}},"sort":""" + sort + "}"));
        Assert.Equal(plain.Json["hits"]!.ToJsonString(), sorted.Json["hits"]!.ToJsonString());
        Assert.All(sorted.Json["hits"]!["hits"]!.AsArray(), h => Assert.False(h!.AsObject().ContainsKey("sort")));
        Assert.Equal(expected.Take(10), Ids(sorted));

        foreach (var body in new[] { "{\"sort\":" + sort + ",\"search_after\":[1.0]}", """{"search_after":[1.0]}""" })
        {
            var refused = await Es.PostAsync("/scored/_search", JsonNode.Parse(body));
            Assert.Equal((400, "illegal_argument_exception", "Sort must contain at least one field."), (refused.Status, refused.ErrorType, refused.ErrorReason));
        }

        // An ascending score is a sort like any other, with its cursors.
        var ascending = await Es.PostAsync("/scored/_search", JsonNode.Parse("""{"query":{"match":{"text":"river"}},"sort":[{"_score":"asc"}]}"""));
        Assert.Equal(expected.Reverse(), Ids(ascending));
        Assert.All(ascending.Json["hits"]!["hits"]!.AsArray(), h => Assert.Single(h!["sort"]!.AsArray()));
    }

    [Fact]
    public async Task PointInTime_Elasticsearch_PagesAFrozenViewWithTheShardDocTiebreaker()
    {
        var open = await Es.PostAsync("/books/_pit?keep_alive=1m");
        Assert.Equal(200, open.Status);
        var pit = open.Json["id"]!.GetValue<string>();
        Assert.Equal(1, open.Json["_shards"]!["total"]!.GetValue<int>());
        await Es.BulkAsync(Books(7, 7));

        var seen = new List<string>();
        JsonNode? after = null;
        while (true)
        {
            var body = new JsonObject { ["size"] = 2, ["pit"] = new JsonObject { ["id"] = pit, ["keep_alive"] = "1m" }, ["sort"] = new JsonArray(new JsonObject { ["rank"] = "asc" }) };
            if (after is not null)
            {
                body["search_after"] = after.DeepClone();
            }

            var page = await Es.PostAsync("/_search", body);
            Assert.Equal(200, page.Status);
            Assert.Equal(pit, page.Json["pit_id"]!.GetValue<string>());
            var hits = page.Json["hits"]!["hits"]!.AsArray();
            if (hits.Count == 0)
            {
                break;
            }

            // The sort values end with the implicit _shard_doc tiebreaker (shard 0: the Lucene document number).
            Assert.All(hits, h => Assert.Equal(2, h!["sort"]!.AsArray().Count));
            seen.AddRange(hits.Select(h => h!["_id"]!.GetValue<string>()));
            after = hits[^1]!["sort"];
        }

        Assert.Equal(["1", "2", "3", "4", "5"], seen);
        var withIndex = await Es.PostAsync("/books/_search", new JsonObject { ["pit"] = new JsonObject { ["id"] = pit } });
        Assert.Equal(400, withIndex.Status);
        Assert.Contains("[indices] cannot be used with point in time", withIndex.ErrorReason, StringComparison.Ordinal);
        Assert.Equal(400, (await Es.PostAsync("/books/_pit")).Status);

        var closed = await Es.SendAsync(HttpMethod.Delete, "/_pit", new JsonObject { ["id"] = pit });
        Assert.Equal("""{"succeeded":true,"num_freed":1}""", closed.Json.ToJsonString());
        var gone = await Es.PostAsync("/_search", new JsonObject { ["pit"] = new JsonObject { ["id"] = pit } });
        Assert.Equal(404, gone.Status);
        Assert.Equal("search_context_missing_exception", gone.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
        // Closing again frees nothing and is still a 200: ClosePointInTimeResponse.status() is OK when succeeded.
        var again = await Es.SendAsync(HttpMethod.Delete, "/_pit", new JsonObject { ["id"] = pit });
        Assert.Equal(200, again.Status);
        Assert.Equal("""{"succeeded":true,"num_freed":0}""", again.Json.ToJsonString());
    }

    [Fact]
    public async Task PointInTime_OpenSearch_CreateSearchDelete()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        await es.BulkAsync(Books(1, 3));
        var open = await es.PostAsync("/books/_search/point_in_time?keep_alive=1m");
        Assert.Equal(200, open.Status);
        var pit = open.Json["pit_id"]!.GetValue<string>();
        Assert.True(open.Json["creation_time"]!.GetValue<long>() > 0);
        // Elasticsearch's route is not OpenSearch's.
        Assert.Equal(400, (await es.PostAsync("/books/_pit?keep_alive=1m")).Status);

        var page = await es.PostAsync("/_search", new JsonObject { ["size"] = 10, ["pit"] = new JsonObject { ["id"] = pit, ["keep_alive"] = "1m" } });
        Assert.Equal(3, Ids(page).Length);
        Assert.Equal(pit, page.Json["pit_id"]!.GetValue<string>());

        var deleted = await es.SendAsync(HttpMethod.Delete, "/_search/point_in_time", new JsonObject { ["pit_id"] = new JsonArray(pit) });
        Assert.Equal(200, deleted.Status);
        Assert.Equal(new JsonObject { ["pits"] = new JsonArray(new JsonObject { ["successful"] = true, ["pit_id"] = pit }) }.ToJsonString(), deleted.Json.ToJsonString());
        Assert.Equal(404, (await es.PostAsync("/_search", new JsonObject { ["pit"] = new JsonObject { ["id"] = pit } })).Status);
    }

    [Fact]
    public async Task HiddenIndex_OnlyByNameOrExpandWildcards_AndCatIndices()
    {
        Assert.Equal(200, (await Es.PutAsync("/.reasoning", JsonNode.Parse("""{"settings":{"index.hidden":true}}"""))).Status);
        await Es.PutAsync("/.reasoning/_doc/r1?refresh=true", JsonNode.Parse("""{"title":"river reasoning"}"""));

        foreach (var path in new[] { "/*/_search", "/_search", "/_all/_search", "/*/_count" })
        {
            var r = await Es.PostAsync(path, JsonNode.Parse("""{"query":{"match":{"title":"river"}}}"""));
            Assert.Equal(5, r.Json["hits"]?["total"]?["value"]?.GetValue<int>() ?? r.Json["count"]!.GetValue<int>());
        }

        Assert.Equal(["r1"], Ids(await Es.GetAsync("/.reasoning/_search")));
        Assert.Equal(6, (await Es.GetAsync("/*/_search?expand_wildcards=all")).Json["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.Equal(["r1"], Ids(await Es.GetAsync("/.reas*/_search")));
        Assert.Equal("true", (await Es.GetAsync("/.reasoning")).Json[".reasoning"]!["settings"]!["index"]!["hidden"]!.GetValue<string>());

        var json = await Es.GetAsync("/_cat/indices?format=json&h=index,docs.count,health");
        Assert.Equal("""[{"index":"books","docs.count":"5","health":"green"}]""", json.Json.ToJsonString());
        var all = await Es.GetAsync("/_cat/indices?format=json&h=index&s=index:desc&expand_wildcards=all");
        Assert.Equal("""[{"index":"books"},{"index":".reasoning"}]""", all.Json.ToJsonString());

        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        var text = await http.GetAsync("/_cat/indices?v&h=index,pri,docs.count");
        Assert.Equal("text/plain", text.Content.Headers.ContentType!.MediaType);
        Assert.Equal("index pri docs.count\nbooks   1          5\n", await text.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/_cluster/health", "GET")]
    [InlineData("/books/_search", "GET,POST")]
    [InlineData("/books/_doc/1", "GET,POST,PUT,DELETE,HEAD")]
    public async Task Options_OnAKnownPath_Is200WithAllowAndNoBody(string path, string allow)
    {
        // RestController.handleOptionsRequest: OPTIONS that no handler of a known path takes is a 200 with an empty
        // text/plain body and Allow naming the path's methods. It was the 405 "Incorrect HTTP method ..." answer.
        var r = await Es.SendAsync(HttpMethod.Options, path);
        Assert.Equal((200, (JsonNode?)null, allow, "text/plain", 0L), (r.Status, r.Body, string.Join(',', r.ContentHeaders!.Allow), r.ContentHeaders.ContentType?.MediaType, r.ContentHeaders.ContentLength));
    }

    [Fact]
    public async Task WrongMethodOrPath_GetsElasticsearchsOwnAnswers()
    {
        var put = await Es.PutAsync("/books/_search", JsonNode.Parse("{}"));
        Assert.Equal(405, put.Status);
        Assert.Equal("""{"error":"Incorrect HTTP method for uri [/books/_search] and method [PUT], allowed: [GET, POST]","status":405}""", put.Json.ToJsonString());
        Assert.Equal("GET,POST", string.Join(',', put.ContentHeaders!.Allow));

        var none = await Es.GetAsync("/books/_nope?pretty");
        Assert.Equal(400, none.Status);
        Assert.Equal("""{"error":"no handler found for uri [/books/_nope?pretty] and method [GET]"}""", none.Json.ToJsonString());

        // An API of one path segment that this backend lacks is an unknown endpoint, not an index: it was "no such index
        // [_alias]" (404) for GET and a 405 for POST /_aliases.
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/_alias"), (HttpMethod.Post, "/_aliases"), (HttpMethod.Get, "/_stats") })
        {
            var unknown = await Es.SendAsync(method, path, method == HttpMethod.Post ? """{"actions":[]}""" : null);
            Assert.Equal((400, $$"""{"error":"no handler found for uri [{{path}}] and method [{{method.Method}}]"}"""), (unknown.Status, unknown.Json.ToJsonString()));
        }

        // MethodHandlers.getHandler looks HEAD up as it is: on a route that does not register it (all but /, /{index} and
        // /{index}/_doc/{id}) it is handleNoHandlerFound's 405, its Allow the path's methods, no body. It was a 200.
        foreach (var (path, allow) in new[] { ("/books/_search", "GET,POST"), ("/_cat/indices", "GET"), ("/_cluster/health", "GET"), ("/books/_mapping", "GET"), ("/_scripts/x", "GET,POST,PUT,DELETE") })
        {
            var head = await Es.SendAsync(HttpMethod.Head, path);
            Assert.Equal((405, (JsonNode?)null, allow), (head.Status, head.Body, string.Join(',', head.ContentHeaders!.Allow)));
        }

        foreach (var path in new[] { "/", "/books", "/books/_doc/1" })
        {
            Assert.Equal(200, (await Es.SendAsync(HttpMethod.Head, path)).Status);
        }
    }

    [Theory]
    [InlineData("text/plain", 406, """{"error":"Content-Type header [text/plain] is not supported","status":406}""")]
    [InlineData("application/x-www-form-urlencoded", 406, """{"error":"Content-Type header [application/x-www-form-urlencoded] is not supported","status":406}""")]
    [InlineData(null, 406, """{"error":"Content-Type header is missing","status":406}""")]
    [InlineData("application/json; charset=UTF-8", 200, null)]
    public async Task ContentType_OfABody_IsCheckedAsElasticsearchDoes(string? contentType, int status, string? answer)
    {
        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/books/_search") { Content = new ByteArrayContent("{\"size\":0}"u8.ToArray()) };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var response = await http.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        if (answer is not null)
        {
            Assert.Equal(answer, await response.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    // Elasticsearch's RestCompatibleVersionHelperTests.testAcceptAndContentTypeCombinations: with a body, Accept and
    // Content-Type name the same compatible version, or neither names one (a header without one stands for version 9).
    [InlineData("application/vnd.elasticsearch+json; compatible-with=8", "application/vnd.elasticsearch+json; compatible-with=8", true, null)]
    [InlineData("application/vnd.elasticsearch+json; compatible-with=9", "application/vnd.elasticsearch+json; compatible-with=9", true, null)]
    [InlineData(null, "application/json", true, null)]
    [InlineData("application/json", "application/json", true, null)]
    [InlineData("application/vnd.elasticsearch+json; compatible-with=9", "application/json", true, "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. ")]
    [InlineData(null, "application/vnd.elasticsearch+json; compatible-with=9", true, "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. ")]
    [InlineData("application/vnd.elasticsearch+json; compatible-with=8", "application/json", true, "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. ")]
    [InlineData(null, "application/vnd.elasticsearch+json; compatible-with=8", true, "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. ")]
    // What elasticsearch-js 9 sends with every body.
    [InlineData("application/vnd.elasticsearch+json; compatible-with=9,text/plain", "application/vnd.elasticsearch+json; compatible-with=9", true, null)]
    // No body: the Content-Type is not read, not even its version.
    [InlineData("application/vnd.elasticsearch+json; compatible-with=8", "application/json", false, null)]
    [InlineData(null, "application/vnd.elasticsearch+json; compatible-with=7", false, null)]
    public async Task AcceptAndContentType_OfABody_NameTheSameCompatibleVersion(string? accept, string contentType, bool body, string? refused)
    {
        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        using var request = new HttpRequestMessage(body ? HttpMethod.Post : HttpMethod.Get, "/books/_search")
        {
            Content = new ByteArrayContent(body ? "{\"size\":0}"u8.ToArray() : []),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (refused is null)
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            return;
        }

        Assert.Equal(400, (int)response.StatusCode);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("media_type_header_exception", error["type"]!.GetValue<string>());
        Assert.Equal("Invalid media-type value on headers [Accept, Content-Type]", error["reason"]!.GetValue<string>());
        Assert.Equal("status_exception", error["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal($"{refused}Accept={accept ?? "null"}, Content-Type={contentType}", error["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task CompatibleWith_AnOldMajor_IsA400MediaTypeError()
    {
        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/books/_search");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.elasticsearch+json; compatible-with=7");
        using var response = await http.SendAsync(request);
        Assert.Equal(400, (int)response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("media_type_header_exception", error["type"]!.GetValue<string>());
        Assert.StartsWith("Accept version must be either version 9 or 8, but found 7.", error["caused_by"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
