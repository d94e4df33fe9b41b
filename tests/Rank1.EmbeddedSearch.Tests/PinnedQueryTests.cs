using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Elasticsearch's <c>pinned</c> query (x-pack search-business-rules, <c>PinnedQueryBuilder</c>): the pinned documents
/// first, in the order given, each scored with its own float just above 2^127 (<c>MAX_ORGANIC_SCORE</c>,
/// <c>Float.intBitsToFloat(0xfe &lt;&lt; 23) - 1</c>; pin k of n scores <c>sortableIntToFloat(minPin + n - k)</c>), then
/// the organic hits with their own scores (capped at 2^127). Its parser's errors in its own words. OpenSearch has no
/// <c>pinned</c> query.
/// </summary>
public sealed class PinnedQueryTests : IAsyncLifetime
{
    // The bits of 2^127, PinnedQueryBuilder's MAX_ORGANIC_SCORE: exponent 0xfe, mantissa 0.
    private const int CapBits = 0xfe << 23;

    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        foreach (var (index, id, text) in new[]
        {
            ("shop", "1", "red apple"), ("shop", "2", "green apple"), ("shop", "3", "blue sky"), ("shop", "4", "apple pie apple"),
            ("shop", "5", "grey cloud"), ("outlet", "3", "apple crate"),
        })
        {
            Assert.Equal(201, (await Es.PutAsync($"/{index}/_doc/{id}?refresh=true", new JsonObject { ["text"] = text })).Status);
        }
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    // Pin k of n (from 0), as PinnedQueryBuilder.doToQuery counts boostNum down from minPin + n.
    private static float PinScore(int k, int n) => BitConverter.Int32BitsToSingle(CapBits + 1 + n - k);

    private static (string Index, string Id, float Score)[] Hits(EsResponse r)
    {
        Assert.Equal(200, r.Status);
        return [.. r.Json["hits"]!["hits"]!.AsArray().Select(h => (h!["_index"]!.GetValue<string>(), h["_id"]!.GetValue<string>(), h["_score"]!.GetValue<float>()))];
    }

