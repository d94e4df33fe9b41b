using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// <c>"profile": true</c> over real HTTP, its JSON as Elasticsearch 9 writes it (SearchProfileResults,
/// SearchProfileShardResult, QueryProfileShardResult, ProfileResult, CollectorResult, FetchProfiler), with times measured.
/// </summary>
public sealed class SearchProfileTests : IAsyncLifetime
{
    // QueryTimingType (Elasticsearch 9), each with its _count: AbstractProfileBreakdown.toBreakdownMap writes them all.
    private static readonly string[] QueryTimings =
    [
        "create_weight", "count_weight", "build_scorer", "next_doc", "advance", "match", "score", "shallow_advance", "compute_max_score",
        "set_min_competitive_score",
    ];

    // Elasticsearch 9's query breakdown as ProfileResult.toXContent writes it: the iteration order of the HashMap
    // AbstractProfileBreakdown.toBreakdownMap fills (10 QueryTimingTypes and their counts, Maps.newMapWithExpectedSize(20),
    // 32 buckets). The 18 keys other than count_weight's are in the order of the documented answer (search-profile's
    // example, a real answer from before count_weight, which the docs append at the end by hand).
    private static readonly string[] ElasticsearchBreakdownOrder =
    [
        "set_min_competitive_score_count", "match_count", "shallow_advance_count", "set_min_competitive_score", "next_doc", "match",
        "next_doc_count", "score_count", "compute_max_score_count", "compute_max_score", "advance", "advance_count", "count_weight_count", "score",
        "build_scorer_count", "create_weight", "shallow_advance", "count_weight", "create_weight_count", "build_scorer",
    ];

    // OpenSearch 2.19's: 9 QueryTimingTypes (no count_weight), each with _count and _start_time, in a HashMap of 27
    // entries (64 buckets), written less the _start_time keys (ProfileResult.createBreakdownView/removeStartTimeFields).
    private static readonly string[] OpenSearchBreakdownOrder =
    [
        "set_min_competitive_score_count", "match_count", "shallow_advance_count", "next_doc", "score_count", "compute_max_score_count", "advance",
        "advance_count", "score", "shallow_advance", "create_weight_count", "build_scorer", "set_min_competitive_score", "match", "next_doc_count",
        "compute_max_score", "build_scorer_count", "create_weight",
    ];

