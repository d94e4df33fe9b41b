using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Search;
using Elastic.Transport;
using Elastic.Transport.Diagnostics.Auditing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Elastic.Clients.Elasticsearch with a sniffing node pool and compression on, paging the embedded backend with
/// scroll, point in time and search_after as its users do.
/// </summary>
public sealed class OfficialClientPagingTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private static readonly Book[] Books = Enumerable.Range(1, 7).Select(i => new Book { Id = $"p{i}", Title = $"page {i}", Body = "paged", Genre = "g", Year = 2000 + i }).ToArray();

    // Every id of the point in time, two hits a page, each page's search_after the last hit's sort values, as users page.
    private static async Task<List<string>> PageAsync<T>(ElasticsearchClient client, string pitId, Action<SortOptionsDescriptor<T>> sort)
    {
        var ids = new List<string>();
        ICollection<FieldValue>? after = null;
        while (true)
        {
            var page = await client.SearchAsync<T>(s =>
            {
                s.Size(2).Pit(new PointInTimeReference { Id = pitId, KeepAlive = "1m" }).Sort(sort);
                if (after is not null)
                {
                    s.SearchAfter(after);
                }
            });
            Assert.True(page.IsValidResponse, page.DebugInformation);
            if (page.Hits.Count == 0)
            {
                return ids;
            }

            ids.AddRange(page.Hits.Select(h => h.Id!));
            after = page.Hits.Last().Sort!.ToList();
        }
    }

    private async Task<ElasticsearchClient> ClientWithBooksAsync(string index)
    {
        var settings = new ElasticsearchClientSettings(new SniffingNodePool([fx.Server.Url])).EnableHttpCompression();
        var client = new ElasticsearchClient(settings);
        var bulk = await client.BulkAsync(b => b.Index(index).IndexMany(Books, (d, book) => d.Id(book.Id)).Refresh(Refresh.True));
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);
        // The pool sniffed /_nodes/http,settings before the first call and kept a node it can reach.
        Assert.Contains(bulk.ApiCallDetails.AuditTrail!, a => a.Event == AuditEvent.SniffSuccess);
        Assert.Equal(fx.Server.Url.Port, bulk.ApiCallDetails.Uri!.Port);
        return client;
    }

    [Fact]
    public async Task Scroll_ThenClear()
    {
        var client = await ClientWithBooksAsync("scrolled");
        var first = await client.SearchAsync<Book>(s => s.Indices("scrolled").Scroll("1m").Size(3).Sort(o => o.Field(f => f.Year)));
        Assert.True(first.IsValidResponse, first.DebugInformation);
        var ids = first.Hits.Select(h => h.Id!).ToList();
        var scrollId = first.ScrollId!;
        while (true)
        {
            var page = await client.ScrollAsync<Book>(new ScrollRequest { ScrollId = scrollId, Scroll = "1m" });
            Assert.True(page.IsValidResponse, page.DebugInformation);
            if (page.Hits.Count == 0)
            {
                break;
            }

            ids.AddRange(page.Hits.Select(h => h.Id!));
        }

        Assert.Equal(Books.Select(b => b.Id), ids);
        var cleared = await client.ClearScrollAsync(c => c.ScrollId(scrollId));
        Assert.True(cleared.IsValidResponse, cleared.DebugInformation);
        Assert.Equal(1, cleared.NumFreed);
    }

    [Fact]
    public async Task PointInTime_WithSearchAfter_ThenClose()
    {
        var client = await ClientWithBooksAsync("pitted");
        var pit = await client.OpenPointInTimeAsync("pitted", p => p.KeepAlive("1m"));
        Assert.True(pit.IsValidResponse, pit.DebugInformation);
        var ids = await PageAsync<Book>(client, pit.Id, o => o.Field(f => f.Year, SortOrder.Desc));

        Assert.Equal(Books.Select(b => b.Id).Reverse(), ids);
        var closed = await client.ClosePointInTimeAsync(c => c.Id(pit.Id));
        Assert.True(closed.IsValidResponse, closed.DebugInformation);
        Assert.Equal(1, closed.NumFreed);
    }

    /// <summary>A document that may lack the field a search sorts on.</summary>
    public sealed class Dated
    {
        public string Id { get; set; } = "";

        public int? Year { get; set; }
    }

    [Theory]
    [InlineData(SortOrder.Desc)]
    [InlineData(SortOrder.Asc)]
    public async Task PointInTime_WithSearchAfter_PagesDocumentsWithoutTheSortFieldLast(SortOrder order)
    {
        // Elasticsearch's sort puts documents without the field last in both directions (its default "missing": "_last");
        // a point in time breaks their tie by _shard_doc, so they come in the order they were indexed. Paged two at a time,
        // every document comes once: a descending sort used to drop the two without a year, found after no cursor.
        var index = $"undated-{order.ToString().ToLowerInvariant()}";
        var client = OfficialClient.For(fx.Server.Url);
        Dated[] docs = [new() { Id = "y2002", Year = 2002 }, new() { Id = "none1" }, new() { Id = "y2004", Year = 2004 }, new() { Id = "y2001", Year = 2001 }, new() { Id = "none2" }, new() { Id = "y2003", Year = 2003 }];
        var bulk = await client.BulkAsync(b => b.Index(index).IndexMany(docs, (d, doc) => d.Id(doc.Id)).Refresh(Refresh.True));
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);
        var pit = await client.OpenPointInTimeAsync(index, p => p.KeepAlive("1m"));
        Assert.True(pit.IsValidResponse, pit.DebugInformation);
        var ids = await PageAsync<Dated>(client, pit.Id, o => o.Field(f => f.Year!, order));

        string[] valued = order == SortOrder.Desc ? ["y2004", "y2003", "y2002", "y2001"] : ["y2001", "y2002", "y2003", "y2004"];
        Assert.Equal([.. valued, "none1", "none2"], ids);

        // One page of them all, without a point in time, has the same order.
        var all = await client.SearchAsync<Dated>(s => s.Indices(index).Size(10).Sort(o => o.Field(f => f.Year!, order)));
        Assert.True(all.IsValidResponse, all.DebugInformation);
        Assert.Equal([.. valued, "none1", "none2"], all.Hits.Select(h => h.Id!));
        Assert.True((await client.ClosePointInTimeAsync(c => c.Id(pit.Id))).IsValidResponse);
    }
}