    [Fact]
    public async Task Search_PinnedIds_PinsFirstInIdOrderThenOrganicWithItsOwnScores()
    {
        var organic = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"match":{"text":"apple"}}}""")!));
        Assert.Equal(["4", "1", "2"], organic.Select(h => h.Id));

        // 3 does not match the organic query; 1 does, and is a pin once; 9 is no document.
        var pinned = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"pinned":{"ids":["3","9","1"],"organic":{"match":{"text":"apple"}}}}}""")!));

        Assert.Equal(
            [("shop", "3", PinScore(0, 3)), ("shop", "1", PinScore(2, 3)), ("shop", "4", organic[0].Score), ("shop", "2", organic[2].Score)],
            pinned);
        Assert.True(pinned[1].Score > MathF.Pow(2, 127));
        Assert.Equal(BitConverter.Int32BitsToSingle(0x7f000004), pinned[0].Score);
    }

    [Fact]
    public async Task Search_PinnedDocs_PinOnlyInTheIndexItNames()
    {
        var r = await Es.SearchAsync("shop,outlet", JsonNode.Parse("""{"query":{"pinned":{"docs":[{"_index":"outlet","_id":"3"},{"_id":"5"}],"organic":{"match":{"text":"sky"}}}}}""")!);

        var hits = Hits(r);

        // shop's 3 matches the organic query only; outlet's 3 is the pin; 5 (no _index) pins in any index.
        Assert.Equal([("outlet", "3", PinScore(0, 2)), ("shop", "5", PinScore(1, 2))], hits[..2]);
        Assert.Equal(("shop", "3"), (hits[2].Index, hits[2].Id));
        Assert.Equal(3, hits.Length);
        Assert.True(hits[2].Score < 1e6f);
    }

    [Fact]
    public async Task Search_PinnedWithBoost_PinScoresMultiplied()
    {
        var hits = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"pinned":{"ids":["5"],"organic":{"match_none":{}},"boost":0.5}}}""")!));

        Assert.Equal([("shop", "5", PinScore(0, 1) * 0.5f)], hits);
    }

    [Fact]
    public async Task Search_OrganicWithItsOwnBoost_BoostDroppedAsCappedScoreQueryRewriteUnwrapsIt()
    {
        var plain = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"match":{"text":"apple"}}}""")!));
        var boosted = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"match":{"text":{"query":"apple","boost":3}}}}""")!));
        Assert.Equal(plain[0].Score * 3, boosted[0].Score, 1e-5f);

        var pinned = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"pinned":{"ids":["5"],"organic":{"match":{"text":{"query":"apple","boost":3}}}}}}""")!));

        Assert.Equal([("shop", "5", PinScore(0, 1)), .. plain], pinned);
    }

    // Lucene 9 rewrites a bool of one should clause to the clause, BoostQuery(match, 3), which CappedScoreQuery.rewrite
    // unwraps in its next round: the organic hits score as the match without its boost.
    [Theory]
    [InlineData("""{"bool":{"should":[{"match":{"text":{"query":"apple","boost":3}}}]}}""")]
    [InlineData("""{"bool":{"must":[{"bool":{"should":[{"match":{"text":{"query":"apple","boost":3}}}]}}]}}""")]
    public async Task Search_OrganicBoostBroughtToItsTopByARewrite_BoostDroppedAsCappedScoreQueryRewriteUnwrapsIt(string organic)
    {
        var plain = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"match":{"text":"apple"}}}""")!));
        var boosted = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":""" + organic + "}")!));
        Assert.Equal(plain[0].Score * 3, boosted[0].Score, 1e-5f);

        var pinned = Hits(await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"pinned":{"ids":["5"],"organic":""" + organic + "}}}")!));

        Assert.Equal([("shop", "5", PinScore(0, 1)), .. plain], pinned);
    }

    [Fact]
    public async Task Search_NamedOrganicAndPinned_MatchedQueriesNameBoth()
    {
        var r = await Es.SearchAsync("shop", JsonNode.Parse("""{"query":{"pinned":{"ids":["3"],"organic":{"match":{"text":{"query":"apple","_name":"o"}}},"_name":"p"}}}""")!);

        var matched = r.Json["hits"]!["hits"]!.AsArray().ToDictionary(h => h!["_id"]!.GetValue<string>(),
            h => string.Join(",", h!["matched_queries"]!.AsArray().Select(n => n!.GetValue<string>()).Order(StringComparer.Ordinal)));
        Assert.Equal("p", matched["3"]);
        Assert.Equal("o,p", matched["1"]);
    }

    [Theory]
    [InlineData("""{"query":{"pinned":{"ids":["3"]}}}""", "Required [organic]", 1, 32, "illegal_argument_exception", "Required [organic]")]
    [InlineData("""{"query":{"pinned":{"organic":{"match_all":{}}}}}""", "Failed to build [pinned] after last required field arrived", 1, 47,
        "x_content_parse_exception", "Failed to build [pinned] after last required field arrived")]
    [InlineData("""{"query":{"pinned":{"ids":["3","3"],"organic":{"match_all":{}}}}}""", "Failed to build [pinned] after last required field arrived", 1, 63,
        "x_content_parse_exception", "Failed to build [pinned] after last required field arrived")]
    [InlineData("""{"query":{"pinned":{"ids":["3"],"docs":[],"organic":{"match_all":{}}}}}""", "[1:68] [pinned] failed to parse field [organic]", 1, 68,
        "x_content_parse_exception", "[1:68] [pinned] failed to parse field [organic]")]
    [InlineData("""{"query":{"pinned":{"ids":["3"],"organic":{"match_all":{}},"foo":1}}}""", "[1:60] [pinned] unknown field [foo]", 1, 66,
        "x_content_parse_exception", "[1:60] [pinned] unknown field [foo]")]
    [InlineData("""{"query":{"pinned":{"ids":3,"organic":{"match_all":{}}}}}""", "[1:27] [pinned] ids doesn't support values of type: VALUE_NUMBER", 1, 27,
        "x_content_parse_exception", "[1:27] [pinned] ids doesn't support values of type: VALUE_NUMBER")]
    [InlineData("""{"query":{"pinned":{"ids":["3"],"organic":"x"}}}""", "[1:43] [pinned] organic doesn't support values of type: VALUE_STRING", 1, 43,
        "x_content_parse_exception", "[1:43] [pinned] organic doesn't support values of type: VALUE_STRING")]
    public async Task Search_BadPinned_ParserError(string body, string reason, int line, int col, string causeType, string causeReason)
    {
        var r = await Es.PostAsync("/shop/_search", body);

        r.AssertError(400, "parsing_exception", reason);
        Assert.Equal(line, r.Json["error"]!["line"]!.GetValue<int>());
        Assert.Equal(col, r.Json["error"]!["col"]!.GetValue<int>());
        Assert.Equal(causeType, r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal(causeReason, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"query":{"pinned":{"ids":["3","1","3"],"organic":{"match_all":{}}}}}""", "[pinned] duplicate id found in list: 3")]
    [InlineData("""{"query":{"pinned":{"ids":["3"],"docs":[],"organic":{"match_all":{}}}}}""", "[pinned] ids and docs cannot both be used")]
    [InlineData("""{"query":{"pinned":{"organic":{"match_all":{}}}}}""", "[pinned] ids and docs cannot both be null")]
    [InlineData("""{"query":{"pinned":{"docs":[{"_index":"shop","_id":"1"},{"_index":"shop","_id":"1"}],"organic":{"match_all":{}}}}}""",
        "[pinned] duplicate doc found in list: {\n  \"_index\" : \"shop\",\n  \"_id\" : \"1\"\n}")]
    public async Task Search_PinnedConstructorRefuses_ItsIllegalArgumentIsTheCause(string body, string refusal)
    {
        var r = await Es.PostAsync("/shop/_search", body);

        Assert.Equal(400, r.Status);
        var cause = r.Json["error"]!["caused_by"]!;
        while (cause["caused_by"] is { } next)
        {
            cause = next;
        }

        Assert.Equal("illegal_argument_exception", cause["type"]!.GetValue<string>());
        Assert.Equal(refusal, cause["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_MoreThan100Ids_MaxExceeded()
    {
        var ids = new JsonArray([.. Enumerable.Range(0, 101).Select(i => (JsonNode)i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        var r = await Es.SearchAsync("shop", new JsonObject { ["query"] = new JsonObject { ["pinned"] = new JsonObject { ["ids"] = ids, ["organic"] = new JsonObject { ["match_all"] = new JsonObject() } } } });

        r.AssertError(400, "parsing_exception", "Failed to build [pinned] after last required field arrived");
        Assert.Equal("[pinned] Max of 100 ids exceeded: 101 provided.", r.Json["error"]!["caused_by"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_PinnedRetriever_RefusedPointingToThePinnedQuery_WhichAStandardRetrieverRuns()
    {
        var r = await Es.PostAsync("/shop/_search", """{"retriever":{"pinned":{"ids":["3"],"retriever":{"standard":{"query":{"match":{"text":"apple"}}}}}}}""");

        r.AssertError(400, "illegal_argument_exception",
            "the embedded search backend runs only the [standard] retriever, not [pinned]: it runs no compound retriever; a [standard] retriever whose query is a [pinned] query pins the same documents");

        var hits = Hits(await Es.PostAsync("/shop/_search", """{"retriever":{"standard":{"query":{"pinned":{"ids":["3"],"organic":{"match":{"text":"apple"}}}}}}}"""));
        Assert.Equal(["3", "4", "1", "2"], hits.Select(h => h.Id));
        Assert.Equal(PinScore(0, 1), hits[0].Score);
    }

    [Fact]
    public async Task Search_PinnedWithHighlight_OrganicTermsHighlightedAsForTheOrganicQueryAlone()
    {
        var r = await Es.SearchAsync("shop", JsonNode.Parse("""{"highlight":{"fields":{"text":{}}},"query":{"pinned":{"ids":["3"],"organic":{"match":{"text":"apple"}}}}}""")!);

        Assert.Equal(200, r.Status);
        var highlights = r.Json["hits"]!["hits"]!.AsArray().ToDictionary(h => h!["_id"]!.GetValue<string>(), h => h!["highlight"]?["text"]?.AsArray().Single()!.GetValue<string>());
        Assert.Null(highlights["3"]);
        Assert.Equal("red <em>apple</em>", highlights["1"]);
        Assert.Equal("<em>apple</em> pie <em>apple</em>", highlights["4"]);
    }

    [Fact]
    public async Task Search_OpenSearchFlavor_PinnedIsAnUnknownQuery()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch, RefreshInterval = TimeSpan.FromHours(1) });
        using var es = new EsClient(server.Url);

        var r = await es.PostAsync("/_search", """{"query":{"pinned":{"ids":["1"],"organic":{"match_all":{}}}}}""");

        Assert.Equal(400, r.Status);
        Assert.Equal("parsing_exception", r.ErrorType);
        Assert.StartsWith("unknown query [pinned]", r.ErrorReason, StringComparison.Ordinal);
        Assert.DoesNotContain("pinned", r.ErrorReason!["unknown query [pinned]".Length..], StringComparison.Ordinal);
    }
}
