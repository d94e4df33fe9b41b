using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.MSearch;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Inference;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// _msearch and the error paths as a real cluster makes them look: the proxy in front of a backend that gzips,
/// warns, echoes X-Opaque-Id, can be slow and can answer garbage (<see cref="FrontBackend"/>).
/// </summary>
public sealed class MsearchFidelityTests : IAsyncLifetime
{
    private const int BodyLimit = 64 * 1024;
    private const int MaxItems = 30;
    private const string SlowItem = "{\"index\":\"slow\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"enabled\":false}}}\n";
    private FrontBackend _front = null!;
    private ProxyStack _stack = null!;

    public async Task InitializeAsync() => _stack = await ProxyStack.StartAsync(
        new Dictionary<string, string?>
        {
            ["Rank1:Proxy:MaxContentLength"] = BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Rank1:Proxy:MaxMsearchItems"] = MaxItems.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        inFront: async embedded => (_front = await FrontBackend.StartAsync(embedded)).Url);

    public async Task DisposeAsync()
    {
        await _stack.DisposeAsync();
        await _front.DisposeAsync();
    }

    private static HttpClient GzipAcceptingClient(Uri proxy) =>
        new(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = proxy };

    private static async Task<byte[]> Gunzip(HttpResponseMessage response)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        using var inflated = new MemoryStream();
        await using (var gz = new System.IO.Compression.GZipStream(new MemoryStream(bytes), System.IO.Compression.CompressionMode.Decompress))
        {
            await gz.CopyToAsync(inflated);
        }

        return inflated.ToArray();
    }

    [Theory]
    [InlineData("_search", "docs", "gzip")]
    [InlineData("_search", "plain", null)]
    [InlineData("_msearch", "docs", "gzip")]
    [InlineData("_msearch", "plain", null)]
    public async Task RerankedAnswer_ToAClientAcceptingGzip_IsInTheEncodingTheClusterChose(string endpoint, string index, string? expected)
    {
        // A cluster that compresses (Elasticsearch's default without TLS) gets its reranked answers compressed too; one
        // that does not (http.compression: false, or TLS) gets them plain: the proxy writes its answer in the encoding of
        // the cluster's own answer to this client, rather than deciding for the cluster.
        using var http = GzipAcceptingClient(_stack.Proxy.Url);
        using var request = endpoint == "_search"
            ? new HttpRequestMessage(HttpMethod.Post, $"{index}/_search") { Content = new StringContent("""{"query":{"match":{"text":"onion eyes"}}}""", Encoding.UTF8, "application/json") }
            : new HttpRequestMessage(HttpMethod.Post, "_msearch") { Content = new StringContent($"{{\"index\":\"{index}\"}}\n{{\"query\":{{\"match\":{{\"text\":\"onion eyes\"}}}}}}\n", Encoding.UTF8, "application/x-ndjson") };
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, response.Content.Headers.ContentEncoding.SingleOrDefault());
        var json = JsonNode.Parse(expected is null ? await response.Content.ReadAsByteArrayAsync() : await Gunzip(response))!;
        var hits = endpoint == "_search" ? json["hits"]!["hits"]! : json["responses"]![0]!["hits"]!["hits"]!;
        Assert.Equal(endpoint == "_search" ? "applied" : "applied=1", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.NotNull(hits[0]!["fields"]!["_rank1.score"]);
    }

    [Fact]
    public async Task Msearch_GzipClientWithItemsNotReranked_AnswersEveryItemInElasticsearchShape()
    {
        var body = """
            {"index":"docs"}
            {"query":{"match":{"text":"onion eyes"}}}
            {"index":"docs"}
            {"query":{"match":{"text":"onion"}},"ext":{"rank1":{"enabled":false}}}
            {"index":"docs"}
            {"query":{"match":{"text":"onion"}},"size":0}
            {"index":"docs"}
            {"query":{"match":{"text":"onion"}},"sort":[{"topic":"asc"}]}
            {"index":"ghost"}
            {"query":{"match":{"text":"onion"}}}
            {"index":{}}
            {"query":{"match":{"text":"onion"}}}
            {"index":"garbage"}
            {"query":{"match":{"text":"onion"}}}

            """;
        using var http = GzipAcceptingClient(_stack.Proxy.Url);
        using var request = new HttpRequestMessage(HttpMethod.Post, "_msearch") { Content = new StringContent(body, Encoding.UTF8, "application/x-ndjson") };
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        request.Headers.Add("X-Opaque-Id", "my-msearch-7");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        // In the encoding of the backend's answer to the first item, as the cluster answers a client that accepts gzip.
        Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
        Assert.Equal("Elasticsearch", response.Headers.GetValues("X-Elastic-Product").Single());
        Assert.Equal("my-msearch-7", response.Headers.GetValues("X-Opaque-Id").Single());
        Assert.Equal(FrontBackend.Warning, response.Headers.GetValues("Warning").Single());
        Assert.Equal("applied=1, skipped=6", response.Headers.GetValues("X-Rank1-Rerank").Single());

        var responses = JsonNode.Parse(await Gunzip(response))!["responses"]!.AsArray();
        Assert.Equal([200, 200, 200, 200, 404, 400, 502], responses.Select(r => r!["status"]!.GetValue<int>()));
        Assert.Equal(["applied", "skipped", "skipped", "skipped", "skipped", "skipped", "skipped"], responses.Select(r => r!["_rank1"]!["rerank"]!.GetValue<string>()));
        Assert.NotNull(responses[0]!["hits"]!["hits"]![0]!["fields"]!["_rank1.score"]);
        Assert.Equal(await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}}}"""), responses[1]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Contains("size is 0", responses[2]!["_rank1"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("sorted by a field", responses[3]!["_rank1"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("index_not_found_exception", responses[4]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("parsing_exception", responses[5]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("rank1_backend_response_exception", responses[6]!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Msearch_ManyItems_HeaderStaysSmallAndMaxConcurrentSearchesBoundsTheBackend()
    {
        // The first two searches are held until both are in flight: the peak of 2 is reached by construction, and a
        // proxy that ran them one at a time fails here.
        _front.HoldSlowSearchesUntil(2);
        var sent = _stack.SendAsync(HttpMethod.Post, "_msearch?max_concurrent_searches=2", string.Concat(Enumerable.Repeat(SlowItem, 12)), "application/x-ndjson");
        await _front.SlowSearchesInFlightAsync();
        var r = await sent;
        Assert.Equal(200, r.Status);
        Assert.Equal(12, r.Json["responses"]!.AsArray().Count(x => x!["status"]!.GetValue<int>() == 200));
        Assert.Equal("skipped=12", r.Rerank);
        Assert.Equal(2, _front.PeakSlowSearches);
        // An msearch-level parameter: Elasticsearch does not pass it to each search.
        Assert.DoesNotContain(_front.QueryStrings, q => q.Contains("max_concurrent_searches", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Msearch_EmptyHeaderLine_IsTheDefaultHeader_AndEveryAnswerStaysInItsPlace()
    {
        // Elasticsearch 8/9's MultiSearchRequest.readMultiLineFormat (outside REST compatibility with 7): the line after a
        // header is its body, and an empty header line is the default header (here the path's index).
        // Before, empty lines were dropped: the next body was read as a header and every later answer moved.
        string[] queries = ["onion soup", "eye drops", "ancient egypt", "onion festival"];
        var body = "\n" + Body(queries[0]) + "{\"index\":\"docs\"}\n" + Body(queries[1]) + "\n" + Body(queries[2]) + "{}\n" + Body(queries[3]);
        var r = await _stack.SendAsync(HttpMethod.Post, "docs/_msearch", body, "application/x-ndjson");
        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal(queries.Length, responses.Count);
        for (var i = 0; i < queries.Length; i++)
        {
            Assert.Equal(200, responses[i]!["status"]!.GetValue<int>());
            var expected = (await _stack.BackendIdsAsync($$$"""{"query":{"match":{"text":"{{{queries[i]}}}"}},"size":1}""")).Single();
            Assert.Equal(expected, responses[i]!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>());
        }

        static string Body(string q) => """{"query":{"match":{"text":""" + JsonValue.Create(q).ToJsonString() + """}},"size":1,"ext":{"rank1":{"enabled":false}}}""" + "\n";
    }

    [Theory]
    [InlineData("\n{}\n")]
    [InlineData("[]\n")]
    public async Task Msearch_InFrontOfOpenSearch_LinesAreReadAsOpenSearchReadsThem(string head)
    {
        // OpenSearch's readMultiLineFormat skips a \n at the body's first byte ("support first line with \n"), and reads
        // a header with parser.map() (an array: no keys) without Elasticsearch 8+'s check for a token after it: each body
        // is one search for "eye drops" on the path's index. Read as Elasticsearch 8/9 reads them, the first would be a
        // match_all with the query line left as a header with no body (a wrong answer and no error), the second a 400.
        await using var stack = await ProxyStack.StartAsync(flavor: Rank1.EmbeddedSearch.SearchFlavor.OpenSearch);
        const string Query = """{"query":{"match":{"text":"eye drops"}},"size":1,"ext":{"rank1":{"enabled":false}}}""";
        var r = await stack.SendAsync(HttpMethod.Post, "docs/_msearch", head + Query + "\n", "application/x-ndjson");
        Assert.Equal(200, r.Status);
        var only = Assert.Single(r.Json["responses"]!.AsArray());
        var expected = (await stack.BackendIdsAsync("""{"query":{"match":{"text":"eye drops"}},"size":1}""")).Single();
        Assert.Equal(expected, only!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>());
    }

    // Each expectation is Elasticsearch's own (9.x): RestMultiSearchAction.parseRequest reads every line through
    // MultiSearchRequest.readMultiLineFormat before any search runs, so one bad line fails the whole msearch. Header:
    // an unknown key is IllegalArgumentException "key [..] is not supported in the metadata section"; parser.map() reads
    // an array as no keys and the check after it throws XContentParseException "Unexpected token after end of object"
    // at the array's first token; Jackson's errors are XContentParseException, JsonEOFException XContentEOFException
    // (JsonXContentParser); a repeated key is Jackson's strict duplicate detection. Body: SearchSourceBuilder.parseXContent's
    // ParsingException "Expected [START_OBJECT] but found [..]" (an empty line: no token, [null]).
    private const string OkPair = "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":1}\n";

    [Theory]
    [InlineData("{\"index\":\"docs\",\"header\":\"x\"}\n{}\n", "illegal_argument_exception", "key [header] is not supported in the metadata section")]
    [InlineData("[]\n{}\n", "x_content_parse_exception", "[1:2] Unexpected token after end of object")]
    [InlineData("{\"index\":\"docs\",\"index\":\"x\"}\n{}\n", "x_content_parse_exception", "[1:17] Duplicate field 'index'")]
    [InlineData("{\"index\":docs}\n{}\n", "x_content_parse_exception", "[1:")]
    [InlineData("{\"index\":\"docs\"\n{}\n", "x_content_e_o_f_exception", "[1:")]
    [InlineData("{\"index\":\"docs\"}\n[1]\n", "parsing_exception", "Expected [START_OBJECT] but found [START_ARRAY]")]
    [InlineData("{\"index\":\"docs\"}\n\n", "parsing_exception", "Expected [START_OBJECT] but found [null]")]
    [InlineData("{\"index\":\"docs\"}\n{\"size\":1,\"size\":2}\n", "x_content_parse_exception", "[1:11] Duplicate field 'size'")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":\n", "x_content_e_o_f_exception", "[1:")]
    // SearchSourceBuilder.parseXContent calls from(parser.intValue()) and size(..), which throw IllegalArgumentException
    // on a negative value (server/.../search/builder/SearchSourceBuilder.java), while the line is read: reranked or not,
    // with a string value as parser.intValue() reads it. Before, the proxy made each one that item's 400.
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"from\":-1}\n", "illegal_argument_exception", "[from] parameter cannot be negative but was [-1]")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":\"-3\"}\n", "illegal_argument_exception", "[size] parameter cannot be negative, found [-3]")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"from\":-2,\"ext\":{\"rank1\":{\"enabled\":false}}}\n", "illegal_argument_exception", "[from] parameter cannot be negative but was [-2]")]
    // parser.intValue() reads the number -1.0 as -1 (AbstractXContentParser.intValue(coerce: true) takes Jackson's
    // getIntValue()), so it is refused as -1 is. Before, the proxy read it as -1 only for a reranked item, and sent this one on.
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"from\":-1.0,\"ext\":{\"rank1\":{\"enabled\":false}}}\n", "illegal_argument_exception", "[from] parameter cannot be negative but was [-1]")]
    // parser.intValue()'s own refusals are thrown while the line is read too: reranked or not, before any search runs.
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"from\":\"abc\",\"ext\":{\"rank1\":{\"enabled\":false}}}\n", "number_format_exception", "For input string: \"abc\"")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"from\":2147483648,\"ext\":{\"rank1\":{\"enabled\":false}}}\n", "x_content_parse_exception", "[1:54] Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"query\":{\"match\":{\"text\":\"onion\"}},\"from\":2147483648,\"ext\":{\"rank1\":{\"enabled\":false}}}\"; line: 1, column: 54]")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":\"1e20\"}\n", "illegal_argument_exception", "Value [1e20] is out of range for an integer")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":-1.5}\n", "illegal_argument_exception", "[size] parameter cannot be negative, found [-1]")]
    // track_total_hits is read there too: a boolean (or "true"/"false"), else parser.intValue() with its errors, then
    // trackTotalHitsUpTo's IllegalArgumentException below -1. Before, the proxy sent the item on and the backend's
    // refusal stayed that item's error.
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"track_total_hits\":\"1e20\"}\n", "illegal_argument_exception", "Value [1e20] is out of range for an integer")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"track_total_hits\":-5,\"ext\":{\"rank1\":{\"enabled\":false}}}\n", "illegal_argument_exception", "[track_total_hits] parameter must be positive or equals to -1, got -5")]
    // readMultiLineFormat reads on past each line's object (parser.nextToken(), MultiSearchRequestTests.testFailOnExtraCharacters):
    // a token there is "Unexpected token after end of object" at its column. Before, a body line's was never read (the
    // search ran) and a header line's was System.Text.Json's "'{' is invalid after a single JSON value".
    [InlineData("{\"index\":\"docs\"}{{{{{extra chars that shouldn't be here\n{}\n", "x_content_parse_exception", "[1:17] Unexpected token after end of object")]
    [InlineData("{\"index\":\"docs\"}\n{ \"query\": {\"match_all\": {}}}{{{{even more chars\n", "x_content_parse_exception", "[1:30] Unexpected token after end of object")]
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"enabled\":false}}} {\"size\":1}\n", "x_content_parse_exception", "[1:72] Unexpected token after end of object")]
    // readMultiLineFormat: searchRequest.searchType(nodeStringValue(..)), SearchType.fromString's IllegalArgumentException.
    [InlineData("{\"index\":\"docs\",\"search_type\":\"scan\"}\n{}\n", "illegal_argument_exception", "No search type for [scan]")]
    // Its booleans: request_cache with nodeBooleanValue(value, key) ("Could not convert [key] to boolean", caused by
    // Booleans.parseBoolean's refusal), ccs_minimize_roundtrips with nodeBooleanValue(value) (that refusal itself), and
    // allow_partial_search_results with nodeBooleanValue(value, null), so naming [null]. Before, the proxy sent each one
    // on as that search's URL parameter, and the backend's refusal was that item's error.
    [InlineData("{\"index\":\"docs\",\"request_cache\":\"yes\"}\n{}\n", "illegal_argument_exception", "Could not convert [request_cache] to boolean")]
    [InlineData("{\"index\":\"docs\",\"requestCache\":1}\n{}\n", "illegal_argument_exception", "Could not convert [requestCache] to boolean")]
    [InlineData("{\"index\":\"docs\",\"ccs_minimize_roundtrips\":\"no\"}\n{}\n", "illegal_argument_exception", "Failed to parse value [no] as only [true] or [false] are allowed.")]
    [InlineData("{\"index\":\"docs\",\"allow_partial_search_results\":0}\n{}\n", "illegal_argument_exception", "Could not convert [null] to boolean")]
    // The proxy's own settings, read where Elasticsearch reads the body (it would refuse ext.rank1 itself at parse time).
    [InlineData("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"window\":\"many\"}}}\n", "illegal_argument_exception", "[ext.rank1.window]")]
    public async Task Msearch_BadHeaderOrBodyLine_FailsTheWholeRequestAsElasticsearchDoes_BeforeAnySearchRuns(string badPair, string type, string reason)
    {
        _front.Hold(); // a search of docs that reached the backend would complete SearchArrived (and wait here)
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", OkPair + badPair + OkPair, "application/x-ndjson");
        _front.Release();

        Assert.Equal(400, r.Status);
        Assert.Equal(400, r.Json["status"]!.GetValue<int>());
        Assert.Null(r.Json["responses"]);
        Assert.Equal(type, r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal(type, r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
        Assert.StartsWith(reason, r.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(_front.SearchArrived.IsCompleted);
    }

    // Errors the backend finds while parsing a body, which the proxy, asking it one search at a time, learns of from that
    // search's answer: SearchSourceBuilder.parseXContent's ParsingException "Unknown key for a START_OBJECT in [nope]."
    // and AbstractQueryBuilder.parseInnerQueryBuilder's "unknown query [nope]" (its NamedObjectNotFoundException wrapped
    // in a ParsingException). Elasticsearch reads every body before it runs any search, so the whole msearch is that 400;
    // the first such item in order is the one reported, as Elasticsearch stops at the first bad line.
    [Theory]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"nope\":{}}", "Unknown key for a START_OBJECT in [nope].")]
    [InlineData("{\"query\":{\"nope\":{}}}", "unknown query [nope]")]
    [InlineData("{\"query\":{\"nope\":{}},\"ext\":{\"rank1\":{\"enabled\":false}}}", "unknown query [nope]")]
    public async Task Msearch_BodyTheBackendRefusesWhileParsing_FailsTheWholeRequest(string badBody, string reason)
    {
        var body = OkPair + "{\"index\":\"docs\"}\n" + badBody + "\n" + "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"also\":1}\n" + OkPair;
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");

        Assert.Equal(400, r.Status);
        Assert.Equal(400, r.Json["status"]!.GetValue<int>());
        Assert.Null(r.Json["responses"]);
        Assert.Equal("parsing_exception", r.Json["error"]!["type"]!.GetValue<string>());
        Assert.StartsWith(reason, r.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    // The refusal is the whole msearch's answer, so the other items' reranks are wasted model time: they stop when it
    // arrives. The judge holds every window until its call is cancelled, and the deadline (10 minutes) is far away, so
    // an msearch that waited for the other item's rerank would not answer: the waits are bounded (TestBounds.Hang, as the
    // stack's HttpClient is) so that such a proxy fails here as a hang rather than holding the run.
    private const string RefusedItem = "{\"index\":\"docs\"}\n{\"query\":{\"nope\":{}}}\n";
    private const string RerankedItem = "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion eyes\"}}}\n";

    // Sends the msearch to a proxy whose judge holds every window; with holdRefusal, the refused item's backend answer is
    // held until a rerank has started. The answer must be the refusal, a 400 parsing_exception.
    private static async Task<HoldingJudge> MsearchRefusedWhileParsingAsync(string path, string body, bool holdRefusal)
    {
        var judge = new HoldingJudge();
        FrontBackend front = null!;
        var stack = await ProxyStack.StartAsync(
            new() { ["Rank1:Proxy:Caps:Deadline"] = "00:10:00", ["Rank1:Proxy:Default:Deadline"] = "00:10:00" },
            s => s.AddSingleton<IPassageJudge>(judge),
            inFront: async embedded => (front = await FrontBackend.StartAsync(embedded)).Url);
        try
        {
            if (holdRefusal)
            {
                front.HoldMarked("\"nope\"");
            }

            var msearch = stack.SendAsync(HttpMethod.Post, path, body, "application/x-ndjson");
            if (holdRefusal)
            {
                await judge.Entered.WaitAsync(TestBounds.Hang);
                front.ReleaseMarked();
            }

            var r = await msearch.WaitAsync(TestBounds.Hang);
            Assert.Equal(400, r.Status);
            Assert.Equal("parsing_exception", r.Json["error"]!["type"]!.GetValue<string>());
            return judge;
        }
        finally
        {
            await stack.DisposeAsync();
            await front.DisposeAsync();
        }
    }

    // The refused item's backend answer is held until the other item's rerank has started: the refusal then cancels it.
    [Fact]
    public async Task Msearch_BodyTheBackendRefusesWhileParsing_CancelsARerankThatIsRunning()
    {
        var judge = await MsearchRefusedWhileParsingAsync("_msearch", RerankedItem + RefusedItem, holdRefusal: true);
        Assert.Equal((1, 0), (judge.Cancelled, judge.Running));
    }

    // One search at a time, the refused item first: the refusal has arrived before the other item's search is sent, so
    // its rerank never starts.
    [Fact]
    public async Task Msearch_BodyTheBackendRefusesWhileParsing_BeforeTheOtherItemsRerank_ThatRerankNeverStarts()
    {
        var judge = await MsearchRefusedWhileParsingAsync("_msearch?max_concurrent_searches=1", RefusedItem + RerankedItem, holdRefusal: false);
        Assert.False(judge.Entered.IsCompleted);
        Assert.Equal(0, judge.Running);
    }

    [Fact]
    public async Task Msearch_ErrorsFoundWhileTheSearchRuns_StayThatItemsAnswer()
    {
        // Found only when each search runs (TransportSearchAction): a missing index, alone or in a list, is
        // IndexNotFoundException (404) from IndexNameExpressionResolver; a sort on an unmapped field, and a query_string
        // that does not parse (QueryStringQueryBuilder.doToQuery's QueryShardException), fail on the shard.
        // Elasticsearch answers those in that item's place of a 200 msearch.
        var body = OkPair
            + "{\"index\":\"ghost\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n"
            + "{\"index\":\"docs,ghost\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"enabled\":false}}}\n"
            + "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"sort\":[{\"nope\":\"asc\"}]}\n"
            + "{\"index\":\"docs\"}\n{\"query\":{\"query_string\":{\"query\":\"text:(unbalanced\"}}}\n"
            + OkPair;
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");

        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal([200, 404, 404, 400, 400, 200], responses.Select(x => x!["status"]!.GetValue<int>()));
        Assert.Equal(["index_not_found_exception", "index_not_found_exception"], responses.Skip(1).Take(2).Select(x => x!["error"]!["type"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Msearch_NegativeFromInFrontOfOpenSearch_FailsTheWholeRequestInOpenSearchsWords()
    {
        // OpenSearch's SearchSourceBuilder.from() words it "[from] parameter cannot be negative, found [-1]"
        // (opensearch-project/OpenSearch server/.../search/builder/SearchSourceBuilder.java), also while parsing.
        await using var stack = await ProxyStack.StartAsync(flavor: Rank1.EmbeddedSearch.SearchFlavor.OpenSearch);
        var r = await stack.SendAsync(HttpMethod.Post, "docs/_msearch", "{}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n{}\n{\"from\":-1}\n", "application/x-ndjson");
        Assert.Equal(400, r.Status);
        Assert.Equal("illegal_argument_exception", r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal("[from] parameter cannot be negative, found [-1]", r.Json["error"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Msearch_BadHeaderBeforeAMissingFinalNewline_IsTheHeadersError()
    {
        // readMultiLineFormat reads line by line: the bad header throws before the end is reached without a newline.
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", "{\"nope\":1}\n{}\n{}\n{}", "application/x-ndjson");
        Assert.Equal(400, r.Status);
        Assert.Equal("key [nope] is not supported in the metadata section", r.Json["error"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_BackendHitWithALoneSurrogateEscape_IsRerankedWithU_FFFD_NotA500()
    {
        // Elasticsearch returns such a _source as it was indexed; the proxy reads the passage with U+FFFD in its place.
        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion tears"}}}""", "lonesurrogate/_search");
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal("onion \uFFFD tears", r.Json["hits"]!["hits"]![0]!["_source"]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Msearch_BackendItemWithALoneSurrogateEscape_IsAnsweredNotA500()
    {
        var body = "{\"index\":\"lonesurrogate\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"enabled\":false}}}\n" + OkPair;
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");
        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal([200, 200], responses.Select(x => x!["status"]!.GetValue<int>()));
        Assert.Equal("onion \uFFFD tears", responses[0]!["hits"]!["hits"]![0]!["_source"]!["text"]!.GetValue<string>());
    }

    // System.Text.Json checks a string's UTF-8 only when it is read: a hit whose text held a byte that is not UTF-8 passed
    // the parse and failed the search with an empty 500 where its passage was read. It is read with U+FFFD, as the lone
    // surrogate above.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SearchAndMsearch_BackendHitWithAByteThatIsNotUtf8_IsRerankedWithU_FFFD_NotA500(bool msearch)
    {
        var r = msearch
            ? await _stack.SendAsync(HttpMethod.Post, "_msearch", "{\"index\":\"notutf8\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n" + OkPair, "application/x-ndjson")
            : await _stack.SearchAsync("""{"query":{"match":{"text":"onion tears"}}}""", "notutf8/_search");
        Assert.Equal(200, r.Status);
        var answer = msearch ? r.Json["responses"]![0]! : r.Json;
        Assert.Equal("applied", msearch ? answer["_rank1"]!["rerank"]!.GetValue<string>() : r.Rerank);
        Assert.Equal("onion \uFFFD tears", answer["hits"]!["hits"]![0]!["_source"]!["text"]!.GetValue<string>());
    }

    // Elasticsearch takes a document as deep as Jackson reads (1,000 levels) under "dynamic": false and writes its stored
    // _source into the answer as it is, 4 levels deeper in a search answer and 6 in an msearch's. The proxy read answers
    // 1,000 levels deep: one such hit made every reranked search finding it a 502 (an msearch item's 502).
    [Fact]
    public async Task SearchAndMsearch_HitWhoseSourceIsAsDeepAsElasticsearchTakes_IsRerankedAndAnsweredWhole()
    {
        var search = await _stack.Http.PostAsync("deepsource/_search", ProxyStack.Json("""{"query":{"match":{"text":"onion"}}}"""));
        var text = await search.Content.ReadAsStringAsync();
        Assert.True(search.StatusCode == HttpStatusCode.OK, text[..Math.Min(text.Length, 600)]);
        Assert.Equal("applied", search.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.Equal(FrontBackend.DeepSourceLevels, ProxyStack.NestedLevels(Hit(ProxyStack.ParseDeep(text)["hits"]!["hits"]!)["_source"]!["blob"]));

        var body = "{\"index\":\"deepsource\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n" + OkPair;
        var msearch = await _stack.Http.PostAsync("_msearch", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        text = await msearch.Content.ReadAsStringAsync();
        Assert.True(msearch.StatusCode == HttpStatusCode.OK, text[..Math.Min(text.Length, 600)]);
        var item = ProxyStack.ParseDeep(text)["responses"]![0]!;
        Assert.True(item["status"]!.GetValue<int>() == 200, item.ToJsonString(new System.Text.Json.JsonSerializerOptions { MaxDepth = 2000 })[..600]);
        Assert.Equal("applied", item["_rank1"]!["rerank"]!.GetValue<string>());
        Assert.Equal(FrontBackend.DeepSourceLevels, ProxyStack.NestedLevels(Hit(item["hits"]!["hits"]!)["_source"]!["blob"]));

        static JsonNode Hit(JsonNode hits) => hits.AsArray().Single(h => h!["_id"]!.GetValue<string>() == "deep")!;
    }

    [Fact]
    public async Task Msearch_HeaderExpandWildcardsList_ReachesTheBackendCommaJoined()
    {
        // Before, a header value that was a list was dropped: the search ran with the default expand_wildcards.
        var body = "{\"index\":\"docs\",\"expand_wildcards\":[\"open\",\"hidden\"]}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"enabled\":false}}}\n";
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");
        Assert.Equal(200, r.Json["responses"]![0]!["status"]!.GetValue<int>());
        Assert.Contains(_front.QueryStrings, q => Uri.UnescapeDataString(q).Contains("expand_wildcards=open,hidden", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Msearch_HeaderCamelCaseKey_ReachesTheBackendAsItsUrlParameter()
    {
        // readMultiLineFormat takes "searchType" as "search_type"; forwarded as it was, the backend would refuse the parameter.
        var body = "{\"index\":\"docs\",\"searchType\":\"dfs_query_then_fetch\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}},\"ext\":{\"rank1\":{\"enabled\":false}}}\n";
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");
        Assert.Equal(200, r.Json["responses"]![0]!["status"]!.GetValue<int>());
        Assert.Contains(_front.QueryStrings, q => q.Contains("search_type=dfs_query_then_fetch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Msearch_MoreSearchesThanMaxMsearchItems_IsRefusedWholeBeforeAnySearchRuns()
    {
        _front.ResetPeak();
        var over = await _stack.SendAsync(HttpMethod.Post, "_msearch", string.Concat(Enumerable.Repeat(SlowItem, MaxItems + 1)), "application/x-ndjson");

        Assert.Equal(400, over.Status);
        Assert.Equal("illegal_argument_exception", over.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal(
            $"The msearch request holds [{MaxItems + 1}] searches, more than this proxy takes in one request [{MaxItems}] (Rank1:Proxy:MaxMsearchItems): send them in smaller requests",
            over.Json["error"]!["reason"]!.GetValue<string>());
        Assert.Equal(400, over.Json["status"]!.GetValue<int>());
        Assert.Equal(0, _front.SlowSearches);

        // At the cap every search runs.
        var atCap = await _stack.SendAsync(HttpMethod.Post, "_msearch", string.Concat(Enumerable.Repeat(SlowItem, MaxItems)), "application/x-ndjson");
        Assert.Equal(200, atCap.Status);
        Assert.Equal(MaxItems, atCap.Json["responses"]!.AsArray().Count(x => x!["status"]!.GetValue<int>() == 200));
        Assert.Equal(MaxItems, _front.SlowSearches);
    }

    /// <summary>
    /// All backend traffic shares one pool of Rank1:Backend:MaxConnections connections: with the pool at 3, an msearch
    /// running 8 searches at once never has more than 3 at the backend nor opens more than 3 connections (#18: a
    /// 10,000-item msearch had opened thousands of connections that stayed open).
    /// </summary>
    [Fact]
    public async Task Msearch_BackendPoolOfThree_NeverHasMoreThanThreeSearchesOrConnectionsAtTheBackend()
    {
        FrontBackend? front = null;
        var stack = await ProxyStack.StartAsync(new Dictionary<string, string?> { ["Rank1:Backend:MaxConnections"] = "3" },
            inFront: async embedded => (front = await FrontBackend.StartAsync(embedded)).Url);
        try
        {
            // The first three searches are held until all three are in flight (on the pool's three connections): the
            // peak of 3 is reached by construction, and a pool that let fewer through at a time fails here.
            front!.HoldSlowSearchesUntil(3);
            var sent = stack.SendAsync(HttpMethod.Post, "_msearch?max_concurrent_searches=8", string.Concat(Enumerable.Repeat(SlowItem, 24)), "application/x-ndjson");
            await front.SlowSearchesInFlightAsync();
            var r = await sent;

            Assert.Equal(200, r.Status);
            Assert.Equal(24, r.Json["responses"]!.AsArray().Count(x => x!["status"]!.GetValue<int>() == 200));
            Assert.Equal(24, front.SlowSearches);
            Assert.Equal(3, front.PeakSlowSearches);
            Assert.InRange(front.SlowConnections, 1, 3);
        }
        finally
        {
            await stack.DisposeAsync();
            if (front is not null)
            {
                await front.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task DotNetClient_MultiSearch_DefaultSettings_AcceptsTheAnswer()
    {
        var client = new ElasticsearchClient(new ElasticsearchClientSettings(_stack.Proxy.Url));
        var response = await client.MultiSearchAsync<ProxyClientDocument>(new MultiSearchRequest
        {
            Searches =
            [
                new SearchRequestItem(new MultisearchHeader { Indices = "docs" }, new MultisearchBody { Query = new global::Elastic.Clients.Elasticsearch.QueryDsl.MatchQuery { Field = "text", Query = "onion eyes" } }),
                new SearchRequestItem(new MultisearchHeader { Indices = "docs" }, new MultisearchBody { Size = 0, Query = new global::Elastic.Clients.Elasticsearch.QueryDsl.MatchQuery { Field = "text", Query = "onion" } }),
                new SearchRequestItem(new MultisearchHeader { Indices = "ghost" }, new MultisearchBody { Query = new global::Elastic.Clients.Elasticsearch.QueryDsl.MatchQuery { Field = "text", Query = "onion" } }),
            ],
        });
        // A missing index makes the client call the whole answer not "valid" (as Elasticsearch's own would): what
        // counts is that the call succeeded and every item was read, as a hit list or as an error.
        Assert.True(response.ApiCallDetails.HasSuccessfulStatusCode, response.DebugInformation);
        Assert.Null(response.ApiCallDetails.OriginalException);
        var items = response.Responses.ToArray();
        Assert.Equal(3, items.Length);
        var reranked = items[0].Match<MultiSearchItem<ProxyClientDocument>?>(ok => ok, _ => null);
        Assert.NotNull(reranked!.HitsMetadata.Hits.First().Fields!["_rank1.score"]);
        Assert.NotNull(items[1].Match<MultiSearchItem<ProxyClientDocument>?>(ok => ok, _ => null));
        var missing = items[2].Match<ErrorResponseBase?>(_ => null, error => error);
        Assert.Equal(404, missing!.Status);
    }

    // size and from as parser.intValue() refuses them (AbstractXContentParser.intValue: Double.parseDouble's
    // NumberFormatException for a string, Jackson's out-of-range error for a number, at where its parser stands).
    [Theory]
    [InlineData("""{"query":{"match":{"text":"onion"}},"size":"abc"}""", "number_format_exception", "For input string: \"abc\"")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":1e400}", "x_content_parse_exception", "[1:49] Numeric value (1e400) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":1e400}\"; line: 1, column: 49]")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":true}", "x_content_parse_exception", "[1:48] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors\n at [Source: (byte[])\"{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":true}\"; line: 1, column: 48]")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"from":"1e20"}""", "illegal_argument_exception", "Value [1e20] is out of range for an integer")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"from":null}""", "parsing_exception", "Unknown key for a VALUE_NULL in [from].")]
    // explain as SearchSourceBuilder reads it, with parser.booleanValue(): Booleans.parseBoolean's refusal of a string
    // (it was a parsing_exception in words of this proxy's own).
    [InlineData("""{"query":{"match":{"text":"onion"}},"explain":"maybe"}""", "illegal_argument_exception", "Failed to parse value [maybe] as only [true] or [false] are allowed.")]
    // A number: Jackson's getBooleanValue() refusal, wrapped by JsonXContentParser.doBooleanValue with the
    // place and Jackson's location (its source quoted), as for any value an accessor refuses. Before, the proxy said it
    // with neither ("Current token (VALUE_NUMBER_INT) not of boolean type"), where the backend gives both.
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"explain\":1}", "x_content_parse_exception", "[1:48] Current token (VALUE_NUMBER_INT) not of boolean type\n at [Source: (byte[])\"{\"query\":{\"match\":{\"text\":\"onion\"}},\"explain\":1}\"; line: 1, column: 48]")]
    // null, an object or an array is no token SearchSourceBuilder.parseXContent reads for explain: its ParsingException
    // "Unknown key for a .. in [explain]." (server/.../search/builder/SearchSourceBuilder.java). Before, the proxy
    // answered Jackson's refusal of an object or an array, and took null as false.
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"explain\":{}}", "parsing_exception", "Unknown key for a START_OBJECT in [explain].")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"explain\":[true]}", "parsing_exception", "Unknown key for a START_ARRAY in [explain].")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"explain\":null}", "parsing_exception", "Unknown key for a VALUE_NULL in [explain].")]
    public async Task Search_BadValues_Get400InElasticsearchShape(string body, string type, string reason)
    {
        var r = await _stack.SearchAsync(body);
        Assert.Equal(400, r.Status);
        Assert.Equal((type, reason), (r.Json["error"]!["type"]!.GetValue<string>(), r.Json["error"]!["reason"]!.GetValue<string>()));
    }

    // SearchSourceBuilder.parseXContent refuses a null (no Token.isValue()), an object or an array for from, size or
    // track_total_hits with its ParsingException at parser.getTokenLocation(): the value's line and col, in the error and
    // its root cause, as the backend says it (and as the proxy said it for explain). The proxy gave no place for them.
    [Theory]
    [InlineData("""{"query":{"match":{"text":"onion"}},"from":null}""", "Unknown key for a VALUE_NULL in [from].", 1, 44)]
    [InlineData("""{"query":{"match":{"text":"onion"}},"size":null}""", "Unknown key for a VALUE_NULL in [size].", 1, 44)]
    [InlineData("""{"query":{"match":{"text":"onion"}},"track_total_hits":null}""", "Unknown key for a VALUE_NULL in [track_total_hits].", 1, 56)]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\n\"size\":{}}", "Unknown key for a START_OBJECT in [size].", 2, 8)]
    [InlineData("""{"size":1,"from":[1]}""", "Unknown key for a START_ARRAY in [from].", 1, 18)]
    public async Task Search_AnIntKeyThatIsNullAnObjectOrAnArray_IsAParsingExceptionAtTheValue(string body, string reason, int line, int col)
    {
        var r = await _stack.SearchAsync(body);
        Assert.Equal(400, r.Status);
        foreach (var error in new[] { r.Json["error"]!, r.Json["error"]!["root_cause"]![0]! })
        {
            Assert.Equal(("parsing_exception", reason, (int?)line, (int?)col),
                (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>(), error["line"]?.GetValue<int>(), error["col"]?.GetValue<int>()));
        }
    }

    [Fact]
    public async Task Search_InvalidUtf8_Gets400()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"query":{"match":{"text":"onion XX"}}}""");
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0xC3;
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0x28; // 0xC3 0x28: a lead byte without its continuation
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _stack.Http.PostAsync("docs/_search", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("parsing_exception", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_FieldNamesUnsafeForAHeader_NeverReachTheHeaderRaw()
    {
        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"ext":{"rank1":{"fields":["café\r\nX-Injected: 1"]}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        Assert.Equal("no passage text in fields [caf???X-Injected: 1]", r.Headers.GetValues("X-Rank1-Reason").Single());
        Assert.False(r.Headers.Contains("X-Injected"));
    }

    [Fact]
    public async Task Search_BackendAnswersGarbage_Is502InElasticsearchShape()
    {
        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""", "garbage/_search");
        Assert.Equal(502, r.Status);
        Assert.Equal("rank1_backend_response_exception", r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal(502, r.Json["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task Search_GzipHeaderWithGarbageBody_Is400NotMatchAll()
    {
        using var content = new ByteArrayContent([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff, .. "garbage that is not deflate"u8.ToArray()]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("gzip");
        using var response = await _stack.Http.PostAsync("docs/_search", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid gzip", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("docs/_search", "{\"query\":{\"match\":{\"text\":\"", "\"}}}")]
    [InlineData("_msearch", "{}\n{\"query\":{\"match\":{\"text\":\"", "\"}}}\n")]
    public async Task GzipBody_DecompressingPastTheLimit_Is413InElasticsearchShape_NotInflatedWhole(string path, string head, string tail)
    {
        // A few hundred bytes on the wire that inflate past http.max_content_length (a decompression bomb, in small).
        var payload = Encoding.UTF8.GetBytes(head + new string('a', BodyLimit) + tail);
        using var wire = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(wire, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(payload);
        }

        Assert.True(wire.Length < BodyLimit / 16, $"the gzipped body is {wire.Length} bytes");
        using var content = new ByteArrayContent(wire.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue(path.EndsWith("_msearch", StringComparison.Ordinal) ? "application/x-ndjson" : "application/json");
        content.Headers.ContentEncoding.Add("gzip");
        using var response = await _stack.Http.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(413, json["status"]!.GetValue<int>());
        Assert.Equal("content_too_long_exception", json["error"]!["type"]!.GetValue<string>());
        Assert.Equal($"request body is too large once decompressed: the limit (http.max_content_length, Rank1:Proxy:MaxContentLength) is {BodyLimit} bytes",
            json["error"]!["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("_msearch?q=onion", "request [/_msearch] contains unrecognized parameter: [q]")]
    [InlineData("docs/_msearch?size=1&from=2&typed_keys=true", "request [/docs/_msearch] contains unrecognized parameters: [from], [size]")]
    // BaseRestHandler.unrecognized suggests the parameters the handler read that are near (LevenshteinDistance over 0.5);
    // RestMultiSearchAction reads max_concurrent_searches only when it is given (hasParam first).
    [InlineData("_msearch?serch_type=dfs_query_then_fetch", "request [/_msearch] contains unrecognized parameter: [serch_type] -> did you mean [search_type]?")]
    [InlineData("docs/_msearch?typed_key=true&q=x", "request [/docs/_msearch] contains unrecognized parameters: [q], [typed_key] -> did you mean [typed_keys]?")]
    [InlineData("_msearch?max_concurent_searches=2", "request [/_msearch] contains unrecognized parameter: [max_concurent_searches]")]
    [InlineData("_msearch?max_concurent_searches=2&max_concurrent_searches=3", "request [/_msearch] contains unrecognized parameter: [max_concurent_searches] -> did you mean [max_concurrent_searches]?")]
    public async Task Msearch_UrlParameterElasticsearchDoesNotTake_Is400NotCopiedOntoEverySearch(string path, string reason)
    {
        using var response = await _stack.Http.PostAsync(path, new StringContent("{}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", Encoding.UTF8, "application/x-ndjson"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(400, json["status"]!.GetValue<int>());
        Assert.Equal("illegal_argument_exception", json["error"]!["type"]!.GetValue<string>());
        Assert.Equal(reason, json["error"]!["reason"]!.GetValue<string>());
    }

    // BaseRestHandler.handleRequest refuses the parameters a handler did not read only after its prepareRequest, in which
    // RestMultiSearchAction.parseRequest reads max_concurrent_searches and then every line: a bad line (or a bad
    // max_concurrent_searches) is the answer even beside an unknown parameter. The proxy and the backend refused the
    // parameter first.
    [Theory]
    [InlineData("_msearch?q=onion", "{\"index\":\"docs\",\"nope\":1}\n{}\n", "illegal_argument_exception", "key [nope] is not supported in the metadata section")]
    [InlineData("_msearch?q=onion", "{\"index\":\"docs\"}\n[]\n", "parsing_exception", "Expected [START_OBJECT] but found [START_ARRAY]")]
    [InlineData("_msearch?q=onion&max_concurrent_searches=abc", "{}\n{}\n", "illegal_argument_exception", "Failed to parse int parameter [max_concurrent_searches] with value [abc]")]
    [InlineData("_msearch/template?q=onion", "{\"index\":\"docs\"}\n{\"params\":{}}\n", "illegal_argument_exception", "Malformed search template")]
    // A parameter the msearch does not take never reaches its searches while their lines are read: a ?size=abc or
    // ?from=-1 is the unrecognized parameter, not that search's parse error.
    [InlineData("_msearch?size=abc", "{}\n{}\n", "illegal_argument_exception", "request [/_msearch] contains unrecognized parameter: [size]")]
    [InlineData("docs/_msearch?from=-1", "{}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", "illegal_argument_exception", "request [/docs/_msearch] contains unrecognized parameter: [from]")]
    [InlineData("_msearch?sort=nope:sideways&track_total_hits=maybe", "{\"index\":\"docs\"}\n{}\n", "illegal_argument_exception", "request [/_msearch] contains unrecognized parameters: [sort], [track_total_hits]")]
    public async Task Msearch_BadLinesAndUnknownUrlParameters_AreAnsweredInElasticsearchsOrder(string path, string body, string type, string reason)
    {
        using var backend = new HttpClient { BaseAddress = _stack.Backend.Url };
        foreach (var client in new[] { backend, _stack.Http })
        {
            using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
            Assert.Equal((type, reason), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task Connect_Is405InElasticsearchShape()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_stack.Proxy.Url.Host, _stack.Proxy.Url.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(stream, Encoding.UTF8);
        Assert.StartsWith("HTTP/1.1 405", await reader.ReadLineAsync(), StringComparison.Ordinal);
        string? line;
        var length = 0;
        while ((line = await reader.ReadLineAsync()) is { Length: > 0 })
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        var body = new char[length];
        await reader.ReadBlockAsync(body);
        var json = JsonNode.Parse(new string(body))!;
        Assert.Equal(405, json["status"]!.GetValue<int>());
        Assert.Equal("method_not_allowed_exception", json["error"]!["type"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(true, "docs/_search")]
    [InlineData(false, "docs/_search")]
    [InlineData(true, "_msearch")]
    [InlineData(true, "_bulk")]
    [InlineData(false, "_bulk")]
    public async Task Body_OverTheLimit_Is413InElasticsearchShape(bool chunked, string path)
    {
        var payload = Encoding.UTF8.GetBytes("{\"query\":{\"match\":{\"text\":\"" + new string('a', BodyLimit) + "\"}}}");
        using HttpContent content = chunked ? new StreamContent(new MemoryStream(payload)) : new ByteArrayContent(payload);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (chunked)
        {
            content.Headers.ContentLength = null;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.TransferEncodingChunked = chunked;
        using var response = await _stack.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(413, json["status"]!.GetValue<int>());
        Assert.Contains("http.max_content_length", json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""["topic"]""", """{"includes":["topic","text","title"]}""", new[] { "topic" })]
    [InlineData("""false""", """{"includes":["text","title"]}""", new string[0])]
    [InlineData("""{"includes":["top*"],"excludes":["text"]}""", null, new[] { "topic" })]
    public async Task ClientSourceFilter_TheBackendIsAskedForItsFieldsAndThePassageFields_NotWholeDocuments(string source, string? sent, string[] kept)
    {
        // A window of 100 hits whose documents are megabytes each was fetched whole for a client asking for one field
        // (or none): the proxy asked for the whole source to read the passages. An exclude-only filter keeps what is not
        // known by name, so the whole source is still asked for then.
        while (_front.SearchBodies.TryDequeue(out _))
        {
        }

        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"_source":""" + source + "}");
        Assert.Equal("applied", r.Rerank);
        Assert.All(r.Json["hits"]!["hits"]!.AsArray(), h => Assert.Equal(kept, (h!["_source"] as JsonObject)?.Select(p => p.Key) ?? []));
        var asked = JsonNode.Parse(Assert.Single(_front.SearchBodies))!;
        Assert.Equal(sent, asked["_source"]?.ToJsonString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PointInTimeSearch_PagedWithSearchAfter_GetsTheBackendsPages_EachReranked(bool scoreSort)
    {
        // Its hits' sort values (score and the implicit _shard_doc tiebreaker) are cursors: the last hit's are the next
        // page's search_after, which the backend reads in its own order. Before, the first page was reranked across the
        // whole window (the next page skipped what the rerank had left out of it), with Rank1 scores as the sort values
        // of a score sort (the next page compared them with the backend's scores).
        var open = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_pit?keep_alive=1m");
        Assert.Equal(200, open.Status);
        var body = JsonNode.Parse("""{"query":{"match":{"text":"onion onions eyes"}},"size":3}""")!.AsObject();
        body["pit"] = new JsonObject { ["id"] = open.Json["id"]!.GetValue<string>(), ["keep_alive"] = "1m" };
        if (scoreSort)
        {
            body["sort"] = new JsonArray("_score");
        }

        const string path = "_search";
        using var backend = new HttpClient { BaseAddress = _stack.Backend.Url };

        async Task<List<(string[] Ids, string? Rerank)>> PagesAsync(HttpClient http)
        {
            var pages = new List<(string[], string?)>();
            var search = body.DeepClone().AsObject();
            for (var i = 0; i < ProxyStack.Corpus.Length; i++)
            {
                using var response = await http.PostAsync(path, ProxyStack.Json(search.ToJsonString()));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var hits = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray();
                if (hits.Count == 0)
                {
                    break;
                }

                pages.Add((hits.Select(h => h!["_id"]!.GetValue<string>()).ToArray(), response.Headers.TryGetValues("X-Rank1-Rerank", out var v) ? v.Single() : null));
                search["search_after"] = hits[^1]!["sort"]!.DeepClone();
            }

            return pages;
        }

        var expected = await PagesAsync(backend);
        var got = await PagesAsync(_stack.Http);
        Assert.True(expected.Count > 2);
        Assert.Equal(expected.Count, got.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            // The backend's page, reranked within itself (the first; later pages pass through as search_after pages).
            Assert.Equal(expected[i].Ids.Order(), got[i].Ids.Order());
            Assert.Equal(i == 0 ? "applied" : "skipped", got[i].Rerank);
        }
    }

    [Fact]
    public async Task ARerankWindowPastTheIndexMaxResultWindow_IsSentAsTheClientSentIt_NotTurnedIntoAnError()
    {
        // The index narrow refuses a search past its index.max_result_window (5), as Elasticsearch does. The proxy asked for
        // the rerank window (8) and passed the refusal on: a search of size 3, which the cluster answers, became a 400.
        const string search = """{"query":{"match":{"text":"onion"}},"size":3,"ext":{"rank1":{"window":8}}}""";
        var expected = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":3}""");
        var r = await _stack.SearchAsync(search, "narrow/_search");
        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        Assert.Equal("the backend refused the rerank window of 8 hits (index.max_result_window)", r.Headers.GetValues("X-Rank1-Reason").Single());
        Assert.Equal(expected, r.Ids);

        // In an msearch, that item alone; a search whose own from + size is past the limit is still the cluster's 400.
        var body = "{\"index\":\"narrow\"}\n" + search + "\n{\"index\":\"narrow\"}\n" + """{"query":{"match":{"text":"onion"}},"size":6,"ext":{"rank1":{"window":8}}}""" + "\n";
        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");
        Assert.Equal(200, m.Status);
        var items = m.Json["responses"]!.AsArray();
        Assert.Equal(200, items[0]!["status"]!.GetValue<int>());
        Assert.Equal(expected, items[0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(400, items[1]!["status"]!.GetValue<int>());
        Assert.StartsWith("Result window is too large, from + size must be less than or equal to: [5] but was [6]", items[1]!["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        var alone = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"size":6}""", "narrow/_search");
        Assert.Equal(400, alone.Status);
    }

    [Fact]
    public async Task ARerankWindowSomeShardsRefuse_IsSentAsTheClientSentIt_NotRerankedWithoutTheirHits()
    {
        // Of halfnarrow's two shards, one refuses a search past its index.max_result_window (5) and the other answers: a 200
        // with the failure in _shards.failures, as Elasticsearch answers a search of two indices of which one refuses it. The
        // proxy reranked that answer, without the refusing shard's hits, which the search as the client sent it (size 3) gets.
        const string search = """{"query":{"match":{"text":"onion"}},"size":3,"ext":{"rank1":{"window":8}}}""";
        var expected = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":3}""");
        Assert.Contains(expected, id => (id[^1] - '0') % 2 == 0);
        var r = await _stack.SearchAsync(search, "halfnarrow/_search");
        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        Assert.Equal("shards of the backend refused the rerank window of 8 hits (index.max_result_window)", r.Headers.GetValues("X-Rank1-Reason").Single());
        Assert.Equal(expected, r.Ids);
        Assert.Equal(0, r.Json["_shards"]!["failed"]!.GetValue<int>());

        // In an msearch, that item alone.
        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", "{\"index\":\"halfnarrow\"}\n" + search + "\n", "application/x-ndjson");
        var item = m.Json["responses"]![0]!;
        Assert.Equal(expected, item["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal("skipped", item["_rank1"]!["rerank"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("", """{"query":{"match":{"text":"onion"}},"_source":false,"stored_fields":"_none_"}""")]
    [InlineData("?_source=false&stored_fields=_none_", """{"query":{"match":{"text":"onion"}}}""")]
    [InlineData("?stored_fields=_none_", """{"query":{"match":{"text":"onion"}},"_source":false}""")]
    public async Task StoredFieldsNone_IsSentAsTheClientSentIt_NeverWithA_SourceElasticsearchRefusesBesideIt(string parameters, string body)
    {
        // "_source": false with "stored_fields": "_none_" (hits with neither source nor id) is a search Elasticsearch runs;
        // the proxy asked for the passage fields beside it ("_source": {"includes": ["text"]}), which Elasticsearch refuses:
        // "[stored_fields] cannot be disabled if [_source] is requested" (SearchRequest.validate). Such hits hold no passage.
        while (_front.SearchBodies.TryDequeue(out _))
        {
        }

        var r = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_search{parameters}", body);

        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        Assert.Equal(body, Assert.Single(_front.SearchBodies));
    }

    [Theory]
    [InlineData("?format=yaml", null)]
    [InlineData("?format=YAML", null)]
    [InlineData("", "application/yaml")]
    [InlineData("?format=txt", "application/yaml")]
    public async Task SearchAskedInYaml_IsTheBackendsYamlAnswer_InBackendOrder(string parameters, string? accept)
    {
        // Elasticsearch answers in the format the format parameter names (any case), else the one Accept names: the proxy
        // read that YAML answer as JSON and answered 502 rank1_backend_response_exception.
        const string body = """{"query":{"match":{"text":"onion eyes"}}}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ProxyStack.Index}/_search{parameters}") { Content = ProxyStack.Json(body) };
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        using var response = await _stack.Http.SendAsync(request);
        var yaml = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/yaml", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("skipped", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.StartsWith("---\n", yaml, StringComparison.Ordinal);
        Assert.Equal(await _stack.BackendIdsAsync(body), YamlIds(yaml));
    }

    [Fact]
    public async Task SearchAskedInJsonByFormat_IsReranked_WhateverAcceptSays()
    {
        // The format parameter wins over Accept (AbstractRestChannel.newBuilder): format=json is a JSON answer.
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ProxyStack.Index}/_search?format=json") { Content = ProxyStack.Json("""{"query":{"match":{"text":"onion tears"}}}""") };
        request.Headers.Accept.ParseAdd("application/yaml");
        using var response = await _stack.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["hits"]!["hits"]![0]!["fields"]!["_rank1.score"]);
    }

    [Fact]
    public async Task TemplateSearchAskedInYaml_IsTheBackendsYamlAnswer_InBackendOrder()
    {
        // The proxy had the backend render the template with the client's Accept or format, and read the YAML rendering as JSON.
        const string template = """{"source":{"query":{"match":{"text":"{{q}}"}}},"params":{"q":"onion eyes"}}""";
        using var response = await _stack.Http.PostAsync($"{ProxyStack.Index}/_search/template?format=yaml", ProxyStack.Json(template));
        var yaml = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/yaml", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("skipped", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.Equal(await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}}}"""), YamlIds(yaml));
    }

    [Fact]
    public async Task SearchBodyInYaml_GoesToTheBackendAsSent()
    {
        // Elasticsearch reads a YAML body (Content-Type: application/yaml); the proxy refused it as JSON that does not parse.
        while (_front.SearchBodies.TryDequeue(out _))
        {
        }

        const string yaml = "query:\n  match:\n    text: onion\n";
        var r = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_search", yaml, "application/yaml");

        Assert.Equal("skipped", r.Rerank);
        Assert.Equal(yaml, Assert.Single(_front.SearchBodies));
    }

    [Fact]
    public async Task MsearchFormatParameter_IsTaken_JsonIsReranked_YamlIsTheBackendsAnswer()
    {
        // format is a parameter every Elasticsearch endpoint takes (BaseRestHandler's ALWAYS_SUPPORTED); the proxy refused it
        // on _msearch with "contains unrecognized parameter: [format]".
        const string search = """{"query":{"match":{"text":"onion soup"}}}""";
        var json = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_msearch?format=json", "{}\n" + search + "\n", "application/x-ndjson");
        Assert.Equal(200, json.Status);
        Assert.Equal("applied", json.Json["responses"]![0]!["_rank1"]!["rerank"]!.GetValue<string>());

        using var response = await _stack.Http.PostAsync($"{ProxyStack.Index}/_msearch?format=yaml", new StringContent("{}\n" + search + "\n", Encoding.UTF8, "application/x-ndjson"));
        var yaml = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/yaml", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("skipped", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.Equal(await _stack.BackendIdsAsync(search), YamlIds(yaml));
    }

    [Fact]
    public async Task SearchWithItsBodyInTheUrl_IsRerankedAsTheSameSearchSentAsABody()
    {
        // Elasticsearch reads source (with source_content_type) as the body of a request sent without one
        // (RestRequest.contentOrSourceParam); the proxy found no query text in it and passed it through un-reranked.
        const string body = """{"query":{"match":{"text":"onion eyes"}},"size":3}""";
        var r = await _stack.SendAsync(HttpMethod.Get, $"{ProxyStack.Index}/_search?source={Uri.EscapeDataString(body)}&source_content_type=application/json");

        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal((await _stack.SearchAsync(body)).Ids, r.Ids);
        Assert.All(r.Json["hits"]!["hits"]!.AsArray(), h => Assert.NotNull(h!["fields"]!["_rank1.score"]));
    }

    [Fact]
    public async Task TemplateSearchWithItsTemplateInTheUrl_IsRerankedAsTheSameTemplateSentAsABody()
    {
        // RestSearchTemplateAction reads the template with contentOrSourceParamParser; the proxy had the backend render no
        // template (its 400 "request body or source parameter is required").
        const string template = """{"source":{"query":{"match":{"text":"{{q}}"}},"size":3},"params":{"q":"onion eyes"}}""";
        var r = await _stack.SendAsync(HttpMethod.Get, $"{ProxyStack.Index}/_search/template?source={Uri.EscapeDataString(template)}&source_content_type=application/json");

        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal((await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_search/template", template)).Ids, r.Ids);
    }

    [Fact]
    public async Task MsearchWithItsBodyInTheUrl_IsAnsweredAndReranked()
    {
        // The proxy refused source on _msearch ("contains unrecognized parameter: [source]"), which Elasticsearch reads as the body.
        const string lines = "{}\n{\"query\":{\"match\":{\"text\":\"onion soup\"}}}\n";
        var r = await _stack.SendAsync(HttpMethod.Get, $"{ProxyStack.Index}/_msearch?source={Uri.EscapeDataString(lines)}&source_content_type=application/x-ndjson");

        Assert.Equal(200, r.Status);
        Assert.Equal("applied", Assert.Single(r.Json["responses"]!.AsArray())!["_rank1"]!["rerank"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("GET")]
    public async Task MsearchWithNoBody_IsElasticsearchsParseException(string method)
    {
        // RestMultiSearchAction reads its lines with RestRequest.contentOrSourceParam, which refuses a request with neither a
        // body nor source (Elasticsearch's RequestsWithoutContentIT.testMultiSearchMissingBody); the proxy answered
        // action_request_validation_exception "no requests added".
        var r = await _stack.SendAsync(new HttpMethod(method), "_msearch");

        Assert.Equal(400, r.Status);
        Assert.Equal("parse_exception", r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal("request body or source parameter is required", r.Json["error"]!["reason"]!.GetValue<string>());
    }

    private const string PinnedQuery = """{"pinned":{"ids":["d04","d08"],"organic":{"match":{"text":"onion eyes"}}}}""";
    private const string PinnedOrganic = """{"standard":{"query":{"match":{"text":"onion eyes"}}}}""";
    private const string RuleRetriever = """{"rule":{"retriever":""" + PinnedOrganic + ""","match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}""";

    // The pins of the full pinned answer (FrontBackend.PinnedOrder: d04 and d08, neither of which the organic match for
    // "onion eyes" finds: "onions" is no "onion"), then its organic hits in Rank1's order, as the engine alone judges them.
    private static async Task<string[]> PinnedThenRank1OrderAsync()
    {
        var organic = FrontBackend.PinnedOrder[2..];
        var reranked = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", organic, 4);
        // Rank1 would order the organic hits otherwise: the test would not tell a rerank from none.
        Assert.NotEqual(organic, reranked);
        return [.. FrontBackend.PinnedOrder[..2], .. reranked];
    }

    // A search whose outermost retriever is a rule retriever (query rules) or a pinned retriever, or whose query is itself
    // an unboosted pinned or rule query, asks for documents on top in the order it pins them, and Elasticsearch answers them
    // so (FrontBackend's index pinned answers as it does), scored above PinnedQueryBuilder's MAX_ORGANIC_SCORE. The pins keep
    // their places and backend scores, marked _rank1.source pinned; the organic hits after them are reranked among
    // themselves. Before, such an answer was passed on whole in the backend's order, its organic hits not reranked.
    [Theory]
    [InlineData("""{"retriever":""" + RuleRetriever + "}")]
    [InlineData("""{"retriever":{"pinned":{"ids":["d04","d08"],"retriever":""" + PinnedOrganic + "}}}")]
    [InlineData("""{"retriever":{"standard":{"query":{"rule":{"organic":{"match":{"text":"onion eyes"}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}}}}""")]
    [InlineData("""{"query":""" + PinnedQuery + "}")]
    [InlineData("""{"query":{"pinned":{"ids":["d04","d08"],"organic":{"match":{"text":"onion eyes"}},"boost":1}},"ext":{"rank1":{"query":"onion eyes"}}}""")]
    public async Task PinningSearch_PinsKeepTheirPlaces_OrganicHitsAfterThemAreReranked(string body)
    {
        var expected = await PinnedThenRank1OrderAsync();
        var backend = JsonNode.Parse(FrontBackend.PinnedAnswer())!["hits"]!;

        var r = await _stack.SearchAsync(body, "pinned/_search");
        Assert.Equal((200, "applied", ""), (r.Status, r.Rerank, r.Headers.TryGetValues("X-Rank1-Reason", out var why) ? why.Single() : ""));
        Assert.Equal(expected, r.Ids);
        var hits = r.Json["hits"]!["hits"]!.AsArray();
        for (var i = 0; i < 2; i++)
        {
            // A pin keeps its backend score, as Elasticsearch wrote it, and says why it was not judged.
            Assert.Equal(backend["hits"]![i]!["_score"]!.ToJsonString(), hits[i]!["_score"]!.ToJsonString());
            Assert.Equal("pinned", hits[i]!["fields"]!["_rank1.source"]![0]!.GetValue<string>());
            Assert.Null(hits[i]!["fields"]!["_rank1.score"]);
        }

        foreach (var hit in hits.Skip(2))
        {
            Assert.Equal(hit!["_score"]!.GetValue<double>(), hit["fields"]!["_rank1.score"]![0]!.GetValue<double>());
            Assert.NotEqual("pinned", hit["fields"]!["_rank1.source"]![0]!.GetValue<string>());
        }

        // max_score is the first hit's, the first pin's, as the backend answered it; each hit's _rank its place.
        Assert.Equal(backend["max_score"]!.ToJsonString(), r.Json["hits"]!["max_score"]!.ToJsonString());
        Assert.Equal(Enumerable.Range(1, hits.Count), hits.Select(h => h!["_rank"]!.GetValue<int>()));

        // An _msearch item is answered the same way.
        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", $"{{\"index\":\"pinned\"}}\n{body}\n", "application/x-ndjson");
        Assert.Equal("applied=1", m.Rerank);
        Assert.Equal(expected, m.Json["responses"]![0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    // A search on a point in time is asked for the client's page alone (its hits' sort values are cursors), and a pinned
    // query's first page holds the pins (FrontBackend's point in time PinnedPit answers as Elasticsearch does): the pins
    // keep their places and backend scores on top, the rest of the page is reranked below them, and each place keeps the
    // backend's sort values (the last hit's are the next page's search_after), with the answer's pit_id.
    [Fact]
    public async Task PointInTimeSearch_FirstPageWithPins_PinsStayOnTop_TheRestOfThePageReranked()
    {
        var expected = await PinnedThenRank1OrderAsync();
        var backend = JsonNode.Parse(FrontBackend.PinnedPitAnswer())!;
        var body = new JsonObject { ["query"] = JsonNode.Parse(PinnedQuery), ["size"] = 5, ["pit"] = new JsonObject { ["id"] = FrontBackend.PinnedPit, ["keep_alive"] = "1m" } }.ToJsonString();

        var r = await _stack.SearchAsync(body, "_search");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(expected, r.Ids);
        var asked = JsonNode.Parse(Assert.Single(_front.SearchBodies))!;
        Assert.Equal((0, 5), (asked["from"]!.GetValue<int>(), asked["size"]!.GetValue<int>()));
        var hits = r.Json["hits"]!["hits"]!.AsArray();
        Assert.Equal(["pinned", "pinned"], hits.Take(2).Select(h => h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
        Assert.Equal(backend["hits"]!["hits"]!.AsArray().Take(2).Select(h => h!["_score"]!.ToJsonString()), hits.Take(2).Select(h => h!["_score"]!.ToJsonString()));
        Assert.All(hits.Skip(2), h => Assert.Equal(h!["_score"]!.GetValue<double>(), h["fields"]!["_rank1.score"]![0]!.GetValue<double>()));
        Assert.Equal(backend["hits"]!["hits"]!.AsArray().Select(h => h!["sort"]!.ToJsonString()), hits.Select(h => h!["sort"]!.ToJsonString()));
        Assert.Equal(FrontBackend.PinnedPit, r.Json["pit_id"]!.GetValue<string>());
    }

    // The pins occupy the first places of the rerank window, as of the backend's answer, and a page is cut from the window
    // with its pins on top as any reranked window is: each page, past the pins or across them, is a slice of the one order.
    // Before, every page of an answer holding pins was passed on in the backend's order.
    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 2)]
    [InlineData(0, 1)]
    public async Task PinningSearch_Paged_IsASliceOfThePinsThenTheReranked(int from, int size)
    {
        var expected = await PinnedThenRank1OrderAsync();

        var r = await _stack.SearchAsync($$"""{"from":{{from}},"size":{{size}},"retriever":{{RuleRetriever}}}""", "pinned/_search");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(expected[from..(from + size)], r.Ids);
        Assert.Equal(Enumerable.Range(from + 1, size), r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_rank"]!.GetValue<int>()));
    }

    // A pinned id that is not found leaves its score unused (d99's, the higher): the one pin found, scored just above
    // MAX_ORGANIC_SCORE, keeps first place, and the four organic hits after it are reranked.
    [Fact]
    public async Task PinnedRetriever_OneOfItsIdsFound_ThatPinKeepsFirstPlace_TheRestReranked()
    {
        var organic = FrontBackend.OnePinOrder[1..];
        var reranked = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", organic, 4);
        Assert.NotEqual(organic, reranked);

        var r = await _stack.SearchAsync("""{"retriever":{"pinned":{"ids":["d99","d04"],"retriever":""" + PinnedOrganic + "}}}", "onepin/_search");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(["d04", .. reranked], r.Ids);
        Assert.Equal("pinned", r.Json["hits"]!["hits"]![0]!["fields"]!["_rank1.source"]![0]!.GetValue<string>());
    }

    // A rerank window of pins alone (ext.rank1.window 2 over two pins) has no organic hit to rerank: the answer keeps the
    // backend's order, and says why.
    [Fact]
    public async Task PinningSearch_WhoseWindowIsAllPins_KeepsTheBackendsOrder()
    {
        var r = await _stack.SearchAsync("""{"retriever":""" + RuleRetriever + ""","ext":{"rank1":{"window":2}}}""", "pinned/_search");

        Assert.Equal((200, "skipped", "the search pins documents on top (the outermost retriever is [rule]): they keep the backend's order"),
            (r.Status, r.Rerank, r.Headers.GetValues("X-Rank1-Reason").Single()));
        Assert.Equal(FrontBackend.PinnedOrder, r.Ids);
    }

    // A pinned or rule query under another query where its score is the hit's, or part of it, pins as well (its pins
    // score above any organic hit), and so does a boosted one; but the query around it, or its boost, scales its pins'
    // scores, so the answer does not tell them: the search is answered in the backend's order, as the request tells.
    // The proxy once read only the outermost query, and reranked these.
    [Theory]
    [InlineData("""{"query":{"pinned":{"ids":["d04","d08"],"organic":{"match":{"text":"onion eyes"}},"boost":2}}}""", "the query is [pinned]")]
    // Pins in its organic query score MAX_ORGANIC_SCORE, capped, above the other organic hits: the answer does not tell them.
    [InlineData("""{"query":{"pinned":{"ids":["d04"],"organic":""" + PinnedQuery + "}}}", "the query is [pinned]")]
    [InlineData("""{"query":{"bool":{"must":[{"match":{"text":"onion eyes"}},""" + PinnedQuery + "]}}}", "the query is [pinned] under [bool]")]
    [InlineData("""{"query":{"bool":{"should":""" + PinnedQuery + ""","filter":{"match":{"text":"onion"}}}},"ext":{"rank1":{"query":"onion eyes"}}}""",
        "the query is [pinned] under [bool]")]
    [InlineData("""{"query":{"dis_max":{"queries":[{"match":{"text":"onion eyes"}},""" + PinnedQuery + "]}}}", "the query is [pinned] under [dis_max]")]
    [InlineData("""{"query":{"function_score":{"query":{"bool":{"must":""" + PinnedQuery + """}},"boost_mode":"multiply"}}}""",
        "the query is [pinned] under [function_score]")]
    [InlineData("""{"retriever":{"standard":{"query":{"boosting":{"positive":{"rule":{"organic":{"match":{"text":"onion eyes"}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}},"negative":{"match":{"text":"tears"}},"negative_boost":0.5}}}}}""",
        "the query is [rule] under [boosting]")]
    // A query whose score the wrapper reads and changes (script_score's script; a nested, has_child or has_parent query's
    // score_mode or score): the proxy once looked only under bool, dis_max, function_score and boosting, and reranked
    // these whole, pins included.
    [InlineData("""{"query":{"script_score":{"query":""" + PinnedQuery + ""","script":{"source":"_score"}}},"ext":{"rank1":{"query":"onion eyes"}}}""",
        "the query is [pinned] under [script_score]")]
    [InlineData("""{"query":{"nested":{"path":"parts","query":""" + PinnedQuery + ""","score_mode":"max"}}}""", "the query is [pinned] under [nested]")]
    [InlineData("""{"query":{"has_child":{"type":"part","query":""" + PinnedQuery + ""","score_mode":"sum"}},"ext":{"rank1":{"query":"onion eyes"}}}""",
        "the query is [pinned] under [has_child]")]
    [InlineData("""{"query":{"has_parent":{"parent_type":"doc","query":""" + PinnedQuery + ""","score":true}},"ext":{"rank1":{"query":"onion eyes"}}}""",
        "the query is [pinned] under [has_parent]")]
    // A body key that scales every score after the query (QueryRescorer.combine: query_weight, then score_mode;
    // DefaultSearchContext.preProcess: an indices_boost other than 1): the pins may score below 2^127, nothing in the
    // answer tells them, and the whole window, pins included, was reranked (before fdb05cf such a search was skipped).
    [InlineData("""{"query":""" + PinnedQuery + ""","rescore":{"window_size":5,"query":{"rescore_query":{"match":{"text":"eyes"}},"query_weight":0.5,"score_mode":"min"}}}""",
        "the query is [pinned]")]
    [InlineData("""{"query":""" + PinnedQuery + ""","indices_boost":[{"pinned":0.5}]}""", "the query is [pinned]")]
    [InlineData("""{"retriever":""" + RuleRetriever + ""","indices_boost":[{"pinned":2}]}""", "the outermost retriever is [rule]")]
    public async Task PinningSearch_IsAnsweredInTheOrderItPins_NotReranked(string body, string pinner)
    {
        // Rank1 would order these hits otherwise: the test would not tell a rerank from none.
        Assert.NotEqual(FrontBackend.PinnedOrder, await ProxyStack.ExpectedRank1OrderAsync("onion eyes", FrontBackend.PinnedOrder, 4));
        var reason = $"the search pins documents on top ({pinner}): they keep the backend's order";

        var r = await _stack.SearchAsync(body, "pinned/_search");
        Assert.Equal((200, "skipped", reason), (r.Status, r.Rerank, r.Headers.GetValues("X-Rank1-Reason").Single()));
        Assert.Equal(JsonNode.Parse(FrontBackend.PinnedAnswer())!["hits"]!.ToJsonString(), r.Json["hits"]!.ToJsonString());

        // An _msearch item is answered the same way, beside one that is reranked.
        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch",
            $"{{\"index\":\"pinned\"}}\n{body}\n{{\"index\":\"docs\"}}\n{{\"query\":{{\"match\":{{\"text\":\"onion eyes\"}}}}}}\n", "application/x-ndjson");
        Assert.Equal("applied=1, skipped=1", m.Rerank);
        var item = m.Json["responses"]![0]!;
        Assert.Equal(("skipped", reason), (item["_rank1"]!["rerank"]!.GetValue<string>(), item["_rank1"]!["reason"]!.GetValue<string>()));
        Assert.Equal(FrontBackend.PinnedOrder, item["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    // A pinning search whose organic hits have no passage text (ext.rank1.fields names a field no hit has) is skipped, and
    // a skipped answer is the backend's: no hit carries _rank1 fields, its pins neither. Before, the pins of such an answer
    // were still marked _rank1.source pinned, with their _rank1.original_score.
    [Fact]
    public async Task PinningSearch_Skipped_MarksNoPin()
    {
        var r = await _stack.SearchAsync("""{"retriever":""" + RuleRetriever + ""","ext":{"rank1":{"fields":["abstract"]}}}""", "pinned/_search");

        Assert.Equal((200, "skipped"), (r.Status, r.Rerank));
        Assert.Equal(JsonNode.Parse(FrontBackend.PinnedAnswer())!["hits"]!.ToJsonString(), r.Json["hits"]!.ToJsonString());
    }

    // A rule retriever pins only when one of its query rules matches (RuleQueryBuilder.doRewrite: the organic query alone
    // when none pins), and a pinned retriever only the ids it finds; a pinned hit scores above PinnedQueryBuilder's
    // MAX_ORGANIC_SCORE, which is how PinnedRetrieverBuilder.combineInnerRetrieverResults tells one. An answer with no such
    // hit (FrontBackend's index unpinned) pinned nothing, and is reranked. Before, every search whose outermost retriever
    // was rule or pinned kept the backend's order, whether or not anything was pinned.
    [Theory]
    [InlineData("""{"retriever":""" + RuleRetriever + "}")]
    [InlineData("""{"retriever":{"pinned":{"ids":["d99"],"retriever":""" + PinnedOrganic + "}}}")]
    // A descending score sort under it is no sort, as at the top level.
    [InlineData("""{"retriever":{"pinned":{"ids":["d99"],"retriever":{"standard":{"query":{"match":{"text":"onion eyes"}},"sort":["_score"]}}}}}""")]
    public async Task OutermostPinningRetriever_WhoseAnswerPinsNothing_IsReranked(string body)
    {
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", FrontBackend.UnpinnedOrder, 4);
        Assert.NotEqual(FrontBackend.UnpinnedOrder, expected);

        var r = await _stack.SearchAsync(body, "unpinned/_search");
        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(expected, r.Ids);

        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", $"{{\"index\":\"unpinned\"}}\n{body}\n", "application/x-ndjson");
        Assert.Equal("applied=1", m.Rerank);
        Assert.Equal(expected, m.Json["responses"]![0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    // The retriever under the outermost rule retriever pins with its own query: the request says so, whatever the
    // answer's scores (a pinned query's boost would scale its pins' scores), and the search keeps the backend's order.
    [Fact]
    public async Task RuleRetrieverOverAPinningQuery_KeepsTheBackendsOrder_WhateverItsAnswersScores()
    {
        var r = await _stack.SearchAsync("""{"retriever":{"rule":{"retriever":{"standard":{"query":""" + PinnedQuery + """}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}}""",
            "unpinned/_search");

        Assert.Equal((200, "skipped", "the search pins documents on top (the outermost retriever is [rule]): they keep the backend's order"),
            (r.Status, r.Rerank, r.Headers.GetValues("X-Rank1-Reason").Single()));
        Assert.Equal(FrontBackend.UnpinnedOrder, r.Ids);
    }

    // The standard retriever under an outermost rule or pinned retriever carries the sort its hits are answered in
    // (CompoundRetrieverBuilder ranks them in the order of its search; QueryRuleRetrieverBuilder.checkValidSort takes any
    // sort whose first key is _score, PinnedRetrieverBuilder.validateSort only _score keys, either in either order), so
    // an ascending one answers the lowest scores first. The proxy read only the body's sort or an outermost standard
    // retriever's: an answer that pinned nothing was reranked into descending relevance, where the same sort at the top
    // level is skipped.
    [Theory]
    [InlineData("""{"retriever":{"rule":{"retriever":{"standard":{"query":{"match":{"text":"onion eyes"}},"sort":[{"_score":"asc"}]}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}}""",
        "the search is sorted by ascending score")]
    [InlineData("""{"retriever":{"pinned":{"ids":["d99"],"retriever":{"standard":{"query":{"match":{"text":"onion eyes"}},"sort":{"_score":{"order":"asc"}}}}}}}""",
        "the search is sorted by ascending score")]
    [InlineData("""{"retriever":{"rule":{"retriever":{"standard":{"query":{"match":{"text":"onion eyes"}},"sort":["_score",{"date":"desc"}]}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}}""",
        "the search is sorted by a field")]
    public async Task OutermostPinningRetriever_SortedUnderneathAsTheTopLevelIsSkipped_KeepsTheBackendsOrder(string body, string reason)
    {
        var r = await _stack.SearchAsync(body, "unpinned/_search");
        Assert.Equal((200, "skipped"), (r.Status, r.Rerank));
        Assert.Equal(reason, r.Headers.GetValues("X-Rank1-Reason").Single());
        Assert.Equal(FrontBackend.UnpinnedOrder, r.Ids);

        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", $"{{\"index\":\"unpinned\"}}\n{body}\n", "application/x-ndjson");
        var item = m.Json["responses"]![0]!;
        Assert.Equal(("skipped", reason), (item["_rank1"]!["rerank"]!.GetValue<string>(), item["_rank1"]!["reason"]!.GetValue<string>()));
        Assert.Equal(FrontBackend.UnpinnedOrder, item["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    // A pinned retriever takes only _score (and _shard_doc) sort keys under it (PinnedRetrieverBuilder.validateSort, run
    // as it rewrites): any other is Elasticsearch's 400 illegal_argument_exception "[pinned] retriever only supports
    // sorting by score, invalid sort criterion: ...". The proxy reads the sort under the pinner, skips the search as
    // sorted by a field before asking the backend anything, and passes the backend's own answer on as it came: here the
    // embedded backend's 400 illegal_argument_exception (it runs no pinned retriever at all), a lone search's and an
    // msearch item's.
    [Fact]
    public async Task PinnedRetriever_SortedByAFieldUnderneath_IsTheBackendsOwnAnswer_NotReranked()
    {
        const string body = """{"retriever":{"pinned":{"ids":["d04"],"retriever":{"standard":{"query":{"match":{"text":"onion eyes"}},"sort":["_score",{"date":"desc"}]}}}}}""";
        var backend = await SkippedAsSortedByAField_TheBackendsOwn400Async(body, "illegal_argument_exception");

        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", $"{{\"index\":\"docs\"}}\n{body}\n", "application/x-ndjson");
        var item = m.Json["responses"]![0]!;
        Assert.Equal((200, "skipped=1", 400), (m.Status, m.Rerank, item["status"]!.GetValue<int>()));
        Assert.Equal(("skipped", "the search is sorted by a field"), (item["_rank1"]!["rerank"]!.GetValue<string>(), item["_rank1"]!["reason"]!.GetValue<string>()));
        Assert.Equal(backend["error"]!.ToJsonString(), item["error"]!.ToJsonString());
    }

    // A pinned query sorted by score then a field answers its hits in that order, with sort values: the proxy skips it as
    // sorted by a field before asking the backend anything (it was skipped as pinning, before the answer told the pins),
    // and passes on the backend's own answer as it came: here the embedded backend's 400 search_phase_execution_exception,
    // as the docs index maps no date field to sort on ("No mapping found for [date] in order to sort on").
    [Fact]
    public async Task PinnedQuery_SortedByAField_IsTheBackendsOwnAnswer_NotReranked()
    {
        const string body = """{"query":""" + PinnedQuery + ""","sort":["_score",{"date":"desc"}]}""";
        var backend = await SkippedAsSortedByAField_TheBackendsOwn400Async(body, "search_phase_execution_exception");
        Assert.Equal("No mapping found for [date] in order to sort on", backend["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
    }

    // The backend's own answer to body, a 400 of type, and the proxy's to the same lone search: skipped as sorted by a
    // field, that answer as it came. The backend's answer is returned.
    private async Task<JsonNode> SkippedAsSortedByAField_TheBackendsOwn400Async(string body, string type)
    {
        using var direct = new HttpClient { BaseAddress = _stack.Backend.Url };
        using var asked = await direct.PostAsync("docs/_search", new StringContent(body, Encoding.UTF8, "application/json"));
        var backend = JsonNode.Parse(await asked.Content.ReadAsStringAsync())!;
        Assert.Equal((400, type), ((int)asked.StatusCode, backend["error"]!["type"]!.GetValue<string>()));

        var r = await _stack.SearchAsync(body);
        Assert.Equal((400, "skipped", "the search is sorted by a field"), (r.Status, r.Rerank, r.Headers.GetValues("X-Rank1-Reason").Single()));
        Assert.Equal(backend.ToJsonString(), r.Json.ToJsonString());
        return backend;
    }

    // The answer tells whether anything was pinned, not the request, so an outermost rule or pinned retriever with no
    // query text (over a knn retriever, or an ids query) that asks for a rerank (ext.rank1) is the 400 of any such
    // search; without ext.rank1 it is skipped for want of query text. Before the answer was read, both were skipped as
    // pinning ("also with ext.rank1").
    [Theory]
    [InlineData("""{"retriever":{"rule":{"retriever":{"knn":{"field":"vector","query_vector":[0.1,0.2,0.3],"k":3,"num_candidates":5}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}""")]
    [InlineData("""{"retriever":{"pinned":{"ids":["d04","d08"],"retriever":{"standard":{"query":{"ids":{"values":["d01","d03"]}}}}}}""")]
    public async Task OutermostPinningRetriever_WithNoQueryText_IsTheExtRank1QueryRequired400(string retriever)
    {
        var r = await _stack.SearchAsync(retriever + ""","ext":{"rank1":{"enabled":true}}}""", "pinned/_search");
        Assert.Equal((400, "illegal_argument_exception"), (r.Status, r.Json["error"]!["type"]!.GetValue<string>()));
        Assert.StartsWith("[ext.rank1.query] is required: no query text could be extracted", r.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);

        var plain = await _stack.SearchAsync(retriever + "}", "pinned/_search");
        Assert.Equal((200, "skipped", "no query text to judge"), (plain.Status, plain.Rerank, plain.Headers.GetValues("X-Rank1-Reason").Single()));
        Assert.Equal(FrontBackend.PinnedOrder, plain.Ids);
    }

    // A pin scores above MAX_ORGANIC_SCORE (PinnedRetrieverBuilder: scoreDoc.score > PinnedQueryBuilder.MAX_ORGANIC_SCORE);
    // an organic hit the PinnedQueryBuilder capped scores exactly it (1.7014118E38, 2^127), and is no pin: the search is reranked.
    [Fact]
    public async Task OrganicHitScoredAtTheCap_IsNoPin_TheSearchIsReranked()
    {
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", FrontBackend.UnpinnedOrder, 4);
        Assert.NotEqual(FrontBackend.UnpinnedOrder, expected);

        var r = await _stack.SearchAsync("""{"retriever":{"pinned":{"ids":["d99"],"retriever":""" + PinnedOrganic + "}}}", "capped/_search");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(expected, r.Ids);
    }

    // A pinned query in a filter (bool's filter, constant_score) scores nothing, so it pins nothing on top: the hits are
    // ordered by the scoring query, and the search is reranked.
    [Theory]
    [InlineData("""{"query":{"bool":{"must":{"match":{"text":"onion eyes"}},"filter":""" + PinnedQuery + "}}}")]
    [InlineData("""{"query":{"bool":{"must":{"match":{"text":"onion eyes"}},"must_not":""" + PinnedQuery + "}}}")]
    [InlineData("""{"query":{"constant_score":{"filter":""" + PinnedQuery + "}},\"ext\":{\"rank1\":{\"query\":\"onion eyes\"}}}")]
    public async Task PinnedQueryThatScoresNothing_IsReranked(string body)
    {
        var r = await _stack.SearchAsync(body, "pinned/_search");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(await ProxyStack.ExpectedRank1OrderAsync("onion eyes", FrontBackend.PinnedOrder, 4), r.Ids);
    }

    // Under rrf a rule retriever's ranking is fused with the others': nothing stays pinned on top, and the search is
    // reranked. Each hit's sort is Elasticsearch's [score, shard and doc] of a compound retriever's hit
    // (SearchPhaseController.getHits): reranked, it holds the score the hit is answered with, beside its own shard and doc;
    // before, it kept the backend's score beside Rank1's _score.
    [Fact]
    public async Task RuleRetrieverUnderRrf_IsReranked_EachHitsSortHoldsItsRank1Score()
    {
        var r = await _stack.SearchAsync("""{"retriever":{"rrf":{"retrievers":[""" + RuleRetriever + "," + PinnedOrganic + "]}}}", "pinned/_search");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(await ProxyStack.ExpectedRank1OrderAsync("onion eyes", FrontBackend.PinnedOrder, 4), r.Ids);
        foreach (var hit in r.Json["hits"]!["hits"]!.AsArray())
        {
            var place = Array.IndexOf(FrontBackend.PinnedOrder, hit!["_id"]!.GetValue<string>());
            Assert.Equal((hit["_score"]!.GetValue<double>(), 10L + place), (hit["sort"]![0]!.GetValue<double>(), hit["sort"]![1]!.GetValue<long>()));
        }
    }

    // The hits' ids of a YAML answer (FrontBackend.Yaml writes each as _id: "value"), in order.
    private static string[] YamlIds(string yaml) =>
        System.Text.RegularExpressions.Regex.Matches(yaml, "^ *_id: \"([^\"]*)\"$", System.Text.RegularExpressions.RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToArray();
}
