using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.QueryDsl;

namespace Rank1.EmbeddedSearch.Tests;

public sealed class Book
{
    public string Id { get; set; } = "";

    public string Title { get; set; } = "";

    public string Body { get; set; } = "";

    public string Genre { get; set; } = "";

    public int Year { get; set; }
}

/// <summary>The official Elastic.Clients.Elasticsearch 9.5.3 client, pointed at the embedded backend over loopback.</summary>
public sealed class OfficialClientTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private static readonly Book[] Books =
    [
        new() { Id = "b1", Title = "The Dragon's Hoard", Body = "A dragon guards gold in a mountain cave.", Genre = "fantasy", Year = 1990 },
        new() { Id = "b2", Title = "Orbital Mechanics", Body = "Satellites follow elliptical orbits around the earth.", Genre = "science", Year = 2005 },
        new() { Id = "b3", Title = "Cave Diving", Body = "Divers explore flooded caves with careful planning.", Genre = "sport", Year = 2012 },
        new() { Id = "b4", Title = "Dragon Boats", Body = "Teams paddle long boats decorated with a dragon head.", Genre = "sport", Year = 2018 },
    ];

    private ElasticsearchClient Client() => OfficialClient.For(fx.Server.Url);

    [Fact]
    public async Task OfficialClient_CreateBulkSearchGetCountDelete_AllWork()
    {
        var client = Client();
        const string index = "books";

        var create = await client.Indices.CreateAsync(index, c => c.Mappings(m => m.Properties<Book>(p => p
            .Keyword(b => b.Id).Text(b => b.Title).Text(b => b.Body).Keyword(b => b.Genre).IntegerNumber(b => b.Year))));
        Assert.True(create.IsValidResponse, create.DebugInformation);
        Assert.True(create.Acknowledged);

        var bulk = await client.BulkAsync(b => b.Index(index).IndexMany(Books, (d, book) => d.Id(book.Id)).Refresh(Refresh.True));
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);
        Assert.False(bulk.Errors);
        Assert.Equal(4, bulk.Items.Count);

        var match = await client.SearchAsync<Book>(s => s.Indices(index).Query(q => q.Match(m => m.Field(f => f.Body).Query("dragon cave"))));
        Assert.True(match.IsValidResponse, match.DebugInformation);
        // The standard analyzer does not stem: "caves" (b3) is not "cave".
        Assert.Equal(2, match.Total);
        Assert.Equal(["b1", "b4"], match.Hits.Select(h => h.Id));
        Assert.Equal("The Dragon's Hoard", match.Documents.First().Title);
        Assert.True(match.Hits.First().Score > match.Hits.Last().Score);

        var boolQuery = await client.SearchAsync<Book>(s => s.Indices(index).Query(q => q.Bool(b => b
            .Must(m => m.Match(mm => mm.Field(f => f.Body).Query("dragon")))
            .Filter(f => f.Term(t => t.Field(x => x.Genre).Value("sport"))))));
        Assert.True(boolQuery.IsValidResponse, boolQuery.DebugInformation);
        Assert.Equal(["b4"], boolQuery.Hits.Select(h => h.Id));

        var multi = await client.SearchAsync<Book>(s => s.Indices(index).Query(q => q.MultiMatch(mm => mm.Query("dragon").Fields(new[] { "title^3", "body" }))));
        Assert.True(multi.IsValidResponse, multi.DebugInformation);
        Assert.Equal(2, multi.Hits.Count);
        Assert.Equal(["b1", "b4"], multi.Hits.Select(h => h.Id).Order());

        var get = await client.GetAsync<Book>(index, "b2");
        Assert.True(get.IsValidResponse, get.DebugInformation);
        Assert.True(get.Found);
        Assert.Equal("Orbital Mechanics", get.Source!.Title);
        Assert.Equal(2005, get.Source.Year);

        var count = await client.CountAsync<Book>(c => c.Indices(index).Query(q => q.Range(r => r.Number(n => n.Field(f => f.Year).Gte(2000)))));
        Assert.True(count.IsValidResponse, count.DebugInformation);
        Assert.Equal(3, count.Count);

        var delete = await client.DeleteAsync(new DeleteRequest(index, "b2") { Refresh = Refresh.True });
        Assert.True(delete.IsValidResponse, delete.DebugInformation);
        var gone = await client.GetAsync<Book>(index, "b2");
        Assert.False(gone.Found);
        Assert.Equal(3, (await client.CountAsync<Book>(c => c.Indices(index))).Count);

        var dropIndex = await client.Indices.DeleteAsync(index);
        Assert.True(dropIndex.IsValidResponse, dropIndex.DebugInformation);
        var exists = await client.Indices.ExistsAsync(index);
        Assert.False(exists.Exists);
    }

    [Fact]
    public async Task OfficialClient_ClosePointInTimeTwice_SecondFreesNothingAndSucceeds()
    {
        var client = Client();
        await client.Indices.CreateAsync("pit-close");
        var open = await client.OpenPointInTimeAsync("pit-close", p => p.KeepAlive("1m"));
        Assert.True(open.IsValidResponse, open.DebugInformation);

        var first = await client.ClosePointInTimeAsync(c => c.Id(open.Id));
        Assert.True(first.IsValidResponse, first.DebugInformation);
        Assert.Equal(1, first.NumFreed);

        var second = await client.ClosePointInTimeAsync(c => c.Id(open.Id));
        Assert.True(second.IsValidResponse, second.DebugInformation);
        Assert.Equal(200, second.ApiCallDetails.HttpStatusCode);
        Assert.True(second.Succeeded);
        Assert.Equal(0, second.NumFreed);
    }

    [Fact]
    public async Task OfficialClient_IdWithASlash_IsTheIdItSent()
    {
        // The client escapes the id in the path (Uri.EscapeDataString: "a/b" is "a%2Fb"); Elasticsearch's PathTrie
        // splits the raw path at its slashes, then decodes each segment (RestUtils.decodeComponent), so the id is "a/b".
        // Kestrel leaves "%2F" encoded in a path: the document was stored, and answered, as "a%2Fb".
        var client = Client();
        await client.Indices.CreateAsync("slashed");
        var index = await client.IndexAsync(new Book { Title = "Paths" }, i => i.Index("slashed").Id("a/b").Refresh(Refresh.True));
        Assert.True(index.IsValidResponse, index.DebugInformation);
        Assert.Equal("a/b", index.Id);

        var get = await client.GetAsync<Book>("slashed", "a/b");
        Assert.True(get.Found, get.DebugInformation);
        Assert.Equal("a/b", get.Id);
        var search = await client.SearchAsync<Book>(s => s.Indices("slashed").Query(q => q.Ids(ids => ids.Values(new Ids(["a/b"])))));
        Assert.Equal(["a/b"], search.Hits.Select(h => h.Id));
    }

    [Fact]
    public async Task OfficialClient_ProfiledSearch_ReadsEachShardsTimedQueryTreeCollectorsAndFetch()
    {
        // "profile": true was read and ignored: the answer had no profile. Elasticsearch 9's SearchProfileResults writes
        // one entry per shard, ordered by its id "[nodeId][index][shard]", with the query tree of the rewritten Lucene
        // query (ProfileResult: type, description, time_in_nanos, breakdown, children), the rewrite time, the collectors
        // (CollectorResult) and the fetch (FetchProfiler), which the client (and Kibana's search profiler) reads.
        var client = Client();
        foreach (var (index, books) in new[] { ("profiled-b", Books[..2]), ("profiled-a", Books[2..]) })
        {
            await client.Indices.CreateAsync(index, c => c.Mappings(m => m.Properties<Book>(p => p.Text(b => b.Body))));
            var bulk = await client.BulkAsync(b => b.Index(index).IndexMany(books, (d, book) => d.Id(book.Id)).Refresh(Refresh.True));
            Assert.False(bulk.Errors, bulk.DebugInformation);
        }

        var response = await client.SearchAsync<Book>(s => s.Indices("profiled-*").Profile(true).Query(q => q.Match(m => m.Field(f => f.Body).Query("dragon cave"))));
        Assert.True(response.IsValidResponse, response.DebugInformation);
        Assert.Equal(["b1", "b4"], response.Hits.Select(h => h.Id).Order());
        var shards = response.Profile!.Shards;
        Assert.Equal(["profiled-a", "profiled-b"], shards.Select(s => s.Index));
        foreach (var shard in shards)
        {
            Assert.Equal($"[{shard.NodeId}][{shard.Index}][0]", shard.Id);
            Assert.False(string.IsNullOrEmpty(shard.NodeId));
            Assert.Equal((0, "(local)"), (shard.ShardId, shard.Cluster));
            Assert.Empty(shard.Aggregations);

            var search = Assert.Single(shard.Searches);
            var root = Assert.Single(search.Query);
            Assert.Equal(("BooleanQuery", "body:dragon body:cave"), (root.Type, root.Description));
            Assert.Equal([("TermQuery", "body:dragon"), ("TermQuery", "body:cave")], root.Children!.Select(c => (c.Type, c.Description)));
            // Each index has one segment with one match: one weight, one scorer, next_doc to the match and past the
            // last document, one score (the top-hits collector's).
            Assert.Equal((1L, 1L, 2L, 1L), (root.Breakdown.CreateWeightCount, root.Breakdown.BuildScorerCount, root.Breakdown.NextDocCount, root.Breakdown.ScoreCount));
            Assert.True(root.Breakdown.CreateWeight > 0);
            Assert.True(root.TimeInNanos > TimeSpan.Zero);
            Assert.All(root.Children!, c => Assert.Equal((1L, 1L), (c.Breakdown.CreateWeightCount, c.Breakdown.BuildScorerCount)));

            var collector = Assert.Single(search.Collector);
            Assert.Equal(("QueryPhaseCollector", "search_query_phase"), (collector.Name, collector.Reason));
            var topHits = Assert.Single(collector.Children!);
            Assert.Equal(("TopScoreDocCollector", "search_top_hits"), (topHits.Name, topHits.Reason));

            var fetch = shard.Fetch!;
            Assert.Equal(("fetch", (int?)1), (fetch.Type, fetch.Breakdown.LoadStoredFieldsCount));
            Assert.Equal(["FetchSourcePhase"], fetch.Children!.Select(c => c.Type));
        }
    }

    [Fact]
    public async Task OfficialClient_ProfiledSearchWithAggregations_ReadsTheAggregatorsAndTheirCollector()
    {
        // The profile's aggregations were [] and the QueryPhaseCollector had no aggregation child. Elasticsearch 9 writes
        // each aggregator (AggregationProfileShardResult: type, description, time_in_nanos, breakdown), which the client
        // reads as AggregationProfile, and the AggregatorCollector beside the top docs collector.
        var client = Client();
        await client.Indices.CreateAsync("profiled-aggs", c => c.Mappings(m => m.Properties<Book>(p => p.Text(b => b.Body).Keyword(b => b.Genre).IntegerNumber(b => b.Year))));
        var bulk = await client.BulkAsync(b => b.Index("profiled-aggs").IndexMany(Books, (d, book) => d.Id(book.Id)).Refresh(Refresh.True));
        Assert.False(bulk.Errors, bulk.DebugInformation);

        var response = await client.SearchAsync<Book>(s => s.Indices("profiled-aggs").Profile(true).Size(0)
            .Aggregations(a => a.Add("genres", g => g.Terms(t => t.Field(f => f.Genre))).Add("mean_year", y => y.Avg(v => v.Field(f => f.Year)))));
        Assert.True(response.IsValidResponse, response.DebugInformation);
        Assert.Equal(2006.25, response.Aggregations!.GetAverage("mean_year")!.Value);
        var shard = Assert.Single(response.Profile!.Shards);
        Assert.Equal([("StringTermsAggregatorFromFilters", "genres"), ("AvgAggregator", "mean_year")], shard.Aggregations.Select(a => (a.Type, a.Description)));
        Assert.All(shard.Aggregations, a => Assert.Equal((1L, 4L, 1L), (a.Breakdown.InitializeCount, a.Breakdown.CollectCount, a.Breakdown.BuildAggregationCount)));
        var collector = Assert.Single(Assert.Single(shard.Searches).Collector);
        Assert.Equal([("PartialHitCountCollector", "search_count"), ("AggregatorCollector: [[genres, mean_year]]", "aggregation")],
            collector.Children!.Select(c => (c.Name, c.Reason)));
    }

    [Fact]
    public async Task OfficialClient_MissingIndex_GetsElasticsearchErrorType()
    {
        var response = await Client().SearchAsync<Book>(s => s.Indices("no-such-index").Query(q => q.MatchAll(new MatchAllQuery())));
        Assert.False(response.IsValidResponse);
        Assert.Equal(404, response.ApiCallDetails.HttpStatusCode);
        Assert.Equal("index_not_found_exception", response.ElasticsearchServerError?.Error?.Type);
    }
}
