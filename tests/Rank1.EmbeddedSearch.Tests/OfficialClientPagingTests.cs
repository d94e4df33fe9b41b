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
        var ids = new List<string>();
        ICollection<FieldValue>? after = null;
        while (true)
        {
            var page = await client.SearchAsync<Book>(s =>
            {
                s.Size(2).Pit(new PointInTimeReference { Id = pit.Id, KeepAlive = "1m" }).Sort(o => o.Field(f => f.Year, SortOrder.Desc));
                if (after is not null)
                {
                    s.SearchAfter(after);
                }
            });
            Assert.True(page.IsValidResponse, page.DebugInformation);
            if (page.Hits.Count == 0)
            {
                break;
            }

            ids.AddRange(page.Hits.Select(h => h.Id!));
            after = page.Hits.Last().Sort!.ToList();
        }

        Assert.Equal(Books.Select(b => b.Id).Reverse(), ids);
        var closed = await client.ClosePointInTimeAsync(c => c.Id(pit.Id));
        Assert.True(closed.IsValidResponse, closed.DebugInformation);
        Assert.Equal(1, closed.NumFreed);
    }
}
