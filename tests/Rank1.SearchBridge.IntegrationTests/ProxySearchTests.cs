using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>Searches through the proxy over real loopback HTTP, in front of the embedded backend, with the tiny model.</summary>
public sealed class ProxySearchTests : IAsyncLifetime
{
    private ProxyStack _stack = null!;

    public async Task InitializeAsync() => _stack = await ProxyStack.StartAsync();

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task LoneSurrogateEscapeInTheQuery_IsReadAsElasticsearchReadsIt_AndJudgedAsU_FFFD()
    {
        // Elasticsearch's parser (Jackson) reads "\ud83d" (half an emoji) where System.Text.Json cannot; Lucene's
        // UnicodeUtil.UTF16toUTF8 makes U+FFFD of it in terms, and so does the proxy where it needs the text.
        var judge = new RecordingJudge();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));
        var r = await stack.SearchAsync("""{"query":{"match":{"text":"onion \ud83d"}},"size":2}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal(["onion \uFFFD"], judge.Queries.Distinct());
    }

    [Fact]
    public async Task QParameterBesideABodyQuery_IsTheTextJudged_AsItIsWhatTheBackendSearched()
    {
        // The q parameter replaces the body's query (RestSearchAction.parseSearchSource): the backend searched "onion soup",
        // and the proxy judged its hits against the body's "eye drops".
        var judge = new RecordingJudge();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));
        var r = await stack.SendAsync(HttpMethod.Post, "docs/_search?q=onion%20soup", """{"query":{"match":{"text":"eye drops"}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal(["onion soup"], judge.Queries.Distinct());
    }

    [Fact]
    public async Task PinnedQuery_EmbeddedBackendPins_PinsOnTopOrganicHitsReranked()
    {
        // The embedded backend runs the pinned query as Elasticsearch does: d08 (no match for "onion eyes") and d05 (a
        // match, pinned once) first, scored just above 2^127 (PinnedQueryBuilder's MAX_ORGANIC_SCORE), then the organic
        // hits. The proxy keeps the pins and reranks the organic hits of the window (6: both pins and all four) after them.
        var organic = (await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}}}""")).Where(id => id != "d05").ToArray();
        Assert.Equal(4, organic.Length);
        var reranked = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", organic, 4);
        Assert.NotEqual(organic, reranked);

        var r = await _stack.SearchAsync("""{"query":{"pinned":{"ids":["d08","d05"],"organic":{"match":{"text":"onion eyes"}}}},"ext":{"rank1":{"window":6}}}""");

        Assert.Equal((200, "applied"), (r.Status, r.Rerank));
        Assert.Equal(["d08", "d05", .. reranked], r.Ids);
        var hits = r.Json["hits"]!["hits"]!.AsArray();
        Assert.Equal([BitConverter.Int32BitsToSingle((0xfe << 23) + 3), BitConverter.Int32BitsToSingle((0xfe << 23) + 2)],
            hits.Take(2).Select(h => h!["_score"]!.GetValue<float>()));
        Assert.All(hits.Take(2), h => Assert.Equal("pinned", h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
        Assert.All(hits.Skip(2), h => Assert.NotEqual("pinned", h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
    }

    private sealed class RecordingJudge : IPassageJudge
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Queries { get; } = new();

        public string ModelId => "recording";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            Queries.Enqueue(query);
            return PassageJudge.JudgeEachAsync(query, instructions, passages, settings,
                (input, ct) => ValueTask.FromResult(new Rank1Judgement(0.5, true, "seen", 1, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero)), TimeProvider.System, cancellationToken);
        }
    }

    [Fact]
    public async Task NegativeFromOrSize_OnASearchToRerank_Is400AsInElasticsearch()
    {
        // The backend is asked from 0 for the window, so only the proxy can refuse these.
        var from = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"from":-1}""");
        Assert.Equal(400, from.Status);
        Assert.Equal("illegal_argument_exception", from.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal("[from] parameter cannot be negative but was [-1]", from.Json["error"]!["reason"]!.GetValue<string>());
        var size = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""", $"{ProxyStack.Index}/_search?size=-3");
        Assert.Equal(400, size.Status);
        Assert.Equal("[size] parameter cannot be negative, found [-3]", size.Json["error"]!["reason"]!.GetValue<string>());
    }

    private const string OnionQuery = """{"query":{"match":{"text":"onion eyes"}}}""";

    // A search through a standard retriever (Elasticsearch 8.14 and later: the query inside `retriever.standard`, no
    // top-level `query`) is reranked like the same query at the top level, its text read from the retriever, and the
    // embedded backend answers it as that search. A standard retriever sorted by a field is passed through in its order.
    [Fact]
    public async Task StandardRetrieverSearch_IsRerankedAsItsQuery_ItsFieldSortPassesThrough()
    {
        const string retriever = """{"retriever":{"standard":{"query":{"match":{"text":"onion onions"}},"filter":{"term":{"topic":"food"}}}}}""";
        const string same = """{"query":{"bool":{"must":{"match":{"text":"onion onions"}},"filter":{"term":{"topic":"food"}}}}}""";
        var backendOrder = await _stack.BackendIdsAsync(retriever);
        Assert.Equal(await _stack.BackendIdsAsync(same), backendOrder);
        Assert.True(backendOrder.Length >= 3, $"{backendOrder.Length} hits");

        var r = await _stack.SearchAsync(retriever);

        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion onions", backendOrder.Take(5).ToArray(), 4);
        Assert.Equal(expected.Concat(backendOrder.Skip(5)).Take(10), r.Ids);

        const string sorted = """{"retriever":{"standard":{"query":{"match":{"text":"onion"}},"sort":[{"topic":"desc"}]}}}""";
        var passed = await _stack.SearchAsync(sorted);
        Assert.Equal(("skipped", "the search is sorted by a field"), (passed.Rerank, passed.Headers.GetValues("X-Rank1-Reason").Single()));
        Assert.Equal(await _stack.BackendIdsAsync(sorted), passed.Ids);

        // A retriever that is not an object is the backend's parse error to answer, not a failure of the proxy.
        var odd = await _stack.SearchAsync("""{"retriever":"standard","knn":{"query_vector_builder":"x"}}""");
        Assert.Equal((400, "parsing_exception"), (odd.Status, odd.Json["error"]!["type"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Search_RerankedWindow_IsInRank1OrderWithFields()
    {
        var backendOrder = await _stack.BackendIdsAsync(OnionQuery);
        var r = await _stack.SearchAsync(OnionQuery);
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal("Elasticsearch", r.Headers.GetValues("X-Elastic-Product").Single());

        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion eyes", backendOrder.Take(5).ToArray(), 4);
        Assert.Equal(expected.Concat(backendOrder.Skip(5)).Take(10), r.Ids);
        var top = r.Json["hits"]!["hits"]![0]!;
        var score = top["fields"]!["_rank1.score"]![0]!.GetValue<double>();
        Assert.Equal(score, top["_score"]!.GetValue<double>());
        Assert.Equal(score, r.Json["hits"]!["max_score"]!.GetValue<double>());
        Assert.Equal(score >= 0.5, top["fields"]!["_rank1.relevant"]![0]!.GetValue<bool>());
        Assert.Equal("computed", top["fields"]!["_rank1.source"]![0]!.GetValue<string>());
        Assert.NotNull(top["fields"]!["_rank1.reasoning"]![0]);
        Assert.True(top["fields"]!["_rank1.original_score"]![0]!.GetValue<double>() > 0);
        Assert.Equal(backendOrder.Length, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    [Fact]
    public async Task MinScore_DropsJudgedHitsBelowIt_AndKeepsTheHitsPastTheWindow()
    {
        const string query = """{"query":{"match":{"text":"onion onions"}},"size":20}""";
        var backendOrder = await _stack.BackendIdsAsync(query);
        Assert.True(backendOrder.Length > 5, "the corpus needs hits past the 5-hit window");
        var window = backendOrder.Take(5).ToArray();
        var expected = await ProxyStack.ExpectedRank1OrderAsync("onion onions", window, 4);

        var all = await _stack.SearchAsync(query);
        Assert.Equal(expected.Concat(backendOrder.Skip(5)), all.Ids);
        var scores = all.Json["hits"]!["hits"]!.AsArray().Take(5).ToDictionary(h => h!["_id"]!.GetValue<string>(), h => h!["_score"]!.GetValue<double>());
        // A threshold between the second and third best scores of the window: exactly two judged hits stay.
        var ranked = scores.Values.OrderDescending().ToArray();
        Assert.True(ranked[1] > ranked[2], "the tiny model gave the 2nd and 3rd hits the same score");
        var min = (ranked[1] + ranked[2]) / 2;

        var filtered = await _stack.SearchAsync("""{"query":{"match":{"text":"onion onions"}},"size":20,"ext":{"rank1":{"min_score":"""
            + min.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "}}}");
        Assert.Equal(200, filtered.Status);
        Assert.Equal(expected.Take(2).Concat(backendOrder.Skip(5)), filtered.Ids);
        Assert.Equal(ranked[0], filtered.Json["hits"]!["max_score"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("do*/_search")]
    [InlineData("docs,docs/_search")]
    [InlineData("_search")]
    public async Task IndexListsAndWildcards_AreReranked(string path)
    {
        var r = await _stack.SearchAsync(OnionQuery, path);
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal((await _stack.BackendIdsAsync(OnionQuery)).Order(), r.Ids.Order());
    }

    [Fact]
    public async Task Pagination_AcrossTheWindowEdge_IsRerankedWindowThenBackendOrder()
    {
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion onions"}},"size":20}""");
        Assert.Equal(6, backendOrder.Length);
        var windowOrder = await ProxyStack.ExpectedRank1OrderAsync("onion onions", backendOrder.Take(3).ToArray(), 4);
        var all = windowOrder.Concat(backendOrder.Skip(3)).ToArray();

        var page = await _stack.SearchAsync("""{"query":{"match":{"text":"onion onions"}},"from":2,"size":3,"ext":{"rank1":{"window":3}}}""");
        Assert.Equal("applied", page.Rerank);
        Assert.Equal(all.Skip(2).Take(3), page.Ids);
        // Past the window the hits carry no Rank1 judgement; their backend scores are in _rank1.original_score.
        var past = page.Json["hits"]!["hits"]![1]!["fields"]!.AsObject();
        Assert.Equal(["_rank1.original_score"], past.Select(p => p.Key));
    }

    // SearchSourceBuilder.parseXContent reads from and size with parser.intValue(), which truncates a fraction and
    // parses a string holding a number (AbstractXContentParser.intValue, coerce by default): the proxy slices with
    // the int Elasticsearch would use, here from 1 and size 3 of the reranked window.
    [Theory]
    [InlineData("1", "3")]
    [InlineData("1.5", "\"3\"")]
    [InlineData("\"1.0\"", "3.7")]
    [InlineData("\" 1 \"", "\"3e0\"")]
    public async Task Search_FromAndSize_AreCoercedAsElasticsearchsIntValue(string from, string size)
    {
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion onions"}},"size":20}""");
        var windowOrder = await ProxyStack.ExpectedRank1OrderAsync("onion onions", backendOrder.Take(3).ToArray(), 4);

        var page = await _stack.SearchAsync("""{"query":{"match":{"text":"onion onions"}},"ext":{"rank1":{"window":3}},"from":""" + from + ",\"size\":" + size + "}");
        Assert.Equal(200, page.Status);
        Assert.Equal("applied", page.Rerank);
        Assert.Equal(windowOrder.Concat(backendOrder.Skip(3)).Skip(1).Take(3), page.Ids);
    }

    // RestSearchAction reads the URL's from and size with request.paramAsInt (Integer.parseInt): no coercion there.
    [Theory]
    [InlineData("from=1.5", "Failed to parse int parameter [from] with value [1.5]")]
    [InlineData("size=%2010", "Failed to parse int parameter [size] with value [ 10]")]
    public async Task Search_UrlFromOrSizeThatIsNotAnInteger_IsRefused(string parameter, string reason)
    {
        var r = await _stack.SearchAsync(OnionQuery, $"{ProxyStack.Index}/_search?{parameter}");
        Assert.Equal(400, r.Status);
        Assert.Equal(("illegal_argument_exception", reason), (r.Json["error"]!["type"]!.GetValue<string>(), r.Json["error"]!["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AggregationsHighlightAndExplain_ArePreserved()
    {
        var r = await _stack.SearchAsync("""
            {"query":{"match":{"text":"onion"}},"highlight":{"fields":{"text":{}}},"explain":true,
             "aggs":{"topics":{"terms":{"field":"topic"}}}}
            """);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal("food", r.Json["aggregations"]!["topics"]!["buckets"]![0]!["key"]!.GetValue<string>());
        foreach (var hit in r.Json["hits"]!["hits"]!.AsArray().Take(5))
        {
            Assert.Contains("<em>", hit!["highlight"]!["text"]![0]!.GetValue<string>(), StringComparison.Ordinal);
            var explanation = hit["_explanation"]!;
            Assert.Equal(hit["_score"]!.GetValue<double>(), explanation["value"]!.GetValue<double>());
            Assert.StartsWith("rank1: P(true)", explanation["description"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.NotNull(explanation["details"]![0]!["value"]); // the backend's BM25 explanation, nested
        }
    }

    [Fact]
    public async Task ClientSourceFilter_IsHonouredWhileThePassageFieldsAreJudged()
    {
        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"_source":["topic"]}""");
        Assert.Equal("applied", r.Rerank);
        foreach (var hit in r.Json["hits"]!["hits"]!.AsArray())
        {
            Assert.Equal(["topic"], hit!["_source"]!.AsObject().Select(p => p.Key));
        }

        // Elasticsearch 9.1's exclude_vectors (elasticsearch-dsl sends it) beside the patterns: the proxy refused the
        // search ("Unknown key for a VALUE_BOOLEAN in [exclude_vectors].") before the backend saw it.
        var withFlag = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"_source":{"includes":["topic"],"exclude_vectors":false}}""");
        Assert.True(withFlag.Status == 200, withFlag.Json.ToJsonString());
        Assert.Equal("applied", withFlag.Rerank);
        Assert.Equal(r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>() + h["_source"]!.ToJsonString()),
            withFlag.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>() + h["_source"]!.ToJsonString()));
    }

    [Fact]
    public async Task FilterPathAndPretty_ApplyToTheRerankedAnswer_NotToTheBackendsPassages()
    {
        using var response = await _stack.Http.PostAsync("docs/_search?filter_path=hits.hits._id,hits.hits.fields.*score&pretty", ProxyStack.Json(OnionQuery));
        Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("\n", text, StringComparison.Ordinal);
        var json = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(["hits"], json.Select(p => p.Key));
        var hit = json["hits"]!["hits"]![0]!.AsObject();
        Assert.Equal(["_id", "fields"], hit.Select(p => p.Key));
        // "_rank1.score" is one field name holding a dot: "*score" matches it whole, "_rank1.score" would not (as in Elasticsearch).
        Assert.Equal(["_rank1.original_score", "_rank1.score"], hit["fields"]!.AsObject().Select(p => p.Key).Order());
    }

    [Theory]
    // A search to rerank, and one passed on as it is (sorted): each fails on the backend's shard.
    [InlineData("""{"query":{"query_string":{"query":"text:(onion"}}}""")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"sort":[{"title":"asc"}]}""")]
    public async Task ShardFailure_IsTheBackendsAnswer_ForASearchAndAnMsearchItem(string body)
    {
        // The backend's search_phase_execution_exception ("all shards failed", with its failed_shards), as it is.
        using var http = new HttpClient { BaseAddress = _stack.Backend.Url };
        using var direct = await http.PostAsync($"{ProxyStack.Index}/_search", ProxyStack.Json(body));
        var backend = JsonNode.Parse(await direct.Content.ReadAsStringAsync())!;
        Assert.Equal(400, (int)direct.StatusCode);
        Assert.Equal("search_phase_execution_exception", backend["error"]!["type"]!.GetValue<string>());

        var r = await _stack.SearchAsync(body);
        Assert.Equal(400, r.Status);
        Assert.Equal(backend.ToJsonString(), r.Json.ToJsonString());

        var m = await _stack.SendAsync(HttpMethod.Post, "_msearch", $"{{\"index\":\"{ProxyStack.Index}\"}}\n{body}\n", "application/x-ndjson");
        Assert.Equal(200, m.Status);
        var item = m.Json["responses"]![0]!;
        Assert.Equal(400, item["status"]!.GetValue<int>());
        Assert.Equal(backend["error"]!.ToJsonString(), item["error"]!.ToJsonString());
    }

    [Fact]
    public async Task Msearch_MixOfRerankedAndPlainSearches()
    {
        var body = """
            {"index":"docs"}
            {"query":{"match":{"text":"onion"}}}
            {"index":"docs"}
            {"query":{"match":{"text":"onion"}},"ext":{"rank1":{"enabled":false}}}
            {"index":"ghost"}
            {"query":{"match":{"text":"onion"}}}
            {"index":"docs"}
            {"query":{"match":{"text":"onion"}},"sort":[{"nope":"asc"}]}

            """;
        var r = await _stack.SendAsync(HttpMethod.Post, "_msearch", body, "application/x-ndjson");
        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal(4, responses.Count);
        Assert.NotNull(responses[0]!["hits"]!["hits"]![0]!["fields"]!["_rank1.score"]);
        Assert.Null(responses[1]!["hits"]!["hits"]![0]!["fields"]);
        Assert.Equal(await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}}}"""), responses[1]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(404, responses[2]!["status"]!.GetValue<int>());
        Assert.Equal("index_not_found_exception", responses[2]!["error"]!["type"]!.GetValue<string>());
        // A sort on an unmapped field fails on the shard, while the search runs: that item's 400. (A bad ext.rank1 setting
        // fails the whole msearch, as Elasticsearch fails one it finds while reading a body: MsearchFidelityTests.)
        Assert.Equal(400, responses[3]!["status"]!.GetValue<int>());
        Assert.Contains("No mapping found for [nope]", responses[3]!["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("applied=1, skipped=3", r.Rerank);
        Assert.Equal(["applied", "skipped", "skipped", "skipped"], responses.Select(x => x!["_rank1"]!["rerank"]!.GetValue<string>()));
    }

    [Theory]
    // JsonXContentParser.nextToken: Jackson's JsonEOFException is XContentEOFException, its other JsonParseExceptions
    // XContentParseException, at [line:column]; a body that is not an object is SearchSourceBuilder.parseXContent's
    // ParsingException. Before, the proxy answered parsing_exception "request body is not valid JSON".
    [InlineData("""{"query":{"match":""", "x_content_e_o_f_exception", "[1:19] ")]
    [InlineData("""{"query":{"match":}}""", "x_content_parse_exception", "[1:20] ")]
    [InlineData("""[1]""", "parsing_exception", "Expected [START_OBJECT] but found [START_ARRAY]")]
    // Whitespace is a body (RestRequest.hasContent: contentLength() > 0) with no token; the proxy took it for no body
    // and answered a reranked match_all.
    [InlineData(" ", "parsing_exception", "Expected [START_OBJECT] but found [null]")]
    [InlineData("\r\n\t ", "parsing_exception", "Expected [START_OBJECT] but found [null]")]
    [InlineData("""{"size":1,"size":2,"query":{"match":{"text":"x"}}}""", "x_content_parse_exception", "[1:11] Duplicate field 'size'")]
    [InlineData("""{"query":{"match":{"text":"x","text":"y"}}}""", "x_content_parse_exception", "[1:31] Duplicate field 'text'")]
    [InlineData("""{"query":{"match":{"text":"x"}},"_source":{"includes":5}}""", "parsing_exception", "Unknown key for a VALUE_NUMBER in [includes].")]
    [InlineData("""{"query":{"match":{"text":"x"}},"_source":{"excludes":[true]}}""", "parsing_exception", "Unknown key for a VALUE_BOOLEAN in [excludes].")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"window":0}}}""", "illegal_argument_exception", "[ext.rank1.window]")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"max_think_tokens":-1}}}""", "illegal_argument_exception", "[ext.rank1.max_think_tokens]")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"deadline_ms":"soon"}}}""", "illegal_argument_exception", "[ext.rank1.deadline_ms]")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"include_reasoning":"yes"}}}""", "illegal_argument_exception", "[ext.rank1.include_reasoning]")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"fields":[]}}}""", "illegal_argument_exception", "[ext.rank1.fields]")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"colour":"blue"}}}""", "illegal_argument_exception", "[ext.rank1.colour]")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"min_score":1.5}}}""", "illegal_argument_exception", "[ext.rank1.min_score] must be a number from 0 to 1")]
    [InlineData("""{"query":{"match":{"text":"x"}},"ext":{"rank1":{"min_score":"high"}}}""", "illegal_argument_exception", "[ext.rank1.min_score]")]
    [InlineData("""{"query":{"match_all":{}},"ext":{"rank1":{"enabled":true}}}""", "illegal_argument_exception", "[ext.rank1.query] is required")]
    public async Task BadInput_Gets400InElasticsearchShape(string body, string type, string reason)
    {
        var r = await _stack.SearchAsync(body);
        Assert.Equal(400, r.Status);
        Assert.Equal(400, r.Json["status"]!.GetValue<int>());
        Assert.Equal(type, r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Contains(reason, r.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Elasticsearch", r.Headers.GetValues("X-Elastic-Product").Single());
    }

    // Jackson 2.15's words (Elasticsearch 9's parser), at the column after the last byte it read, with its location
    // (JsonXContentImpl turns INCLUDE_SOURCE_IN_LOCATION on), as JsonXContentParser.nextToken wraps them: "[line:col] "
    // and the message, caused by json_parse_exception; a JsonEOFException is "Unexpected end of file" caused by
    // json_e_o_f_exception. Before, the proxy answered System.Text.Json's words ("'x' is invalid after a single JSON value").
    [Theory]
    [InlineData("_search", "{\"query\": tru}", "{\"query\": tru}", "[1:15] ", "Unrecognized token 'tru': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", 15)]
    [InlineData("_search", "{\"a\" 1}", "{\"a\" 1}", "[1:7] ", "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value", 7)]
    [InlineData("_search", "{\"query\":{", "{\"query\":{", "[1:11] Unexpected end of file", "Unexpected end-of-input: expected close marker for Object (start marker at [Source: (byte[])\"{\"query\":{\"; line: 1, column: 10])", 11)]
    [InlineData("_msearch", "{} x\n{}\n", "{} x", "[1:5] ", "Unrecognized token 'x': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", 5)]
    public async Task MalformedJson_IsJacksonsError_AsElasticsearchWrapsIt(string endpoint, string body, string source, string reasonStart, string jackson, int column)
    {
        var r = endpoint == "_search" ? await _stack.SearchAsync(body) : await _stack.SendAsync(HttpMethod.Post, endpoint, body, "application/x-ndjson");
        var message = $"{jackson}\n at [Source: (byte[])\"{source}\"; line: 1, column: {column}]";
        var eof = reasonStart.EndsWith("file", StringComparison.Ordinal);
        var error = r.Json["error"]!;
        Assert.Equal(
            (400, eof ? "x_content_e_o_f_exception" : "x_content_parse_exception", eof ? reasonStart : reasonStart + message),
            (r.Status, error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        Assert.Equal((eof ? "json_e_o_f_exception" : "json_parse_exception", message), (error["caused_by"]!["type"]!.GetValue<string>(), error["caused_by"]!["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task DeeplyNestedQuery_IsReadAsElasticsearchReadsIt()
    {
        // 21 nested bool queries: 64 levels of JSON and more, past System.Text.Json's default depth, which the proxy
        // refused with a 400 though Elasticsearch (and the embedded backend) read it.
        var query = "{\"match\":{\"text\":\"onion\"}}";
        for (var i = 0; i < 21; i++)
        {
            query = $$$"""{"bool":{"must":[{{{query}}}]}}""";
        }

        var body = $$$"""{"query":{{{query}}}}""";
        Assert.True(JsonDepth(body) > 64);
        var r = await _stack.SearchAsync(body);
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal((await _stack.BackendIdsAsync(body)).Order(), r.Ids.Order());
    }

    private static int JsonDepth(string json)
    {
        var reader = new System.Text.Json.Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json), new System.Text.Json.JsonReaderOptions { MaxDepth = 1000 });
        var deepest = 0;
        while (reader.Read())
        {
            deepest = Math.Max(deepest, reader.CurrentDepth + 1);
        }

        return deepest;
    }

    [Fact]
    public async Task ExtRank1_IsRemovedBeforeTheBackend_EvenWhenDisabled()
    {
        // The embedded backend, like Elasticsearch, rejects any ext section: a 200 proves ext.rank1 never reached it.
        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"ext":{"rank1":{"enabled":false}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        using var backend = new HttpClient { BaseAddress = _stack.Backend.Url };
        using var direct = await backend.PostAsync("docs/_search", ProxyStack.Json("""{"ext":{"rank1":{}}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, direct.StatusCode);
    }

    [Theory]
    [InlineData("""{"query":{"match":{"text":"onion"}},"sort":[{"topic":"asc"}]}""", "sorted by a field")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"search_after":[1]}""", "search_after")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"size":0}""", "size is 0")]
    [InlineData("""{"query":{"match_all":{}}}""", "no query text")]
    public async Task NonRerankableSearches_PassThroughSkipped(string body, string reason)
    {
        var r = await _stack.SearchAsync(body);
        Assert.Equal("skipped", r.Rerank);
        Assert.Contains(reason, r.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);

        // The backend's own answer to the same search, less its took, whatever it is (search_after without a sort is the
        // backend's call): passed through, the proxy's is the same.
        using var backend = new HttpClient { BaseAddress = _stack.Backend.Url };
        using var direct = await backend.PostAsync("docs/_search", ProxyStack.Json(body));
        var expected = JsonNode.Parse(await direct.Content.ReadAsStringAsync())!.AsObject();
        var actual = JsonNode.Parse(r.Json.ToJsonString())!.AsObject();
        expected.Remove("took");
        actual.Remove("took");
        Assert.Equal((int)direct.StatusCode, r.Status);
        Assert.Equal(expected.ToJsonString(), actual.ToJsonString());
    }

    [Theory]
    [InlineData("""{"query":{"match":{"text":"onion"}},"sort":{"_score":"asc"}}""")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"sort":[{"_score":{"order":"ASC"}}]}""")]
    public async Task AscendingScoreSort_PassesThroughInTheBackendsOrder(string body)
    {
        // Before, any sort on _score alone was reranked and came back best first, whatever order was asked.
        var r = await _stack.SearchAsync(body);
        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        Assert.Equal("the search is sorted by ascending score", r.Headers.GetValues("X-Rank1-Reason").Single());
        var backend = await _stack.BackendIdsAsync(body);
        Assert.True(backend.Length > 1);
        Assert.Equal(backend, r.Ids);
        var scores = r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["sort"]![0]!.GetValue<double>()).ToArray();
        Assert.Equal(scores.Order(), scores);
    }

    [Theory]
    // Elastic.Clients.Elasticsearch 9 at its default settings sends Accept-Encoding: gzip, deflate (and gzips its bodies).
    [InlineData("gzip, deflate", "gzip")]
    [InlineData("gzip", "gzip")]
    // elasticsearch-js, opensearch-js and elasticsearch-py at their defaults accept no compression.
    [InlineData(null, null)]
    public async Task RerankedAnswer_IsCompressedExactlyWhenTheClusterCompressesItsAnswerToThatClient(string? acceptEncoding, string? expected)
    {
        // Elasticsearch gzips every answer whose client accepts gzip (http.compression, on by default without TLS), and the
        // embedded backend does as it does. The reranked answer went out plain whatever the client and cluster said: the
        // official .NET client at its defaults got a larger answer through the proxy than from the cluster itself.
        async Task<HttpResponseMessage> SendAsync(Uri server)
        {
            using var handler = new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None };
            using var http = new HttpClient(handler) { BaseAddress = server };
            using var request = new HttpRequestMessage(HttpMethod.Post, "docs/_search") { Content = ProxyStack.Json(OnionQuery) };
            if (acceptEncoding is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
            }

            var response = await http.SendAsync(request);
            await response.Content.LoadIntoBufferAsync();
            return response;
        }

        using var cluster = await SendAsync(_stack.Backend.Url);
        Assert.Equal(expected, cluster.Content.Headers.ContentEncoding.SingleOrDefault());

        using var response = await SendAsync(_stack.Proxy.Url);
        Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.Equal(expected, response.Content.Headers.ContentEncoding.SingleOrDefault());
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        if (expected == "gzip")
        {
            using var inflated = new MemoryStream();
            await using (var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress))
            {
                await gz.CopyToAsync(inflated);
            }

            bytes = inflated.ToArray();
        }

        var json = JsonNode.Parse(bytes)!;
        Assert.NotNull(json["hits"]!["hits"]![0]!["fields"]!["_rank1.score"]);
    }

    [Fact]
    public async Task CommentedSearchBody_IsRerankedAsTheSameSearchWithoutItsComments()
    {
        // Elasticsearch's JSON parser skips comments (JsonXContentImpl: ALLOW_COMMENTS); the proxy refused such a body
        // with a 400 the cluster behind it would not give.
        var plain = await _stack.SearchAsync(OnionQuery);
        var commented = await _stack.SearchAsync("/* the usual */ {\"query\": // what users type\n{\"match\":{\"text\":\"onion eyes\"}}}");
        Assert.Equal(200, commented.Status);
        Assert.Equal("applied", commented.Rerank);
        Assert.Equal(plain.Ids, commented.Ids);
    }

    [Theory]
    [InlineData("_msearch", "{\"size\":2} {}", "[1:12] Unexpected token after end of object")]
    [InlineData("_msearch/template", "{\"source\":{\"size\":2}} {}", "[1:23] Unexpected token after end of object")]
    public async Task MsearchLine_WithATokenAfterItsObject_FailsTheWholeMsearch_AsInElasticsearch(string endpoint, string line, string reason)
    {
        // Elasticsearch reads the token after each msearch line's object (MultiSearchRequest.readMultiLineFormat:
        // parser.nextToken() after the consumer; MultiSearchRequestTests.testFailOnExtraCharacters) and refuses the whole
        // msearch, as the cluster's own _msearch here does. The proxy read the line to its object's end and ran the search.
        var body = $"{{\"index\":\"{ProxyStack.Index}\"}}\n{line}\n";
        using var direct = new HttpClient { BaseAddress = _stack.Backend.Url };
        using var cluster = await direct.PostAsync(endpoint, new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        var clusterError = JsonNode.Parse(await cluster.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal((HttpStatusCode.BadRequest, "x_content_parse_exception", reason), (cluster.StatusCode, clusterError["type"]!.GetValue<string>(), clusterError["reason"]!.GetValue<string>()));

        var proxied = await _stack.SendAsync(HttpMethod.Post, endpoint, body, "application/x-ndjson");
        Assert.Equal((400, "x_content_parse_exception", reason), (proxied.Status, proxied.Json["error"]!["type"]!.GetValue<string>(), proxied.Json["error"]!["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task SearchTemplate_WithATokenAfterItsObject_KeepsItsFlags()
    {
        // Elasticsearch reads a template request to its object's end (SearchTemplateRequest.fromXContent), and so does the
        // embedded backend: the proxy read the whole body for the request's explain and profile, failed on the token
        // after it, and sent the rendered search on without them.
        var answer = await _stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_search/template",
            """{"source":{"query":{"match":{"text":"onion eyes"}}},"explain":true} {"explain":false}""");
        Assert.Equal(200, answer.Status);
        Assert.Equal("applied", answer.Rerank);
        Assert.All(answer.Json["hits"]!["hits"]!.AsArray(), h => Assert.NotNull(h!["_explanation"]));
    }

    [Fact]
    public async Task GzipRequestBody_IsAccepted()
    {
        using var compressed = new MemoryStream();
        await using (var gz = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gz.WriteAsync(Encoding.UTF8.GetBytes(OnionQuery));
        }

        using var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("gzip");
        using var response = await _stack.Http.PostAsync("docs/_search", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
    }

    [Theory]
    // elasticsearch-py 9's es.search(index=..., q=...): POST with no body and no Content-Type, Accept naming version 9.
    [InlineData("POST", "application/vnd.elasticsearch+json; compatible-with=9")]
    // opensearch-js and curl: no version anywhere.
    [InlineData("GET", "application/json")]
    // elasticsearch-js 9's Accept (it also sends a Content-Type; here none, as a bare client would).
    [InlineData("POST", "application/vnd.elasticsearch+json; compatible-with=9,text/plain")]
    public async Task BodilessQuerySearch_IsReranked_WithTheBodyItSendsTypedAsTheAcceptHeaderSays(string method, string accept)
    {
        // The proxy makes up a body for the window ({"from":0,"size":N}); sent with no Content-Type it was a 406, and
        // with application/json beside a versioned Accept Elasticsearch refuses it (both headers must name the version).
        using var request = new HttpRequestMessage(new HttpMethod(method), "docs/_search?q=onion");
        request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await _stack.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.NotEmpty(JsonNode.Parse(text)!["hits"]!["hits"]!.AsArray());
    }

    [Theory]
    [InlineData("docs/_search", """{"query":{"match":{"text":"onion"}}}""", null)]
    [InlineData("_msearch", "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", null)]
    [InlineData("docs/_search/template", """{"source":{"query":{"match":{"text":"{{q}}"}}},"params":{"q":"onion"}}""", null)]
    [InlineData("_msearch", "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", "text/plain")]
    public async Task BodySentWithoutAContentTypeElasticsearchReads_Is406AsInElasticsearch(string path, string body, string? contentType)
    {
        // Elasticsearch refuses such a body before any handler runs (RestController.dispatchRequest,
        // sendContentTypeErrorMessage); the proxy sent a body without one on as application/json and answered the search,
        // and answered an msearch of text/plain 200, each of its searches the backend's 406.
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        using var response = await _stack.Http.PostAsync(path, content);

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        var expected = contentType is null ? "Content-Type header is missing" : $"Content-Type header [{contentType}] is not supported";
        Assert.Equal($$"""{"error":"{{expected}}","status":406}""", await response.Content.ReadAsStringAsync());
        Assert.Equal("Elasticsearch", response.Headers.GetValues("X-Elastic-Product").Single());
    }

    [Theory]
    [InlineData("_score", "applied", null)]
    [InlineData("_score:desc", "applied", null)]
    [InlineData("_score:asc", "skipped", "the search is sorted by ascending score")]
    [InlineData("topic:asc", "skipped", "the search is sorted by a field")]
    public async Task SortUrlParameter_IsReadAsTheBodysSortKeys(string sort, string rerank, string? reason)
    {
        // RestSearchAction turns ?sort=_score into the body's "sort":["_score"] (a descending score sort, which is reranked);
        // the proxy skipped every search with a sort parameter as "sorted by a field".
        var r = await _stack.SendAsync(HttpMethod.Post, $"docs/_search?sort={Uri.EscapeDataString(sort)}", OnionQuery);

        Assert.Equal(200, r.Status);
        Assert.Equal(rerank, r.Rerank);
        Assert.Equal(reason, r.Headers.TryGetValues("X-Rank1-Reason", out var values) ? values.Single() : null);
    }

    [Fact]
    public async Task CompatibleWithContentType_IsPreserved()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "docs/_search") { Content = new StringContent(OnionQuery, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/vnd.elasticsearch+json; compatible-with=9");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.elasticsearch+json; compatible-with=9");
        using var response = await _stack.Http.SendAsync(request);
        Assert.Equal("application/vnd.elasticsearch+json; compatible-with=9", response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task HealthAndMetrics_ReportModelBackendAndCounters()
    {
        await _stack.SearchAsync(OnionQuery);
        var health = await _stack.SendAsync(HttpMethod.Get, "_rank1/health");
        Assert.Equal(200, health.Status);
        Assert.True(health.Json["model"]!["loaded"]!.GetValue<bool>());
        Assert.True(health.Json["backend"]!["reachable"]!.GetValue<bool>());
        Assert.Equal("elasticsearch", health.Json["backend"]!["flavor"]!.GetValue<string>());

        var metrics = await _stack.Http.GetStringAsync("_rank1/metrics");
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_search_requests_total", ("rerank", "applied")));
        Assert.Equal(20, PrometheusText.Value(metrics, "rank1_tokens_generated_total")); // 5 passages x 4 tokens
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_rerank_duration_seconds_count"));
        Assert.Equal(0, PrometheusText.Value(metrics, "rank1_rerank_queue_depth"));
    }
}

/// <summary>Reranking never turns a working search into an error.</summary>
public sealed class ProxyFallbackTests
{
    [Fact]
    public async Task ModelThatThrows_FallsBackToBackendOrder()
    {
        var judge = new ThrowingJudge();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));
        var query = """{"query":{"match":{"text":"onion eyes"}}}""";
        var r = await stack.SearchAsync(query);
        Assert.Equal(200, r.Status);
        Assert.Equal("fallback-error", r.Rerank);
        Assert.Contains("model exploded", r.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);
        Assert.Equal(await stack.BackendIdsAsync(query), r.Ids);
        Assert.Null(r.Json["hits"]!["hits"]![0]!["fields"]);
    }

    [Fact]
    public async Task ModelCircuit_OpensAfterRepeatedFailures_AndStopsCallingTheModel()
    {
        var judge = new ThrowingJudge();
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:ModelFailuresBeforeBreak"] = "2" }, s => s.AddSingleton<IPassageJudge>(judge));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("fallback-error", (await stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""")).Rerank);
        }

        Assert.Equal(2, judge.Calls);
    }

    [Fact]
    public async Task TinyDeadline_PassageCutShortIsScoredForced_TheRestKeepBackendOrder_Partial()
    {
        // A judge that reasons until the deadline and is cut short there, as the engine is with a huge think budget (the
        // engine's side is ProxyBatchingTests'); a grace long enough that the late-call cancellation never comes first.
        // The proxy's clock is a FakeTimeProvider that only the judge moves: the deadline passes exactly while the first
        // passage is judged, however slow this machine is.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:DeadlineGrace"] = "00:00:30" }, s => s
            .AddSingleton<TimeProvider>(clock)
            .AddSingleton<IPassageJudge>(new CutAtDeadlineJudge(clock)));
        var r = await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"deadline_ms":1000}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("partial", r.Rerank);
        var backend = await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}}}""");
        Assert.Equal(backend, r.Ids); // the one judged passage was the backend's first; the others follow in backend order
        var sources = r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["fields"]?["_rank1.source"]?[0]?.GetValue<string>()).ToArray();
        Assert.Equal("forced", sources[0]);
        Assert.All(sources.Skip(1), s => Assert.Null(s));
    }

    private sealed class CutAtDeadlineJudge(FakeTimeProvider clock) : IPassageJudge
    {
        public string ModelId => "cut-at-deadline";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
            PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, ct) => JudgeOneAsync(input, settings, ct), clock, cancellationToken);

        private ValueTask<Rank1Judgement> JudgeOneAsync(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
        {
            var left = settings!.Deadline!.Value - clock.GetUtcNow();
            Assert.True(left > TimeSpan.Zero); // the fake clock has not moved since the search arrived
            clock.Advance(left); // the model's reasoning, until the deadline cuts it
            return ValueTask.FromResult(new Rank1Judgement(0.9, true, "cut short", 3, ReasoningEnd.Deadline, 1, TimeSpan.Zero, TimeSpan.Zero));
        }
    }

    [Fact]
    public async Task FullQueue_FallsBackWithOverload()
    {
        var gate = new GateJudge();
        await using var stack = await ProxyStack.StartAsync(
            new() { ["Rank1:Proxy:MaxConcurrentReranks"] = "1", ["Rank1:Proxy:MaxQueuedReranks"] = "0" },
            s => s.AddSingleton<IPassageJudge>(gate));
        var first = stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""");
        await gate.Entered.Task;
        var second = await stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""");
        Assert.Equal("fallback-overload", second.Rerank);
        gate.Release.SetResult();
        Assert.Equal("applied", (await first).Rerank);
    }

    private sealed class GateJudge : IPassageJudge
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string ModelId => "gate";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
            PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, ct) => JudgeOneAsync(input, settings, ct), TimeProvider.System, cancellationToken);

        private async ValueTask<Rank1Judgement> JudgeOneAsync(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
            return new Rank1Judgement(0.5, true, "ok", 0, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero);
        }
    }
}
