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
    public async Task OfficialClient_MissingIndex_GetsElasticsearchErrorType()
    {
        var response = await Client().SearchAsync<Book>(s => s.Indices("no-such-index").Query(q => q.MatchAll(new MatchAllQuery())));
        Assert.False(response.IsValidResponse);
        Assert.Equal(404, response.ApiCallDetails.HttpStatusCode);
        Assert.Equal("index_not_found_exception", response.ElasticsearchServerError?.Error?.Type);
    }
}
