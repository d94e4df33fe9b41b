using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>The REST API over real HTTP: shapes, status codes, query DSL semantics and Elasticsearch-style errors.</summary>
public sealed class ApiTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        var mapping = JsonNode.Parse("""
            {"mappings":{"properties":{"title":{"type":"text"},"text":{"type":"text"},"topic":{"type":"keyword"},
             "year":{"type":"integer"},"rating":{"type":"float"},"published":{"type":"date"},"open":{"type":"boolean"}}}}
            """);
        Assert.Equal(200, (await Es.PutAsync("/library", mapping)).Status);
        var bulk = """
            {"index":{"_index":"library","_id":"1"}}
            {"title":"Rivers of Europe","text":"The Danube flows through ten countries.","topic":"geography","year":2001,"rating":4.5,"published":"2001-05-01","open":true}
            {"index":{"_index":"library","_id":"2"}}
            {"title":"Mountain Rivers","text":"Fast rivers carve deep valleys in the mountains.","topic":"geography","year":1995,"rating":3.9,"published":"1995-01-10","open":false}
            {"index":{"_index":"library","_id":"3"}}
            {"title":"Bread Baking","text":"Sourdough bread needs a lively starter and patience.","topic":"cooking","year":2019,"rating":4.8,"published":"2019-11-20","open":true}
            {"index":{"_index":"library","_id":"4"}}
            {"title":"River Fish Recipes","text":"Trout from the river, baked with herbs.","topic":"cooking","year":2010,"rating":4.1,"published":"2010-07-07","open":true}

            """;
        var r = await Es.BulkAsync(bulk);
        Assert.False(r.Json["errors"]!.GetValue<bool>());
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    private async Task<string[]> Ids(string body)
    {
        var r = await Es.SearchAsync("library", JsonNode.Parse(body)!);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        return r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray();
    }

    // Elasticsearch keeps and returns a document as deep as its JSON parser reads (Jackson's default, 1000 levels);
    // index.mapping.depth.limit bounds mapped objects only, not one under "dynamic": false. This backend took such a
    // document and then answered every search (and update) that read it with a 500: its stored source was read again
    // at System.Text.Json's default depth of 64.
    [Fact]
    public async Task DocumentNestedPast64Levels_UnderDynamicFalse_IsSearchedHighlightedAndUpdated()
    {
        const int Depth = 200;
        var blob = string.Concat(Enumerable.Repeat("""{"a":""", Depth)) + "1" + new string('}', Depth);
        Assert.Equal(200, (await Es.PutAsync("/deep", JsonNode.Parse("""{"mappings":{"dynamic":false,"properties":{"text":{"type":"text"}}}}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/deep/_doc/1?refresh=true", $$"""{"text":"layers of onion","blob":{{blob}}}""")).Status);
        Assert.Equal(200, (await Es.PostAsync("/deep/_update/1?refresh=true", """{"doc":{"text":"layers of onion skin"}}""")).Status);

        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        var response = await http.PostAsync("/deep/_search", new StringContent("""{"query":{"match":{"text":"onion"}},"highlight":{"fields":{"text":{}}}}""", System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, text);
        var hit = JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 1000 })!["hits"]!["hits"]![0]!;
        Assert.Equal("layers of onion skin", hit["_source"]!["text"]!.GetValue<string>());
        Assert.Equal("layers of <em>onion</em> skin", hit["highlight"]!["text"]![0]!.GetValue<string>());
        var levels = 0;
        for (var node = hit["_source"]!["blob"]; node is JsonObject o; node = o["a"])
        {
            levels++;
        }

        Assert.Equal(Depth, levels);
    }

    // A standard retriever (Elasticsearch 8.14 and later) is the search it wraps: its query with its filter, sort and
    // min_score. Beside what it replaces it is SearchSourceBuilder.validate's error; other retrievers need what this
    // backend has not (vectors, inference, rank fusion) and are refused saying so.
    [Fact]
    public async Task StandardRetriever_IsTheSearchItWraps_OthersAreRefused()
    {
        Assert.Equal(await Ids("""{"query":{"bool":{"must":{"match":{"text":"river rivers"}},"filter":{"term":{"topic":"cooking"}}}}}"""),
            await Ids("""{"retriever":{"standard":{"query":{"match":{"text":"river rivers"}},"filter":{"term":{"topic":"cooking"}}}}}"""));
        Assert.Equal(["3", "4", "1", "2"], await Ids("""{"retriever":{"standard":{"sort":[{"year":"desc"}]}}}"""));
        Assert.Equal(await Ids("""{"query":{"match":{"text":"river rivers"}},"size":1}"""), await Ids("""{"retriever":{"standard":{"query":{"match":{"text":"river rivers"}}}},"size":1}"""));

        var both = await Es.SearchAsync("library", JsonNode.Parse("""{"retriever":{"standard":{}},"query":{"match_all":{}},"sort":["_score"]}""")!);
        Assert.Equal((400, "action_request_validation_exception", "Validation Failed: 1: cannot specify [retriever] and [query, sort];"),
            (both.Status, both.Json["error"]!["type"]!.GetValue<string>(), both.Json["error"]!["reason"]!.GetValue<string>()));
        var rrf = await Es.SearchAsync("library", JsonNode.Parse("""{"retriever":{"rrf":{"retrievers":[{"standard":{"query":{"match_all":{}}}}]}}}""")!);
        Assert.Equal((400, "illegal_argument_exception"), (rrf.Status, rrf.Json["error"]!["type"]!.GetValue<string>()));
        Assert.Contains("only the [standard] retriever, not [rrf]", rrf.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    // RestSearchAction puts q, sort and terminate_after in the body before SearchSourceBuilder.validate sees it (they
    // were applied over the retriever's own).
    [InlineData("""{"retriever":{"standard":{}}}""", "?q=river", "Validation Failed: 1: cannot specify [retriever] and [query];")]
    [InlineData("""{"retriever":{"standard":{}}}""", "?sort=year:desc", "Validation Failed: 1: cannot specify [retriever] and [sort];")]
    [InlineData("""{"retriever":{"standard":{}}}""", "?terminate_after=5", "Validation Failed: 1: cannot specify [retriever] and [terminate_after];")]
    // knn, rank and rescore are Elasticsearch's sections (they were unknown keys, so the retriever's error never came).
    [InlineData("""{"retriever":{"standard":{}},"knn":{"field":"v","k":1,"num_candidates":1,"query_vector":[1]}}""", "", "Validation Failed: 1: cannot specify [retriever] and [knn];")]
    [InlineData("""{"retriever":{"standard":{}},"rescore":{"query":{}}}""", "", "Validation Failed: 1: cannot specify [retriever] and [rescore];")]
    public async Task Retriever_BesideWhatItReplaces_InTheBodyOrTheUrl_IsElasticsearchsValidationError(string body, string query, string reason)
    {
        var r = await Es.PostAsync("/library/_search" + query, JsonNode.Parse(body));
        Assert.Equal((400, "action_request_validation_exception", reason), (r.Status, r.ErrorType, r.ErrorReason));
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\n\n")]
    public async Task SearchBodyOfWhitespaceAlone_IsExpectedStartObjectFoundNull(string body)
    {
        // RestRequest.hasContent is contentLength() > 0, so whitespace is a body; SearchSourceBuilder.parseXContent finds no
        // token in it. The embedded backend took it for no body and answered every document.
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
        Assert.Equal((400, "parsing_exception", "Expected [START_OBJECT] but found [null]"), (r.Status, r.ErrorType, r.ErrorReason));
    }

    [Fact]
    public async Task TextAfterTheObject_IsRefusedOnASearch_AndOnAnMsearchLine_EachInItsOwnWords()
    {
        // RestSearchAction checks trailing tokens; MultiSearchRequest.readMultiLineFormat reads the next token after each
        // line's object (MultiSearchRequestTests.testFailOnExtraCharacters): a comment is no token, another object is.
        var search = await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{"match_all":{}}} {"size":1}""");
        Assert.Equal((400, "parsing_exception", "Unexpected token [START_OBJECT] found after the main object."), (search.Status, search.ErrorType, search.ErrorReason));

        var commented = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"library\"} // the shelf\n{\"query\":{\"match_all\":{}}} /* all */\n", "application/x-ndjson");
        Assert.Equal(200, commented.Status);
        Assert.Equal(200, commented.Json["responses"]![0]!["status"]!.GetValue<int>());
        var msearch = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"library\"} // the shelf\n{\"query\":{\"match_all\":{}}} {\"size\":1}\n", "application/x-ndjson");
        Assert.Equal((400, "x_content_parse_exception", "[1:28] Unexpected token after end of object"), (msearch.Status, msearch.ErrorType, msearch.ErrorReason));
    }

    [Theory]
    [InlineData("/library/_search/template")]
    [InlineData("/_render/template")]
    public async Task TextAfterATemplateRequestsObject_IsNeverRead(string path)
    {
        // RestSearchTemplateAction and RestRenderSearchTemplateAction read the body with SearchTemplateRequest.fromXContent
        // (an ObjectParser: it stops at the object's end); these endpoints refused the token after it with a 400.
        var r = await Es.SendAsync(HttpMethod.Post, path, """{"source":{"query":{"match_all":{}},"size":1}} {"size":2}""");
        Assert.Equal(200, r.Status);
        Assert.Equal(1, path.EndsWith("_search/template", StringComparison.Ordinal)
            ? r.Json["hits"]!["hits"]!.AsArray().Count
            : r.Json["template_output"]!["size"]!.GetValue<int>());
    }

    [Fact]
    public async Task Count_ReadsItsBodyToTheObjectsEndAndNoFurther()
    {
        // RestCountAction reads the body with RestActions.getQueryContent, which stops at the object's END_OBJECT and
        // never reads past it (no checkTrailingTokens, unlike _search): whatever follows the object is not an error.
        // These were a 400 x_content_parse_exception ("'{' is invalid after a single JSON value").
        foreach (var trailing in new[] { " {\"query\":{\"match_all\":{}}}", " x", "}" })
        {
            var r = await Es.SendAsync(HttpMethod.Post, "/library/_count", """{"query":{"term":{"topic":"geography"}}}""" + trailing);
            Assert.Equal(200, r.Status);
            Assert.Equal(2, r.Json["count"]!.GetValue<int>());
        }

        // A body that is no object: getQueryContent's ParsingException.
        var array = await Es.SendAsync(HttpMethod.Post, "/library/_count", "[1]");
        array.AssertError(400, "parsing_exception", "Expected [START_OBJECT] but found [START_ARRAY]");
    }

    [Theory]
    [InlineData("/library/_count")]
    [InlineData("/library/_search/template")]
    [InlineData("/_render/template")]
    public async Task BodyThatIsNotJson_OnOtherSearchEndpoints_IsAnXContentParseExceptionAtItsLineAndColumn(string path)
    {
        // JsonXContentParser.newXContentParseException: "[line:column] reason", 1-based, as the search body's own errors
        // are worded (RequestJson.ParseFailure); these endpoints answered System.Text.Json's "LineNumber: 0 |
        // BytePositionInLine: 26." text, 0-based, as a parsing_exception. Jackson's column is where it stands after the
        // byte it refused (the '}' at 27): 28, with its message for a field name that does not start with a quote.
        var r = await Es.SendAsync(HttpMethod.Post, path, "{\"query\":{\"match_all\":{}},}");
        Assert.Equal((400, "x_content_parse_exception"), (r.Status, r.ErrorType));
        Assert.StartsWith("[1:28] Unexpected character ('}' (code 125)): was expecting double-quote to start field name", r.ErrorReason, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", r.ErrorReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retriever_ParsesBeforeItIsValidated_AndADefaultTerminateAfterIsNotListed()
    {
        // The retriever's parse error comes first, as Elasticsearch parses the whole body before validating it.
        var r = await Es.PostAsync("/library/_search", JsonNode.Parse("""{"retriever":{"standard":{"nope":1}},"query":{"match_all":{}}}"""));
        Assert.Equal((400, "x_content_parse_exception", "[standard] unknown field [nope]"), (r.Status, r.ErrorType, r.ErrorReason));
        // SearchSourceBuilder.validate names terminate_after only when it is not its default, 0.
        Assert.Equal(await Ids("""{"query":{"match":{"text":"river rivers"}}}"""), await Ids("""{"retriever":{"standard":{"query":{"match":{"text":"river rivers"}}}},"terminate_after":0}"""));
        // Without a retriever, knn is refused saying what this backend lacks, not as an unknown key.
        var knn = await Es.PostAsync("/library/_search", JsonNode.Parse("""{"knn":{"field":"v","k":1,"num_candidates":1,"query_vector":[1]}}"""));
        Assert.Equal((400, "illegal_argument_exception"), (knn.Status, knn.ErrorType));
        Assert.Contains("does not run [knn]", knn.ErrorReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StandardRetriever_NamedOrFilterOnly_IsReadAsElasticsearchReadsIt()
    {
        // RetrieverBuilder.declareBaseParserFields: _name is every retriever's label (it was an unknown field here).
        Assert.Equal(await Ids("""{"query":{"match":{"text":"river rivers"}}}"""), await Ids("""{"retriever":{"standard":{"_name":"lexical","query":{"match":{"text":"river rivers"}}}}}"""));
        // StandardRetrieverBuilder.extractToSearchSourceBuilder: with no query the bool holds only the filter, and every
        // hit scores 0 (it was a match_all must: 1).
        var filtered = await Es.SearchAsync("library", JsonNode.Parse("""{"retriever":{"standard":{"filter":{"term":{"topic":"cooking"}}}}}""")!);
        var direct = await Es.SearchAsync("library", JsonNode.Parse("""{"query":{"bool":{"filter":{"term":{"topic":"cooking"}}}}}""")!);
        Assert.Equal(direct.Json["hits"]!.ToJsonString(), filtered.Json["hits"]!.ToJsonString());
        Assert.All(filtered.Json["hits"]!["hits"]!.AsArray(), h => Assert.Equal(0, h!["_score"]!.GetValue<double>()));
    }

    [Fact]
    public async Task Root_DescribesElasticsearch9WithProductHeader()
    {
        var r = await Es.GetAsync("/");
        Assert.Equal(200, r.Status);
        Assert.StartsWith("9.", r.Json["version"]!["number"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("You Know, for Search", r.Json["tagline"]!.GetValue<string>());
        Assert.Equal("Elasticsearch", r.Headers.GetValues("X-Elastic-Product").Single());
        var head = await Es.SendAsync(HttpMethod.Head, "/");
        Assert.Equal(200, head.Status);
    }

    [Fact]
    public async Task QueryDsl_Semantics()
    {
        Assert.Equal(["2", "4"], (await Ids("""{"query":{"match":{"text":{"query":"river valleys trout","operator":"or"}}}}""")).Order());
        Assert.Equal(["2"], await Ids("""{"query":{"match":{"text":{"query":"fast rivers","operator":"and"}}}}"""));
        Assert.Equal(["1"], await Ids("""{"query":{"match_phrase":{"text":"ten countries"}}}"""));
        Assert.Equal(["3", "4"], (await Ids("""{"query":{"term":{"topic":"cooking"}}}""")).Order());
        Assert.Empty(await Ids("""{"query":{"term":{"topic":"Cooking"}}}"""));
        Assert.Equal(["1", "2", "3", "4"], (await Ids("""{"query":{"terms":{"topic":["cooking","geography"]}}}""")).Order());
        Assert.Equal(["1", "3"], (await Ids("""{"query":{"ids":{"values":["3","1","99"]}}}""")).Order());
        Assert.Equal(["1", "4"], (await Ids("""{"query":{"range":{"year":{"gte":2000,"lt":2019}}}}""")).Order());
        Assert.Equal(["3"], await Ids("""{"query":{"range":{"published":{"gt":"2015-01-01"}}}}"""));
        Assert.Equal(["1", "3"], (await Ids("""{"query":{"range":{"rating":{"gte":4.5}}}}""")).Order());
        Assert.Equal(["4"], await Ids("""{"query":{"bool":{"must":[{"match":{"text":"river"}}],"filter":[{"term":{"topic":"cooking"}}]}}}"""));
        Assert.Equal(["1", "3"], (await Ids("""{"query":{"bool":{"must_not":[{"term":{"open":false}}],"filter":{"range":{"rating":{"gte":4.4}}}}}}""")).Order());
        Assert.Equal(["2"], await Ids("""{"query":{"bool":{"should":[{"match":{"text":"fast"}},{"match":{"text":"valleys"}},{"match":{"text":"bread"}}],"minimum_should_match":2}}}"""));
        Assert.Equal(["3"], await Ids("""{"query":{"query_string":{"query":"sourdough AND topic:cooking"}}}"""));
        Assert.Equal(["3"], await Ids("""{"query":{"simple_query_string":{"query":"bread -trout","fields":["text"],"default_operator":"and"}}}"""));
        // As in Elasticsearch, with the default OR operator "-trout" alone matches every document without "trout".
        Assert.Equal(["1", "2", "3"], (await Ids("""{"query":{"simple_query_string":{"query":"bread -trout","fields":["text"]}}}""")).Order());
        Assert.Equal(4, (await Ids("""{"query":{"match_all":{}}}""")).Length);
        // multi_match: title boost makes the title hit win
        Assert.Equal("4", (await Ids("""{"query":{"multi_match":{"query":"river","fields":["title^5","text"]}}}"""))[0]);
    }

    [Fact]
    public async Task TermsAndIds_WithThousandsOfValues_MatchAsInElasticsearch_UpToMaxTermsCount()
    {
        // Elasticsearch's terms and ids queries are term sets, bounded only by index.max_terms_count (65,536) for
        // terms; Lucene's BooleanQuery took 1,024 clauses at most, so a list of allowed ids was a 500 here.
        var topics = new JsonArray([.. Enumerable.Range(0, 5000).Select(i => (JsonNode)$"t{i}"), "cooking"]);
        Assert.Equal(["3", "4"], (await Ids(new JsonObject { ["query"] = new JsonObject { ["terms"] = new JsonObject { ["topic"] = topics } } }.ToJsonString())).Order());
        var ids = new JsonArray([.. Enumerable.Range(100, 5000).Select(i => (JsonNode)i.ToString(System.Globalization.CultureInfo.InvariantCulture)), "3", "1"]);
        Assert.Equal(["1", "3"], (await Ids(new JsonObject { ["query"] = new JsonObject { ["ids"] = new JsonObject { ["values"] = ids } } }.ToJsonString())).Order());

        // TermsQueryBuilder.doToQuery's IllegalArgumentException, the shard's query_shard_exception.
        var tooMany = new JsonArray([.. Enumerable.Range(0, 65_537).Select(i => (JsonNode)$"t{i}")]);
        var r = await Es.SearchAsync("library", new JsonObject { ["query"] = new JsonObject { ["terms"] = new JsonObject { ["topic"] = tooMany } } });
        Assert.Equal(400, r.Status);
        Assert.Equal("search_phase_execution_exception", r.Json["error"]!["type"]!.GetValue<string>());
        var cause = r.Json["error"]!["failed_shards"]![0]!["reason"]!["caused_by"]!;
        Assert.Equal(("illegal_argument_exception", "The number of terms [65537] used in the Terms Query request has exceeded the allowed maximum of [65536]. This maximum can be set by changing the [index.max_terms_count] index level setting."),
            (cause["type"]!.GetValue<string>(), cause["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task PostFilter_NarrowsTheHitsAndTheirTotal_NotTheAggregations()
    {
        // A faceted search: the aggregation counts every topic the query matches while the hits are the chosen topic's
        // (post_filter was refused as an unknown key). Scores are the query's: the post_filter does not score.
        var r = await Es.SearchAsync("library", JsonNode.Parse("""
            {"query":{"match":{"text":"river rivers bread"}},"post_filter":{"term":{"topic":"cooking"}},"aggs":{"topics":{"terms":{"field":"topic"}}}}
            """)!);
        Assert.Equal(200, r.Status);
        var unfiltered = await Es.SearchAsync("library", JsonNode.Parse("""{"query":{"match":{"text":"river rivers bread"}},"aggs":{"topics":{"terms":{"field":"topic"}}}}""")!);
        Assert.Equal(unfiltered.Json["aggregations"]!.ToJsonString(), r.Json["aggregations"]!.ToJsonString());
        Assert.Equal(2, unfiltered.Json["aggregations"]!["topics"]!["buckets"]!.AsArray().Count);
        var cooking = unfiltered.Json["hits"]!["hits"]!.AsArray().Where(h => h!["_source"]!["topic"]!.GetValue<string>() == "cooking").ToArray();
        Assert.Equal(cooking.Select(h => h!["_id"]!.GetValue<string>()), r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(cooking.Select(h => h!["_score"]!.GetValue<double>()), r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_score"]!.GetValue<double>()));
        Assert.Equal(cooking.Length, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.True(cooking.Length < unfiltered.Json["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    [Fact]
    public async Task VersionAndSeqNoPrimaryTerm_OnEachHit_AsTheDocumentHasThem()
    {
        // For optimistic concurrency control from a search (if_seq_no/if_primary_term on the next write): each hit carries
        // what GET of its document answers, in SearchHit.toXContent's order (these were ignored).
        Assert.Equal(200, (await Es.PutAsync("/library/_doc/1?refresh=true", JsonNode.Parse("""{"title":"Rivers of the World","text":"A tour of great rivers across ten countries.","topic":"geography","year":2001}"""))).Status);
        var got = await Es.GetAsync("/library/_doc/1");
        foreach (var (path, body) in new[]
        {
            ("/library/_search", """{"query":{"ids":{"values":["1"]}},"version":true,"seq_no_primary_term":true}"""),
            ("/library/_search?version=true&seq_no_primary_term=true", """{"query":{"ids":{"values":["1"]}}}"""),
        })
        {
            var hit = (await Es.PostAsync(path, JsonNode.Parse(body))).Json["hits"]!["hits"]![0]!.AsObject();
            Assert.Equal(["_index", "_id", "_version", "_seq_no", "_primary_term", "_score", "_source"], hit.Select(p => p.Key));
            Assert.Equal(2, hit["_version"]!.GetValue<long>());
            Assert.Equal((got.Json["_version"]!.GetValue<long>(), got.Json["_seq_no"]!.GetValue<long>(), got.Json["_primary_term"]!.GetValue<long>()),
                (hit["_version"]!.GetValue<long>(), hit["_seq_no"]!.GetValue<long>(), hit["_primary_term"]!.GetValue<long>()));
        }

        var plain = (await Es.PostAsync("/library/_search", JsonNode.Parse("""{"query":{"ids":{"values":["1"]}}}"""))).Json["hits"]!["hits"]![0]!.AsObject();
        Assert.Equal(["_index", "_id", "_score", "_source"], plain.Select(p => p.Key));
    }

    [Fact]
    public async Task PagingSortingSourceAndTotals()
    {
        Assert.Equal(["3", "4", "1", "2"], await Ids("""{"sort":[{"year":"desc"}]}"""));
        Assert.Equal(["4", "1"], await Ids("""{"sort":[{"year":"desc"}],"from":1,"size":2}"""));
        Assert.Equal(["3", "4", "1", "2"], await Ids("""{"sort":[{"topic":"asc"},{"rating":{"order":"desc"}}]}"""));

        var r = await Es.SearchAsync("library", JsonNode.Parse("""{"sort":[{"year":"asc"}],"size":1,"_source":{"includes":["title","year"]},"track_total_hits":true}""")!);
        var hit = r.Json["hits"]!["hits"]![0]!;
        Assert.Equal(new JsonArray(1995).ToJsonString(), hit["sort"]!.ToJsonString());
        Assert.Null(hit["_score"]);
        Assert.Equal("""{"title":"Mountain Rivers","year":1995}""", hit["_source"]!.ToJsonString());
        Assert.Equal(4, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.Equal("eq", r.Json["hits"]!["total"]!["relation"]!.GetValue<string>());

        var noSource = await Es.SearchAsync("library", JsonNode.Parse("""{"_source":false,"size":1}""")!);
        Assert.Null(noSource.Json["hits"]!["hits"]![0]!["_source"]);
        var noTotal = await Es.SearchAsync("library", JsonNode.Parse("""{"track_total_hits":false}""")!);
        Assert.Null(noTotal.Json["hits"]!["total"]);
        var capped = await Es.SearchAsync("library", JsonNode.Parse("""{"track_total_hits":2}""")!);
        Assert.Equal("""{"value":2,"relation":"gte"}""", capped.Json["hits"]!["total"]!.ToJsonString());
        var excludes = await Es.SearchAsync("library", JsonNode.Parse("""{"query":{"ids":{"values":["1"]}},"_source":{"excludes":["text","rating","published","open"]}}""")!);
        Assert.Equal("""{"title":"Rivers of Europe","topic":"geography","year":2001}""", excludes.Json["hits"]!["hits"]![0]!["_source"]!.ToJsonString());
    }

    [Fact]
    public async Task HighlightExplainAndAggregations()
    {
        var r = await Es.SearchAsync("library", JsonNode.Parse("""
            {"query":{"match":{"text":"bread"}},"highlight":{"fields":{"text":{}}},"explain":true,
             "aggs":{"topics":{"terms":{"field":"topic"}},"best":{"max":{"field":"rating"}}}}
            """)!);
        var hit = r.Json["hits"]!["hits"]![0]!;
        Assert.Equal("Sourdough <em>bread</em> needs a lively starter and patience.", hit["highlight"]!["text"]![0]!.GetValue<string>());
        Assert.Equal(hit["_score"]!.GetValue<double>(), hit["_explanation"]!["value"]!.GetValue<double>(), 5);
        Assert.NotEmpty(hit["_explanation"]!["details"]!.AsArray());
        Assert.Equal("""[{"key":"cooking","doc_count":1}]""", r.Json["aggregations"]!["topics"]!["buckets"]!.ToJsonString());
        Assert.Equal(4.8, r.Json["aggregations"]!["best"]!["value"]!.GetValue<double>(), 5);

        var typed = await Es.PostAsync("/library/_search?typed_keys=true", JsonNode.Parse("""{"size":0,"aggs":{"topics":{"terms":{"field":"topic"}}}}"""));
        Assert.NotNull(typed.Json["aggregations"]!["sterms#topics"]);
        Assert.Null(typed.Json["hits"]!["max_score"]);
    }

    [Fact]
    public async Task Documents_GetCreateUpdateDeleteMgetAndRefreshSemantics()
    {
        var put = await Es.PutAsync("/library/_doc/9", JsonNode.Parse("""{"title":"New","text":"fresh words","topic":"misc"}"""));
        Assert.Equal(201, put.Status);
        Assert.Equal("created", put.Json["result"]!.GetValue<string>());
        // Realtime GET sees it at once; search only after a refresh.
        Assert.True((await Es.GetAsync("/library/_doc/9")).Json["found"]!.GetValue<bool>());
        Assert.Empty(await Ids("""{"query":{"match":{"text":"fresh"}}}"""));
        Assert.Equal(200, (await Es.PostAsync("/library/_refresh")).Status);
        Assert.Equal(["9"], await Ids("""{"query":{"match":{"text":"fresh"}}}"""));

        var again = await Es.PutAsync("/library/_doc/9?refresh=true", JsonNode.Parse("""{"title":"New","text":"changed words","topic":"misc"}"""));
        Assert.Equal(200, again.Status);
        Assert.Equal(2, again.Json["_version"]!.GetValue<int>());
        Assert.Equal("updated", again.Json["result"]!.GetValue<string>());

        var conflict = await Es.PutAsync("/library/_create/9", JsonNode.Parse("""{"title":"x"}"""));
        Assert.Equal(409, conflict.Status);
        Assert.Equal("version_conflict_engine_exception", conflict.ErrorType);

        var update = await Es.PostAsync("/library/_update/9?refresh=true", JsonNode.Parse("""{"doc":{"topic":"news"}}"""));
        Assert.Equal("updated", update.Json["result"]!.GetValue<string>());
        var got = await Es.GetAsync("/library/_doc/9");
        Assert.Equal("news", got.Json["_source"]!["topic"]!.GetValue<string>());
        Assert.Equal("changed words", got.Json["_source"]!["text"]!.GetValue<string>());
        var missing = await Es.PostAsync("/library/_update/404", JsonNode.Parse("""{"doc":{"topic":"news"}}"""));
        Assert.Equal(404, missing.Status);
        Assert.Equal("document_missing_exception", missing.ErrorType);

        var auto = await Es.PostAsync("/library/_doc?refresh=true", JsonNode.Parse("""{"title":"auto id"}"""));
        Assert.Equal(201, auto.Status);
        Assert.Equal(20, auto.Json["_id"]!.GetValue<string>().Length);

        var mget = await Es.PostAsync("/_mget", JsonNode.Parse("""{"docs":[{"_index":"library","_id":"1"},{"_index":"library","_id":"nope"},{"_index":"ghost","_id":"1"}]}"""));
        var docs = mget.Json["docs"]!.AsArray();
        Assert.True(docs[0]!["found"]!.GetValue<bool>());
        Assert.False(docs[1]!["found"]!.GetValue<bool>());
        Assert.Equal("index_not_found_exception", docs[2]!["error"]!["type"]!.GetValue<string>());
        var mgetIds = await Es.PostAsync("/library/_mget", JsonNode.Parse("""{"ids":["2","3"]}"""));
        Assert.Equal(2, mgetIds.Json["docs"]!.AsArray().Count(d => d!["found"]!.GetValue<bool>()));

        var delete = await Es.DeleteAsync("/library/_doc/9?refresh=true");
        Assert.Equal("deleted", delete.Json["result"]!.GetValue<string>());
        Assert.Equal(404, (await Es.DeleteAsync("/library/_doc/9")).Status);
        var notFound = await Es.GetAsync("/library/_doc/9");
        Assert.Equal(404, notFound.Status);
        Assert.False(notFound.Json["found"]!.GetValue<bool>());
    }

    [Theory]
    // MultiGetRequest.validate names every item it refuses, by its place: the index was always called doc 0, and a
    // docs element without _id was looked up as the id "" (found: false).
    [InlineData("/_mget", """{"docs":[{"_index":"library","_id":"1"},{"_id":"2"},{"_index":"library"}]}""", 400, "action_request_validation_exception", "Validation Failed: 1: index is missing for doc 1;2: id is missing for doc 2;")]
    [InlineData("/library/_mget", """{"docs":[{"_id":null}]}""", 400, "action_request_validation_exception", "Validation Failed: 1: id is missing for doc 0;")]
    // MultiGetRequest.add and parseDocuments/parseIds, in their words.
    [InlineData("/library/_mget", """{"ids":["1"],"foo":["2"]}""", 400, "parsing_exception", "unknown key [foo] for a START_ARRAY, expected [docs] or [ids]")]
    [InlineData("/library/_mget", """{"ids":"1"}""", 400, "parsing_exception", "unexpected token [VALUE_STRING], expected [FIELD_NAME] or [START_ARRAY]")]
    [InlineData("/library/_mget", """{"docs":[{"_id":"1","id":"2"}]}""", 400, "parse_exception", "failed to parse multi get request. unknown field [id]")]
    [InlineData("/library/_mget", """{"docs":["1"]}""", 400, "illegal_argument_exception", "docs array element should include an object")]
    [InlineData("/library/_mget", """{"ids":[{"_id":"1"}]}""", 400, "illegal_argument_exception", "ids array element should only contain ids")]
    public async Task Mget_IsReadAndValidatedAsMultiGetRequest(string path, string body, int status, string type, string reason)
    {
        var r = await Es.PostAsync(path, JsonNode.Parse(body));
        r.AssertError(status, type, reason);
    }

    [Theory]
    // MultiGetRequest.parseDocuments reads a doc's _source itself (not FetchSourceContext.fromXContent): an object's key
    // other than includes/include/excludes/exclude is its ElasticsearchParseException, exclude_vectors too; they were
    // FetchSourceContext's "Unknown key for a VALUE_BOOLEAN in [exclude_vectors].".
    [InlineData("""{"docs":[{"_id":"1","_source":{"exclude_vectors":false}}]}""", "source definition may not contain [exclude_vectors]")]
    [InlineData("""{"docs":[{"_id":"1","_source":{"includes":["title"],"foo":["x"]}}]}""", "source definition may not contain [foo]")]
    [InlineData("""{"docs":[{"_id":"1","_source":{"includes":{"a":1}}}]}""", "unexpected token while parsing source settings")]
    [InlineData("""{"docs":[{"_id":"1","_source":5}]}""", "illegal type for _source: [VALUE_NUMBER]")]
    public async Task Mget_DocSource_IsReadByMultiGetRequestsOwnParser(string body, string reason)
    {
        (await Es.PostAsync("/library/_mget", body)).AssertError(400, "parse_exception", reason);
    }

    [Fact]
    public async Task Mget_DocSource_TakesTheTextOfEachValue_AndBooleanText()
    {
        // parser.text() of each value (a number's too), and parser.isBooleanValue() takes "false" as false.
        var r = await Es.PostAsync("/library/_mget", """{"docs":[{"_id":"1","_source":{"include":2001,"includes":["title"]}},{"_id":"2","_source":"false"}]}""");
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal("""{"title":"Rivers of Europe"}""", r.Json["docs"]![0]!["_source"]!.ToJsonString());
        Assert.Null(r.Json["docs"]![1]!["_source"]);
    }

    [Fact]
    public async Task Mget_DocsAndIdsTogether_AreBothRead_InTheBodysOrder()
    {
        // MultiGetRequest.add reads each array as it comes: the ids' items, then the docs' (a body with both lost its ids).
        var r = await Es.PostAsync("/library/_mget", JsonNode.Parse("""{"ids":["3"],"docs":[{"_id":"1","_source":false}]}"""));
        Assert.Equal(200, r.Status);
        Assert.Equal("""[["3",true],["1",false]]""",
            new JsonArray([.. r.Json["docs"]!.AsArray().Select(d => new JsonArray(d!["_id"]!.GetValue<string>(), d["_source"] is not null))]).ToJsonString());
    }

    [Fact]
    public async Task BulkAndMget_NumericIndexName_IsReadAsText()
    {
        // Elasticsearch's parsers read a metadata value with parser.text(): the number 42 is the index "42", not a 500.
        var bulk = await Es.BulkAsync("""
            {"index":{"_index":42,"_id":"1"}}
            {"n":1}

            """);
        Assert.Equal(200, bulk.Status);
        Assert.Equal("42", bulk.Json["items"]![0]!["index"]!["_index"]!.GetValue<string>());
        var mget = await Es.PostAsync("/_mget", JsonNode.Parse("""{"docs":[{"_index":42,"_id":"1"}]}"""));
        Assert.Equal(200, mget.Status);
        Assert.True(mget.Json["docs"]![0]!["found"]!.GetValue<bool>());
    }

    [Theory]
    // Metadata BulkRequestParser does not know: a misspelt _id was a document written under a generated id.
    [InlineData("""{"index":{"_index":"library","id":"60"}}""", "Action/metadata line [3] contains an unknown parameter [id]")]
    [InlineData("""{"index":{"_index":"library","_type":"_doc","_id":"60"}}""", "Action/metadata line [3] contains an unknown parameter [_type]")]
    [InlineData("""{"upsert":{"_index":"library","_id":"60"}}""", "Malformed action/metadata line [3], expected field [create], [delete], [index] or [update] but found [upsert]")]
    [InlineData("""{"index":{"_index":"library","_id":"60"},"create":{}}""", "Malformed action/metadata line [3], expected END_OBJECT but found [FIELD_NAME]")]
    [InlineData("""{"index":null}""", "Malformed action/metadata line [3], expected START_OBJECT or END_OBJECT but found [VALUE_NULL]")]
    [InlineData("""{}""", "Malformed action/metadata line [3], expected FIELD_NAME but found [END_OBJECT]")]
    [InlineData("""["index"]""", "Malformed action/metadata line [3], expected START_OBJECT but found [START_ARRAY]")]
    public async Task Bulk_ActionLine_IsCheckedAsElasticsearch9ChecksIt_AndNothingIsWritten(string action, string reason)
    {
        // BulkRequestParser.parseActionLine and checkBulkActionIsProperlyClosed, in their order and words: a 400 for the
        // whole request, before any item runs (the first item, which is fine, is not written either).
        var r = await Es.BulkAsync("{\"index\":{\"_index\":\"library\",\"_id\":\"61\"}}\n{\"title\":\"first\"}\n" + action + "\n{\"title\":\"x\"}\n");
        r.AssertError(400, "illegal_argument_exception", reason);
        Assert.Equal(404, (await Es.GetAsync("/library/_doc/61")).Status);
        Assert.Equal(404, (await Es.GetAsync("/library/_doc/60")).Status);
    }

    [Theory]
    // BulkRequestParser.findNextMarker: bytes after the last newline are refused when the parser reaches them.
    [InlineData("{\"index\":{\"_index\":\"library\",\"_id\":\"62\"}}\n{\"title\":\"x\"}", "The bulk request must be terminated by a newline [\\n]")]
    [InlineData("{\"delete\":{\"_index\":\"library\",\"_id\":\"1\"}}", "The bulk request must be terminated by a newline [\\n]")]
    [InlineData("{\"index\":{\"_index\":\"library\",\"_id\":\"62\"}}\n{\"title\":\"x\"}\n ", "The bulk request must be terminated by a newline [\\n]")]
    // A line before it is read first, and its error comes first.
    [InlineData("{\"upsert\":{}}\n{\"title\":\"x\"}", "Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [upsert]")]
    public async Task Bulk_WithoutItsLastNewline_IsA400AndNothingIsWritten(string ndjson, string reason)
    {
        var r = await Es.BulkAsync(ndjson);
        r.AssertError(400, "illegal_argument_exception", reason);
        Assert.Equal(404, (await Es.GetAsync("/library/_doc/62")).Status);
        Assert.Equal(200, (await Es.GetAsync("/library/_doc/1")).Status);
    }

    [Fact]
    public async Task Bulk_LastActionWithoutItsSourceLine_IsNotAdded()
    {
        // BulkRequestParser stops at the end of the body while it waits for an action's source line: the action is not
        // added. Alone, the request has no requests (BulkRequest.validate); after others, they run and it is not an item.
        var alone = await Es.BulkAsync("{\"index\":{\"_index\":\"bulk-tail\",\"_id\":\"63\"}}\n");
        alone.AssertError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
        var after = await Es.BulkAsync("{\"index\":{\"_index\":\"bulk-tail\",\"_id\":\"63\"}}\n{\"title\":\"x\"}\n{\"index\":{\"_index\":\"bulk-tail\",\"_id\":\"64\"}}\n");
        Assert.Equal(200, after.Status);
        Assert.Equal("63", Assert.Single(after.Json["items"]!.AsArray())!["index"]!["_id"]!.GetValue<string>());
        Assert.Equal(404, (await Es.GetAsync("/bulk-tail/_doc/64")).Status);
    }

    [Fact]
    public async Task Refresh_IsReadAsRefreshPolicyParse_AndOnlyTrueReportsAForcedRefresh()
    {
        // WriteRequest.RefreshPolicy.parse: "", "true", "false" and "wait_for"; anything else is a 400 before the write.
        var bad = await Es.BulkAsync("{\"index\":{\"_index\":\"refresh-policy\",\"_id\":\"1\"}}\n{\"n\":1}\n", "?refresh=yes");
        bad.AssertError(400, "illegal_argument_exception", "Unknown value for refresh: [yes].");
        var badPut = await Es.PutAsync("/refresh-policy/_doc/1?refresh=1", JsonNode.Parse("""{"n":1}"""));
        badPut.AssertError(400, "illegal_argument_exception", "Unknown value for refresh: [1].");
        Assert.Equal(404, (await Es.GetAsync("/refresh-policy/_doc/1")).Status);

        // refresh=true: every item written says forced_refresh (BulkShardResponse.setForcedRefresh), the failed one not.
        var forced = await Es.BulkAsync("""
            {"index":{"_index":"refresh-policy","_id":"1"}}
            {"n":1}
            {"create":{"_index":"refresh-policy","_id":"1"}}
            {"n":2}
            {"delete":{"_index":"refresh-policy","_id":"none"}}

            """, "?refresh=true");
        var items = forced.Json["items"]!.AsArray().Select(i => i!.AsObject().First().Value!).ToArray();
        Assert.Equal([true, null, true], items.Select(i => i["forced_refresh"]?.GetValue<bool>()));
        // wait_for waits for a refresh and reports none forced; so does a single write.
        var waited = await Es.BulkAsync("{\"index\":{\"_index\":\"refresh-policy\",\"_id\":\"2\"}}\n{\"n\":2}\n", "?refresh=wait_for");
        Assert.Null(waited.Json["items"]![0]!["index"]!["forced_refresh"]);
        Assert.Equal(2, (await Es.GetAsync("/refresh-policy/_count")).Json["count"]!.GetValue<int>());
        var put = await Es.PutAsync("/refresh-policy/_doc/3?refresh=wait_for", JsonNode.Parse("""{"n":3}"""));
        Assert.Equal(201, put.Status);
        Assert.Null(put.Json["forced_refresh"]);
        Assert.True((await Es.PutAsync("/refresh-policy/_doc/3?refresh=true", JsonNode.Parse("""{"n":4}"""))).Json["forced_refresh"]!.GetValue<bool>());
    }

    [Theory]
    // query_string asks a numeric or date field's type for its term or range (QueryStringQueryParser and
    // MappedFieldType.termQuery/rangeQuery), as the term and range queries do: these matched nothing.
    [InlineData("year:2001", new[] { "1" })]
    [InlineData("year:[2000 TO 2015]", new[] { "1", "4" })]
    [InlineData("year:{2001 TO *]", new[] { "3", "4" })]
    [InlineData("rating:4.5", new[] { "1" })]
    [InlineData("published:2019-11-20", new[] { "3" })]
    [InlineData("published:[2005-01-01 TO 2012-12-31] OR year:1995", new[] { "2", "4" })]
    [InlineData("topic:cooking AND year:2019", new[] { "3" })]
    // QueryStringQueryParser.getFieldQuery: >, >=, <, <= after "field:" is a range with one open end (these were a 400,
    // 'For input string: ">2001"').
    [InlineData("year:>2001", new[] { "3", "4" })]
    [InlineData("year:>=2010", new[] { "3", "4" })]
    [InlineData("year:<2001", new[] { "2" })]
    [InlineData("year:<=2001", new[] { "1", "2" })]
    [InlineData("rating:>4.5", new[] { "3" })]
    [InlineData("published:<2001-05-01 OR title:>=river", new[] { "1", "2", "4" })]
    public async Task QueryString_OnNumericAndDateFields_SearchesTheirValues(string q, string[] expected)
    {
        var count = await Es.GetAsync("/library/_count?q=" + Uri.EscapeDataString(q));
        Assert.Equal(expected.Length, count.Json["count"]!.GetValue<int>());
        Assert.Equal(expected, (await Ids(new JsonObject { ["query"] = new JsonObject { ["query_string"] = new JsonObject { ["query"] = q } } }.ToJsonString())).Order());
    }

    [Theory]
    // RestActions.urlParamsToQueryBuilder: q with df and default_operator, for _search and _count alike. _count read
    // neither, and _search not df. Without df the default field is "*", which QueryParserHelper.resolveMappingField
    // expands to every field with text search, the keyword topic among them: "geography" is only there (it was 0).
    [InlineData("q=rivers%20europe&default_operator=AND", 1)]
    [InlineData("q=rivers%20europe", 2)]
    [InlineData("q=geography&df=topic", 2)]
    [InlineData("q=geography", 2)]
    public async Task UrlQuery_ReadsDfAndDefaultOperator_OnSearchAndCount(string query, int expected)
    {
        Assert.Equal(expected, (await Es.GetAsync("/library/_count?" + query)).Json["count"]!.GetValue<int>());
        Assert.Equal(expected, (await Es.GetAsync("/library/_search?" + query)).Json["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    [Theory]
    // RestCountAction reads q (and df, default_operator, lenient...) only without a body: with one they are never
    // consumed, and BaseRestHandler refuses them. The body's query was answered and q silently dropped, or q won.
    [InlineData("/library/_count?q=topic:cooking", "request [/library/_count] contains unrecognized parameter: [q]")]
    [InlineData("/library/_count?q=topic:cooking&df=topic", "request [/library/_count] contains unrecognized parameters: [df], [q]")]
    public async Task Count_UrlQueryWithABody_IsUnrecognized(string path, string reason)
    {
        (await Es.SendAsync(HttpMethod.Post, path, """{"query":{"match_all":{}}}""")).AssertError(400, "illegal_argument_exception", reason);
    }

    [Theory]
    // BaseRestHandler.handleRequest: a handler that never read the body it was sent ("request.isContentConsumed() ==
    // false") is refused once its parameters have passed, before anything runs (so a missing index or document is never
    // looked up, and nothing is deleted). The body was ignored.
    [InlineData("GET", "/_cat/indices?v")]
    [InlineData("GET", "/_cluster/health")]
    [InlineData("GET", "/")]
    [InlineData("GET", "/_nodes/http")]
    [InlineData("DELETE", "/library")]
    [InlineData("GET", "/library")]
    [InlineData("GET", "/no-such-index/_mapping")]
    [InlineData("POST", "/library/_refresh")]
    [InlineData("GET", "/library/_doc/1")]
    [InlineData("DELETE", "/library/_doc/1")]
    [InlineData("GET", "/_scripts/none")]
    [InlineData("DELETE", "/_scripts/none")]
    public async Task ABodySentToAnApiThatReadsNone_IsRefused(string method, string pathAndQuery)
    {
        var path = pathAndQuery.Split('?')[0];
        (await Es.SendAsync(new HttpMethod(method), pathAndQuery, """{"query":{"match_all":{}}}"""))
            .AssertError(400, "illegal_argument_exception", $"request [{method} {path}] does not support having a body");
        // The parameters are checked first.
        (await Es.SendAsync(new HttpMethod(method), path + "?bogus=1", "{}")).AssertError(400, "illegal_argument_exception", $"request [{path}] contains unrecognized parameter: [bogus]");
        Assert.Equal(200, (await Es.GetAsync("/library/_doc/1")).Status);
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Head, "/library")).Status);
    }

    [Fact]
    public async Task ABodySentInChunks_IsABody_OnlyWhenAChunkHoldsAByte()
    {
        // RestRequest.hasContent is contentLength() > 0 once Netty has aggregated the body (Elasticsearch and OpenSearch
        // alike): an empty body sent in chunks is no body, neither refused nor asked for its Content-Type. Every request
        // with Transfer-Encoding and no Content-Length was counted as a body.
        Assert.Equal(200, (await Es.PutAsync("/chunked")).Status);
        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        async Task<(int Status, string Body)> Send(string method, string path, HttpContent content)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
            using var response = await http.SendAsync(request);
            Assert.Equal(content is ChunkedContent, response.RequestMessage!.Headers.TransferEncodingChunked == true);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(200, (await Send("GET", "/_cat/indices", new ByteArrayContent([]))).Status);
        Assert.Equal(200, (await Send("GET", "/_cat/indices", new ChunkedContent(""))).Status);
        Assert.Equal(200, (await Send("GET", "/_cat/indices", new ChunkedContent("", "application/json"))).Status);
        Assert.Equal(200, (await Send("DELETE", "/chunked", new ChunkedContent(""))).Status);
        Assert.Equal(404, (await Es.GetAsync("/chunked")).Status);

        var refused = await Send("GET", "/_cat/indices", new ChunkedContent("{}", "application/json"));
        Assert.Equal(400, refused.Status);
        Assert.Contains("request [GET /_cat/indices] does not support having a body", refused.Body, StringComparison.Ordinal);
        Assert.Equal((406, """{"error":"Content-Type header is missing","status":406}"""), await Send("GET", "/_cat/indices", new ChunkedContent("{}")));
        // A body read in chunks is read whole, its first byte too.
        var count = await Send("POST", "/library/_count", new ChunkedContent("""{"query":{"term":{"topic":"cooking"}}}""", "application/json"));
        Assert.Equal((200, 2), (count.Status, JsonNode.Parse(count.Body)!["count"]!.GetValue<int>()));
    }

    // Content of no known length: HttpClient sends it chunked, an empty one as the last chunk alone.
    private sealed class ChunkedContent : HttpContent
    {
        private readonly byte[] _bytes;

        public ChunkedContent(string text, string? contentType = null)
        {
            _bytes = System.Text.Encoding.UTF8.GetBytes(text);
            if (contentType is not null)
            {
                Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(_bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task ABodySentToAnApiThatReadsNone_IsRefusedByOpenSearchToo()
    {
        // OpenSearch's BaseRestHandler words it the same; its RestCreatePitAction reads no body (Elasticsearch's open
        // point in time reads one).
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(201, (await es.SendAsync(HttpMethod.Put, "/library/_doc/1", "{}")).Status);
        (await es.SendAsync(HttpMethod.Post, "/library/_search/point_in_time?keep_alive=1m", "{}"))
            .AssertError(400, "illegal_argument_exception", "request [POST /library/_search/point_in_time] does not support having a body");
        (await es.SendAsync(HttpMethod.Get, "/_cat/indices", "{}")).AssertError(400, "illegal_argument_exception", "request [GET /_cat/indices] does not support having a body");
        Assert.Equal(200, (await es.SendAsync(HttpMethod.Post, "/library/_search/point_in_time?keep_alive=1m")).Status);
    }

    [Theory]
    // RestSearchAction.parseSearchRequest reads these right after the body, with paramAsInt and SearchRequest's setters'
    // bounds, paramAsBoolean, and SearchType.fromString; they were accepted whatever their value (one shard here: a
    // valid one changes nothing).
    [InlineData("pre_filter_shard_size=abc", "Failed to parse int parameter [pre_filter_shard_size] with value [abc]")]
    [InlineData("pre_filter_shard_size=0", "preFilterShardSize must be >= 1")]
    [InlineData("batched_reduce_size=1", "batchedReduceSize must be >= 2")]
    [InlineData("batched_reduce_size=1.5", "Failed to parse int parameter [batched_reduce_size] with value [1.5]")]
    [InlineData("max_concurrent_shard_requests=0", "maxConcurrentShardRequests must be >= 1")]
    [InlineData("enable_fields_emulation=yes", "Failed to parse value [yes] as only [true] or [false] are allowed.")]
    [InlineData("search_type=query_and_fetch", "No search type for [query_and_fetch]")]
    public async Task Search_ShardParametersOfTheUrl_AreReadAsRestSearchActionReadsThem(string query, string reason)
    {
        (await Es.GetAsync("/library/_search?" + query)).AssertError(400, "illegal_argument_exception", reason);
        (await Es.SendAsync(HttpMethod.Post, "/library/_search/template?" + query, """{"source":{"query":{"match_all":{}}}}""")).AssertError(400, "illegal_argument_exception", reason);
        var valid = (await Es.GetAsync("/library/_search?pre_filter_shard_size=1&batched_reduce_size=2&max_concurrent_shard_requests=3&search_type=dfs_query_then_fetch&enable_fields_emulation=true")).Json;
        Assert.Equal(4, valid["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("/library/_count?df=topic", "request [/library/_count] contains parameters [df] but missing query string parameter 'q'.")]
    [InlineData("/library/_search?default_operator=AND&df=topic", "request [/library/_search] contains parameters [df, default_operator] but missing query string parameter 'q'.")]
    public async Task UrlQuery_ItsParametersWithoutQ_AreA400(string path, string reason)
    {
        (await Es.GetAsync(path)).AssertError(400, "illegal_argument_exception", reason);
    }

    [Fact]
    public async Task SearchTemplate_UrlQueryParametersWithoutQ_AreA400()
    {
        // RestSearchTemplateAction reads the URL with RestSearchAction.parseSearchRequest, whose urlParamsToQueryBuilder
        // refuses q's parameters without q, as _search does. They were accepted and ignored.
        (await Es.SendAsync(HttpMethod.Post, "/library/_search/template?df=topic&lenient=true", """{"source":{"query":{"match_all":{}}}}"""))
            .AssertError(400, "illegal_argument_exception", "request [/library/_search/template] contains parameters [df, lenient] but missing query string parameter 'q'.");
    }

    [Fact]
    public async Task TermAndRange_OnDateAndLongFields_ReadTheirValuesAsElasticsearchsFieldTypesDo()
    {
        // DateFieldType.termQuery is rangeQuery(v, v, true, true); dateRangeQuery rounds an inclusive upper (and an
        // exclusive lower) bound up through the round-up parser, so a day-precision value covers its whole day.
        // NumberType.LONG.termQuery of a value with a decimal part matches nothing; longRangeQuery rounds decimal bounds
        // inward. query_string and the term/terms/range queries read them alike. Each case lists the ids it matches.
        Assert.Equal(200, (await Es.PutAsync("/day-precision", JsonNode.Parse("""{"mappings":{"properties":{"d":{"type":"date"},"n":{"type":"long"}}}}"""))).Status);
        Assert.False((await Es.BulkAsync("""
            {"index":{"_index":"day-precision","_id":"1"}}
            {"d":"2019-11-20T10:00:00Z","n":2001}
            {"index":{"_index":"day-precision","_id":"2"}}
            {"d":"2019-11-21T00:00:00Z","n":2002}

            """)).Json["errors"]!.GetValue<bool>());
        static string Qs(string q) => new JsonObject { ["query_string"] = new JsonObject { ["query"] = q } }.ToJsonString();
        (string Query, string Ids)[] cases =
        [
            (Qs("d:2019-11-20"), "1"),
            (Qs("d:[2019-11-20 TO 2019-11-20]"), "1"),
            (Qs("d:{2019-11-19 TO 2019-11-20]"), "1"),
            (Qs("d:>2019-11-20"), "2"),
            (Qs("d:<=2019-11-20"), "1"),
            (Qs("d:2019-11-20T10\\:00"), "1"),
            (Qs("d:>2019-11-20T09\\:59"), "1,2"),
            (Qs("d:2019-11-20T10\\:00\\:00.000Z"), "1"),
            (Qs("n:2001.5"), ""),
            (Qs("n:2001.0"), "1"),
            (Qs("n:[2000.5 TO 2001.5]"), "1"),
            ("""{"term":{"d":"2019-11-20"}}""", "1"),
            ("""{"terms":{"d":["2019-11-21"]}}""", "2"),
            ("""{"range":{"d":{"lte":"2019-11-20"}}}""", "1"),
            ("""{"range":{"d":{"gt":"2019-11-20","lt":"2019-11-21"}}}""", ""),
            ("""{"term":{"n":2001.5}}""", ""),
            ("""{"range":{"n":{"gt":2001.5}}}""", "2"),
            ("""{"range":{"n":{"gte":2000.5,"lt":2002}}}""", "1"),
        ];
        var wrong = new List<string>();
        foreach (var (query, ids) in cases)
        {
            var r = await Es.SearchAsync("day-precision", JsonNode.Parse($$"""{"query":{{query}},"sort":["_doc"]}""")!);
            var got = r.Status == 200 ? string.Join(",", r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).Order()) : $"status {r.Status}";
            if (got != ids)
            {
                wrong.Add($"{query}: [{got}], expected [{ids}]");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Theory]
    // QueryStringQueryParser with lenient (RestActions.urlParamsToQueryBuilder forwards ?lenient): a value the field's
    // type cannot read is that field's match-nothing query (Queries.newLenientFieldQuery). lenient was ignored: a 400.
    [InlineData("year:abc", 0)]
    [InlineData("year:abc OR topic:cooking", 2)]
    [InlineData("year:[abc TO 2000] OR year:2001", 1)]
    public async Task QueryString_Lenient_ValueAFieldCannotRead_MatchesNothingForThatField(string q, int expected)
    {
        Assert.Equal(expected, (await Es.GetAsync("/library/_count?lenient=true&q=" + Uri.EscapeDataString(q))).Json["count"]!.GetValue<int>());
        var body = new JsonObject { ["query"] = new JsonObject { ["query_string"] = new JsonObject { ["query"] = q, ["lenient"] = true } } };
        Assert.Equal(expected, (await Ids(body.ToJsonString())).Length);
        // Booleans.parseBoolean: only true or false.
        (await Es.GetAsync("/library/_count?lenient=yes&q=" + Uri.EscapeDataString(q)))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.");
    }

    [Theory]
    // QueryStringQueryBuilder.doToQuery: a query_string over every field (no df or fields, or "*") searches the numeric,
    // date and boolean fields too (QueryParserHelper.resolveMappingField keeps every field with text search) and is
    // lenient unless lenient is given, so a value a field cannot read matches nothing there. The embedded backend
    // searched text and keyword fields only: q=2001 found nothing, nor did the same query_string.
    [InlineData("2001", "1")] // year 2001, and published in 2001 (a date's term is its whole year)
    [InlineData("1995 OR cooking", "2,3,4")]
    [InlineData("4.5", "1")] // rating; an integer with a decimal part matches nothing
    [InlineData("true", "1,3,4")] // open
    [InlineData("rivers 2019", "1,2,3")]
    [InlineData("\"2001\"", "1")] // a quoted term: MultiFieldQueryParser's own path
    [InlineData("year:\"1995\" OR \"sourdough bread\"~1", "2,3")]
    public async Task QueryString_OverEveryField_SearchesNumericDateAndBooleanFields_Leniently(string q, string ids)
    {
        var count = await Es.GetAsync("/library/_count?q=" + Uri.EscapeDataString(q));
        Assert.Equal(ids.Split(',').Length, count.Json["count"]!.GetValue<int>());
        foreach (var spec in new[] { new JsonObject { ["query"] = q }, new JsonObject { ["query"] = q, ["fields"] = new JsonArray("*") }, new JsonObject { ["query"] = q, ["fields"] = new JsonArray() } })
        {
            var found = await Ids(new JsonObject { ["query"] = new JsonObject { ["query_string"] = spec } }.ToJsonString());
            Assert.Equal(ids, string.Join(",", found.Order(StringComparer.Ordinal)));
        }

        // lenient=false over every field is strict again: a value a numeric field cannot read fails the shard.
        (await Es.GetAsync("/library/_count?lenient=false&q=abc")).AssertError(400, "search_phase_execution_exception", "all shards failed");
    }

    [Fact]
    public async Task QueryString_ValueANumericFieldCannotRead_IsTheShardsFailure()
    {
        // SearchExecutionContext.toQuery: the field type's NumberFormatException, as a term query on the field fails.
        // (With a default field other than "*": over every field the query is lenient.)
        var r = await Es.GetAsync("/library/_count?df=title&q=year:abc");
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        Assert.Equal("failed to create query: For input string: \"abc\"", r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bulk_EveryItemsValidationErrorIsInOne400_AndNothingIsWritten()
    {
        // BulkRequest.validate collects each item's validate() in order (the index first, then a delete's or update's
        // id). A delete or update without an id ran as its own item error while the others were written, and an item
        // with no index stopped the reading there, named alone.
        var r = await Es.BulkAsync("""
            {"index":{"_index":"bulk-ids","_id":"1"}}
            {"n":1}
            {"delete":{"_index":"bulk-ids"}}
            {"index":{}}
            {"n":2}
            {"update":{}}
            {"doc":{"n":3}}

            """);
        r.AssertError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;2: index is missing;3: index is missing;4: id is missing;");
        Assert.Equal(404, (await Es.SendAsync(HttpMethod.Head, "/bulk-ids")).Status);
    }

    [Fact]
    public async Task Bulk_IndexWithAnEmptyId_IsThatItemsError()
    {
        // IndexRouting.process: "if _id is specified it must not be empty", for that item alone (it was written as "").
        var r = await Es.BulkAsync("""
            {"index":{"_index":"bulk-empty-id","_id":""}}
            {"n":1}
            {"create":{"_index":"bulk-empty-id","_id":"2"}}
            {"n":2}

            """);
        Assert.True(r.Json["errors"]!.GetValue<bool>());
        Assert.Equal("""{"_index":"bulk-empty-id","_id":"","status":400,"error":{"type":"illegal_argument_exception","reason":"if _id is specified it must not be empty"}}""",
            r.Json["items"]![0]!["index"]!.ToJsonString());
        Assert.Equal(201, r.Json["items"]![1]!["create"]!["status"]!.GetValue<int>());
        Assert.Equal(1, (await Es.GetAsync("/bulk-empty-id/_count")).Json["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task Bulk_ATrailingActionWithoutItsSourceLine_IsNeitherValidatedNorAdded()
    {
        // BulkRequestParser.parse: after a non-delete action line, findNextMarker == -1 (no source line) breaks out of the
        // loop, so that action never reaches BulkRequest.validate. Its missing id was a 400 and doc 9 was not written.
        var r = await Es.BulkAsync("{\"index\":{\"_index\":\"bulk-trailing\",\"_id\":\"9\"}}\n{\"k\":\"z\"}\n{\"update\":{\"_index\":\"bulk-trailing\"}}\n", "?refresh=true");
        Assert.Equal(200, r.Status);
        Assert.False(r.Json["errors"]!.GetValue<bool>());
        Assert.Equal("""[{"index":201}]""", new JsonArray(r.Json["items"]!.AsArray().Select(i => (JsonNode)new JsonObject { [i!.AsObject().First().Key] = i.AsObject().First().Value!["status"]!.GetValue<int>() }).ToArray()).ToJsonString());
        Assert.Equal("z", (await Es.GetAsync("/bulk-trailing/_doc/9")).Json["_source"]!["k"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bulk_OpenSearchFlavor_ReadsActionLinesAsOpenSearchsBulkRequestParser()
    {
        // OpenSearch 2.x's BulkRequestParser.parse (server/src/main/java/org/opensearch/action/bulk/BulkRequestParser.java):
        // its own words for an unknown action, no checkBulkActionIsProperlyClosed (what follows the action's object is
        // not read), and none of Elasticsearch's require_data_stream, list_executed_pipelines, dynamic_templates. The
        // OpenSearch flavor answered all of these as Elasticsearch 9 does.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var os = new EsClient(server.Url);
        (await os.BulkAsync("{\"x\":{}}\n{}\n")).AssertError(400, "illegal_argument_exception",
            "Malformed action/metadata line [1], expected one of [create, delete, index, update] but found [x]");
        (await os.BulkAsync("{\"index\":{\"_index\":\"os-bulk\",\"require_data_stream\":false}}\n{}\n")).AssertError(400, "illegal_argument_exception",
            "Action/metadata line [1] contains an unknown parameter [require_data_stream]");
        (await os.BulkAsync("{\"index\":{\"_index\":\"os-bulk\",\"list_executed_pipelines\":true}}\n{}\n")).AssertError(400, "illegal_argument_exception",
            "Action/metadata line [1] contains an unknown parameter [list_executed_pipelines]");
        (await os.BulkAsync("{\"index\":{\"_index\":\"os-bulk\",\"dynamic_templates\":{\"a\":\"b\"}}}\n{}\n")).AssertError(400, "illegal_argument_exception",
            "Malformed action/metadata line [1], expected a simple value for field [dynamic_templates] but found [START_OBJECT]");
        var second = await os.BulkAsync("{\"index\":{\"_index\":\"os-bulk\",\"_id\":\"1\"},\"extra\":1}\n{\"n\":1}\n");
        Assert.Equal(200, second.Status);
        Assert.Equal(201, second.Json["items"]![0]!["index"]!["status"]!.GetValue<int>());
        Assert.Equal(1, (await os.GetAsync("/os-bulk/_count")).Json["count"]!.GetValue<int>());

        // Elasticsearch 9's parser knows dynamic_templates as an object, and no dynamic_template_params.
        (await Es.BulkAsync("{\"index\":{\"_index\":\"es-bulk\",\"dynamic_template_params\":{\"a\":\"b\"}}}\n{}\n")).AssertError(400, "illegal_argument_exception",
            "Malformed action/metadata line [1], expected a simple value for field [dynamic_template_params] but found [START_OBJECT]");
        (await Es.BulkAsync("{\"index\":{\"_index\":\"es-bulk\",\"_id\":\"1\"},\"extra\":1}\n{\"n\":1}\n")).AssertError(400, "illegal_argument_exception",
            "Malformed action/metadata line [1], expected END_OBJECT but found [FIELD_NAME]");
    }

    [Fact]
    public async Task OpType_Create_NeverOverwrites_InEitherCaseOrInABulkIndexAction()
    {
        Assert.Equal(201, (await Es.PutAsync("/op-type/_doc/1", JsonNode.Parse("""{"n":1}"""))).Status);

        // IndexRequest.opType(String) takes either case; another value is its 400, not an index (these overwrote).
        var upper = await Es.PutAsync("/op-type/_doc/1?op_type=CREATE", JsonNode.Parse("""{"n":2}"""));
        Assert.Equal((409, "version_conflict_engine_exception"), (upper.Status, upper.ErrorType));
        (await Es.PutAsync("/op-type/_doc/1?op_type=upsert", JsonNode.Parse("""{"n":3}""")))
            .AssertError(400, "illegal_argument_exception", "opType must be 'create' or 'index', found: [upsert]");
        (await Es.PutAsync("/op-type/_create/1?op_type=index", JsonNode.Parse("""{"n":4}""")))
            .AssertError(400, "illegal_argument_exception", "opType must be 'create', found: [index]");

        // BulkRequestParser: an index action whose op_type is create is a create, answered under "create".
        var bulk = await Es.BulkAsync("""
            {"index":{"_index":"op-type","_id":"1","op_type":"create"}}
            {"n":5}
            {"index":{"_index":"op-type","_id":"2","op_type":"create"}}
            {"n":6}

            """);
        var items = bulk.Json["items"]!.AsArray();
        Assert.Equal(409, items[0]!["create"]!["status"]!.GetValue<int>());
        Assert.Equal("version_conflict_engine_exception", items[0]!["create"]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal(201, items[1]!["create"]!["status"]!.GetValue<int>());
        Assert.Equal(1, (await Es.GetAsync("/op-type/_doc/1")).Json["_source"]!["n"]!.GetValue<int>());
    }

    [Theory]
    // FieldSortBuilder's missing (_last by default, _first, or a value the documents without the field sort as) and
    // unmapped_type (an index without the field sorts as if it had that type, no document having it): missing was
    // ignored, and unmapped_type too, so such a sort failed the shard ("No mapping found for [nope] in order to sort on").
    [InlineData("""{"y":{"order":"asc","missing":"_first"}}""", new[] { "b", "d", "c", "a" })]
    [InlineData("""{"y":{"order":"desc","missing":"_first"}}""", new[] { "b", "d", "a", "c" })]
    [InlineData("""{"y":{"order":"desc","missing":"_last"}}""", new[] { "a", "c", "b", "d" })]
    [InlineData("""{"y":{"order":"asc","missing":0}}""", new[] { "b", "d", "c", "a" })]
    [InlineData("""{"y":{"order":"desc","missing":5}}""", new[] { "b", "d", "a", "c" })]
    [InlineData("""{"nope":{"order":"asc","unmapped_type":"long"}}""", new[] { "a", "b", "c", "d" })]
    public async Task Sort_MissingAndUnmappedType_OrderTheDocumentsWithoutTheField_AndPageThem(string sort, string[] expected)
    {
        await Es.BulkAsync("""
            {"index":{"_index":"sort-missing","_id":"a"}}
            {"y":2}
            {"index":{"_index":"sort-missing","_id":"b"}}
            {"t":"x"}
            {"index":{"_index":"sort-missing","_id":"c"}}
            {"y":1}
            {"index":{"_index":"sort-missing","_id":"d"}}
            {"t":"y"}

            """);
        var all = await Es.PostAsync("/sort-missing/_search", JsonNode.Parse($$"""{"sort":[{{sort}}]}"""));
        Assert.Equal(200, all.Status);
        Assert.Equal(expected, all.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));

        // A point in time paged one hit at a time with search_after comes the same way, every document once.
        var pit = (await Es.PostAsync("/sort-missing/_pit?keep_alive=1m")).Json["id"]!.GetValue<string>();
        var paged = new List<string>();
        JsonNode? after = null;
        for (var page = 0; page < 10; page++)
        {
            var body = JsonNode.Parse($$"""{"size":1,"pit":{"id":"{{pit}}","keep_alive":"1m"},"sort":[{{sort}}]}""")!.AsObject();
            if (after is not null)
            {
                body["search_after"] = after.DeepClone();
            }

            var hits = (await Es.PostAsync("/_search", body)).Json["hits"]!["hits"]!.AsArray();
            if (hits.Count == 0)
            {
                break;
            }

            paged.Add(hits[0]!["_id"]!.GetValue<string>());
            after = hits[0]!["sort"];
        }

        Assert.Equal(expected, paged);
    }

    [Theory]
    // A hit without the sort field carries Elasticsearch's missing value as its sort value
    // (IndexFieldData.XFieldComparatorSource.missingObject: min = "_first" ^ descending; Long.MIN/MAX_VALUE on the
    // long and date fields, whose reduced type is LONG; Integer.MIN/MAX_VALUE on an integer field, INT since 9.1
    // (IntValuesComparatorSource); -/+Infinity on a double, which Jackson writes quoted; null on a keyword). The
    // embedded backend answered null on every field, and a client reading the sort values of a page (a typed one: a
    // long or double property) could not tell it had reached the documents without the field.
    [InlineData("asc", "_last", "9223372036854775807", "2147483647", "\"Infinity\"")]
    [InlineData("desc", "_last", "-9223372036854775808", "-2147483648", "\"-Infinity\"")]
    [InlineData("asc", "_first", "-9223372036854775808", "-2147483648", "\"-Infinity\"")]
    [InlineData("desc", "_first", "9223372036854775807", "2147483647", "\"Infinity\"")]
    public async Task Sort_AHitWithoutTheField_CarriesElasticsearchsMissingValue_AndPagesPastIt(string order, string missing, string integral, string integer, string floating)
    {
        var index = $"sort-sentinel-{order}{missing}";
        Assert.Equal(200, (await Es.PutAsync($"/{index}", JsonNode.Parse("""{"mappings":{"properties":{"n":{"type":"long"},"i":{"type":"integer"},"t":{"type":"date"},"d":{"type":"double"},"k":{"type":"keyword"}}}}"""))).Status);
        await Es.BulkAsync($$$"""
            {"index":{"_index":"{{{index}}}","_id":"valued"}}
            {"n":5,"i":6,"t":"2024-01-02T00:00:00Z","d":1.5,"k":"x"}
            {"index":{"_index":"{{{index}}}","_id":"bare"}}
            {}

            """);
        await Es.PostAsync($"/{index}/_refresh");
        foreach (var field in new[] { "n", "i", "t", "d", "k" })
        {
            var sort = $$$"""{"sort":[{"{{{field}}}":{"order":"{{{order}}}","missing":"{{{missing}}}"}}]}""";
            var hits = (await Es.PostAsync($"/{index}/_search", JsonNode.Parse(sort))).Json["hits"]!["hits"]!.AsArray();
            var bare = hits.Single(h => h!["_id"]!.GetValue<string>() == "bare")!["sort"]!.AsArray();
            var expected = field switch { "k" => "null", "d" => floating, "i" => integer, _ => integral };
            Assert.Equal(expected, bare[0]?.ToJsonString() ?? "null");

            // The values round-trip as search_after: past the valued hit comes the bare one, past the bare one nothing
            // when it is last, the valued one when it is first.
            var first = hits[0]!;
            var afterFirst = JsonNode.Parse(sort)!.AsObject();
            afterFirst["search_after"] = first["sort"]!.DeepClone();
            var next = (await Es.PostAsync($"/{index}/_search", afterFirst)).Json["hits"]!["hits"]!.AsArray();
            Assert.Equal([hits[1]!["_id"]!.GetValue<string>()], next.Select(h => h!["_id"]!.GetValue<string>()));
            Assert.Equal(missing == "_first" ? "bare" : "valued", first["_id"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Bulk_ReportsPerItemErrorsWithoutFailingTheRest()
    {
        var r = await Es.BulkAsync("""
            {"create":{"_index":"library","_id":"1"}}
            {"title":"duplicate"}
            {"index":{"_index":"library","_id":"50"}}
            {"title":"ok","year":"not a number"}
            {"index":{"_index":"library","_id":"51"}}
            {"title":"fine"}
            {"delete":{"_index":"library","_id":"nope"}}
            {"update":{"_index":"library","_id":"2"}}
            {"doc":{"rating":1.0}}

            """);
        Assert.Equal(200, r.Status);
        Assert.True(r.Json["errors"]!.GetValue<bool>());
        var items = r.Json["items"]!.AsArray();
        Assert.Equal([409, 400, 201, 404, 200], items.Select(i => i!.AsObject().First().Value!["status"]!.GetValue<int>()));
        Assert.Equal("version_conflict_engine_exception", items[0]!["create"]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("document_parsing_exception", items[1]!["index"]!["error"]!["type"]!.GetValue<string>());
        Assert.True((await Es.GetAsync("/library/_doc/51")).Json["found"]!.GetValue<bool>());
    }

    [Theory]
    // BaseRestHandler refuses a parameter RestMultiSearchAction does not consume (as the proxy does); q, size and from
    // were applied to every search of the msearch instead.
    [InlineData("/_msearch?q=river", "{\"index\":\"library\"}\n{}\n", "request [/_msearch] contains unrecognized parameter: [q]")]
    [InlineData("/library/_msearch?size=1&from=2&typed_keys=true", "{}\n{}\n", "request [/library/_msearch] contains unrecognized parameters: [from], [size]")]
    [InlineData("/_msearch/template?size=1", "{\"index\":\"library\"}\n{\"source\":{\"query\":{\"match_all\":{}}}}\n", "request [/_msearch/template] contains unrecognized parameter: [size]")]
    public async Task Msearch_AParameterItDoesNotTake_IsA400_NotAppliedToEverySearch(string path, string body, string reason)
    {
        (await Es.SendAsync(HttpMethod.Post, path, body, "application/x-ndjson")).AssertError(400, "illegal_argument_exception", reason);
    }

    [Theory]
    // BaseRestHandler refuses a URL parameter RestSearchAction did not read, suggesting those it read (given or not) whose
    // Levenshtein similarity is over 0.5; size is read only when given, so a misspelt one has no suggestion. These were
    // ignored: ?szie=1 answered ten hits, ?_source_include (Elasticsearch 7's name) the whole source.
    [InlineData("/library/_search?szie=1", "request [/library/_search] contains unrecognized parameter: [szie]")]
    [InlineData("/library/_search?typed_key=true", "request [/library/_search] contains unrecognized parameter: [typed_key] -> did you mean [typed_keys]?")]
    [InlineData("/library/_search?_source_include=title&foo=1", "request [/library/_search] contains unrecognized parameters: [_source_include] -> did you mean any of [_source_includes, _source_excludes, _source_exclude_vectors]?, [foo]")]
    [InlineData("/library/_search?q=river&lenent=true", "request [/library/_search] contains unrecognized parameter: [lenent] -> did you mean [lenient]?")]
    // RestSearchAction.parseSuggestUrlParameters' own 400 for suggest parameters without suggest_field.
    [InlineData("/library/_search?suggest_text=rivr", "request [/library/_search] contains parameters [suggest_text] but missing 'suggest_field' parameter.")]
    // _search/template reads the URL as _search does (RestSearchAction.parseSearchRequest).
    [InlineData("/library/_search/template?szie=1", "request [/library/_search/template] contains unrecognized parameter: [szie]")]
    public async Task Search_AParameterItDoesNotRead_IsA400WithSuggestions(string path, string reason)
    {
        var body = path.Contains("/template", StringComparison.Ordinal) ? """{"source":{"query":{"match_all":{}}}}""" : "{}";
        (await Es.SendAsync(HttpMethod.Post, path, body)).AssertError(400, "illegal_argument_exception", reason);
    }

    [Theory]
    // What the official clients send (typed_keys from the .NET client, the response parameters and those every endpoint
    // takes) and the parameters RestSearchAction reads but this backend does not apply are still accepted.
    [InlineData("/library/_search?typed_keys=true&rest_total_hits_as_int=true&filter_path=hits.total&error_trace=false&human=false&pretty=false&format=json")]
    [InlineData("/library/_search?request_cache=true&preference=_local&routing=r&search_type=query_then_fetch&batched_reduce_size=512&ccs_minimize_roundtrips=true&allow_partial_search_results=true&max_concurrent_shard_requests=5&pre_filter_shard_size=128&include_named_queries_score=false&allow_no_indices=true&ignore_unavailable=false&expand_wildcards=open&track_scores=true&track_total_hits=true&stats=g&docvalue_fields=")]
    [InlineData("/library/_search/template?typed_keys=true&rest_total_hits_as_int=true&request_cache=true")]
    // Elasticsearch 9.1's FetchSourceContext.parseFromRestRequest reads _source_exclude_vectors, which the Python client
    // sends as search(source_exclude_vectors=False): it was this backend's 400 unrecognized parameter.
    [InlineData("/library/_search?_source_exclude_vectors=false")]
    public async Task Search_TheParametersItReads_AreAccepted(string path)
    {
        var body = path.Contains("/template", StringComparison.Ordinal) ? """{"source":{"query":{"match_all":{}}}}""" : "{}";
        var r = await Es.SendAsync(HttpMethod.Post, path, body);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
    }

    [Fact]
    public async Task SourceParameter_IsTheBodyOfARequestWithoutOne()
    {
        // RestRequest.contentOrSourceParam: a request without content reads source, of the media type source_content_type,
        // as its body (RestSearchAction, RestCountAction, RestMultiSearchAction, RestMultiGetAction), both parameters
        // consumed. They were refused as unrecognized parameters.
        static string Url(string path, string source, string type = "application/json") =>
            $"{path}?source={Uri.EscapeDataString(source)}&source_content_type={Uri.EscapeDataString(type)}";
        const string Third = """{"query":{"ids":{"values":["3"]}}}""";
        var search = await Es.GetAsync(Url("/library/_search", Third));
        Assert.True(search.Status == 200, search.Body?.ToJsonString());
        Assert.Equal(["3"], search.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        var count = await Es.GetAsync(Url("/library/_count", Third));
        Assert.True(count.Status == 200, count.Body?.ToJsonString());
        Assert.Equal(1, count.Json["count"]!.GetValue<int>());
        var msearch = await Es.GetAsync(Url("/library/_msearch", "{}\n{\"query\":{\"ids\":{\"values\":[\"2\"]}}}\n", "application/x-ndjson"));
        Assert.True(msearch.Status == 200, msearch.Body?.ToJsonString());
        Assert.Equal("2", msearch.Json["responses"]![0]!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>());
        var mget = await Es.GetAsync(Url("/library/_mget", """{"ids":["4"]}"""));
        Assert.True(mget.Status == 200, mget.Body?.ToJsonString());
        Assert.True(mget.Json["docs"]![0]!["found"]!.GetValue<bool>());

        // With content the body is read and source is not: a parameter the API does not know.
        var withBody = await Es.SendAsync(HttpMethod.Post, Url("/library/_search", Third), "{}");
        Assert.Equal(400, withBody.Status);
        Assert.Equal("illegal_argument_exception", withBody.ErrorType);
        Assert.StartsWith("request [/library/_search] contains unrecognized parameters: [source]", withBody.ErrorReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_SourceObject_TakesElasticsearchsExcludeVectors()
    {
        // Elasticsearch 9.1's FetchSourceContext.fromXContent reads exclude_vectors beside includes/excludes (a boolean, or
        // its text through booleanValue()); elasticsearch-dsl sends "_source":{"exclude_vectors":false} on its searches.
        // It was this backend's 400 "Unknown key for a VALUE_BOOLEAN in [exclude_vectors].". No vectors here: no effect.
        const string One = """{"query":{"ids":{"values":["1"]}}""";
        var whole = (await Es.SearchAsync("library", JsonNode.Parse(One + "}")!)).Json["hits"]!["hits"]![0]!["_source"]!.ToJsonString();
        var kept = await Es.SearchAsync("library", JsonNode.Parse(One + ""","_source":{"exclude_vectors":false}}""")!);
        Assert.True(kept.Status == 200, kept.Body?.ToJsonString());
        Assert.Equal(whole, kept.Json["hits"]!["hits"]![0]!["_source"]!.ToJsonString());
        var some = await Es.SearchAsync("library", JsonNode.Parse(One + ""","_source":{"include":"title","exclude_vectors":"true"}}""")!);
        Assert.Equal("""{"title":"Rivers of Europe"}""", some.Json["hits"]!["hits"]![0]!["_source"]!.ToJsonString());

        (await Es.SearchAsync("library", JsonNode.Parse("""{"_source":{"exclude_vectors":"no"}}""")!))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [no] as only [true] or [false] are allowed.");
        (await Es.SearchAsync("library", JsonNode.Parse("""{"_source":{"exclude_vectors":1}}""")!))
            .AssertError(400, "parsing_exception", "Unknown key for a VALUE_NUMBER in [exclude_vectors].");

        // OpenSearch's FetchSourceContext has no exclude_vectors: still its 400 there.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/books")).Status);
        (await es.SearchAsync("books", JsonNode.Parse("""{"_source":{"exclude_vectors":false}}""")!))
            .AssertError(400, "parsing_exception", "Unknown key for a VALUE_BOOLEAN in [exclude_vectors].");
    }

    [Theory]
    // RestSearchAction, RestGetAction and RestMultiGetAction read these URL parameters with paramAsBoolean: empty is true,
    // else exactly true or false, anything else its 400. They were taken as false (or, unused here, not read at all).
    [InlineData("GET", "/library/_search?explain=yes", "yes")]
    [InlineData("GET", "/library/_search?version=1", "1")]
    [InlineData("GET", "/library/_search?seq_no_primary_term=True", "True")]
    [InlineData("GET", "/library/_search?track_scores=on", "on")]
    [InlineData("GET", "/library/_search?allow_partial_search_results=0", "0")]
    [InlineData("GET", "/library/_search?ccs_minimize_roundtrips=maybe", "maybe")]
    [InlineData("GET", "/library/_search?request_cache=off", "off")]
    [InlineData("GET", "/library/_search?_source_exclude_vectors=False", "False")]
    [InlineData("GET", "/library/_doc/1?realtime=yes", "yes")]
    [InlineData("GET", "/library/_doc/1?refresh=wait_for", "wait_for")]
    [InlineData("POST", "/library/_mget?realtime=yes", "yes")]
    [InlineData("GET", "/library/_search?q=river&analyze_wildcard=1", "1")]
    [InlineData("GET", "/library/_count?q=river&analyze_wildcard=1", "1")]
    public async Task BooleanUrlParameters_ParsedAsParamAsBoolean(string method, string path, string value)
    {
        (await Es.SendAsync(new HttpMethod(method), path, method == "POST" ? """{"ids":["1"]}""" : null))
            .AssertError(400, "illegal_argument_exception", $"Failed to parse value [{value}] as only [true] or [false] are allowed.");
    }

    [Theory]
    // IndicesOptions.fromParameters reads these with XContentMapValues.nodeBooleanValue: in its own words, its cause
    // Booleans.parseBoolean's. Anything but "true" was taken as false.
    [InlineData("/library/_search?ignore_unavailable=yes", "ignore_unavailable")]
    [InlineData("/library/_count?ignore_unavailable=1", "ignore_unavailable")]
    [InlineData("/library/_search?allow_no_indices=no", "allow_no_indices")]
    [InlineData("/library?ignore_unavailable=True", "ignore_unavailable")]
    public async Task IndicesOptionsBooleans_ParsedAsNodeBooleanValue(string path, string name)
    {
        (await Es.GetAsync(path)).AssertError(400, "illegal_argument_exception", $"Could not convert [{name}] to boolean");
    }

    [Fact]
    public async Task Search_BooleanUrlParameters_SetWhatTheyName()
    {
        // RestSearchAction: ?explain=false overrides the body's explain (it only ever turned it on), and ?track_scores
        // (empty: true) keeps the scores of a sorted search (it was ignored: _score null).
        var body = """{"query":{"match":{"text":"river"}},"explain":true,"sort":[{"topic":"asc"}]}""";
        var hit = (await Es.SendAsync(HttpMethod.Post, "/library/_search?explain=false&track_scores", body)).Json["hits"]!["hits"]![0]!;
        Assert.Null(hit["_explanation"]);
        Assert.True(hit["_score"]!.GetValue<double>() > 0);
        // explain, version and seq_no_primary_term are read with paramAsBoolean(name, null): empty is null, so off
        // whatever the body asked (it was true); lenient the same, so ?lenient= on q is no value (and a blank one too).
        var versioned = """{"query":{"match":{"text":"river"}},"explain":true,"version":true}""";
        hit = (await Es.SendAsync(HttpMethod.Post, "/library/_search?explain=&version=", versioned)).Json["hits"]!["hits"]![0]!;
        Assert.Null(hit["_explanation"]);
        Assert.Null(hit["_version"]);
        Assert.Equal(200, (await Es.GetAsync("/library/_search?q=river&lenient=%20")).Status);
    }

    [Fact]
    public async Task GetAndMget_Fields_IsRefusedAsElasticsearchRefusesIt()
    {
        // RestGetAction and RestMultiGetAction read fields only to refuse it (each in its own words; _mget before its
        // body). It was taken and ignored: the document came back whole.
        (await Es.GetAsync("/library/_doc/1?fields=title&version=x")).AssertError(400, "illegal_argument_exception",
            "the parameter [fields] is no longer supported, please use [stored_fields] to retrieve stored fields or [_source] to load the field from _source");
        (await Es.SendAsync(HttpMethod.Post, "/_mget?fields=title", "not json")).AssertError(400, "illegal_argument_exception",
            "The parameter [fields] is no longer supported, please use [stored_fields] to retrieve stored fields or _source filtering if the field is not stored");
    }

    [Theory]
    // BaseRestHandler refuses a URL parameter the handler did not read (RestCountAction, RestGetAction, RestIndexAction,
    // RestDeleteAction, RestMultiGetAction, RestBulkAction), suggesting those it read. These were ignored: a misspelt
    // refresh left the write unsearchable, a misspelt pipeline or realtime did nothing, and nothing said so.
    [InlineData("GET", "/library/_count?terminate_afer=1", null, "request [/library/_count] contains unrecognized parameter: [terminate_afer] -> did you mean [terminate_after]?")]
    [InlineData("POST", "/library/_count?size=1", "{\"query\":{\"match_all\":{}}}", "request [/library/_count] contains unrecognized parameter: [size]")]
    [InlineData("GET", "/library/_doc/1?realtme=false", null, "request [/library/_doc/1] contains unrecognized parameter: [realtme] -> did you mean [realtime]?")]
    [InlineData("PUT", "/library/_doc/90?refrsh=true", "{\"title\":\"x\"}", "request [/library/_doc/90] contains unrecognized parameter: [refrsh] -> did you mean [refresh]?")]
    [InlineData("POST", "/library/_doc?refresh=true&foo=1", "{\"title\":\"x\"}", "request [/library/_doc] contains unrecognized parameter: [foo]")]
    [InlineData("PUT", "/library/_create/90?routing=r&versoin=2", "{\"title\":\"x\"}", "request [/library/_create/90] contains unrecognized parameter: [versoin] -> did you mean [version]?")]
    [InlineData("DELETE", "/library/_doc/1?refresh=true&foo=1", null, "request [/library/_doc/1] contains unrecognized parameter: [foo]")]
    [InlineData("POST", "/_mget?storedfields=title", "{\"docs\":[{\"_index\":\"library\",\"_id\":\"1\"}]}", "request [/_mget] contains unrecognized parameter: [storedfields] -> did you mean [stored_fields]?")]
    [InlineData("POST", "/_bulk?pipline=p", "{\"index\":{\"_index\":\"library\",\"_id\":\"90\"}}\n{\"title\":\"x\"}\n", "request [/_bulk] contains unrecognized parameter: [pipline] -> did you mean [pipeline]?")]
    // RestUpdateAction's: the update was made, and the misspelt refresh ignored.
    [InlineData("POST", "/library/_update/90?refrsh=true", "{\"doc\":{\"title\":\"x\"},\"doc_as_upsert\":true}", "request [/library/_update/90] contains unrecognized parameter: [refrsh] -> did you mean [refresh]?")]
    // RestRefreshAction's and RestDeleteIndexAction's: the index was deleted, whatever the misspelt option said.
    [InlineData("POST", "/library/_refresh?expand_wildcard=open", null, "request [/library/_refresh] contains unrecognized parameter: [expand_wildcard] -> did you mean [expand_wildcards]?")]
    [InlineData("DELETE", "/library?expand_wildcard=open", null, "request [/library] contains unrecognized parameter: [expand_wildcard] -> did you mean [expand_wildcards]?")]
    public async Task DocumentApisAndCount_AParameterTheyDoNotRead_IsA400WithSuggestions(string method, string path, string? body, string reason)
    {
        var contentType = path.StartsWith("/_bulk", StringComparison.Ordinal) ? "application/x-ndjson" : "application/json";
        (await Es.SendAsync(new HttpMethod(method), path, body, contentType)).AssertError(400, "illegal_argument_exception", reason);
        // Refused before anything ran: nothing written, nothing deleted.
        await Es.PostAsync("/library/_refresh");
        Assert.Equal(4, (await Es.GetAsync("/library/_count")).Json["count"]!.GetValue<int>());
    }

    [Theory]
    // Every parameter the handlers read is still taken, those this backend does not apply included, with the parameters
    // every endpoint takes (the DELETE finds no document: its 404 not_found answer, no error).
    [InlineData("GET", "/library/_count?q=rivers&df=text&default_operator=AND&analyzer=standard&analyze_wildcard=false&lenient=true&routing=r&preference=_local&min_score=0&expand_wildcards=open&ignore_unavailable=false&allow_no_indices=true&ignore_throttled=false&filter_path=count&pretty=true&human=false&error_trace=false", null, 200)]
    [InlineData("POST", "/library/_count?routing=r&preference=_local", "{\"query\":{\"match_all\":{}}}", 200)]
    [InlineData("GET", "/library/_doc/1?refresh=false&routing=r&preference=_local&realtime=true&stored_fields=title&version=1&version_type=internal&_source=true&_source_includes=title&_source_excludes=text&force_synthetic_source=false&_source_exclude_vectors=false", null, 200)]
    [InlineData("PUT", "/library/_doc/1?refresh=true&routing=r&pipeline=_none&timeout=1m&require_alias=false&require_data_stream=false&include_source_on_error=true&op_type=index&wait_for_active_shards=1", "{\"title\":\"Rivers of Europe\"}", 200)]
    [InlineData("DELETE", "/library/_doc/404?refresh=wait_for&routing=r&timeout=1m&wait_for_active_shards=1", null, 404)]
    [InlineData("POST", "/_mget?refresh=false&routing=r&preference=_local&realtime=true&stored_fields=title&_source=title&force_synthetic_source=false", "{\"docs\":[{\"_index\":\"library\",\"_id\":\"1\"}]}", 200)]
    [InlineData("POST", "/library/_bulk?refresh=true&routing=r&pipeline=_none&timeout=1m&wait_for_active_shards=1&require_alias=false&require_data_stream=false&list_executed_pipelines=false&include_source_on_error=true&_source=false", "{\"index\":{\"_id\":\"1\"}}\n{\"title\":\"Rivers of Europe\"}\n", 200)]
    [InlineData("POST", "/library/_update/1?refresh=true&routing=r&timeout=1m&wait_for_active_shards=1&doc_as_upsert=false&_source=true&_source_includes=title&_source_excludes=text&_source_exclude_vectors=false&retry_on_conflict=1&require_alias=false&include_source_on_error=true", "{\"doc\":{\"title\":\"Rivers of Europe\"}}", 200)]
    [InlineData("POST", "/library/_refresh?expand_wildcards=open&ignore_unavailable=true&allow_no_indices=true&ignore_throttled=false", null, 200)]
    [InlineData("DELETE", "/ghost?ignore_unavailable=true&timeout=30s&master_timeout=30s&expand_wildcards=open&allow_no_indices=true", null, 200)]
    public async Task DocumentApisAndCount_TheParametersTheyRead_AreAccepted(string method, string path, string? body, int status)
    {
        var contentType = path.Contains("/_bulk", StringComparison.Ordinal) ? "application/x-ndjson" : "application/json";
        var r = await Es.SendAsync(new HttpMethod(method), path, body, contentType);
        Assert.True(r.Status == status && r.ErrorType is null, r.Body?.ToJsonString());
    }

    private const string StoredTemplate = """{"script":{"lang":"mustache","source":{"query":{"match":{"text":"{{q}}"}}}}}""";

    [Theory]
    // BaseRestHandler refuses a URL parameter the handler did not read (RestCreateIndexAction, RestGetIndicesAction,
    // RestGetMappingAction, RestIndicesAction, RestClusterHealthAction, RestNodesInfoAction, RestSearchScrollAction,
    // RestClearScrollAction, RestOpenPointInTimeAction, RestClosePointInTimeAction, the stored script actions and
    // RestRenderSearchTemplateAction), suggesting those it read. These were all taken and ignored: the index was made
    // without the misspelt option, the script stored, the health answered at once.
    [InlineData("PUT", "/fresh?wait_for_active_shard=1", "{}", "request [/fresh] contains unrecognized parameter: [wait_for_active_shard] -> did you mean [wait_for_active_shards]?")]
    [InlineData("GET", "/library?include_default=true", null, "request [/library] contains unrecognized parameter: [include_default] -> did you mean [include_defaults]?")]
    [InlineData("GET", "/library/_mapping?expand_wildcard=open", null, "request [/library/_mapping] contains unrecognized parameter: [expand_wildcard] -> did you mean [expand_wildcards]?")]
    [InlineData("GET", "/_cat/indices?foo=1", null, "request [/_cat/indices] contains unrecognized parameter: [foo]")]
    [InlineData("GET", "/_cluster/health/library?foo=1", null, "request [/_cluster/health/library] contains unrecognized parameter: [foo]")]
    [InlineData("GET", "/_nodes/http?foo=1", null, "request [/_nodes/http] contains unrecognized parameter: [foo]")]
    [InlineData("POST", "/_search/scroll?foo=1", "{\"scroll_id\":\"x\"}", "request [/_search/scroll] contains unrecognized parameter: [foo]")]
    [InlineData("DELETE", "/_search/scroll?foo=1", "{\"scroll_id\":\"x\"}", "request [/_search/scroll] contains unrecognized parameter: [foo]")]
    [InlineData("POST", "/library/_pit?keep_alive=1m&foo=1", null, "request [/library/_pit] contains unrecognized parameter: [foo]")]
    [InlineData("DELETE", "/_pit?foo=1", "{\"id\":\"x\"}", "request [/_pit] contains unrecognized parameter: [foo]")]
    [InlineData("PUT", "/_scripts/t1?foo=1", StoredTemplate, "request [/_scripts/t1] contains unrecognized parameter: [foo]")]
    [InlineData("GET", "/_scripts/t1?foo=1", null, "request [/_scripts/t1] contains unrecognized parameter: [foo]")]
    [InlineData("DELETE", "/_scripts/t1?foo=1", null, "request [/_scripts/t1] contains unrecognized parameter: [foo]")]
    [InlineData("POST", "/_render/template?foo=1", "{\"source\":\"{}\"}", "request [/_render/template] contains unrecognized parameter: [foo]")]
    // RestClusterHealthAction's own words for the parameter it no longer takes.
    [InlineData("GET", "/_cluster/health?wait_for_relocating_shards=0", null, "wait_for_relocating_shards has been removed, use wait_for_no_relocating_shards [true/false] instead")]
    public async Task IndexClusterScrollAndScriptApis_AParameterTheyDoNotRead_IsA400WithSuggestions(string method, string path, string? body, string reason)
    {
        (await Es.SendAsync(new HttpMethod(method), path, body)).AssertError(400, "illegal_argument_exception", reason);
        // Refused before anything ran: no index made, no script stored.
        Assert.Equal(404, (await Es.GetAsync("/fresh")).Status);
        Assert.Equal(404, (await Es.GetAsync("/_scripts/t1")).Status);
    }

    [Theory]
    // Every parameter those handlers read is still taken, those this backend does not apply included (timeouts,
    // local, include_defaults, features, the cat response parameters...).
    [InlineData("PUT", "/fresh?timeout=30s&master_timeout=30s&wait_for_active_shards=1", "{}", 200)]
    [InlineData("GET", "/library?master_timeout=30s&expand_wildcards=open&ignore_unavailable=false&allow_no_indices=true&ignore_throttled=false&local=false&human=false&include_defaults=false&features=mappings&flat_settings=true&settings_filter=x", null, 200)]
    [InlineData("GET", "/library/_mapping?master_timeout=30s&expand_wildcards=open&ignore_unavailable=false&allow_no_indices=true&local=false", null, 200)]
    [InlineData("GET", "/_cat/indices/library?format=json&h=index&v=true&s=index&bytes=b&help=false&pri=false&health=green&local=false&master_timeout=30s&include_unloaded_segments=false&expand_wildcards=open&time=ms&size=k&ts=false", null, 200)]
    [InlineData("GET", "/_cluster/health/library?local=false&master_timeout=30s&timeout=30s&wait_for_status=green&wait_for_no_relocating_shards=true&wait_for_no_initializing_shards=true&wait_for_active_shards=1&wait_for_nodes=1&wait_for_events=normal&level=indices&expand_wildcards=open", null, 200)]
    [InlineData("GET", "/_nodes/_all/http?timeout=30s&flat_settings=true&settings_filter=x", null, 200)]
    [InlineData("POST", "/library/_pit?keep_alive=1m&routing=r&preference=_local&allow_partial_search_results=false&max_concurrent_shard_requests=5&expand_wildcards=open&ignore_unavailable=false&allow_no_indices=true", null, 200)]
    [InlineData("PUT", "/_scripts/t2?timeout=30s&master_timeout=30s&context=search", StoredTemplate, 200)]
    [InlineData("GET", "/_scripts/missing?master_timeout=30s&pretty=true&error_trace=false&human=false&filter_path=found", null, 404)]
    [InlineData("POST", "/_render/template?filter_path=template_output", "{\"source\":\"{}\"}", 200)]
    public async Task IndexClusterScrollAndScriptApis_TheParametersTheyRead_AreAccepted(string method, string path, string? body, int status)
    {
        // A script not stored is GET _scripts' 404 {"_id":"missing","found":false}, not an error.
        var r = await Es.SendAsync(new HttpMethod(method), path, body);
        Assert.True(r.Status == status && (r.Body as JsonObject)?["error"] is null, r.Body?.ToJsonString());
    }

    [Theory]
    [InlineData("false", -1)]
    [InlineData("-1", -1)]
    [InlineData("true", 4)]
    public async Task Search_RestTotalHitsAsInt_WithTotalHitsNotTracked_IsMinusOne(string track, int expected)
    {
        // SearchHits.toXContent writes rest_total_hits_as_int's total as "totalHits == null ? -1 : value": not counted, -1.
        // It was left out, where clients reading the int (the 7.x-compatible ones) found no total.
        var answer = await Es.PostAsync("/library/_search?rest_total_hits_as_int=true", JsonNode.Parse("{\"track_total_hits\":" + track + "}")!.AsObject());
        Assert.Equal(expected, answer.Json["hits"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task ScrollAndPointInTime_TakeTheParametersTheyRead()
    {
        // RestSearchScrollAction's response parameter rest_total_hits_as_int shapes each page's total as that request
        // asks: it was ignored, every page's total shaped as the search that opened the scroll asked.
        var scroll = (await Es.GetAsync("/library/_search?scroll=1m&size=1")).Json["_scroll_id"]!.GetValue<string>();
        var next = await Es.PostAsync("/_search/scroll?scroll=1m&rest_total_hits_as_int=true", new JsonObject { ["scroll_id"] = scroll });
        Assert.Equal(4, next.Json["hits"]!["total"]!.GetValue<int>());
        next = await Es.PostAsync("/_search/scroll?scroll=1m", new JsonObject { ["scroll_id"] = scroll });
        Assert.Equal(4, next.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        var asInt = (await Es.GetAsync("/library/_search?scroll=1m&size=1&rest_total_hits_as_int=true")).Json["_scroll_id"]!.GetValue<string>();
        next = await Es.PostAsync("/_search/scroll", new JsonObject { ["scroll_id"] = asInt, ["scroll"] = "1m" });
        Assert.Equal("eq", next.Json["hits"]!["total"]!["relation"]!.GetValue<string>());
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Delete, "/_search/scroll?scroll_id=" + Uri.EscapeDataString(scroll))).Status);
        var pit = (await Es.PostAsync("/library/_pit?keep_alive=1m")).Json["id"]!.GetValue<string>();
        Assert.Equal(1, (await Es.SendAsync(HttpMethod.Delete, "/_pit?pretty=true", new JsonObject { ["id"] = pit })).Json["num_freed"]!.GetValue<int>());
    }

    [Theory]
    // These handlers read their booleans with paramAsBoolean: anything but true, false or empty is a 400 before the
    // request runs. They were not read (require_alias, require_data_stream, list_executed_pipelines,
    // include_source_on_error, local, include_unloaded_segments, help, allow_partial_search_results, the health waits)
    // or read as false when not "true" (v, flat_settings): the write was made, the header left out.
    [InlineData("PUT", "/library/_doc/90?require_alias=yes", "{\"title\":\"x\"}")]
    [InlineData("PUT", "/library/_create/90?require_data_stream=1", "{\"title\":\"x\"}")]
    [InlineData("POST", "/library/_doc?include_source_on_error=no", "{\"title\":\"x\"}")]
    [InlineData("POST", "/library/_update/90?require_alias=yes", "{\"doc\":{\"title\":\"x\"},\"doc_as_upsert\":true}")]
    [InlineData("POST", "/library/_update/90?include_source_on_error=True", "{\"doc\":{\"title\":\"x\"},\"doc_as_upsert\":true}")]
    [InlineData("POST", "/_bulk?list_executed_pipelines=yes", "{\"index\":{\"_index\":\"library\",\"_id\":\"90\"}}\n{\"title\":\"x\"}\n")]
    [InlineData("POST", "/_bulk?require_alias=yes", "{\"index\":{\"_index\":\"library\",\"_id\":\"90\"}}\n{\"title\":\"x\"}\n")]
    [InlineData("POST", "/_bulk?require_data_stream=yes", "{\"index\":{\"_index\":\"library\",\"_id\":\"90\"}}\n{\"title\":\"x\"}\n")]
    [InlineData("POST", "/_bulk?include_source_on_error=yes", "{\"index\":{\"_index\":\"library\",\"_id\":\"90\"}}\n{\"title\":\"x\"}\n")]
    // RestBulkAction reads the default _source filtering before its booleans: its error comes first.
    [InlineData("POST", "/_bulk?require_alias=yes&_source_exclude_vectors=maybe", "{\"index\":{\"_index\":\"library\",\"_id\":\"90\"}}\n{\"title\":\"x\"}\n")]
    [InlineData("GET", "/library?local=yes", null)]
    [InlineData("GET", "/library?include_defaults=yes", null)]
    [InlineData("GET", "/library/_mapping?local=yes", null)]
    [InlineData("GET", "/_cat/indices?v=yes", null)]
    [InlineData("GET", "/_cat/indices?help=yes", null)]
    [InlineData("GET", "/_cat/indices?include_unloaded_segments=yes", null)]
    [InlineData("GET", "/_cluster/health?wait_for_no_relocating_shards=yes", null)]
    [InlineData("GET", "/_cluster/health?local=yes", null)]
    [InlineData("GET", "/_nodes?flat_settings=yes", null)]
    [InlineData("POST", "/library/_pit?keep_alive=1m&allow_partial_search_results=yes", null)]
    public async Task ParametersReadAsBooleans_TakeOnlyTrueOrFalse(string method, string path, string? body)
    {
        var contentType = path.StartsWith("/_bulk", StringComparison.Ordinal) ? "application/x-ndjson" : "application/json";
        var r = await Es.SendAsync(new HttpMethod(method), path, body, contentType);
        var value = path[(path.LastIndexOf('=') + 1)..];
        r.AssertError(400, "illegal_argument_exception", $"Failed to parse value [{value}] as only [true] or [false] are allowed.");
        await Es.PostAsync("/library/_refresh");
        Assert.Equal(4, (await Es.GetAsync("/library/_count")).Json["count"]!.GetValue<int>());
    }

    [Theory]
    // IndicesOptions.fromParameters reads the deprecated ignore_throttled with nodeBooleanValue, as its siblings: it
    // was not read at all. RestCountAction reads the indices options first of all, before q and its parameters or the
    // body: the q or body error came first.
    [InlineData("GET", "/library/_search?ignore_throttled=yes", null, "ignore_throttled")]
    [InlineData("GET", "/library/_count?ignore_throttled=no", null, "ignore_throttled")]
    [InlineData("GET", "/library/_count?ignore_unavailable=yes&df=title", null, "ignore_unavailable")]
    [InlineData("POST", "/library/_count?allow_no_indices=yes", "[]", "allow_no_indices")]
    // Elasticsearch 9's IndicesOptions reads them with nodeBooleanValue(node, name), which has no default: a value given
    // empty is refused too (it was the default), and before the parameters it did not read; expand_wildcards takes
    // open, closed, hidden, all and none only (anything was taken).
    [InlineData("GET", "/library/_search?ignore_unavailable=&foo=1", null, "ignore_unavailable")]
    [InlineData("GET", "/library?allow_no_indices=", null, "allow_no_indices")]
    [InlineData("POST", "/library/_refresh?ignore_throttled=&foo=1", null, "ignore_throttled")]
    [InlineData("GET", "/_cat/indices?expand_wildcards=opne", null, null)]
    [InlineData("GET", "/library/_mapping?expand_wildcards=open,bogus&foo=1", null, null)]
    // Java's split keeps an empty entry that is not trailing: it was dropped.
    [InlineData("GET", "/library/_search?expand_wildcards=open,,closed", null, null)]
    public async Task IndicesOptions_AreReadFirst_IgnoreThrottledToo(string method, string path, string? body, string? name)
    {
        var r = await Es.SendAsync(new HttpMethod(method), path, body);
        var value = path[(path.IndexOf('=') + 1)..].Split('&')[0];
        if (name is null)
        {
            var bad = value.Split(',').First(v => v is not ("open" or "closed" or "hidden" or "all" or "none"));
            r.AssertError(400, "illegal_argument_exception", $"No valid expand wildcard value [{bad}]");
            return;
        }

        r.AssertError(400, "illegal_argument_exception", $"Could not convert [{name}] to boolean");
        Assert.Equal($"Failed to parse value [{value}] as only [true] or [false] are allowed.", r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task DocumentIndexAndClusterApis_OpenSearch_ReadTheirOwnParameters()
    {
        // OpenSearch 2.x's handlers do not read Elasticsearch's newer parameters, and its RestCountAction reads q's
        // parameters only with q, so df alone is an unrecognized parameter there (Elasticsearch names q as missing).
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(201, (await es.PutAsync("/books/_doc/1?refresh=true&require_alias=false", JsonNode.Parse("""{"title":"x"}"""))).Status);
        (await es.PutAsync("/books/_doc/1?require_data_stream=false", JsonNode.Parse("""{"title":"x"}""")))
            .AssertError(400, "illegal_argument_exception", "request [/books/_doc/1] contains unrecognized parameter: [require_data_stream] -> did you mean [require_alias]?");
        (await es.GetAsync("/books/_doc/1?force_synthetic_source=true"))
            .AssertError(400, "illegal_argument_exception", "request [/books/_doc/1] contains unrecognized parameter: [force_synthetic_source]");
        (await es.GetAsync("/books/_count?df=title")).AssertError(400, "illegal_argument_exception", "request [/books/_count] contains unrecognized parameter: [df]");
        Assert.Equal(1, (await es.GetAsync("/books/_count?q=x&df=title")).Json["count"]!.GetValue<int>());
        Assert.Equal(200, (await es.SendAsync(HttpMethod.Post, "/_bulk?batch_size=10", "{\"delete\":{\"_index\":\"books\",\"_id\":\"2\"}}\n", "application/x-ndjson")).Status);
        Assert.Equal(200, (await es.PostAsync("/books/_update/1?refresh=true&retry_on_conflict=1&require_alias=false", JsonNode.Parse("""{"doc":{"title":"y"}}"""))).Status);
        (await es.PostAsync("/books/_update/1?include_source_on_error=true", JsonNode.Parse("""{"doc":{"title":"z"}}""")))
            .AssertError(400, "illegal_argument_exception", "request [/books/_update/1] contains unrecognized parameter: [include_source_on_error]");
        // Those it does not read are unrecognized whatever their value, not booleans refused in Elasticsearch's words.
        (await es.PostAsync("/books/_doc?include_source_on_error=yes", JsonNode.Parse("""{"title":"z"}""")))
            .AssertError(400, "illegal_argument_exception", "request [/books/_doc] contains unrecognized parameter: [include_source_on_error]");
        (await es.SendAsync(HttpMethod.Post, "/_bulk?list_executed_pipelines=yes", "{\"delete\":{\"_index\":\"books\",\"_id\":\"2\"}}\n", "application/x-ndjson"))
            .AssertError(400, "illegal_argument_exception", "request [/_bulk] contains unrecognized parameter: [list_executed_pipelines]");
        // Its index and health handlers read cluster_manager_timeout (and the deprecated master_timeout), its health
        // awareness_attribute and ensure_node_weighed_in; its get index no features (Elasticsearch's).
        Assert.Equal(200, (await es.PutAsync("/shelf?cluster_manager_timeout=30s&master_timeout=30s&timeout=30s&wait_for_active_shards=1")).Status);
        Assert.Equal(200, (await es.GetAsync("/shelf/_mapping?cluster_manager_timeout=30s&local=false")).Status);
        Assert.Equal(200, (await es.GetAsync("/shelf?cluster_manager_timeout=30s&include_defaults=false")).Status);
        Assert.Equal(200, (await es.GetAsync("/_cluster/health?cluster_manager_timeout=30s&awareness_attribute=zone&ensure_node_weighed_in=false")).Status);
        (await es.GetAsync("/shelf?features=mappings")).AssertError(400, "illegal_argument_exception", "request [/shelf] contains unrecognized parameter: [features]");
        (await es.PutAsync("/other?foo=1")).AssertError(400, "illegal_argument_exception", "request [/other] contains unrecognized parameter: [foo]");
        Assert.Equal(404, (await es.GetAsync("/other")).Status);
        // OpenSearch's RestDeleteIndexAction reads cluster_manager_timeout.
        Assert.Equal(200, (await es.SendAsync(HttpMethod.Delete, "/books?cluster_manager_timeout=30s&master_timeout=30s&timeout=30s", null)).Status);
    }

    /// <summary>
    /// With the OpenSearch flavour, <c>_nodes</c>, <c>POST /{index}/_search/point_in_time</c> and <c>_scripts</c> refuse
    /// the parameters OpenSearch's handlers do not read (RestNodesInfoAction; RestCreatePitAction's
    /// allow_partial_pit_creation, keep_alive, indices options, preference, routing; the stored script actions'
    /// cluster_manager_timeout beside the deprecated master_timeout). Before, they took any parameter.
    /// </summary>
    [Fact]
    public async Task NodesPitAndScripts_OpenSearch_RefuseParametersItsHandlersDoNotRead()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(201, (await es.PutAsync("/books/_doc/1?refresh=true", JsonNode.Parse("""{"title":"x"}"""))).Status);

        Assert.Equal(200, (await es.GetAsync("/_nodes?timeout=30s&flat_settings=true")).Status);
        (await es.GetAsync("/_nodes?timeot=30s")).AssertError(400, "illegal_argument_exception", "request [/_nodes] contains unrecognized parameter: [timeot] -> did you mean [timeout]?");

        Assert.Equal(200, (await es.PostAsync("/books/_search/point_in_time?keep_alive=1m&allow_partial_pit_creation=false&preference=_local&routing=r&ignore_unavailable=true")).Status);
        (await es.PostAsync("/books/_search/point_in_time?keep_alive=1m&allow_partial_search_results=true"))
            .AssertError(400, "illegal_argument_exception", "request [/books/_search/point_in_time] contains unrecognized parameter: [allow_partial_search_results] -> did you mean [allow_partial_pit_creation]?");
        (await es.PostAsync("/books/_search/point_in_time?keep_alive=1m&allow_partial_pit_creation=yes"))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.");

        var script = JsonNode.Parse("""{"script":{"lang":"mustache","source":{"query":{"match":{"title":"{{q}}"}}}}}""");
        Assert.Equal(200, (await es.PutAsync("/_scripts/s1?cluster_manager_timeout=30s&timeout=30s", script)).Status);
        (await es.PutAsync("/_scripts/s2?refresh=true", script)).AssertError(400, "illegal_argument_exception", "request [/_scripts/s2] contains unrecognized parameter: [refresh]");
        Assert.Equal(404, (await es.GetAsync("/_scripts/s2")).Status);
        Assert.Equal(200, (await es.GetAsync("/_scripts/s1?cluster_manager_timeout=30s&master_timeout=30s")).Status);
        (await es.GetAsync("/_scripts/s1?timeout=30s")).AssertError(400, "illegal_argument_exception", "request [/_scripts/s1] contains unrecognized parameter: [timeout]");
        (await es.DeleteAsync("/_scripts/s1?cluster_manager_timout=30s"))
            .AssertError(400, "illegal_argument_exception", "request [/_scripts/s1] contains unrecognized parameter: [cluster_manager_timout] -> did you mean [cluster_manager_timeout]?");
        Assert.Equal(200, (await es.DeleteAsync("/_scripts/s1?cluster_manager_timeout=30s&timeout=30s")).Status);
    }

    /// <summary>
    /// With the OpenSearch flavour, a path no handler takes is OpenSearch's 400, naming the path alone
    /// (RestController.handleBadRequest: <c>new URI(uri).getPath()</c>, no query); Elasticsearch names the whole uri.
    /// Before, the OpenSearch flavour named the query too. A wrong method keeps the whole uri in both.
    /// </summary>
    [Fact]
    public async Task NoHandler_OpenSearch_NamesThePathWithoutTheQuery()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        var none = await es.GetAsync("/books/_nope?pretty");
        Assert.Equal((400, """{"error":"no handler found for uri [/books/_nope] and method [GET]"}"""), (none.Status, none.Json.ToJsonString()));
        var put = await es.PutAsync("/books/_search?pretty", JsonNode.Parse("{}"));
        Assert.Equal(405, put.Status);
        Assert.StartsWith("Incorrect HTTP method for uri [/books/_search?pretty] and method [PUT], allowed: [", put.Json["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>
    /// With the OpenSearch flavour, <c>_cat/indices</c> is OpenSearch's RestIndicesAction: its default columns without
    /// Elasticsearch 8's dataset.size; local, cluster_manager_timeout and the deprecated master_timeout read (paramAsBoolean,
    /// paramAsTime), master_timeout refused beside cluster_manager_timeout whatever their values (an
    /// OpenSearchParseException); AbstractCatAction's response parameters with OpenSearch's timeout and limit; any other
    /// parameter refused (the _cat route is not paginated: no next_token). Before, it took any parameter and answered
    /// Elasticsearch's columns.
    /// </summary>
    [Fact]
    public async Task CatIndices_OpenSearch_IsRestIndicesAction()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(201, (await es.PutAsync("/books/_doc/1?refresh=true", JsonNode.Parse("""{"title":"x"}"""))).Status);

        var cat = await es.GetAsync("/_cat/indices/books?format=json&local=true&cluster_manager_timeout=30s&timeout=1m&limit=5&health=green");
        Assert.Equal(200, cat.Status);
        Assert.Equal(["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size", "pri.store.size"],
            cat.Json[0]!.AsObject().Select(p => p.Key));
        Assert.Equal(200, (await es.GetAsync("/_cat/indices?master_timeout=30s&format=json")).Status);
        (await es.GetAsync("/_cat/indices?master_timeout=30s&cluster_manager_timeout=30s"))
            .AssertError(400, "parse_exception", "Please only use one of the request parameters [master_timeout, cluster_manager_timeout].");
        (await es.GetAsync("/_cat/indices?cluster_manager_timeout=soon"))
            .AssertError(400, "parse_exception", "failed to parse setting [cluster_manager_timeout] with value [soon] as a time value: unit is missing or unrecognized");
        (await es.GetAsync("/_cat/indices?local=yes"))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.");
        (await es.GetAsync("/_cat/indices?next_token=x"))
            .AssertError(400, "illegal_argument_exception", "request [/_cat/indices] contains unrecognized parameter: [next_token]");
    }

    /// <summary>
    /// With the OpenSearch flavour, <c>DELETE /_search/point_in_time</c> and <c>/_all</c> refuse any parameter
    /// (RestDeletePitAction reads none; its body may come as <c>source</c> and <c>source_content_type</c>, read as the
    /// body). Before, they took any parameter, and a body sent as <c>source</c> was not read.
    /// </summary>
    [Fact]
    public async Task DeletePit_OpenSearch_RefusesParameters_AndReadsItsBodyFromSource()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(201, (await es.PutAsync("/books/_doc/1?refresh=true", JsonNode.Parse("""{"title":"x"}"""))).Status);
        var pit = (await es.PostAsync("/books/_search/point_in_time?keep_alive=1m")).Json["pit_id"]!.GetValue<string>();

        (await es.SendAsync(HttpMethod.Delete, "/_search/point_in_time?keep_alive=1m", new JsonObject { ["pit_id"] = new JsonArray(pit) }))
            .AssertError(400, "illegal_argument_exception", "request [/_search/point_in_time] contains unrecognized parameter: [keep_alive]");
        (await es.SendAsync(HttpMethod.Delete, "/_search/point_in_time/_all?pit_id=x", null))
            .AssertError(400, "illegal_argument_exception", "request [/_search/point_in_time/_all] contains unrecognized parameter: [pit_id]");

        var source = Uri.EscapeDataString(new JsonObject { ["pit_id"] = new JsonArray(pit) }.ToJsonString());
        var deleted = await es.SendAsync(HttpMethod.Delete, $"/_search/point_in_time?source={source}&source_content_type=application/json", null);
        Assert.Equal(200, deleted.Status);
        Assert.Equal(new JsonObject { ["pits"] = new JsonArray(new JsonObject { ["successful"] = true, ["pit_id"] = pit }) }.ToJsonString(), deleted.Json.ToJsonString());
    }

    /// <summary>
    /// With the OpenSearch flavour, <c>_cluster/health</c> reads <c>cluster_manager_timeout</c> as a time value, then the
    /// deprecated <c>master_timeout</c>, which must have the same value where both are given
    /// (RestClusterHealthAction.fromRequest, parseDeprecatedMasterTimeoutParameter, RestRequest.validateParamValuesAreEqual:
    /// an OpenSearchParseException). Before, any cluster_manager_timeout was taken.
    /// </summary>
    [Fact]
    public async Task ClusterHealth_OpenSearch_ReadsClusterManagerTimeout()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        (await es.GetAsync("/_cluster/health?wait_for_status=purple&cluster_manager_timeout=soon"))
            .AssertError(400, "parse_exception", "failed to parse setting [cluster_manager_timeout] with value [soon] as a time value: unit is missing or unrecognized");
        (await es.GetAsync("/_cluster/health?cluster_manager_timeout=30s&master_timeout=10s"))
            .AssertError(400, "parse_exception", "The values of the request parameters: [master_timeout, cluster_manager_timeout] are required to be equal, otherwise please only assign value to one of the request parameters.");
        Assert.Equal(200, (await es.GetAsync("/_cluster/health?cluster_manager_timeout=30s&master_timeout=30s")).Status);
        Assert.Equal(200, (await es.GetAsync("/_cluster/health?cluster_manager_timeout=-1")).Status);
    }

    // OpenSearch's JsonXContentParser does not wrap Jackson's exception as Elasticsearch 9's does (ExceptionsHelper.status
    // makes a JsonParseException a 400 of its own), and its JsonXContent leaves INCLUDE_SOURCE_IN_LOCATION off, Jackson
    // 2.16+'s default: the error is json_parse_exception (json_e_o_f_exception) with Jackson's message, its source
    // REDACTED, and (Jackson 2.17+, jackson-core #1173, as OpenSearch 2.16+ pins) an unexpected character or close
    // marker at its own column. Before, the OpenSearch flavour answered Elasticsearch 9's x_content_parse_exception,
    // quoting the body.
    [Theory]
    [InlineData("{\"query\":}", "json_parse_exception", "Unexpected character ('}' (code 125)): expected a value", 10)]
    [InlineData("{\"a\" 1}", "json_parse_exception", "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value", 6)]
    [InlineData("{\"query\":{]", "json_parse_exception", "Unexpected close marker ']': expected '}' (for Object starting at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 10])", 11)]
    [InlineData("{\"query\":{", "json_e_o_f_exception", "Unexpected end-of-input: expected close marker for Object (start marker at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 10])", 11)]
    public async Task MalformedSearchBody_OpenSearch_IsJacksonsOwnError(string body, string type, string jackson, int column)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        var r = await es.SendAsync(HttpMethod.Post, "/_search", body);
        var reason = $"{jackson}\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: {column}]";
        Assert.Equal((400, type, reason), (r.Status, r.ErrorType, r.ErrorReason));
        Assert.Equal((type, reason), (r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>(), r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>()));
        Assert.Null(r.Json["error"]!["caused_by"]);
    }

    // The accessors alike: OpenSearch 2.x's JsonXContentParser.doIntValue and doBooleanValue call Jackson's getIntValue and
    // getBooleanValue unwrapped (AbstractXContentParser.intValue, booleanValue), so Jackson's exception is the answer, its
    // source REDACTED, at where Jackson stands (after the token). ExceptionsHelper.status makes a JsonParseException a 400;
    // 2.19.1's has no case for Jackson's InputCoercionException, a 500 (a 400 from 2.19.2 and 3.1, OpenSearch #18161).
    // Before, the OpenSearch flavour answered Elasticsearch 9's wrapped x_content_parse_exception, quoting the body.
    [Theory]
    [InlineData("{\"size\":true}", 400, "json_parse_exception", "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors", 13)]
    [InlineData("{\"explain\":1}", 400, "json_parse_exception", "Current token (VALUE_NUMBER_INT) not of boolean type", 13)]
    [InlineData("{\"from\":2147483648}", 500, "input_coercion_exception", "Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)", 19)]
    public async Task SearchBodyValueJacksonsAccessorRefuses_OpenSearch_IsJacksonsOwnError(string body, int status, string type, string jackson, int column)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        var r = await es.SendAsync(HttpMethod.Post, "/_search", body);
        var reason = $"{jackson}\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: {column}]";
        Assert.Equal((status, status, type, reason), (r.Status, r.Json["status"]!.GetValue<int>(), r.ErrorType, r.ErrorReason));
        Assert.Equal((type, reason), (r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>(), r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>()));
        Assert.Null(r.Json["error"]!["caused_by"]);
    }

    // An int an ObjectParser declares (TermsAggregationBuilder's size, HighlightBuilder's fragment_size) is read by the
    // same accessor, but ObjectParser.parseValue wraps what it throws: OpenSearch's 400 x_content_parse_exception
    // "[1:47] [terms] failed to parse field [size]" where the parser stands (the value), caused by Jackson's own error;
    // a field's own option is wrapped by its parser, declareNamedObjects and the highlight's. Before, the bare 500
    // input_coercion_exception the body's from answers.
    [Theory]
    [InlineData("{\"aggs\":{\"t\":{\"terms\":{\"field\":\"topic\",\"size\":2147483648}}}}", 47, new[] { "[terms] failed to parse field [size]" })]
    [InlineData("{\"query\":{\"match\":{\"text\":\"river\"}},\"highlight\":{\"fragment_size\":2147483648,\"fields\":{\"text\":{}}}}", 66,
        new[] { "[highlight] failed to parse field [fragment_size]" })]
    [InlineData("{\"query\":{\"match\":{\"text\":\"river\"}},\"highlight\":{\"fields\":{\"text\":{\"fragment_size\":2147483648}}}}", 84,
        new[] { "[highlight] failed to parse field [fields]", "[fields] failed to parse field [text]", "[highlight_field] failed to parse field [fragment_size]" })]
    public async Task SearchObjectParserIntPastAnIntsRange_OpenSearch_IsWrappedAsObjectParserWrapsIt(string body, int column, string[] wrappers)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"text":{"type":"text"},"topic":{"type":"keyword"}}}}"""))).Status);
        await es.BulkAsync("{\"index\":{\"_index\":\"shelf\",\"_id\":\"1\"}}\n{\"text\":\"The river bends.\",\"topic\":\"geography\"}\n");
        var jackson = $"Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: {column + 10}]";

        var r = await es.SendAsync(HttpMethod.Post, "/shelf/_search", body);
        Assert.Equal((400, 400, "x_content_parse_exception", $"[1:{column}] {wrappers[0]}"), (r.Status, r.Json["status"]!.GetValue<int>(), r.ErrorType, r.ErrorReason));
        var cause = r.Json["error"]!;
        foreach (var wrapper in wrappers.Skip(1))
        {
            cause = cause["caused_by"]!;
            Assert.Equal(("x_content_parse_exception", $"[1:{column}] {wrapper}"), (cause["type"]!.GetValue<string>(), cause["reason"]!.GetValue<string>()));
        }

        Assert.Equal(("input_coercion_exception", jackson), (cause["caused_by"]!["type"]!.GetValue<string>(), cause["caused_by"]!["reason"]!.GetValue<string>()));

        // The same in an _msearch line is the whole msearch's 400 in OpenSearch's words too: RestMultiSearchAction parses
        // every line's search before any runs. (It was that item's answer: the int was read only as its search ran.)
        var m = await es.SendAsync(HttpMethod.Post, "/shelf/_msearch", "{}\n" + body + "\n", "application/x-ndjson");
        Assert.Equal((400, $"[1:{column}] {wrappers[0]}"), (m.Status, m.ErrorReason));
        var itemCause = m.Json["error"]!;
        for (var i = 0; i < wrappers.Length; i++)
        {
            itemCause = itemCause["caused_by"]!;
        }

        Assert.Equal(("input_coercion_exception", jackson), (itemCause["type"]!.GetValue<string>(), itemCause["reason"]!.GetValue<string>()));
    }

    // AbstractHighlighterBuilder.maxAnalyzedOffset, which declareInt calls while the search is parsed: Elasticsearch 9.0+
    // (#118895, the 9.1 this backend answers as) refuses below -1 with its illegal_argument_exception wrapped as
    // "[highlight] failed to parse field [max_analyzed_offset]" (a field's own by its parsers too). It was taken.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HighlightMaxAnalyzedOffsetBelowMinusOne_IsItsSettersErrorWrapped(bool inField)
    {
        var body = inField
            ? "{\"query\":{\"term\":{\"topic\":\"none\"}},\"highlight\":{\"fields\":{\"text\":{\"max_analyzed_offset\":-2}}}}"
            : "{\"query\":{\"term\":{\"topic\":\"none\"}},\"highlight\":{\"max_analyzed_offset\":-2,\"fields\":{\"text\":{}}}}";
        await AssertHighlightOptionRefusedAsync(body, "-2", "max_analyzed_offset", inField, ("illegal_argument_exception", "[max_analyzed_offset] must be an integer >= -1"));
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Post, "/library/_search", body.Replace("-2", "-1", StringComparison.Ordinal))).Status);
    }

    // AbstractHighlighterBuilder.setupParser declares these with declareInt (HighlightBuilder.Field fragment_offset too):
    // HighlightBuilder.fromXContent reads them while the search is parsed, so a value intValue() refuses is the 400
    // ObjectParser.parseValue wraps, "[1:58] [highlight] failed to parse field [no_match_size]" at the value (a field's
    // own wrapped by declareNamedObjects and the highlight's parser too), with no hit to highlight. Before, they were
    // read only while a hit was highlighted: this search, which matches nothing, answered 200.
    [Theory]
    [InlineData("fragment_size", false)]
    [InlineData("number_of_fragments", false)]
    [InlineData("no_match_size", false)]
    [InlineData("phrase_limit", false)]
    [InlineData("boundary_max_scan", false)]
    [InlineData("fragment_offset", true)]
    [InlineData("no_match_size", true)]
    public async Task HighlightIntOptionNotANumber_NoHits_IsRefusedWhileTheSearchIsParsed(string option, bool inField)
    {
        var body = inField
            ? "{\"query\":{\"term\":{\"topic\":\"none\"}},\"highlight\":{\"fields\":{\"text\":{\"" + option + "\":\"x\"}}}}"
            : "{\"query\":{\"term\":{\"topic\":\"none\"}},\"highlight\":{\"" + option + "\":\"x\",\"fields\":{\"text\":{}}}}";
        await AssertHighlightOptionRefusedAsync(body, "\"x\"", option, inField, ("number_format_exception", "For input string: \"x\""));
    }

    // The 400 ObjectParser.parseValue wraps a highlight option's refusal in, at the value: "[highlight] failed to parse
    // field [option]", a field's own also wrapped by declareNamedObjects and the highlight's parser, then the cause.
    private async Task AssertHighlightOptionRefusedAsync(string body, string value, string option, bool inField, (string Type, string Reason) refusal)
    {
        var at = $"[1:{body.IndexOf(value, StringComparison.Ordinal) + 1}]";
        string[] wrappers = inField
            ? ["[highlight] failed to parse field [fields]", "[fields] failed to parse field [text]", $"[highlight_field] failed to parse field [{option}]"]
            : [$"[highlight] failed to parse field [{option}]"];

        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
        Assert.Equal((400, "x_content_parse_exception", $"{at} {wrappers[0]}"), (r.Status, r.ErrorType, r.ErrorReason));
        var cause = r.Json["error"]!;
        foreach (var wrapper in wrappers.Skip(1))
        {
            cause = cause["caused_by"]!;
            Assert.Equal(("x_content_parse_exception", $"{at} {wrapper}"), (cause["type"]!.GetValue<string>(), cause["reason"]!.GetValue<string>()));
        }

        Assert.Equal((refusal.Type, refusal.Reason), (cause["caused_by"]!["type"]!.GetValue<string>(), cause["caused_by"]!["reason"]!.GetValue<string>()));
    }

    // TermsAggregationBuilder's setters, which ObjectParser.parseValue calls while the search is parsed: size and
    // shard_size above 0, min_doc_count not below 0, else their illegal_argument_exception wrapped as
    // "[1:47] [terms] failed to parse field [size]" (OpenSearch 2.x's builder alike). size 0 answered no bucket, a
    // negative shard_size was ignored, and a negative min_doc_count was this backend's own "does not apply" refusal.
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, "size", "0", "[size] must be greater than 0. Found [0] in [by_topic]")]
    [InlineData(SearchFlavor.OpenSearch, "size", "-3", "[size] must be greater than 0. Found [-3] in [by_topic]")]
    [InlineData(SearchFlavor.Elasticsearch, "shard_size", "0", "[shardSize] must be greater than 0. Found [0] in [by_topic]")]
    [InlineData(SearchFlavor.Elasticsearch, "min_doc_count", "\"-1\"", "[minDocCount] must be greater than or equal to 0. Found [-1] in [by_topic]")]
    [InlineData(SearchFlavor.Elasticsearch, "min_doc_count", "-3000000000", "[minDocCount] must be greater than or equal to 0. Found [-3000000000] in [by_topic]")]
    [InlineData(SearchFlavor.Elasticsearch, "shard_min_doc_count", "\"-1\"", "[shardMinDocCount] must be greater than or equal to 0. Found [-1] in [by_topic]")]
    [InlineData(SearchFlavor.OpenSearch, "shard_min_doc_count", "-1", "[shardMinDocCount] must be greater than or equal to 0. Found [-1] in [by_topic]")]
    public async Task TermsIntTheBuilderRefuses_IsItsSettersErrorWrapped(SearchFlavor flavor, string option, string value, string reason)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = flavor });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"topic":{"type":"keyword"}}}}"""))).Status);
        var body = "{\"aggs\":{\"by_topic\":{\"terms\":{\"field\":\"topic\",\"" + option + "\":" + value + "}}}}";
        var at = $"[1:{body.IndexOf(":" + value, StringComparison.Ordinal) + 2}]";

        var r = await es.SendAsync(HttpMethod.Post, "/shelf/_search", body);
        Assert.Equal((400, "x_content_parse_exception", $"{at} [terms] failed to parse field [{option}]"), (r.Status, r.ErrorType, r.ErrorReason));
        Assert.Equal(("illegal_argument_exception", reason), (r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>(), r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>()));
    }

    // TermsAggregationBuilder declares min_doc_count with declareLong: 3000000000 is a long it takes (no bucket has that
    // many documents). It was the int-range 400 "Numeric value (3000000000) out of range of int".
    [Fact]
    public async Task TermsMinDocCount_PastAnInt_IsALongTheBuilderTakes()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"topic":{"type":"keyword"}}}}"""))).Status);
        Assert.Equal(201, (await es.SendAsync(HttpMethod.Put, "/shelf/_doc/1?refresh=true", """{"topic":"a"}""")).Status);

        var r = await es.SendAsync(HttpMethod.Post, "/shelf/_search", """{"size":0,"aggs":{"t":{"terms":{"field":"topic","min_doc_count":3000000000}}}}""");
        Assert.Equal((200, "[]", 0L), (r.Status, r.Json["aggregations"]!["t"]!["buckets"]!.ToJsonString(), r.Json["aggregations"]!["t"]!["sum_other_doc_count"]!.GetValue<long>()));
    }

    // TermsAggregationBuilder declares min_doc_count with declareLong: ObjectParser reads it with p.longValue(), Jackson's
    // getLongValue(), whose ParserMinimalBase.reportOverflowLong says
    //   String.format("Numeric value (%s) out of range of long (%d - %s)", _longIntegerDesc(numDesc), Long.MIN_VALUE, Long.MAX_VALUE)
    // for a number past a long's range; JsonXContentParser wraps it where Jackson stands (after the token) and
    // ObjectParser.parseValue as "[terms] failed to parse field [min_doc_count]" on the value.
    [Fact]
    public async Task TermsMinDocCount_PastALong_IsJacksonsLongOverflowWrapped()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"topic":{"type":"keyword"}}}}"""))).Status);
        const string body = """{"size":0,"aggs":{"t":{"terms":{"field":"topic","min_doc_count":10000000000000000000}}}}""";
        var at = body.IndexOf("10000000000000000000", StringComparison.Ordinal) + 1;
        var after = at + "10000000000000000000".Length;
        var jackson = "Numeric value (10000000000000000000) out of range of long (-9223372036854775808 - 9223372036854775807)\n"
            + $" at [Source: (byte[])\"{body}\"; line: 1, column: {after}]";

        var r = await es.SendAsync(HttpMethod.Post, "/shelf/_search", body);
        Assert.Equal((400, "x_content_parse_exception", $"[1:{at}] [terms] failed to parse field [min_doc_count]"), (r.Status, r.ErrorType, r.ErrorReason));
        var cause = r.Json["error"]!["caused_by"]!;
        Assert.Equal(("x_content_parse_exception", $"[1:{after}] {jackson}"), (cause["type"]!.GetValue<string>(), cause["reason"]!.GetValue<string>()));
        Assert.Equal(("input_coercion_exception", jackson), (cause["caused_by"]!["type"]!.GetValue<string>(), cause["caused_by"]!["reason"]!.GetValue<string>()));
    }

    // ObjectParser's FieldParser.assertSupports: an int declared with declareInt (ValueType.INT) takes a number or a
    // string; another token is "[1:47] [terms] size doesn't support values of type: VALUE_NULL" at the value, not
    // wrapped, in Elasticsearch and OpenSearch alike (a field's own highlight option wrapped by declareNamedObjects and the
    // highlight's parser). A null was taken as absent (the default size, fragment_size) and a boolean was Jackson's
    // accessor error wrapped as "[terms] failed to parse field [size]".
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, """{"aggs":{"t":{"terms":{"field":"topic","size":null}}}}""", "null", "[terms] size doesn't support values of type: VALUE_NULL")]
    [InlineData(SearchFlavor.OpenSearch, """{"aggs":{"t":{"terms":{"field":"topic","size":null}}}}""", "null", "[terms] size doesn't support values of type: VALUE_NULL")]
    [InlineData(SearchFlavor.Elasticsearch, """{"aggs":{"t":{"terms":{"field":"topic","shard_size":true}}}}""", "true", "[terms] shard_size doesn't support values of type: VALUE_BOOLEAN")]
    [InlineData(SearchFlavor.Elasticsearch, """{"aggs":{"t":{"terms":{"field":"topic","min_doc_count":[1]}}}}""", "[1]", "[terms] min_doc_count doesn't support values of type: START_ARRAY")]
    [InlineData(SearchFlavor.Elasticsearch, """{"highlight":{"fragment_size":null,"fields":{"text":{}}}}""", "null", "[highlight] fragment_size doesn't support values of type: VALUE_NULL")]
    [InlineData(SearchFlavor.OpenSearch, """{"highlight":{"number_of_fragments":{},"fields":{"text":{}}}}""", "{}", "[highlight] number_of_fragments doesn't support values of type: START_OBJECT")]
    public async Task ObjectParserIntOfAnotherToken_IsAssertSupportsError(SearchFlavor flavor, string body, string value, string reason)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = flavor });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"text":{"type":"text"},"topic":{"type":"keyword"}}}}"""))).Status);
        var at = $"[1:{body.IndexOf(":" + value, StringComparison.Ordinal) + 2}]";

        var r = await es.SendAsync(HttpMethod.Post, "/shelf/_search", body);
        Assert.Equal((400, "x_content_parse_exception", $"{at} {reason}"), (r.Status, r.ErrorType, r.ErrorReason));
        Assert.Null(r.Json["error"]!["caused_by"]);

        var field = await es.SendAsync(HttpMethod.Post, "/shelf/_search", """{"highlight":{"fields":{"text":{"fragment_size":null}}}}""");
        var fieldAt = "[1:49]";
        Assert.Equal((400, $"{fieldAt} [highlight] failed to parse field [fields]"), (field.Status, field.ErrorReason));
        Assert.Equal($"{fieldAt} [fields] failed to parse field [text]", field.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
        Assert.Equal($"{fieldAt} [highlight_field] fragment_size doesn't support values of type: VALUE_NULL", field.Json["error"]!["caused_by"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_OpenSearch_ReadsItsOwnParameters()
    {
        // OpenSearch's RestSearchAction reads search_pipeline, phase_took and cancel_after_time_interval, and q's
        // parameters only with q (RestActions.urlParamsToQueryBuilder returns at once without it): df alone is then an
        // unrecognized parameter, where Elasticsearch names it as missing q. force_synthetic_source is Elasticsearch's.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/books")).Status);
        Assert.Equal(200, (await es.GetAsync("/books/_search?phase_took=true&cancel_after_time_interval=1m&typed_keys=true")).Status);
        (await es.GetAsync("/books/_search?df=title")).AssertError(400, "illegal_argument_exception", "request [/books/_search] contains unrecognized parameter: [df]");
        (await es.GetAsync("/books/_search?force_synthetic_source=true")).AssertError(400, "illegal_argument_exception", "request [/books/_search] contains unrecognized parameter: [force_synthetic_source]");
        Assert.Equal(200, (await Es.GetAsync("/library/_search?force_synthetic_source=false")).Status);
    }

    [Fact]
    public async Task MinScore_AppliesToTheAggregationsAsToTheHits()
    {
        // QueryPhaseCollector applies min_score to the aggregations too (the post_filter to the hits alone): both cooking
        // books match, only book 3 scores over 0.5, so the aggregations count it alone. They counted both.
        var r = await Es.SearchAsync("library", JsonNode.Parse("""
            {"min_score":0.5,"query":{"bool":{"filter":[{"term":{"topic":"cooking"}}],"should":[{"ids":{"values":["3"]}}]}},
             "aggs":{"topics":{"terms":{"field":"topic"}},"years":{"value_count":{"field":"year"}},"oldest":{"min":{"field":"year"}}}}
            """)!);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal(["3"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(1, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        var aggs = r.Json["aggregations"]!;
        Assert.Equal("""[{"key":"cooking","doc_count":1}]""", aggs["topics"]!["buckets"]!.ToJsonString());
        Assert.Equal(1, aggs["years"]!["value"]!.GetValue<int>());
        Assert.Equal(2019, aggs["oldest"]!["value"]!.GetValue<double>());
    }

    [Fact]
    public async Task TerminateAfter_StopsEachIndexOnceItCollectedThatMany()
    {
        // QueryPhaseCollector stops a shard (an index here) at the document after the terminate_after-th it collected, in
        // document order, and says terminated_early. The total is QueryPhaseCollectorManager's: without a post_filter or
        // min_score (QueryPhase's hasFilterCollector), a match_all or a single term takes shortcutTotalHitCount (every
        // match), where this backend counted only the documents collected (2).
        var r = await Es.SearchAsync("library", JsonNode.Parse("""{"terminate_after":2,"query":{"match_all":{}}}""")!);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal(["took", "timed_out", "terminated_early", "_shards", "hits"], r.Json.AsObject().Select(p => p.Key));
        Assert.True(r.Json["terminated_early"]!.GetValue<bool>());
        Assert.Equal("""{"value":4,"relation":"eq"}""", r.Json["hits"]!["total"]!.ToJsonString());
        Assert.Equal(["1", "2"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        var term = await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"terminate_after":1,"query":{"term":{"topic":"geography"}}}""");
        Assert.True(term.Json["terminated_early"]!.GetValue<bool>());
        Assert.Equal(2, term.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        // Any other query, or a post_filter, or a min_score: the total is what was collected before the stop.
        const string Either = """{"bool":{"should":[{"term":{"topic":"cooking"}},{"term":{"topic":"geography"}}]}}""";
        var other = await Es.SendAsync(HttpMethod.Post, "/library/_search", $$"""{"terminate_after":2,"query":{{Either}}}""");
        Assert.True(other.Json["terminated_early"]!.GetValue<bool>());
        Assert.Equal("""{"value":2,"relation":"eq"}""", other.Json["hits"]!["total"]!.ToJsonString());
        var filtered = await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"terminate_after":2,"query":{"match_all":{}},"post_filter":{"match_all":{}}}""");
        Assert.Equal("""{"value":2,"relation":"eq"}""", filtered.Json["hits"]!["total"]!.ToJsonString());
        // No more matches than that: the shard ends without terminating early, and says so.
        var cooking = await Es.GetAsync("/library/_search?q=topic:cooking&terminate_after=2");
        Assert.False(cooking.Json["terminated_early"]!.GetValue<bool>());
        Assert.Equal(2, cooking.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.Null((await Es.GetAsync("/library/_search")).Json["terminated_early"]);
        // A size-0 search and a _count (RestCountAction runs one) count with Weight#count what it counts, whole segments
        // before anything is collected: nothing stops, and terminated_early is false; other queries stop as above.
        var none = await Es.GetAsync("/library/_search?size=0&terminate_after=2");
        Assert.False(none.Json["terminated_early"]!.GetValue<bool>());
        Assert.Equal("""{"value":4,"relation":"eq"}""", none.Json["hits"]!["total"]!.ToJsonString());
        // RestCountAction writes terminated_early first, whenever terminate_after is not 0.
        Assert.StartsWith("""{"terminated_early":false,"count":4,""", (await Es.GetAsync("/library/_count?terminate_after=3")).Json.ToJsonString(), StringComparison.Ordinal);
        Assert.StartsWith("""{"terminated_early":false,"count":2,""", (await Es.GetAsync("/library/_count?q=topic:cooking&terminate_after=1")).Json.ToJsonString(), StringComparison.Ordinal);
        Assert.StartsWith("""{"terminated_early":true,"count":3,""", (await Es.SendAsync(HttpMethod.Post, "/library/_count?terminate_after=3", $$"""{"query":{{Either}}}""")).Json.ToJsonString(), StringComparison.Ordinal);
        Assert.StartsWith("""{"terminated_early":false,"count":4,""", (await Es.SendAsync(HttpMethod.Post, "/library/_count?terminate_after=4", $$"""{"query":{{Either}}}""")).Json.ToJsonString(), StringComparison.Ordinal);
        Assert.StartsWith("""{"count":4,""", (await Es.GetAsync("/library/_count?terminate_after=0")).Json.ToJsonString(), StringComparison.Ordinal);
        // SearchSourceBuilder.terminateAfter refuses a negative one.
        (await Es.GetAsync("/library/_search?terminate_after=-1")).AssertError(400, "illegal_argument_exception", "terminateAfter must be > 0");
        (await Es.GetAsync("/library/_count?terminate_after=-1")).AssertError(400, "illegal_argument_exception", "terminateAfter must be > 0");
    }

    [Theory]
    // Elasticsearch 9 takes a match_all's total from the index (shortcutTotalHitCount: terminate_after is no filter
    // collector), so Lucene's TopScoreDocCollector gets a total hits threshold of 1: once its queue of from + size is full
    // and more than one hit was counted, it sets a minimum competitive score above the constant score, and
    // ConstantScoreScorer ends its iterator. max(from + size, 2) documents reach terminate_after's count: a smaller page
    // does not terminate early. This backend collected every match and said terminated_early: true.
    [InlineData("""{"size":1,"terminate_after":3,"query":{"match_all":{}}}""", false, new[] { "1" })]
    [InlineData("""{"size":2,"terminate_after":2,"query":{"match_all":{}}}""", false, new[] { "1", "2" })]
    [InlineData("""{"from":1,"size":1,"terminate_after":2,"query":{"match_all":{}}}""", false, new[] { "2" })]
    // Two documents are counted before the threshold of 1 is passed: one more than terminate_after 1.
    [InlineData("""{"size":1,"terminate_after":1,"query":{"match_all":{}}}""", true, new[] { "1" })]
    // A term, aggregations (whose collector never lets scores be skipped) or a post_filter (then the total is counted,
    // up to track_total_hits): every match is collected up to terminate_after, as before.
    [InlineData("""{"size":1,"terminate_after":1,"query":{"term":{"topic":"geography"}}}""", true, new[] { "1" })]
    [InlineData("""{"size":1,"terminate_after":3,"query":{"match_all":{}},"aggs":{"n":{"value_count":{"field":"year"}}}}""", true, new[] { "1" })]
    [InlineData("""{"size":1,"terminate_after":3,"query":{"match_all":{}},"post_filter":{"match_all":{}}}""", true, new[] { "1" })]
    public async Task TerminateAfter_AMatchAllPageSmallerThanIt_StopsWhereLuceneStopsScoring(string body, bool terminated, string[] ids)
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal(terminated, r.Json["terminated_early"]!.GetValue<bool>());
        Assert.Equal(ids, r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task TerminateAfter_StopsTheAggregationsWhereItStopsTheHits()
    {
        // QueryPhaseCollector "terminates aggs collection based on number of filtered top hits": the aggregations count
        // the matches before the document that stopped the shard (here books 1 and 2, of 1995 and 2001), those the
        // post_filter leaves out included. They counted every match (4 books, 1995 to 2019).
        const string Aggs = """ "aggs":{"n":{"value_count":{"field":"year"}},"last":{"max":{"field":"year"}}} """;
        async Task<string> Counted(string body)
        {
            var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
            Assert.True(r.Status == 200, r.Body?.ToJsonString());
            var a = r.Json["aggregations"]!;
            return $"{r.Json["terminated_early"]} {a["n"]!["value"]} {a["last"]!["value"]}";
        }

        Assert.Equal("true 2 2001", await Counted("""{"terminate_after":2,"query":{"match_all":{}},""" + Aggs + "}"));
        // The post_filter passes books 3 and 4: the shard stops at book 4, the second it collects, after aggregating 1 to 3.
        Assert.Equal("true 3 2019", await Counted("""{"terminate_after":1,"query":{"match_all":{}},"post_filter":{"term":{"topic":"cooking"}},""" + Aggs + "}"));
        // A size-0 search that counts whole segments collects none for its total, so nothing stops its aggregations.
        Assert.Equal("false 4 2019", await Counted("""{"size":0,"terminate_after":2,"query":{"match_all":{}},""" + Aggs + "}"));
    }

    [Fact]
    public async Task Count_MinScore_CountsOnlyTheMatchesScoringThatMuch()
    {
        // RestCountAction sets min_score (request.paramAsFloat) on the count's search: both cooking books match, only book
        // 3 scores over 0.5, as the search with that min_score finds. The parameter was read and ignored: the count was 2.
        const string body = """{"query":{"bool":{"filter":[{"term":{"topic":"cooking"}}],"should":[{"ids":{"values":["3"]}}]}}}""";
        var search = await Es.SendAsync(HttpMethod.Post, "/library/_search?size=0", body.Insert(1, "\"min_score\":0.5,"));
        Assert.Equal(1, search.Json["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.Equal(1, (await Es.SendAsync(HttpMethod.Post, "/library/_count?min_score=0.5", body)).Json["count"]!.GetValue<int>());
        // Float.parseFloat's text: a suffix, a hexadecimal float (they were refused).
        Assert.Equal(1, (await Es.SendAsync(HttpMethod.Post, "/library/_count?min_score=0.5f", body)).Json["count"]!.GetValue<int>());
        Assert.Equal(1, (await Es.SendAsync(HttpMethod.Post, "/library/_count?min_score=0x1p-1", body)).Json["count"]!.GetValue<int>());
        Assert.Equal(2, (await Es.SendAsync(HttpMethod.Post, "/library/_count?min_score=-1", body)).Json["count"]!.GetValue<int>());
        (await Es.SendAsync(HttpMethod.Post, "/library/_count?min_score=high", body))
            .AssertError(400, "illegal_argument_exception", "Failed to parse float parameter [min_score] with value [high]");
        // RestCountAction reads min_score before terminate_after: it was terminate_after's error.
        (await Es.SendAsync(HttpMethod.Post, "/library/_count?terminate_after=-1&min_score=high", body))
            .AssertError(400, "illegal_argument_exception", "Failed to parse float parameter [min_score] with value [high]");
    }

    [Fact]
    public async Task NamedQueries_AreEachHitsMatchedQueries()
    {
        // MatchedQueriesPhase: each hit lists the named queries (_name, in the query and the post_filter) it matches, in
        // the order of Elasticsearch's HashMap of them (the bucket of Java's String.hashCode: "first" before "second",
        // wherever they stand). The names were accepted and no hit had matched_queries.
        async Task<Dictionary<string, string?>> Matched(string body, string query = "")
        {
            var r = await Es.SendAsync(HttpMethod.Post, "/library/_search" + query, body);
            Assert.True(r.Status == 200, r.Body?.ToJsonString());
            return r.Json["hits"]!["hits"]!.AsArray().ToDictionary(h => h!["_id"]!.GetValue<string>(), h => h!["matched_queries"]?.ToJsonString());
        }

        var named = """{"query":{"bool":{"should":[{"match":{"text":{"query":"river","_name":"second"}}},{"term":{"topic":{"value":"cooking","_name":"first"}}}]}}}""";
        Assert.Equal(new Dictionary<string, string?> { ["4"] = """["first","second"]""", ["3"] = """["first"]""" }, await Matched(named));
        // Names of one bucket, as "river_text" and "cooking_topic": Elasticsearch's order is not defined
        // (copyNamedQueries hands them over as Map.copyOf, randomised per JVM), so they come by name here, however they
        // were registered (they came in registration order: the two searches below differed); only the post_filter's
        // own names come after the query's, as its putAll adds them.
        Assert.Equal("""["cooking_topic","river_text"]""", (await Matched("""{"query":{"bool":{"should":[{"match":{"text":{"query":"river","_name":"river_text"}}},{"term":{"topic":{"value":"cooking","_name":"cooking_topic"}}}]}}}"""))["4"]);
        Assert.Equal("""["cooking_topic","river_text"]""", (await Matched("""{"query":{"bool":{"should":[{"term":{"topic":{"value":"cooking","_name":"cooking_topic"}}},{"match":{"text":{"query":"river","_name":"river_text"}}}]}}}"""))["4"]);
        Assert.Equal(new Dictionary<string, string?> { ["4"] = """["river_text","cooking_topic"]""" },
            await Matched("""{"query":{"match":{"text":{"query":"river","_name":"river_text"}}},"post_filter":{"term":{"topic":{"value":"cooking","_name":"cooking_topic"}}}}"""));
        Assert.Equal(new Dictionary<string, string?> { ["2"] = """["all","picked"]""" },
            await Matched("""{"query":{"match_all":{"_name":"all"}},"post_filter":{"ids":{"values":["2"],"_name":"picked"}}}"""));
        // include_named_queries_score: an object of each named query's own score for the hit, as that query alone scores it.
        var scored = JsonNode.Parse((await Matched(named, "?include_named_queries_score=true"))["4"]!)!.AsObject();
        Assert.Equal(["first", "second"], scored.Select(p => p.Key));
        async Task<double> Alone(string query) => (await Es.SearchAsync("library", JsonNode.Parse(query)!)).Json["hits"]!["hits"]!.AsArray()
            .Single(h => h!["_id"]!.GetValue<string>() == "4")!["_score"]!.GetValue<double>();
        Assert.Equal(await Alone("""{"query":{"term":{"topic":"cooking"}}}"""), scored["first"]!.GetValue<double>());
        Assert.Equal(await Alone("""{"query":{"match":{"text":"river"}}}"""), scored["second"]!.GetValue<double>());
        // RestSearchAction.validateSearchRequest reads rest_total_hits_as_int and include_named_queries_score with
        // paramAsBoolean: empty is true, anything but true or false its 400. Any other value was taken as false.
        Assert.Equal(["first", "second"], JsonNode.Parse((await Matched(named, "?include_named_queries_score"))["4"]!)!.AsObject().Select(p => p.Key));
        (await Es.SendAsync(HttpMethod.Post, "/library/_search?include_named_queries_score=yes", named))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.");
        (await Es.SendAsync(HttpMethod.Post, "/library/_search?rest_total_hits_as_int=1", named))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [1] as only [true] or [false] are allowed.");
    }

    [Theory]
    // MatchQueryBuilder, MatchPhraseQueryBuilder and TermQueryBuilder.fromXContent refuse an option they do not read.
    // These were ignored: the misspelt operator searched with OR.
    [InlineData("{\"query\":{\"match\":{\"text\":{\"query\":\"river fish\",\"operater\":\"and\"}}}}", "[match] query does not support [operater]")]
    [InlineData("{\"query\":{\"match_phrase\":{\"text\":{\"query\":\"river\",\"slope\":1}}}}", "[match_phrase] query does not support [slope]")]
    [InlineData("{\"query\":{\"term\":{\"topic\":{\"value\":\"cooking\",\"boots\":2}}}}", "[term] query does not support [boots]")]
    public async Task FieldQuery_AnOptionItDoesNotRead_IsAParsingException(string body, string reason)
    {
        (await Es.SendAsync(HttpMethod.Post, "/library/_search", body)).AssertError(400, "parsing_exception", reason);
        // RestCountAction parses its query as a search's (RestActions.getQueryContent): _count counted with OR instead.
        (await Es.SendAsync(HttpMethod.Post, "/library/_count", body)).AssertError(400, "parsing_exception", reason);
        // Found while the body is parsed, so one such search fails its whole msearch.
        (await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"library\"}\n" + body + "\n", "application/x-ndjson")).AssertError(400, "parsing_exception", reason);
    }

    [Fact]
    public async Task FieldQuery_TheOptionsItReads_AreAccepted()
    {
        Assert.Equal(["4"], await Ids("""{"query":{"match":{"text":{"query":"river trout","operator":"and","fuzziness":"AUTO","lenient":true,"_name":"m","boost":2}}}}"""));
        Assert.Equal(["1"], await Ids("""{"query":{"match_phrase":{"text":{"query":"ten countries","slop":0,"zero_terms_query":"none"}}}}"""));
        Assert.Equal(2, (await Ids("""{"query":{"term":{"topic":{"value":"cooking","case_insensitive":false,"boost":1.5,"_name":"t"}}}}""")).Length);
    }

    [Fact]
    public async Task Match_CutoffFrequency_IsReadByOpenSearchAndRefusedByElasticsearch()
    {
        // OpenSearch's MatchQueryBuilder.fromXContent still reads the deprecated cutoff_frequency (CUTOFF_FREQUENCY_FIELD);
        // Elasticsearch 9's refuses it. With --flavor opensearch it was refused as Elasticsearch refuses it.
        const string body = """{"query":{"match":{"text":{"query":"river trout","operator":"and","cutoff_frequency":0.01}}}}""";
        (await Es.SendAsync(HttpMethod.Post, "/library/_search", body)).AssertError(400, "parsing_exception", "[match] query does not support [cutoff_frequency]");

        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var os = new EsClient(server.Url);
        Assert.Equal(201, (await os.PutAsync("/books/_doc/1?refresh=true", """{"text":"a trout in the river"}""")).Status);
        Assert.Equal(201, (await os.PutAsync("/books/_doc/2?refresh=true", """{"text":"a trout in the lake"}""")).Status);
        var r = await os.SendAsync(HttpMethod.Post, "/books/_search", body);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal(["1"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        var m = await os.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"books\"}\n" + body + "\n", "application/x-ndjson");
        Assert.True(m.Status == 200, m.Body?.ToJsonString());
        Assert.Equal(200, m.Json["responses"]![0]!["status"]!.GetValue<int>());

        // Its match_phrase and term read the same options as Elasticsearch's, so an unknown one is refused there too.
        (await os.SendAsync(HttpMethod.Post, "/books/_search", """{"query":{"match_phrase":{"text":{"query":"trout","cutoff_frequency":0.01}}}}"""))
            .AssertError(400, "parsing_exception", "[match_phrase] query does not support [cutoff_frequency]");
        (await os.SendAsync(HttpMethod.Post, "/books/_search", """{"query":{"match":{"text":{"query":"trout","operater":"and"}}}}"""))
            .AssertError(400, "parsing_exception", "[match] query does not support [operater]");
    }

    [Fact]
    public async Task IndicesBoost_MultipliesTheScoresOfEachIndexsHits()
    {
        // indices_boost was refused as an unknown key. Elasticsearch multiplies the scores of an index's hits by the
        // first entry that names it (TransportSearchAction.resolveIndexBoosts), before min_score is applied.
        Assert.Equal(201, (await Es.PutAsync("/shelf/_doc/s1?refresh=true", """{"title":"Shelf","topic":"misc"}""")).Status);
        var r = await Es.PostAsync("/library,shelf/_search", JsonNode.Parse("""
            {"query":{"match_all":{}},"indices_boost":[{"shelf":3},{"lib*":2},{"library":5}],"min_score":1.5,"size":10}
            """));
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        var hits = r.Json["hits"]!["hits"]!.AsArray();
        Assert.Equal(["s1", "1", "2", "3", "4"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([3d, 2d, 2d, 2d, 2d], hits.Select(h => h!["_score"]!.GetValue<double>()));

        // With BM25 scores too: each hit's score is its unboosted score times its index's boost.
        Assert.Equal(201, (await Es.PutAsync("/shelf/_doc/s2?refresh=true", """{"title":"River Shelf","topic":"misc"}""")).Status);
        const string match = "\"query\":{\"match\":{\"title\":\"river shelf\"}},\"size\":10";
        var plain = await Es.PostAsync("/library,shelf/_search", JsonNode.Parse("{" + match + "}"));
        var boosted = await Es.PostAsync("/library,shelf/_search", JsonNode.Parse("""{"indices_boost":[{"shelf":3},{"library":2}],""" + match + "}"));
        Assert.True(plain.Status == 200, plain.Body?.ToJsonString());
        Assert.True(boosted.Status == 200, boosted.Body?.ToJsonString());
        static Dictionary<string, double> Scores(EsResponse r) => r.Json["hits"]!["hits"]!.AsArray()
            .ToDictionary(h => h!["_index"]!.GetValue<string>() + "/" + h!["_id"]!.GetValue<string>(), h => h!["_score"]!.GetValue<double>());
        var unboosted = Scores(plain);
        var withBoost = Scores(boosted);
        Assert.Equal(["library/4", "shelf/s1", "shelf/s2"], unboosted.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(unboosted.Keys.Order(StringComparer.Ordinal), withBoost.Keys.Order(StringComparer.Ordinal));
        Assert.All(unboosted, u => Assert.True(u.Value > 0, u.Key));
        Assert.All(withBoost, b => Assert.Equal(unboosted[b.Key] * (b.Key.StartsWith("shelf/", StringComparison.Ordinal) ? 3 : 2), b.Value, 1e-5 * b.Value));
        Assert.Equal(withBoost.Values.Max(), boosted.Json["hits"]!["max_score"]!.GetValue<double>());

        (await Es.PostAsync("/library/_search", JsonNode.Parse("""{"indices_boost":[{"ghost":2}]}"""))).AssertError(404, "index_not_found_exception", "no such index [ghost]");
        (await Es.PostAsync("/library/_search", JsonNode.Parse("""{"indices_boost":[{"library":"2"}]}"""))).AssertError(400, "parsing_exception", "Expected [VALUE_NUMBER] in [indices_boost] but found [VALUE_STRING]");
        (await Es.PostAsync("/library/_search", JsonNode.Parse("""{"indices_boost":{"library":2}}"""))).AssertError(400, "parsing_exception", "Unknown key for a START_OBJECT in [indices_boost].");
    }

    [Fact]
    public async Task Msearch_AnswersEachSearchOrItsError()
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/_msearch", """
            {"index":"library"}
            {"query":{"term":{"topic":"cooking"}}}
            {"index":"ghost"}
            {"query":{"match_all":{}}}
            {}
            {"query":{"ids":{"values":["1"]}}}

            """, "application/x-ndjson");
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal(3, responses.Count);
        Assert.Equal(2, responses[0]!["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.Equal(200, responses[0]!["status"]!.GetValue<int>());
        Assert.Equal(404, responses[1]!["status"]!.GetValue<int>());
        Assert.Equal("index_not_found_exception", responses[1]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("1", responses[2]!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Msearch_EmptyHeaderLine_IsTheDefaultHeader()
    {
        // As Elasticsearch's MultiSearchRequest.readMultiLineFormat: the line after a header is its body, an empty header
        // is the default one (the path's index). Before, empty lines were dropped and the answers fell out of step.
        var body = "\n{\"query\":{\"ids\":{\"values\":[\"1\"]}}}\n{}\n{\"query\":{\"ids\":{\"values\":[\"2\"]}}}\n\n{\"query\":{\"ids\":{\"values\":[\"3\"]}}}\n";
        var responses = await MsearchAsync("/library/_msearch", body);
        Assert.Equal([200, 200, 200], responses.Select(x => x!["status"]!.GetValue<int>()));
        Assert.Equal(["1", "2", "3"], responses.Select(x => x!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task WrongTypesInAnMsearchHeaderOrAMinScore_AreThatItems400_AndAMinScoreStringIsANumber()
    {
        // Before, a number as a header's index and a string min_score were 500s (a JsonElement conversion thrown).
        var body = "{\"index\":5}\n{}\n{\"index\":[\"library\",7]}\n{}\n{\"index\":\"library\"}\n{\"min_score\":\"0.0001\",\"query\":{\"ids\":{\"values\":[\"1\"]}}}\n";
        var responses = await MsearchAsync("/_msearch", body);
        Assert.Equal([400, 400, 200], responses.Select(x => x!["status"]!.GetValue<int>()));
        Assert.Equal("illegal_argument_exception", responses[0]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("1", responses[2]!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>());
    }

    private async Task<JsonArray> MsearchAsync(string path, string body) =>
        (await Es.SendAsync(HttpMethod.Post, path, body, "application/x-ndjson")).Json["responses"]!.AsArray();

    [Fact]
    public async Task IndexApis_AMissingIndexOfAList_Is404_UnlessIgnoreUnavailable()
    {
        // RestGetIndicesAction serves HEAD /{index} as GET (a GetIndexRequest, strict by default): one missing index of
        // the list is its 404. HEAD answered 200 when any existed, so the clients' indices.exists of [library, ghost]
        // was true; and ignore_unavailable=true was not read by GET, HEAD, _mapping, _refresh or DELETE of an index.
        Assert.Equal(404, (await Es.SendAsync(HttpMethod.Head, "/library,ghost")).Status);
        (await Es.GetAsync("/library,ghost")).AssertError(404, "index_not_found_exception", "no such index [ghost]");
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Head, "/library,ghost?ignore_unavailable=true")).Status);
        Assert.Equal(404, (await Es.SendAsync(HttpMethod.Head, "/ghost?ignore_unavailable=true")).Status);
        Assert.Equal(["library"], (await Es.GetAsync("/library,ghost?ignore_unavailable=true")).Json.AsObject().Select(p => p.Key));
        Assert.Equal(["library"], (await Es.GetAsync("/library,ghost/_mapping?ignore_unavailable=true")).Json.AsObject().Select(p => p.Key));
        Assert.Equal(1, (await Es.PostAsync("/library,ghost/_refresh?ignore_unavailable=true")).Json["_shards"]!["successful"]!.GetValue<int>());
        (await Es.PostAsync("/library,ghost/_refresh")).AssertError(404, "index_not_found_exception", "no such index [ghost]");

        Assert.Equal(200, (await Es.PutAsync("/short-lived")).Status);
        (await Es.SendAsync(HttpMethod.Delete, "/short-lived,ghost")).AssertError(404, "index_not_found_exception", "no such index [ghost]");
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Head, "/short-lived")).Status);
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Delete, "/short-lived,ghost?ignore_unavailable=true")).Status);
        Assert.Equal(404, (await Es.SendAsync(HttpMethod.Head, "/short-lived")).Status);
    }

    [Fact]
    public async Task IndexApis_MappingHeadDeleteCountAndDynamicMapping()
    {
        var mapping = await Es.GetAsync("/library/_mapping");
        Assert.Equal("keyword", mapping.Json["library"]!["mappings"]!["properties"]!["topic"]!["type"]!.GetValue<string>());
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Head, "/library")).Status);
        Assert.Equal(404, (await Es.SendAsync(HttpMethod.Head, "/ghost")).Status);
        Assert.Equal(4, (await Es.GetAsync("/library/_count")).Json["count"]!.GetValue<int>());
        Assert.Equal(2, (await Es.PostAsync("/library/_count", JsonNode.Parse("""{"query":{"term":{"topic":"geography"}}}"""))).Json["count"]!.GetValue<int>());

        await Es.PutAsync("/dyn/_doc/1?refresh=true", JsonNode.Parse("""{"name":"Ada","age":36,"score":1.5,"member":true,"tags":["a","b"]}"""));
        var props = (await Es.GetAsync("/dyn/_mapping")).Json["dyn"]!["mappings"]!["properties"]!;
        Assert.Equal("text", props["name"]!["type"]!.GetValue<string>());
        Assert.Equal("keyword", props["name"]!["fields"]!["keyword"]!["type"]!.GetValue<string>());
        Assert.Equal("long", props["age"]!["type"]!.GetValue<string>());
        Assert.Equal("float", props["score"]!["type"]!.GetValue<string>());
        Assert.Equal("boolean", props["member"]!["type"]!.GetValue<string>());
        Assert.Equal(1, (await Es.PostAsync("/dyn/_count", JsonNode.Parse("""{"query":{"term":{"tags.keyword":"b"}}}"""))).Json["count"]!.GetValue<int>());

        var settings = await Es.PutAsync("/withsettings", JsonNode.Parse("""{"settings":{"number_of_shards":3}}"""));
        Assert.Equal(200, settings.Status);
        Assert.Contains("ignored", settings.Headers.GetValues("Warning").Single(), StringComparison.Ordinal);

        Assert.Equal(200, (await Es.DeleteAsync("/dyn")).Status);
        Assert.Equal(404, (await Es.DeleteAsync("/dyn")).Status);
    }

    [Theory]
    [InlineData("\"true\"", true)]
    [InlineData("\"false\"", false)]
    [InlineData("\"\"", false)] // parser.booleanValue(): Booleans.parseBoolean(chars, offset, 0, false), no text is false (it was a 400)
    [InlineData("\" \"", false)]
    public async Task Explain_GivenAsAString_IsReadAsElasticsearchReadsABoolean(string explain, bool explained)
    {
        // Elasticsearch's parser reads "true" and "false" strings as booleans; before, the string was a 500.
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", $$$"""{"query":{"match":{"text":"bread"}},"explain":{{{explain}}}}""");
        Assert.Equal(200, r.Status);
        var hit = r.Json["hits"]!["hits"]![0]!;
        Assert.Equal(explained, hit["_explanation"] is not null);
    }

    [Fact]
    public async Task LoneSurrogateEscape_IsReadAsElasticsearchReadsIt()
    {
        // Jackson reads "\ud83d" (half an emoji); before, the embedded backend answered 400 where Elasticsearch answers 200.
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", "{\"query\":{\"match\":{\"text\":\"bread \\ud83d\"}}}");
        Assert.Equal(200, r.Status);
        var plain = await Es.SendAsync(HttpMethod.Post, "/library/_search", "{\"query\":{\"match\":{\"text\":\"bread\"}}}");
        Assert.Equal(plain.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()), r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    // SearchSourceBuilder.parseXContent reads from and size with parser.intValue(), whose default coerce policy
    // (AbstractXContentParser.intValue) truncates a fraction and parses a string holding a number. By year: 2, 1, 4, 3.
    [Theory]
    [InlineData("1", "2", "1,4")]
    [InlineData("1.5", "2", "1,4")]
    [InlineData("\"1\"", "2.9", "1,4")]
    [InlineData("\"1.0\"", "\"2\"", "1,4")]
    [InlineData("\" 2 \"", "\"1e0\"", "4")]
    [InlineData("-0.5", "1e1", "2,1,4,3")]
    [InlineData("\"NaN\"", "\"0x1p1\"", "2,1")]
    public async Task Search_FromAndSize_AreCoercedAsElasticsearchsIntValue(string from, string size, string ids)
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", $$"""{"sort":[{"year":"asc"}],"from":{{from}},"size":{{size}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal(ids.Split(','), r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("{\"from\":2147483648}", "x_content_parse_exception", "[1:19] Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"from\":2147483648}\"; line: 1, column: 19]")]
    [InlineData("{\"size\":1e20}", "x_content_parse_exception", "[1:13] Numeric value (1e20) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"size\":1e20}\"; line: 1, column: 13]")]
    [InlineData("{\"size\":true}", "x_content_parse_exception", "[1:13] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors\n at [Source: (byte[])\"{\"size\":true}\"; line: 1, column: 13]")]
    [InlineData("{\"from\":\"abc\"}", "number_format_exception", "For input string: \"abc\"")]
    [InlineData("{\"size\":\"\"}", "number_format_exception", "empty String")]
    [InlineData("{\"from\":\"1e20\"}", "illegal_argument_exception", "Value [1e20] is out of range for an integer")]
    [InlineData("{\"from\":null}", "parsing_exception", "Unknown key for a VALUE_NULL in [from].")]
    [InlineData("{\"size\":{}}", "parsing_exception", "Unknown key for a START_OBJECT in [size].")]
    [InlineData("{\"from\":-1.5}", "illegal_argument_exception", "[from] parameter cannot be negative but was [-1]")]
    [InlineData("{\"track_total_hits\":\"x\"}", "number_format_exception", "For input string: \"x\"")]
    // SearchSourceBuilder.trackTotalHitsUpTo: below -1 (TRACK_TOTAL_HITS_DISABLED) is refused.
    [InlineData("{\"track_total_hits\":-5}", "illegal_argument_exception", "[track_total_hits] parameter must be positive or equals to -1, got -5")]
    [InlineData("{\"track_total_hits\":\"-2.5\"}", "illegal_argument_exception", "[track_total_hits] parameter must be positive or equals to -1, got -2")]
    [InlineData("{\"track_total_hits\":\"1e20\"}", "illegal_argument_exception", "Value [1e20] is out of range for an integer")]
    // The body's order: from is read, and refused, before the unknown key after it.
    [InlineData("{\"from\":\"abc\",\"nope\":1}", "number_format_exception", "For input string: \"abc\"")]
    public async Task Search_FromOrSizeElasticsearchRefuses_IsItsError_InAnMsearchTheWholeRequests(string body, string type, string reason)
    {
        var search = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
        // An msearch body line is read the same way, before any search runs: the whole msearch is that 400.
        var msearch = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"library\"}\n{}\n{\"index\":\"library\"}\n" + body + "\n", "application/x-ndjson");
        foreach (var r in new[] { search, msearch })
        {
            Assert.Equal(400, r.Status);
            Assert.Equal((type, reason), (r.Json["error"]!["type"]!.GetValue<string>(), r.Json["error"]!["reason"]!.GetValue<string>()));
        }
    }

    [Theory]
    [InlineData("\"2.5\"", """{"value":2,"relation":"gte"}""")]
    [InlineData("2.9", """{"value":2,"relation":"gte"}""")]
    [InlineData("\"true\"", """{"value":4,"relation":"eq"}""")]
    // -1 is TRACK_TOTAL_HITS_DISABLED, as false is: no total (it was refused as negative before).
    [InlineData("-1", null)]
    [InlineData("\"-1\"", null)]
    [InlineData("\"false\"", null)]
    public async Task Search_TrackTotalHits_IsABooleanOrCoercedAsFromIs(string value, string? total)
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"size":0,"track_total_hits":""" + value + "}");
        Assert.Equal(200, r.Status);
        Assert.Equal(total, r.Json["hits"]!["total"]?.ToJsonString());
    }

    [Fact]
    public async Task Search_UrlTrackTotalHitsMinusOne_CountsNoTotal()
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search?track_total_hits=-1", "{\"size\":0}");
        Assert.Equal(200, r.Status);
        Assert.Null(r.Json["hits"]!["total"]);
    }

    // RestSearchAction reads the URL's from and size with request.paramAsInt: Integer.parseInt, no coercion.
    [Theory]
    [InlineData("from=1.5", "Failed to parse int parameter [from] with value [1.5]")]
    [InlineData("size=1.0", "Failed to parse int parameter [size] with value [1.0]")]
    [InlineData("size=%2010", "Failed to parse int parameter [size] with value [ 10]")]
    [InlineData("track_total_hits=2.5", "Failed to parse int parameter [track_total_hits] with value [2.5]")]
    public async Task Search_UrlIntParameterThatIsNotAnInteger_IsRefused(string parameter, string reason)
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search?" + parameter, "{}");
        Assert.Equal(400, r.Status);
        Assert.Equal(("illegal_argument_exception", reason), (r.Json["error"]!["type"]!.GetValue<string>(), r.Json["error"]!["reason"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("{\"index\":\"library\",\"header\":1}\n{}\n", "illegal_argument_exception", "key [header] is not supported in the metadata section")]
    [InlineData("[]\n{}\n", "x_content_parse_exception", "[1:2] Unexpected token after end of object")]
    [InlineData("{\"index\":\"library\"}\n[1]\n", "parsing_exception", "Expected [START_OBJECT] but found [START_ARRAY]")]
    // What SearchSourceBuilder.parseXContent throws while it reads a body (server/.../search/builder/SearchSourceBuilder.java):
    // from()/size()'s IllegalArgumentException, its ParsingException for an unknown key, and parseInnerQueryBuilder's
    // "unknown query [x]" (index/query/AbstractQueryBuilder.java), down a bool clause too; readMultiLineFormat's
    // SearchType.fromString. Before, each was that item's error.
    [InlineData("{\"index\":\"library\"}\n{\"from\":-1}\n", "illegal_argument_exception", "[from] parameter cannot be negative but was [-1]")]
    [InlineData("{\"index\":\"library\"}\n{\"size\":-1}\n", "illegal_argument_exception", "[size] parameter cannot be negative, found [-1]")]
    [InlineData("{\"index\":\"ghost\"}\n{\"nope\":{}}\n", "parsing_exception", "Unknown key for a START_OBJECT in [nope].")]
    [InlineData("{\"index\":\"library\"}\n{\"nope\":1}\n", "parsing_exception", "Unknown key for a VALUE_NUMBER in [nope].")]
    [InlineData("{\"index\":\"ghost\"}\n{\"query\":{\"nope\":{}}}\n", "parsing_exception", "unknown query [nope]")]
    // Down a bool clause, BoolQueryBuilder's ObjectParser wraps it: "[bool] failed to parse field [must]" (QueryParseLocationTests).
    [InlineData("{\"index\":\"library\"}\n{\"query\":{\"bool\":{\"must\":[{\"match_all\":{}},{\"nope\":{}}]}}}\n", "x_content_parse_exception", "[1:52] [bool] failed to parse field [must]")]
    [InlineData("{\"index\":\"library\",\"search_type\":\"scan\"}\n{}\n", "illegal_argument_exception", "No search type for [scan]")]
    // readMultiLineFormat's booleans: request_cache's nodeBooleanValue(value, key), ccs_minimize_roundtrips'
    // nodeBooleanValue(value), allow_partial_search_results' nodeBooleanValue(value, null). Before, each was taken.
    [InlineData("{\"index\":\"library\",\"request_cache\":\"yes\"}\n{}\n", "illegal_argument_exception", "Could not convert [request_cache] to boolean")]
    [InlineData("{\"index\":\"library\",\"ccs_minimize_roundtrips\":\"no\"}\n{}\n", "illegal_argument_exception", "Failed to parse value [no] as only [true] or [false] are allowed.")]
    [InlineData("{\"index\":\"library\",\"allow_partial_search_results\":\"\"}\n{}\n", "illegal_argument_exception", "Could not convert [null] to boolean")]
    public async Task Msearch_BadHeaderOrBodyLine_FailsTheWholeRequest(string badPair, string type, string reason)
    {
        // MultiSearchRequest.readMultiLineFormat (header) and SearchSourceBuilder.parseXContent (body) run on every line
        // before any search: Elasticsearch answers the whole msearch with the 400, not one item.
        const string Ok = "{\"index\":\"library\"}\n{\"query\":{\"match\":{\"text\":\"bread\"}}}\n";
        var r = await Es.SendAsync(HttpMethod.Post, "/_msearch", Ok + badPair + Ok);
        Assert.Equal(400, r.Status);
        Assert.Equal(type, r.Json["error"]!["type"]!.GetValue<string>());
        Assert.StartsWith(reason, r.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Msearch_ErrorsFoundWhileTheSearchRuns_StayThatItemsAnswer()
    {
        // Found per search when it runs (TransportSearchAction): a missing index (IndexNotFoundException, 404), and
        // SearchRequest.validate()'s "[from] parameter must be set to 0 when [search_after] is used".
        const string Ok = "{\"index\":\"library\"}\n{\"query\":{\"match\":{\"text\":\"bread\"}}}\n";
        // QueryStringQueryBuilder.doToQuery's QueryShardException "Failed to parse query [..]" is the shard's, too: the
        // search's search_phase_execution_exception (ShardFailureTests).
        const string BadQueryString = "{\"index\":\"library\"}\n{\"query\":{\"query_string\":{\"query\":\"title:(unbalanced\"}}}\n";
        var r = await Es.SendAsync(HttpMethod.Post, "/_msearch", Ok + "{\"index\":\"ghost\"}\n{}\n{\"index\":\"library\"}\n{\"search_after\":[1],\"from\":1}\n" + BadQueryString + Ok);
        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal([200, 404, 400, 400, 200], responses.Select(x => x!["status"]!.GetValue<int>()));
        Assert.Equal(["index_not_found_exception", "action_request_validation_exception", "search_phase_execution_exception"], responses.Skip(1).Take(3).Select(x => x!["error"]!["type"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("POST", "/ghost/_search", "{}", 404, "index_not_found_exception", "no such index [ghost]")]
    [InlineData("POST", "/library/_search", "{\"query\":{\"fuzzy\":{\"title\":\"x\"}}}", 400, "parsing_exception", "unknown query [fuzzy]")]
    // JsonXContentParser.nextToken: Jackson's JsonEOFException is XContentEOFException, its other errors XContentParseException.
    [InlineData("POST", "/library/_search", "{\"query\":{\"match\":", 400, "x_content_e_o_f_exception", "[1:19] ")]
    [InlineData("POST", "/library/_search", "{\"query\":{\"match\":}}", 400, "x_content_parse_exception", "[1:20] ")]
    [InlineData("POST", "/library/_search", "[1]", 400, "parsing_exception", "Expected [START_OBJECT] but found [START_ARRAY]")]
    [InlineData("POST", "/library/_search", "{\"qeury\":{}}", 400, "parsing_exception", "Unknown key for a START_OBJECT in [qeury].")]
    [InlineData("POST", "/library/_search", "{\"size\":1,\"size\":2}", 400, "x_content_parse_exception", "[1:11] Duplicate field 'size'")]
    [InlineData("POST", "/library/_search", "{\"query\":{\"match\":{\"text\":\"x\",\"text\":\"y\"}}}", 400, "x_content_parse_exception", "[1:31] Duplicate field 'text'")]
    [InlineData("POST", "/library/_search", "{\"_source\":{\"includes\":5}}", 400, "parsing_exception", "Unknown key for a VALUE_NUMBER in [includes].")]
    // explain read as SearchSourceBuilder reads it, parser.booleanValue(): Booleans.parseBoolean's refusal of another
    // string, Jackson's of a number (both were a parsing_exception "[explain] failed to parse: ..." of this backend's own).
    [InlineData("POST", "/library/_search", "{\"explain\":\"maybe\"}", 400, "illegal_argument_exception", "Failed to parse value [maybe] as only [true] or [false] are allowed.")]
    [InlineData("POST", "/library/_search", "{\"explain\":\"True\"}", 400, "illegal_argument_exception", "Failed to parse value [True] as only [true] or [false] are allowed.")]
    [InlineData("POST", "/library/_search", "{\"version\":1}", 400, "x_content_parse_exception", "[1:13] Current token (VALUE_NUMBER_INT) not of boolean type")]
    // profile alike (it was taken, whatever its value, and ignored).
    [InlineData("POST", "/library/_search", "{\"profile\":\"maybe\"}", 400, "illegal_argument_exception", "Failed to parse value [maybe] as only [true] or [false] are allowed.")]
    [InlineData("POST", "/library/_search", "{\"profile\":1}", 400, "x_content_parse_exception", "[1:13] Current token (VALUE_NUMBER_INT) not of boolean type")]
    [InlineData("POST", "/library/_search", "{\"profile\":[]}", 400, "parsing_exception", "Unknown key for a START_ARRAY in [profile].")]
    // null, an object or an array is no token parseXContent reads for these keys: "Unknown key for a ..". Before, an
    // object or an array was Jackson's refusal, and null was taken as false.
    [InlineData("POST", "/library/_search", "{\"explain\":{}}", 400, "parsing_exception", "Unknown key for a START_OBJECT in [explain].")]
    [InlineData("POST", "/library/_search", "{\"track_scores\":[true]}", 400, "parsing_exception", "Unknown key for a START_ARRAY in [track_scores].")]
    [InlineData("POST", "/library/_search", "{\"version\":null}", 400, "parsing_exception", "Unknown key for a VALUE_NULL in [version].")]
    [InlineData("POST", "/library/_search", "{\"min_score\":\"abc\"}", 400, "number_format_exception", "For input string: \"abc\"")]
    [InlineData("POST", "/library/_search", "{\"min_score\":true}", 400, "x_content_parse_exception", "min_score doesn't support values of type: VALUE_BOOLEAN")]
    [InlineData("POST", "/library/_search", "{\"aggs\":{\"a\":{\"terms\":{\"field\":5}}}}", 400, "x_content_parse_exception", "[terms] field doesn't support values of type: VALUE_NUMBER")]
    [InlineData("POST", "/library/_search", "{\"ext\":{\"rank1\":{\"enabled\":true}}}", 400, "parsing_exception", "[rank1]")]
    // A result window past 10,000 is the shard's failure: ShardFailureTests.
    // RestController's PathTrie splits the raw path at its slashes, then decodes each segment (RestUtils.decodeComponent):
    // %2F is a slash in the name, which IndexNameExpressionResolver does not trim. "library%2F_doc" and "library" were searched.
    [InlineData("GET", "/library%2F_doc/_search", null, 404, "index_not_found_exception", "no such index [library/_doc]")]
    [InlineData("GET", "/library%20/_search", null, 404, "index_not_found_exception", "no such index [library ]")]
    // MetadataCreateIndexService.validateIndexOrAliasName sees the slash; an index "new%2fone" was created.
    [InlineData("PUT", "/new%2fone", "{}", 400, "invalid_index_name_exception", "Invalid index name [new/one], must not contain")]
    [InlineData("PUT", "/library", "{}", 400, "resource_already_exists_exception", "already exists")]
    [InlineData("PUT", "/Bad", "{}", 400, "invalid_index_name_exception", "must be lowercase")]
    // MetadataCreateIndexService.validateIndexName: validateIndexOrAliasName first (Strings.INVALID_FILENAME_CHARS in its
    // HashSet's order, then '#' and ':' each in words of their own, then the first character), upper case last. '#' and
    // ':' were listed with the invalid characters, and upper case was refused before the rest.
    [InlineData("PUT", "/a:b", "{}", 400, "invalid_index_name_exception", "Invalid index name [a:b], must not contain ':'")]
    [InlineData("PUT", "/a%23b", "{}", 400, "invalid_index_name_exception", "Invalid index name [a#b], must not contain '#'")]
    [InlineData("PUT", "/B*ad", "{}", 400, "invalid_index_name_exception", "Invalid index name [B*ad], must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]")]
    [InlineData("PUT", "/-Bad", "{}", 400, "invalid_index_name_exception", "Invalid index name [-Bad], must not start with '_', '-', or '+'")]
    [InlineData("PUT", "/badtype", "{\"mappings\":{\"properties\":{\"x\":{\"type\":\"vector9\"}}}}", 400, "mapper_parsing_exception", "No handler for type [vector9]")]
    // DocumentParser.validateStart (XContentLocation.UNKNOWN: no [line:col]); it was "request body must be a JSON object, found array".
    [InlineData("PUT", "/library/_doc/77", "[1,2]", 400, "document_parsing_exception", "Malformed content, must start with an object")]
    [InlineData("PUT", "/library/_doc/78", "{\"year\":\"soon\"}", 400, "document_parsing_exception", "failed to parse field [year] of type [integer]")]
    public async Task BadInput_GetsElasticsearchErrorShape(string method, string path, string? body, int status, string type, string reason)
    {
        var r = await Es.SendAsync(new HttpMethod(method), path, body);
        Assert.Equal(status, r.Status);
        Assert.Equal(status, r.Json["status"]!.GetValue<int>());
        Assert.Equal(type, r.ErrorType);
        Assert.Contains(reason, r.ErrorReason, StringComparison.Ordinal);
        Assert.Equal(type, r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
        Assert.DoesNotContain("   at ", r.Body!.ToJsonString(), StringComparison.Ordinal); // never a stack trace
    }

    // Jackson 2.15 (Elasticsearch 9's, build-tools-internal/version.properties) words each syntax error, at the column
    // after the last byte it read (UTF8StreamJsonParser.getCurrentLocation), with its location (JsonXContentImpl turns
    // INCLUDE_SOURCE_IN_LOCATION on); JsonXContentParser.nextToken wraps it as XContentParseException "[line:col] " and
    // the message (caused by json_parse_exception), or its JsonEOFException as XContentEOFException "Unexpected end of
    // file". Before, these reasons were System.Text.Json's ("'}' is an invalid start of a value. ...").
    [Theory]
    [InlineData("{\"query\":}", "x_content_parse_exception", "Unexpected character ('}' (code 125)): expected a value", 11)]
    [InlineData("{\"query\": tru}", "x_content_parse_exception", "Unrecognized token 'tru': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", 15)]
    [InlineData("{\"query\": @}", "x_content_parse_exception", "Unexpected character ('@' (code 64)): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", 12)]
    [InlineData("{\"a\" 1}", "x_content_parse_exception", "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value", 7)]
    [InlineData("{\"query\":{} \"size\":1}", "x_content_parse_exception", "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries", 14)]
    [InlineData("{size:1}", "x_content_parse_exception", "Unexpected character ('s' (code 115)): was expecting double-quote to start field name", 3)]
    [InlineData("{\"query\":{]", "x_content_parse_exception", "Unexpected close marker ']': expected '}' (for Object starting at [Source: (byte[])\"{\"query\":{]\"; line: 1, column: 10])", 12)]
    [InlineData("{\"query\":{", "x_content_e_o_f_exception", "Unexpected end-of-input: expected close marker for Object (start marker at [Source: (byte[])\"{\"query\":{\"; line: 1, column: 10])", 11)]
    // parser.intValue() on from or size: JsonXContentParser.doIntValue wraps Jackson's refusal alike, its JsonParseException,
    // or the InputCoercionException of a number past an int's range. The reason lacked the location, and had no cause.
    [InlineData("{\"size\":true}", "x_content_parse_exception", "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors", 13)]
    [InlineData("{\"from\":2147483648}", "x_content_parse_exception", "Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)", 19, "input_coercion_exception")]
    [InlineData("{\"size\":1e20}", "x_content_parse_exception", "Numeric value (1e20) out of range of int (-2147483648 - 2147483647)", 13, "input_coercion_exception")]
    public async Task MalformedSearchBody_IsJacksonsError_AsElasticsearchWrapsIt(string body, string type, string jackson, int column, string? jacksonType = null)
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
        var message = $"{jackson}\n at [Source: (byte[])\"{body}\"; line: 1, column: {column}]";
        var reason = type == "x_content_e_o_f_exception" ? $"[1:{column}] Unexpected end of file" : $"[1:{column}] {message}";
        var cause = jacksonType ?? (type == "x_content_e_o_f_exception" ? "json_e_o_f_exception" : "json_parse_exception");
        Assert.Equal((400, type, reason), (r.Status, r.ErrorType, r.ErrorReason));
        Assert.Equal((type, reason), (r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>(), r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>()));
        Assert.Equal((cause, message), (r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>(), r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task MsearchLine_WithNoTokenAfterItsObject_IsJacksonsUnrecognizedToken()
    {
        // MultiSearchRequest.readMultiLineFormat's parser.nextToken() after the header's object meets 'x': Jackson's
        // "Unrecognized token", at the column after the line's end (its source is the line's slice). Before:
        // "[1:4] 'x' is invalid after a single JSON value. Expected end of data.".
        var r = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{} x\n{}\n", "application/x-ndjson");
        const string Message = "Unrecognized token 'x': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: (byte[])\"{} x\"; line: 1, column: 5]";
        Assert.Equal((400, "x_content_parse_exception", "[1:5] " + Message), (r.Status, r.ErrorType, r.ErrorReason));
        Assert.Equal(("json_parse_exception", Message), (r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>(), r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>()));
    }
}