    private const string ShelfDocuments = """
        {"index":{"_index":"shelf","_id":"1"}}
        {"text":"The river bends past the mill.","topic":"geography"}
        {"index":{"_index":"shelf","_id":"2"}}
        {"text":"Trout from the river, baked.","topic":"cooking"}
        {"index":{"_index":"shelf","_id":"3"}}
        {"text":"Sourdough bread.","topic":"cooking"}

        """;

    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        await Shelve(Es);
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    private static async Task Shelve(EsClient es)
    {
        Assert.Equal(200, (await es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"text":{"type":"text"},"topic":{"type":"keyword"}}}}"""))).Status);
        var r = await es.BulkAsync(ShelfDocuments);
        Assert.False(r.Json["errors"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Search_ProfileTrue_AnswersEachShardsTimedQueryTreeCollectorsAndFetch()
    {
        // It was read and ignored: no profile in the answer.
        var r = await Es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"query":{"bool":{"must":{"match":{"text":"river"}},"should":{"term":{"topic":"cooking"}}}}}""")!);
        Assert.Equal(200, r.Status);
        Assert.Equal(["took", "timed_out", "_shards", "hits", "profile"], r.Json.AsObject().Select(p => p.Key));
        var shard = Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!.AsObject();
        Assert.Equal(["id", "node_id", "shard_id", "index", "cluster", "searches", "aggregations", "fetch"], shard.Select(p => p.Key));
        var node = shard["node_id"]!.GetValue<string>();
        Assert.Equal(($"[{node}][shelf][0]", 0, "shelf", "(local)"),
            (shard["id"]!.GetValue<string>(), shard["shard_id"]!.GetValue<int>(), shard["index"]!.GetValue<string>(), shard["cluster"]!.GetValue<string>()));
        Assert.Empty(shard["aggregations"]!.AsArray());

        var search = Assert.Single(shard["searches"]!.AsArray())!.AsObject();
        Assert.Equal(["query", "rewrite_time", "collector"], search.Select(p => p.Key));
        var root = Assert.Single(search["query"]!.AsArray())!.AsObject();
        Assert.Equal(["type", "description", "time_in_nanos", "breakdown", "children"], root.Select(p => p.Key));
        Assert.Equal(("BooleanQuery", "+text:river topic:cooking"), (root["type"]!.GetValue<string>(), root["description"]!.GetValue<string>()));
        var children = root["children"]!.AsArray().Select(c => c!.AsObject()).ToArray();
        Assert.Equal([("TermQuery", "text:river"), ("TermQuery", "topic:cooking")], children.Select(c => (c["type"]!.GetValue<string>(), c["description"]!.GetValue<string>())));
        foreach (var query in children.Prepend(root))
        {
            var breakdown = query["breakdown"]!.AsObject();
            // In the order of the java.util.HashMap AbstractProfileBreakdown.toBreakdownMap builds them in
            // (Maps.newMapWithExpectedSize(20): 32 buckets), as ProfileResult.toXContent writes it.
            Assert.Equal(ElasticsearchBreakdownOrder, breakdown.Select(p => p.Key));
            // time_in_nanos is the node's timings summed (AbstractProfileBreakdown.toNodeTime).
            Assert.Equal(QueryTimings.Sum(t => breakdown[t]!.GetValue<long>()), query["time_in_nanos"]!.GetValue<long>());
            Assert.Equal((1, 1), (breakdown["create_weight_count"]!.GetValue<long>(), breakdown["build_scorer_count"]!.GetValue<long>()));
            Assert.True(breakdown["create_weight"]!.GetValue<long>() > 0);
            // Nothing of Lucene 4.8 does these.
            Assert.All(["count_weight", "match", "shallow_advance", "compute_max_score", "set_min_competitive_score"], t => Assert.Equal(0, breakdown[t + "_count"]!.GetValue<long>()));
        }

        // The children's weights and scorers are built within their parent's: measured, their time is part of the parent's.
        foreach (var timing in new[] { "create_weight", "build_scorer" })
        {
            Assert.True(root["breakdown"]![timing]!.GetValue<long>() >= children.Sum(c => c["breakdown"]![timing]!.GetValue<long>()), timing);
        }

        // Two documents match: the root iterates to each and past the last, scoring each once.
        Assert.Equal((3, 2), (root["breakdown"]!["next_doc_count"]!.GetValue<long>(), root["breakdown"]!["score_count"]!.GetValue<long>()));
        Assert.True(search["rewrite_time"]!.GetValue<long>() >= 0);

        var collector = Assert.Single(search["collector"]!.AsArray())!.AsObject();
        Assert.Equal(["name", "reason", "time_in_nanos", "children"], collector.Select(p => p.Key));
        var topHits = Assert.Single(collector["children"]!.AsArray())!.AsObject();
        Assert.Equal(("QueryPhaseCollector", "search_query_phase", "TopScoreDocCollector", "search_top_hits"),
            (collector["name"]!.GetValue<string>(), collector["reason"]!.GetValue<string>(), topHits["name"]!.GetValue<string>(), topHits["reason"]!.GetValue<string>()));
        Assert.InRange(topHits["time_in_nanos"]!.GetValue<long>(), 1, collector["time_in_nanos"]!.GetValue<long>());

        var fetch = shard["fetch"]!.AsObject();
        Assert.Equal(["type", "description", "time_in_nanos", "breakdown", "children"], fetch.Select(p => p.Key));
        // FetchPhaseTiming's and FetchSubPhaseTiming's HashMaps (Maps.newMapWithExpectedSize(6) and (4): 16 and 8 buckets).
        Assert.Equal(["load_stored_fields", "load_source", "load_stored_fields_count", "next_reader_count", "load_source_count", "next_reader"],
            fetch["breakdown"]!.AsObject().Select(p => p.Key));
        Assert.Equal(["process_count", "process", "next_reader", "next_reader_count"], fetch["children"]![0]!["breakdown"]!.AsObject().Select(p => p.Key));
        Assert.Equal(("fetch", "", 2), (fetch["type"]!.GetValue<string>(), fetch["description"]!.GetValue<string>(), fetch["breakdown"]!["load_stored_fields_count"]!.GetValue<long>()));
        Assert.InRange(fetch["breakdown"]!["load_stored_fields"]!.GetValue<long>(), 1, fetch["time_in_nanos"]!.GetValue<long>());
        var source = Assert.Single(fetch["children"]!.AsArray())!;
        Assert.Equal(("FetchSourcePhase", 2), (source["type"]!.GetValue<string>(), source["breakdown"]!["process_count"]!.GetValue<long>()));
    }

    // PinnedQueryBuilder.doToQuery's dis_max of the CappedScoreQuery around the organic query and each pin's constant
    // score; Elasticsearch profiles the organic query as the CappedScoreQuery's child (its weight made through the
    // searcher), described by CappedScoreQuery.toString, "CappedScore(" + the query's + ")".
    [Fact]
    public async Task Search_ProfileOfAPinnedQuery_HasTheOrganicQueryBelowItsCappedScoreQuery()
    {
        var r = await Es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"query":{"pinned":{"ids":["3"],"organic":{"match":{"text":"river"}}}}}""")!);

        Assert.Equal(200, r.Status);
        var root = Assert.Single(Assert.Single(Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!["searches"]!.AsArray())!["query"]!.AsArray())!;
        Assert.Equal("DisjunctionMaxQuery", root["type"]!.GetValue<string>());
        var capped = root["children"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "CappedScoreQuery")!;
        Assert.Equal("CappedScore(text:river)", capped["description"]!.GetValue<string>());
        var organic = Assert.Single(capped["children"]!.AsArray())!;
        Assert.Equal(("TermQuery", "text:river"), (organic["type"]!.GetValue<string>(), organic["description"]!.GetValue<string>()));
        Assert.Equal((1, 1), (organic["breakdown"]!["create_weight_count"]!.GetValue<long>(), organic["breakdown"]!["build_scorer_count"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Search_ProfileWithNoHitsOnThePage_HasNoFetch()
    {
        // A shard with nothing to fetch is not fetched: SearchProfileShardResult writes fetch only when it ran.
        var r = await Es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"size":0,"query":{"match":{"text":"river"}}}""")!);
        var shard = Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!.AsObject();
        Assert.Equal(["id", "node_id", "shard_id", "index", "cluster", "searches", "aggregations"], shard.Select(p => p.Key));
        var root = Assert.Single(shard["searches"]![0]!["query"]!.AsArray())!.AsObject();
        // A leaf has no children array (ProfileResult.toXContent writes it only when there are some).
        Assert.Equal(["type", "description", "time_in_nanos", "breakdown"], root.Select(p => p.Key));
        Assert.Equal("TermQuery", root["type"]!.GetValue<string>());

        var plain = await Es.SearchAsync("shelf", JsonNode.Parse("""{"profile":false,"query":{"match":{"text":"river"}}}""")!);
        Assert.Null(plain.Json["profile"]);
    }

    // The top-hits collector as Elasticsearch 9's QueryPhaseCollectorManager makes it, named by
    // InternalProfileCollector.deriveCollectorName (the class's simple name): EmptyHits' PartialHitCountCollector at size
    // 0 ("search_count"), TopFieldCollectorManager's SimpleFieldCollector for a sort (PagingFieldCollector after a
    // search_after), a MultiCollector with the MaxScoreCollector under track_scores, TopScoreDocCollector by score.
    [Theory]
    [InlineData("""{"size":0,"query":{"match":{"text":"river"}}}""", "PartialHitCountCollector", "search_count")]
    [InlineData("""{"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}]}""", "SimpleFieldCollector", "search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}],"search_after":["cooking"]}""", "PagingFieldCollector", "search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}],"track_scores":true}""", "MultiCollector", "search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}}}""", "TopScoreDocCollector", "search_top_hits")]
    public async Task Search_Profile_NamesTheTopHitsCollectorAsElasticsearch9MakesIt(string body, string name, string reason)
    {
        var query = JsonNode.Parse(body)!;
        query["profile"] = true;
        var r = await Es.SearchAsync("shelf", query);
        Assert.Equal(200, r.Status);
        var collector = r.Json["profile"]!["shards"]![0]!["searches"]![0]!["collector"]![0]!;
        Assert.Equal(("QueryPhaseCollector", "search_query_phase"), (collector["name"]!.GetValue<string>(), collector["reason"]!.GetValue<string>()));
        var topHits = Assert.Single(collector["children"]!.AsArray())!;
        Assert.Equal((name, reason), (topHits["name"]!.GetValue<string>(), topHits["reason"]!.GetValue<string>()));
    }

    // Profiling rebuilds the query around timed nodes (BooleanQuery, DisjunctionMaxQuery from multi_match, FilteredQuery
    // from post_filter, ConstantScoreQuery from terms, ids and a bool's filter): the hits, their scores, the total and max_score must be those of the same search unprofiled,
    // as Elasticsearch's ProfileWeight/ProfileScorer only time what they wrap.
    [Theory]
    [InlineData("""{"query":{"bool":{"must":{"match":{"text":{"query":"river","boost":2}}},"should":[{"term":{"topic":{"value":"cooking","boost":3}}},{"match":{"text":"bread"}}],"minimum_should_match":1,"boost":1.5}}}""")]
    [InlineData("""{"query":{"bool":{"should":[{"match":{"text":"river"}},{"match":{"text":"trout"}},{"match":{"text":"mill"}}],"minimum_should_match":2}}}""")]
    [InlineData("""{"query":{"multi_match":{"query":"river cooking","fields":["text^2","topic"],"tie_breaker":0.3}}}""")]
    [InlineData("""{"query":{"multi_match":{"query":"river cooking","fields":["text","topic^2"],"type":"best_fields","tie_breaker":0.7,"boost":2}}}""")]
    [InlineData("""{"query":{"bool":{"should":[{"terms":{"topic":["cooking","geography"],"boost":4}},{"ids":{"values":["1"]}},{"match":{"text":"bread"}}]}}}""")]
    [InlineData("""{"query":{"bool":{"must":{"match":{"text":"river bread"}},"filter":{"term":{"topic":"cooking"}}}},"post_filter":{"term":{"topic":"cooking"}}}""")]
    [InlineData("""{"query":{"match":{"text":"river bread mill"}},"min_score":0.5}""")]
    [InlineData("""{"query":{"match":{"text":"river bread"}},"sort":[{"topic":"asc"},"_score"]}""")]
    [InlineData("""{"query":{"match":{"text":"river bread"}},"terminate_after":1}""")]
    public async Task Search_ProfileTrue_AnswersTheSameHitsScoresAndTotalAsUnprofiled(string body)
    {
        var plain = await Es.SearchAsync("shelf", JsonNode.Parse(body)!);
        var profiledBody = JsonNode.Parse(body)!;
        profiledBody["profile"] = true;
        var profiled = await Es.SearchAsync("shelf", profiledBody);
        Assert.Equal((200, 200), (plain.Status, profiled.Status));
        Assert.NotEmpty(plain.Json["hits"]!["hits"]!.AsArray());
        Assert.NotNull(profiled.Json["profile"]);
        Assert.Equal(plain.Json["hits"]!.ToJsonString(), profiled.Json["hits"]!.ToJsonString());
        Assert.Equal(plain.Json["terminated_early"]?.ToJsonString(), profiled.Json["terminated_early"]?.ToJsonString());
    }

    [Fact]
    public async Task Search_ProfileOfStepsShorterThan100Ns_SumsTheirNanoseconds()
    {
        // A clock of nanosecond ticks that moves 50 ns at each reading: each timed step (next_doc, score, collect) lasts
        // 50 ns, shorter than a TimeSpan tick, and 40 documents' worth of them must add up, not round to 0 each.
        var time = new SteppingClock(50);
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1) }, timeProvider: time);
        using var es = new EsClient(server.Url);
        var bulk = new System.Text.StringBuilder();
        for (var i = 1; i <= 40; i++)
        {
            bulk.Append("{\"index\":{\"_index\":\"shelf\",\"_id\":\"" + i + "\"}}").Append('\n').Append("""{"text":"river"}""").Append('\n');
        }

        Assert.False((await es.BulkAsync(bulk.ToString())).Json["errors"]!.GetValue<bool>());
        var r = await es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"query":{"term":{"text":"river"}}}""")!);
        Assert.Equal(200, r.Status);
        var breakdown = r.Json["profile"]!["shards"]![0]!["searches"]![0]!["query"]![0]!["breakdown"]!;
        // The leaf reads the clock only around its own steps: each is one step of 50 ns.
        Assert.Equal((41L, 41L * 50), (breakdown["next_doc_count"]!.GetValue<long>(), breakdown["next_doc"]!.GetValue<long>()));
        Assert.Equal((40L, 40L * 50), (breakdown["score_count"]!.GetValue<long>(), breakdown["score"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Search_ProfiledFetch_IsTimedFromTheShardsFetchStartToItsEnd()
    {
        // FetchProfiler (Elasticsearch 9): the fetch's time_in_nanos is FetchProfileBreakdown.result's stop - start, the
        // shard's whole fetch, not each hit's time summed. On a clock moving 50 ns at each reading, the fetch of two hits
        // reads it at its start, around each hit's document read and _source filtering (4 readings a hit) and at its end:
        // 9 steps, 450 ns. Summed per hit (each hit read at its start and end too) it was 2 x 5 steps, 500 ns.
        var time = new SteppingClock(50);
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1) }, timeProvider: time);
        using var es = new EsClient(server.Url);
        await Shelve(es);
        var r = await es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"query":{"match":{"text":"river"}}}""")!);
        Assert.Equal(2, r.Json["hits"]!["hits"]!.AsArray().Count);
        var fetch = r.Json["profile"]!["shards"]![0]!["fetch"]!;
        Assert.Equal((2L, 100L), (fetch["breakdown"]!["load_stored_fields_count"]!.GetValue<long>(), fetch["breakdown"]!["load_stored_fields"]!.GetValue<long>()));
        Assert.Equal(100L, fetch["children"]![0]!["breakdown"]!["process"]!.GetValue<long>());
        Assert.Equal(450L, fetch["time_in_nanos"]!.GetValue<long>());
    }

    // OpenSearch 2.19 wraps each collector of its chain in one InternalProfileCollector
    // (QueryCollectorContext.createQueryCollectorWithProfiler) and writes each once: the outermost's time is that of
    // everything it wraps, as Elasticsearch 9's QueryPhaseCollector's is. On a clock moving 50 ns at each reading, the
    // same search's outermost collector must take what Elasticsearch's takes; the outermost FilteredCollector or
    // EarlyTerminatingCollector was timed twice (its own timer, never written, inside the written one), which added
    // two readings to each of its calls.
    [Theory]
    [InlineData("""{"profile":true,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}}}""", "FilteredCollector")]
    [InlineData("""{"profile":true,"query":{"match":{"text":"river"}},"terminate_after":5}""", "EarlyTerminatingCollector")]
    public async Task Search_ProfileUnderOpenSearch_TimesItsOutermostCollectorOnce(string body, string outermost)
    {
        async Task<JsonNode> Collector(SearchFlavor flavor)
        {
            await using var server = await EmbeddedSearchServer.StartAsync(
                new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = flavor }, timeProvider: new SteppingClock(50));
            using var es = new EsClient(server.Url);
            await Shelve(es);
            var r = await es.SearchAsync("shelf", JsonNode.Parse(body)!);
            Assert.Equal(200, r.Status);
            return Assert.Single(r.Json["profile"]!["shards"]![0]!["searches"]![0]!["collector"]!.AsArray())!;
        }

        var (elasticsearch, openSearch) = (await Collector(SearchFlavor.Elasticsearch), await Collector(SearchFlavor.OpenSearch));
        Assert.Equal(("QueryPhaseCollector", outermost), (elasticsearch["name"]!.GetValue<string>(), openSearch["name"]!.GetValue<string>()));
        Assert.Equal(elasticsearch["time_in_nanos"]!.GetValue<long>(), openSearch["time_in_nanos"]!.GetValue<long>());
        // The top docs collector inside it reads the clock only around its own calls, in either flavor.
        Assert.Equal(elasticsearch["children"]![0]!["time_in_nanos"]!.GetValue<long>(), openSearch["children"]![0]!["time_in_nanos"]!.GetValue<long>());
    }

    // Elasticsearch 9's aggregation breakdown as ProfileResult.toXContent writes it: AggregationTimingType (initialize,
    // build_leaf_collector, collect, post_collection, build_aggregation, reduce) and each _count, put in that order into
    // AbstractProfileBreakdown.toBreakdownMap's Maps.newMapWithExpectedSize(12), a java.util.HashMap of 32 buckets, and
    // written in its iteration order (String.hashCode spread and masked by 31, each bucket in insertion order).
    private static readonly string[] AggregationBreakdownOrder =
    [
        "reduce", "build_aggregation_count", "post_collection", "initialize_count", "reduce_count", "collect_count", "post_collection_count",
        "build_leaf_collector", "build_aggregation", "build_leaf_collector_count", "initialize", "collect",
    ];

    // A profiled search with aggregations answered "aggregations": [] and only the top docs child of the
    // QueryPhaseCollector. Elasticsearch 9 profiles them (QueryPhaseCollectorManager.newCollector): an
    // AggregatorCollector child with reason "aggregation", named by InternalProfileCollector.deriveCollectorName (class
    // name + ": [" + toString() + "]", AggregatorCollector.toString being Arrays.toString of the aggregators' names), and
    // one AggregationProfileBreakdown per aggregator, its type the aggregator's class (a keyword terms over few terms
    // and every document StringTermsAggregatorFromFilters, a numeric one NumericTermsAggregator, avg AvgAggregator) and its
    // description the aggregation's name. On a clock moving 50 ns at each reading, each timed step is 50 ns.
    [Fact]
    public async Task Search_ProfileWithAggregations_AnswersTheAggregatorCollectorAndEachAggregatorsBreakdown()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(
            new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1) }, timeProvider: new SteppingClock(50));
        using var es = new EsClient(server.Url);
        await Ledger(es);

        var plain = await es.SearchAsync("ledger", JsonNode.Parse("""{"profile":true,"size":1}""")!);
        var r = await es.SearchAsync("ledger", JsonNode.Parse("""{"profile":true,"size":1,"aggs":{"topics":{"terms":{"field":"topic"}},"years":{"terms":{"field":"year"}},"mean":{"avg":{"field":"year"}}}}""")!);
        Assert.Equal((200, 2000.0), (r.Status, r.Json["aggregations"]!["mean"]!["value"]!.GetValue<double>()));
        var shard = Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!;

        var collector = Assert.Single(shard["searches"]![0]!["collector"]!.AsArray())!;
        var children = collector["children"]!.AsArray();
        Assert.Equal([("TopScoreDocCollector", "search_top_hits"), ("AggregatorCollector: [[topics, years, mean]]", "aggregation")],
            children.Select(c => (c!["name"]!.GetValue<string>(), c["reason"]!.GetValue<string>())));
        Assert.Equal(["name", "reason", "time_in_nanos"], children[1]!.AsObject().Select(p => p.Key));
        // The aggregations' pass: the matches collected (one timed step), then each aggregator's values read from each
        // of the 3 matches; the QueryPhaseCollector's time is the query's collection (as without aggregations) and it.
        var aggregationCollector = children[1]!["time_in_nanos"]!.GetValue<long>();
        Assert.Equal(50 + (3 * 3 * 50), aggregationCollector);
        var plainCollector = plain.Json["profile"]!["shards"]![0]!["searches"]![0]!["collector"]![0]!;
        Assert.Equal(plainCollector["time_in_nanos"]!.GetValue<long>() + aggregationCollector, collector["time_in_nanos"]!.GetValue<long>());
        Assert.Equal(plainCollector["children"]![0]!["time_in_nanos"]!.GetValue<long>(), children[0]!["time_in_nanos"]!.GetValue<long>());

        var aggregators = shard["aggregations"]!.AsArray();
        Assert.Equal([("StringTermsAggregatorFromFilters", "topics"), ("NumericTermsAggregator", "years"), ("AvgAggregator", "mean")],
            aggregators.Select(a => (a!["type"]!.GetValue<string>(), a["description"]!.GetValue<string>())));
        foreach (var aggregator in aggregators)
        {
            // ProfileResult.toXContent: no debug (none written) and no children (no sub-aggregations).
            Assert.Equal(["type", "description", "time_in_nanos", "breakdown"], aggregator!.AsObject().Select(p => p.Key));
            var breakdown = aggregator["breakdown"]!.AsObject();
            Assert.Equal(AggregationBreakdownOrder, breakdown.Select(p => p.Key));
            // initialize once, collect once per match, build once; the steps this backend does not have stay 0.
            Assert.Equal(
                [("initialize", 50L, 1L), ("build_leaf_collector", 0L, 0L), ("collect", 3 * 50L, 3L), ("post_collection", 0L, 0L), ("build_aggregation", 50L, 1L), ("reduce", 0L, 0L)],
                new[] { "initialize", "build_leaf_collector", "collect", "post_collection", "build_aggregation", "reduce" }
                    .Select(t => (t, breakdown[t]!.GetValue<long>(), breakdown[t + "_count"]!.GetValue<long>())));
            Assert.Equal(5 * 50L, aggregator["time_in_nanos"]!.GetValue<long>());
        }
    }

    // OpenSearch 2.19 profiles aggregations in its own chain (QueryCollectorContext.createMultiCollectorContext): a
    // MultiCollector (search_multi) around the chain so far, beside the aggregators' collector (reason aggregation),
    // which AggregationCollectorManager makes with MultiBucketCollector.wrap: one aggregator is itself, a
    // ProfilingAggregator whose toString is its name, several a MultiBucketCollector ("[[a, b]]"); min_score's
    // MinimumScoreCollector wraps the MultiCollector. It answered "aggregations": [] and no aggregation collector.
    [Theory]
    [InlineData("""{"profile":true,"aggs":{"topics":{"terms":{"field":"topic"}},"mean":{"avg":{"field":"year"}}}}""",
        "MultiCollector>[SimpleTopScoreDocCollector|MultiBucketCollector: [[topics, mean]]]", "GlobalOrdinalsStringTermsAggregator:topics,AvgAggregator:mean")]
    [InlineData("""{"profile":true,"min_score":0.1,"query":{"match_all":{}},"aggs":{"years":{"terms":{"field":"year"}}}}""",
        "MinimumScoreCollector>MultiCollector>[SimpleTopScoreDocCollector|ProfilingAggregator: [years]]", "NumericTermsAggregator:years")]
    // The MultiCollector wraps post_filter's FilteredCollector and terminate_after's EarlyTerminatingCollector: each is a
    // collector of its own there, timed (they answered time_in_nanos 0 where no min_score wrapped them).
    [InlineData("""{"profile":true,"post_filter":{"term":{"topic":"cooking"}},"aggs":{"years":{"terms":{"field":"year"}}}}""",
        "MultiCollector>[FilteredCollector>SimpleTopScoreDocCollector|ProfilingAggregator: [years]]", "NumericTermsAggregator:years")]
    [InlineData("""{"profile":true,"terminate_after":10,"aggs":{"years":{"terms":{"field":"year"}}}}""",
        "MultiCollector>[EarlyTerminatingCollector>SimpleTopScoreDocCollector|ProfilingAggregator: [years]]", "NumericTermsAggregator:years")]
    public async Task Search_ProfileWithAggregationsUnderOpenSearch_AnswersItsMultiCollectorAndEachAggregator(string body, string collectors, string aggregators)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(
            new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = SearchFlavor.OpenSearch }, timeProvider: new SteppingClock(50));
        using var es = new EsClient(server.Url);
        await Ledger(es);
        var r = await es.SearchAsync("ledger", JsonNode.Parse(body)!);
        Assert.Equal(200, r.Status);
        var shard = Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!;

        var root = Assert.Single(shard["searches"]![0]!["collector"]!.AsArray())!;
        var chain = new List<string>();
        var multi = root;
        while (multi["name"]!.GetValue<string>() != "MultiCollector")
        {
            chain.Add(multi["name"]!.GetValue<string>());
            multi = Assert.Single(multi["children"]!.AsArray())!;
        }

        var beside = multi["children"]!.AsArray();
        chain.Add($"MultiCollector>[{string.Join('|', beside.Select(c => Chain(c!)))}]");
        Assert.Equal(collectors, string.Join('>', chain));
        // Every collector written is timed: the chain inside the MultiCollector down to the top hits.
        var topHits = beside[0]!;
        for (; topHits["children"] is JsonArray { Count: 1 } inner; topHits = inner[0]!)
        {
            Assert.True(topHits["time_in_nanos"]!.GetValue<long>() > inner[0]!["time_in_nanos"]!.GetValue<long>(), $"{topHits["name"]} is not timed");
        }

        Assert.Equal(["search_multi", "search_top_hits", "aggregation"], new[] { multi, topHits, beside[1] }.Select(c => c!["reason"]!.GetValue<string>()));
        // The aggregations' pass: the 3 matches collected (one timed step), each aggregator's values read from each.
        var aggregatorCount = aggregators.Split(',').Length;
        Assert.Equal(50 + (3 * aggregatorCount * 50), beside[1]!["time_in_nanos"]!.GetValue<long>());
        Assert.True(multi["time_in_nanos"]!.GetValue<long>() > beside[0]!["time_in_nanos"]!.GetValue<long>() + beside[1]!["time_in_nanos"]!.GetValue<long>());
        Assert.True(root["time_in_nanos"]!.GetValue<long>() >= multi["time_in_nanos"]!.GetValue<long>());

        var entries = shard["aggregations"]!.AsArray();
        Assert.Equal(aggregators, string.Join(',', entries.Select(a => $"{a!["type"]}:{a["description"]}")));
        Assert.All(entries, a => Assert.Equal(AggregationBreakdownOrder, a!["breakdown"]!.AsObject().Select(p => p.Key)));
        Assert.All(entries, a => Assert.Equal((3L, 3 * 50L), (a!["breakdown"]!["collect_count"]!.GetValue<long>(), a["breakdown"]!["collect"]!.GetValue<long>())));
    }

    // The class of a top-level terms aggregator on a keyword field, as the profile names it
    // (InternalAggregationProfileTree.typeFromAggregator). Elasticsearch 9's TermsAggregatorFactory.ExecutionMode
    // GLOBAL_ORDINALS.create, maxOrd the shard's distinct terms: with 0 < maxOrd <= MAX_ORDS_TO_TRY_FILTERS (1000) and a
    // top-level query matching every document (QueryToFilterAdapter.union: any other query is an inefficient union),
    // StringTermsAggregatorFromFilters, as with match_none (union's BooleanQuery rewrites to a MatchNoDocsQuery);
    // else LowCardinality where maxOrd / numDocs <= 0.5 and maxOrd <= 2048; else
    // GlobalOrdinalsStringTermsAggregator. execution_hint map: MapStringTermsAggregator; an unmapped field:
    // createUnmapped's anonymous NonCollectingAggregator, named by its superclass. OpenSearch 2.19 has no filters path.
    // Every keyword terms answered GlobalOrdinalsStringTermsAggregator, and an unmapped one too.
    [Theory]
    [InlineData("elasticsearch", 3, 2, null, "{}", "StringTermsAggregatorFromFilters")]
    [InlineData("elasticsearch", 3, 2, """{"match_all":{}}""", "{}", "StringTermsAggregatorFromFilters")]
    [InlineData("elasticsearch", 3, 2, """{"match_none":{}}""", "{}", "StringTermsAggregatorFromFilters")]
    [InlineData("elasticsearch", 2000, 1000, null, "{}", "StringTermsAggregatorFromFilters")]
    [InlineData("elasticsearch", 2002, 1001, null, "{}", "GlobalOrdinalsStringTermsAggregator.LowCardinality")]
    [InlineData("elasticsearch", 4, 2, """{"term":{"topic":"t0"}}""", "{}", "GlobalOrdinalsStringTermsAggregator.LowCardinality")]
    [InlineData("elasticsearch", 3, 2, """{"term":{"topic":"t0"}}""", "{}", "GlobalOrdinalsStringTermsAggregator")]
    [InlineData("elasticsearch", 3, 0, null, "{}", "GlobalOrdinalsStringTermsAggregator.LowCardinality")]
    [InlineData("elasticsearch", 3, 2, null, """{"execution_hint":"map"}""", "MapStringTermsAggregator")]
    [InlineData("elasticsearch", 3, 2, null, """{"field":"unmapped"}""", "NonCollectingAggregator")]
    [InlineData("opensearch", 4, 2, null, "{}", "GlobalOrdinalsStringTermsAggregator.LowCardinality")]
    [InlineData("opensearch", 3, 2, null, "{}", "GlobalOrdinalsStringTermsAggregator")]
    public async Task Search_ProfileWithKeywordTerms_NamesTheAggregatorTheEnginePicks(string flavor, int docs, int distinct, string? query, string terms, string type)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions
        {
            Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = flavor == "opensearch" ? SearchFlavor.OpenSearch : SearchFlavor.Elasticsearch,
        });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/terms", JsonNode.Parse("""{"mappings":{"properties":{"topic":{"type":"keyword"},"year":{"type":"integer"}}}}"""))).Status);
        var bulk = string.Concat(Enumerable.Range(0, docs).Select(i =>
            $"{{\"index\":{{\"_index\":\"terms\",\"_id\":\"{i}\"}}}}\n" + (distinct == 0 ? $"{{\"year\":{i}}}\n" : $"{{\"topic\":\"t{i % distinct}\"}}\n")));
        Assert.False((await es.BulkAsync(bulk)).Json["errors"]!.GetValue<bool>());
        var aggregation = JsonNode.Parse(terms)!.AsObject();
        aggregation["field"] ??= "topic";
        var body = new JsonObject { ["profile"] = true, ["size"] = 0, ["aggs"] = new JsonObject { ["topics"] = new JsonObject { ["terms"] = aggregation } } };
        if (query is not null)
        {
            body["query"] = JsonNode.Parse(query);
        }

        var r = await es.SearchAsync("terms", body);
        Assert.Equal(200, r.Status);
        var aggregator = Assert.Single(Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!["aggregations"]!.AsArray())!;
        Assert.Equal((type, "topics"), (aggregator["type"]!.GetValue<string>(), aggregator["description"]!.GetValue<string>()));
    }

    // A collector and the single-child chain under it, "a>b".
    private static string Chain(JsonNode collector) =>
        collector["children"] is JsonArray { Count: 1 } only ? $"{collector["name"]}>{Chain(only[0]!)}" : collector["name"]!.GetValue<string>();

    private static async Task Ledger(EsClient es)
    {
        Assert.Equal(200, (await es.PutAsync("/ledger", JsonNode.Parse("""{"mappings":{"properties":{"topic":{"type":"keyword"},"year":{"type":"integer"}}}}"""))).Status);
        Assert.False((await es.BulkAsync("""
            {"index":{"_index":"ledger","_id":"1"}}
            {"topic":"geography","year":1990}
            {"index":{"_index":"ledger","_id":"2"}}
            {"topic":"cooking","year":2000}
            {"index":{"_index":"ledger","_id":"3"}}
            {"topic":"cooking","year":2010}

            """)).Json["errors"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Search_ProfileUnderOpenSearch_AnswersOpenSearch219sShardShape()
    {
        // It wrote Elasticsearch 9's shard (node_id, shard_id, index, cluster, fetch, count_weight, a QueryPhaseCollector).
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        await Shelve(es);
        var node = Assert.Single((await es.SendAsync(HttpMethod.Get, "/_nodes")).Json["nodes"]!.AsObject()).Key;
        var r = await es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"query":{"bool":{"must":{"match":{"text":"river"}},"should":{"term":{"topic":"cooking"}}}}}""")!);
        Assert.Equal(200, r.Status);
        // SearchProfileShardResults.toXContent (OpenSearch 2.19): id, the two network times, searches, then
        // AggregationProfileShardResult's array; 2.x writes no fetch profile.
        var shard = Assert.Single(r.Json["profile"]!["shards"]!.AsArray())!.AsObject();
        Assert.Equal(["id", "inbound_network_time_in_millis", "outbound_network_time_in_millis", "searches", "aggregations"], shard.Select(p => p.Key));
        Assert.Equal(($"[{node}][shelf][0]", 0L, 0L), (shard["id"]!.GetValue<string>(), shard["inbound_network_time_in_millis"]!.GetValue<long>(),
            shard["outbound_network_time_in_millis"]!.GetValue<long>()));
        Assert.Empty(shard["aggregations"]!.AsArray());

        // QueryProfileShardResult.toXContent: query, rewrite_time, collector.
        var search = Assert.Single(shard["searches"]!.AsArray())!.AsObject();
        Assert.Equal(["query", "rewrite_time", "collector"], search.Select(p => p.Key));
        var root = Assert.Single(search["query"]!.AsArray())!.AsObject();
        // ProfileResult.toXContent of a search that is not concurrent: no max/min/avg_slice_time_in_nanos.
        Assert.Equal(["type", "description", "time_in_nanos", "breakdown", "children"], root.Select(p => p.Key));
        foreach (var query in root["children"]!.AsArray().Prepend(root))
        {
            var breakdown = query!["breakdown"]!.AsObject();
            Assert.Equal(OpenSearchBreakdownOrder, breakdown.Select(p => p.Key));
            Assert.Equal(OpenSearchBreakdownOrder.Where(k => !k.EndsWith("_count", StringComparison.Ordinal)).Sum(k => breakdown[k]!.GetValue<long>()),
                query["time_in_nanos"]!.GetValue<long>());
            Assert.Equal(1L, breakdown["create_weight_count"]!.GetValue<long>());
        }

        Assert.Equal((3L, 2L), (root["breakdown"]!["next_doc_count"]!.GetValue<long>(), root["breakdown"]!["score_count"]!.GetValue<long>()));

        // CollectorResult.toXContent: name, reason, time_in_nanos; the top docs collector is the only one.
        var collector = Assert.Single(search["collector"]!.AsArray())!.AsObject();
        Assert.Equal(["name", "reason", "time_in_nanos"], collector.Select(p => p.Key));
        Assert.Equal(("SimpleTopScoreDocCollector", "search_top_hits"), (collector["name"]!.GetValue<string>(), collector["reason"]!.GetValue<string>()));
        Assert.True(collector["time_in_nanos"]!.GetValue<long>() > 0);
    }

    // OpenSearch 2.19's QueryPhase: the TopDocsCollectorContext's collector (EmptyTopDocsCollectorContext at size 0:
    // an EarlyTerminatingCollector, or a bare TotalHitCountCollector when track_total_hits is true and
    // shortcutTotalHitCount cannot count the query: a bool; Lucene 9's collectors otherwise), wrapped by terminate_after's
    // EarlyTerminatingCollector, then post_filter's FilteredCollector, then min_score's MinimumScoreCollector
    // (QueryPhase.executeInternal's order; QueryCollectorContext.createQueryCollectorWithProfiler).
    [Theory]
    [InlineData("""{"size":0,"query":{"match":{"text":"river"}}}""", "EarlyTerminatingCollector/search_count")]
    [InlineData("""{"size":0,"track_total_hits":true,"query":{"term":{"text":"river"}}}""", "EarlyTerminatingCollector/search_count")]
    [InlineData("""{"size":0,"track_total_hits":true,"query":{"bool":{"should":[{"term":{"text":"river"}},{"term":{"text":"bread"}}]}}}""", "TotalHitCountCollector/search_count")]
    [InlineData("""{"query":{"match":{"text":"river"}}}""", "SimpleTopScoreDocCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}]}""", "SimpleFieldCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}],"search_after":["cooking"]}""", "PagingFieldCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}],"track_scores":true}""", "MultiCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"terminate_after":1}""",
        "EarlyTerminatingCollector/search_terminate_after_count > SimpleTopScoreDocCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"min_score":0.1}""", "MinimumScoreCollector/search_min_score > SimpleTopScoreDocCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}}}""",
        "FilteredCollector/search_post_filter > SimpleTopScoreDocCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}},"min_score":0.1,"terminate_after":5}""",
        "MinimumScoreCollector/search_min_score > FilteredCollector/search_post_filter > EarlyTerminatingCollector/search_terminate_after_count > SimpleTopScoreDocCollector/search_top_hits")]
    [InlineData("""{"query":{"match":{"text":"river"}},"min_score":0.1,"terminate_after":5}""",
        "MinimumScoreCollector/search_min_score > EarlyTerminatingCollector/search_terminate_after_count > SimpleTopScoreDocCollector/search_top_hits")]
    public async Task Search_ProfileUnderOpenSearch_NamesTheCollectorsAsOpenSearch219ChainsThem(string body, string chain)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        await Shelve(es);
        var query = JsonNode.Parse(body)!;
        query["profile"] = true;
        var r = await es.SearchAsync("shelf", query);
        Assert.Equal(200, r.Status);
        var names = new List<string>();
        var level = Assert.Single(r.Json["profile"]!["shards"]![0]!["searches"]![0]!["collector"]!.AsArray());
        long? outer = null;
        while (level is not null)
        {
            names.Add($"{level["name"]!.GetValue<string>()}/{level["reason"]!.GetValue<string>()}");
            // A wrapper's time includes what it wraps.
            var nanos = level["time_in_nanos"]!.GetValue<long>();
            Assert.InRange(nanos, 1, outer ?? long.MaxValue);
            outer = nanos;
            level = level["children"] is JsonArray children ? Assert.Single(children) : null;
        }

        Assert.Equal(chain, string.Join(" > ", names));
    }

    // The post_filter's weight is made before the search (Elasticsearch 9's QueryPhase.addCollectorsAndSearch, OpenSearch
    // 2.19's createFilteredCollectorContext) through the profiling searcher: its own tree comes first in "query", the
    // query's second, and it filters what is collected (QueryPhaseCollector; OpenSearch's FilteredCollector). It was a
    // FilteredQuery root around the query.
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch)]
    [InlineData(SearchFlavor.OpenSearch)]
    public async Task Search_ProfileWithAPostFilter_ProfilesTheFilterAsItsOwnTreeBeforeTheQuerys(SearchFlavor flavor)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = flavor });
        using var es = new EsClient(server.Url);
        await Shelve(es);
        var r = await es.SearchAsync("shelf", JsonNode.Parse("""{"profile":true,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}}}""")!);
        Assert.Equal(200, r.Status);
        Assert.Equal(["2"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        var trees = r.Json["profile"]!["shards"]![0]!["searches"]![0]!["query"]!.AsArray();
        Assert.Equal([("TermQuery", "topic:cooking"), ("TermQuery", "text:river")],
            trees.Select(t => (t!["type"]!.GetValue<string>(), t["description"]!.GetValue<string>())));
        // The filter is asked about each document the query collects, its scorer advanced only where it is behind (as
        // Lucene.asSequentialAccessBits reads it): once, at the first match (doc 0, "geography"), to its own match, doc 1,
        // which the second collected document then finds in place; never scored; its weight made once.
        var filter = trees[0]!["breakdown"]!;
        Assert.Equal((1L, 1L, 0L), (filter["create_weight_count"]!.GetValue<long>(), filter["advance_count"]!.GetValue<long>(), filter["score_count"]!.GetValue<long>()));
    }

    // Two indices whose post_filter (topic: cooking) removes hits: doc 1 matches "trout" but is not cooking; 6, 10, a2 and
    // a4 match "river" but are not; 8 is cooking without "river".
    private const string AtlasDocuments = """
        {"index":{"_index":"atlas","_id":"1"}}
        {"text":"river trout mill","topic":"geography","year":1901}
        {"index":{"_index":"atlas","_id":"2"}}
        {"text":"river trout baked","topic":"cooking","year":1902}
        {"index":{"_index":"atlas","_id":"3"}}
        {"text":"river trout smoked","topic":"cooking","year":1903}
        {"index":{"_index":"atlas","_id":"4"}}
        {"text":"river delta","topic":"geography","year":1904}
        {"index":{"_index":"atlas","_id":"5"}}
        {"text":"river fish stew","topic":"cooking","year":1905}
        {"index":{"_index":"atlas","_id":"6"}}
        {"text":"river bank history","topic":"history","year":1906}
        {"index":{"_index":"atlas","_id":"7"}}
        {"text":"river soup","topic":"cooking","year":1907}
        {"index":{"_index":"atlas","_id":"8"}}
        {"text":"sourdough bread","topic":"cooking","year":1908}
        {"index":{"_index":"atlas","_id":"9"}}
        {"text":"river trout grilled","topic":"cooking","year":1909}
        {"index":{"_index":"atlas","_id":"10"}}
        {"text":"river crossing","topic":"history","year":1910}
        {"index":{"_index":"almanac","_id":"a1"}}
        {"text":"river trout pie","topic":"cooking","year":1911}
        {"index":{"_index":"almanac","_id":"a2"}}
        {"text":"river map","topic":"geography","year":1912}
        {"index":{"_index":"almanac","_id":"a3"}}
        {"text":"river chowder","topic":"cooking","year":1913}
        {"index":{"_index":"almanac","_id":"a4"}}
        {"text":"river ford","topic":"history","year":1914}
        {"index":{"_index":"almanac","_id":"a5"}}
        {"text":"river eel","topic":"cooking","year":1915}

        """;

    // A post_filter that removes hits: the profiled search (the filter its own weight, filtering what is collected) must
    // answer the hits, their order, the total and terminated_early of the same search unprofiled (the filter inside the
    // query), with a field sort, min_score, terminate_after, size 0 and a later page of two indices. Elasticsearch 9
    // profiles the filter as its own query tree, first, and its collector tree stays QueryPhaseCollector around the top
    // docs collector (QueryPhaseCollectorManager.newCollector: the post_filter weight is applied inside
    // QueryPhaseCollector, no collector of its own).
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, "atlas", """{"size":3,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}},"sort":[{"year":"desc"}]}""",
        "9,7,5", 5, "SimpleFieldCollector/search_top_hits")]
    [InlineData(SearchFlavor.Elasticsearch, "atlas", """{"query":{"match":{"text":"river trout"}},"post_filter":{"term":{"topic":"cooking"}},"min_score":0.3}""",
        "2,3,9", 3, "TopScoreDocCollector/search_top_hits")]
    [InlineData(SearchFlavor.Elasticsearch, "atlas", """{"query":{"match":{"text":"river trout"}},"post_filter":{"term":{"topic":"cooking"}},"terminate_after":3}""",
        "2,3,5", 3, "TopScoreDocCollector/search_top_hits")]
    [InlineData(SearchFlavor.Elasticsearch, "atlas", """{"size":0,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}}}""",
        "", 5, "PartialHitCountCollector/search_count")]
    [InlineData(SearchFlavor.Elasticsearch, "atlas,almanac", """{"from":3,"size":3,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}},"sort":[{"year":"asc"}]}""",
        "7,9,a1", 8, "SimpleFieldCollector/search_top_hits")]
    [InlineData(SearchFlavor.OpenSearch, "atlas", """{"size":3,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}},"sort":[{"year":"desc"}]}""",
        "9,7,5", 5, null)]
    [InlineData(SearchFlavor.OpenSearch, "atlas", """{"query":{"match":{"text":"river trout"}},"post_filter":{"term":{"topic":"cooking"}},"min_score":0.3}""",
        "2,3,9", 3, null)]
    [InlineData(SearchFlavor.OpenSearch, "atlas", """{"query":{"match":{"text":"river trout"}},"post_filter":{"term":{"topic":"cooking"}},"terminate_after":3}""",
        "2,3,5", 3, null)]
    [InlineData(SearchFlavor.OpenSearch, "atlas", """{"size":0,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}}}""",
        "", 5, null)]
    [InlineData(SearchFlavor.OpenSearch, "atlas,almanac", """{"from":3,"size":3,"query":{"match":{"text":"river"}},"post_filter":{"term":{"topic":"cooking"}},"sort":[{"year":"asc"}]}""",
        "7,9,a1", 8, null)]
    public async Task Search_ProfileWithAPostFilterThatRemovesHits_AnswersTheUnprofiledHitsAndTotal(SearchFlavor flavor, string indices, string body, string ids, long total, string? topDocs)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = flavor });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/atlas", JsonNode.Parse("""{"mappings":{"properties":{"text":{"type":"text"},"topic":{"type":"keyword"},"year":{"type":"integer"}}}}"""))).Status);
        Assert.Equal(200, (await es.PutAsync("/almanac", JsonNode.Parse("""{"mappings":{"properties":{"text":{"type":"text"},"topic":{"type":"keyword"},"year":{"type":"integer"}}}}"""))).Status);
        Assert.False((await es.BulkAsync(AtlasDocuments)).Json["errors"]!.GetValue<bool>());

        var plain = await es.SearchAsync(indices, JsonNode.Parse(body)!);
        var profiledBody = JsonNode.Parse(body)!;
        profiledBody["profile"] = true;
        var profiled = await es.SearchAsync(indices, profiledBody);
        Assert.Equal((200, 200), (plain.Status, profiled.Status));
        // The post_filter removed hits: the expected page and total are those of the cooking documents only.
        Assert.Equal(ids, string.Join(",", plain.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>())));
        Assert.Equal(total, plain.Json["hits"]!["total"]!["value"]!.GetValue<long>());
        Assert.Equal(plain.Json["hits"]!.ToJsonString(), profiled.Json["hits"]!.ToJsonString());
        Assert.Equal(plain.Json["terminated_early"]?.ToJsonString(), profiled.Json["terminated_early"]?.ToJsonString());

        var shards = profiled.Json["profile"]!["shards"]!.AsArray();
        Assert.Equal(indices.Split(',').Order(StringComparer.Ordinal), shards.Select(s => s!["id"]!.GetValue<string>().Split("][")[1]));
        foreach (var shard in shards)
        {
            var search = shard!["searches"]![0]!;
            // The post_filter's tree first, then the query's.
            var query = body.Contains("river trout", StringComparison.Ordinal) ? ("BooleanQuery", "text:river text:trout") : ("TermQuery", "text:river");
            Assert.Equal([("TermQuery", "topic:cooking"), query],
                search["query"]!.AsArray().Select(t => (t!["type"]!.GetValue<string>(), t["description"]!.GetValue<string>())));
            if (topDocs is null)
            {
                continue;
            }

            var collector = Assert.Single(search["collector"]!.AsArray())!;
            var child = Assert.Single(collector["children"]!.AsArray())!;
            Assert.Equal(("QueryPhaseCollector/search_query_phase", topDocs),
                ($"{collector["name"]}/{collector["reason"]}", $"{child["name"]}/{child["reason"]}"));
            Assert.Null(child["children"]);
        }
    }

    // A scroll's later page continues after the last document the scroll emitted: Elasticsearch 9's
    // QueryPhaseCollectorManager.forScroll and OpenSearch 2.19's ScrollingTopDocsCollectorContext pass the scroll
    // context's lastEmittedDoc as the top docs collector's "after" (set after each page of a one-shard search), so
    // Lucene makes its paging collector there. It stayed the first page's collector.
    [Theory]
    [InlineData(SearchFlavor.Elasticsearch, """{"size":1,"profile":true,"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}]}""", "SimpleFieldCollector", "PagingFieldCollector")]
    [InlineData(SearchFlavor.OpenSearch, """{"size":1,"profile":true,"query":{"match":{"text":"river"}},"sort":[{"topic":"asc"}]}""", "SimpleFieldCollector", "PagingFieldCollector")]
    [InlineData(SearchFlavor.OpenSearch, """{"size":1,"profile":true,"query":{"match":{"text":"river"}}}""", "SimpleTopScoreDocCollector", "PagingTopScoreDocCollector")]
    public async Task Scroll_ProfileOfALaterPage_NamesThePagingCollector(SearchFlavor flavor, string body, string first, string later)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1), Flavor = flavor });
        using var es = new EsClient(server.Url);
        await Shelve(es);
        string TopDocsCollector(EsResponse r)
        {
            Assert.Equal(200, r.Status);
            Assert.Single(r.Json["hits"]!["hits"]!.AsArray());
            var collector = r.Json["profile"]!["shards"]![0]!["searches"]![0]!["collector"]![0]!;
            return (flavor == SearchFlavor.OpenSearch ? collector : collector["children"]![0]!)["name"]!.GetValue<string>();
        }

        var opened = await es.SendAsync(HttpMethod.Post, "/shelf/_search?scroll=1m", JsonNode.Parse(body));
        var next = await es.SendAsync(HttpMethod.Post, "/_search/scroll", new JsonObject { ["scroll"] = "1m", ["scroll_id"] = opened.Json["_scroll_id"]!.GetValue<string>() });
        Assert.Equal((first, later), (TopDocsCollector(opened), TopDocsCollector(next)));
    }

    // Only the timestamp steps; the wall clock and timers are the system's.
    private sealed class SteppingClock(long step) : TimeProvider
    {
        private long now;

        public override long TimestampFrequency => 1_000_000_000;

        public override long GetTimestamp() => Interlocked.Add(ref now, step);
    }
}
