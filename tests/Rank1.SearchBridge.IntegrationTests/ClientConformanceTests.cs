using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.MSearch;
using Elastic.Clients.Elasticsearch.Core.Search;
using Elastic.Transport;
using Elastic.Transport.Diagnostics.Auditing;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// One proxy in front of one embedded server of a flavour, shared by the conformance tests of that flavour, with
/// what the answers must be worked out independently: the backend's own order and the model's own verdicts.
/// </summary>
public abstract class ConformanceStack(SearchFlavor flavor) : IAsyncLifetime
{
    public const string Query = "onion eyes";

    internal ProxyStack Stack { get; private set; } = null!;

    /// <summary>The backend's order for <see cref="Query"/>.</summary>
    public string[] BackendOrder { get; private set; } = [];

    /// <summary>The proxy's order for <see cref="Query"/>: its window (5) judged by the same model alone, then the rest in backend order.</summary>
    public string[] Rank1Order { get; private set; } = [];

    public async Task InitializeAsync()
    {
        // No reasoning store: a search repeated by the next client is judged again ("applied"), not read back ("cached").
        Stack = await ProxyStack.StartAsync(new Dictionary<string, string?> { ["Rank1:Store:Enabled"] = "false" }, flavor: flavor);
        BackendOrder = await Stack.BackendIdsAsync(new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["text"] = Query } } }.ToJsonString());
        Rank1Order = [.. await ProxyStack.ExpectedRank1OrderAsync(Query, BackendOrder.Take(5).ToArray(), maxThinkTokens: 4), .. BackendOrder.Skip(5)];
    }

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}

public sealed class ElasticsearchConformanceStack() : ConformanceStack(SearchFlavor.Elasticsearch);

public sealed class OpenSearchConformanceStack() : ConformanceStack(SearchFlavor.OpenSearch);

/// <summary>What every client must read from the answers (see tests/node/msearch-20.json for the searches).</summary>
internal static class Conformance
{
    public const int Kestrel30Mb = 30_000_000;

    public const int BigDocs = 40;

    public const string Disabled = "reranking is disabled for this search";
    public const string Sorted = "the search is sorted by a field";
    public const string SizeZero = "size is 0";
    public const string BackendError = "the backend answered with an error";
    public const string NoQueryText = "no query text to judge";

    /// <summary>One msearch item as a client reads it: HTTP status, error type, rerank status and reason, whether hits carry Rank1 scores.</summary>
    public sealed record Item(int Status, string? Error, string? Rerank, string? Reason, bool? Scored);

    /// <summary>
    /// The 20 items of tests/node/msearch-20.json, in order. Each error is one Elasticsearch finds while running that
    /// search, which an msearch answers per item: a missing index, alone or in a list ("docs,ghost":
    /// IndexNameExpressionResolver's IndexNotFoundException, 404), a sort on an unmapped field (the shard's
    /// QueryShardException, in the search_phase_execution_exception "all shards failed"). What it finds while parsing a
    /// body ("from": -1) fails the whole msearch instead (MsearchFidelityTests).
    /// </summary>
    public static readonly Item[] Msearch =
    [
        new(200, null, "applied", null, true),
        new(200, null, "skipped", Disabled, false),
        new(200, null, "skipped", Sorted, false),
        new(200, null, "skipped", SizeZero, false),
        new(404, "index_not_found_exception", "skipped", BackendError, null),
        new(400, "search_phase_execution_exception", "skipped", Sorted, null),
        new(404, "index_not_found_exception", "skipped", BackendError, null),
        new(200, null, "applied", null, true),
        new(200, null, "applied", null, true),
        new(200, null, "skipped", NoQueryText, false),
        new(200, null, "applied", null, true),
        new(200, null, "applied", null, true),
        new(200, null, "skipped", SizeZero, false),
        new(404, "index_not_found_exception", "skipped", BackendError, null),
        new(200, null, "skipped", Disabled, false),
        new(200, null, "applied", null, true),
        new(200, null, "skipped", NoQueryText, false),
        new(200, null, "skipped", Sorted, false),
        new(200, null, "applied", null, true),
        new(200, null, "applied", null, true),
    ];

    public const string MsearchHeader = "applied=8, skipped=12";

    public static string MsearchPath => Path.Combine(TestPaths.RepoRoot, "tests", "node", "msearch-20.json");

    public static readonly string[] ScrollOrder = ["p1", "p2", "p3", "p4", "p5", "p6", "p7"];

    public static readonly string[][] YearDescPages = [["p7", "p6"], ["p5", "p4"], ["p3", "p2"], ["p1"]];

    /// <summary>A JavaScript client's run (tests/node/client-conformance.mjs), checked against the same expectations as the .NET client's.</summary>
    public static async Task AssertJavaScriptClientAsync(ConformanceStack fx, string client, string distribution)
    {
        var proxy = fx.Stack.Proxy.Url;
        var r = await TestProcess.RunNodeAsync("client-conformance.mjs", client, distribution, proxy.ToString(), ProxyStack.Index, $"big-{client}", $"paging-{client}");

        // Sniffing went through the proxy and kept the proxy as the only node.
        var sniff = Assert.Single(r["sniffs"]!.AsArray())!;
        Assert.Null(sniff["error"]);
        Assert.Equal([proxy.GetLeftPart(UriPartial.Authority) + "/"], sniff["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
        Assert.Equal(distribution, r["info"]!["distribution"]!.GetValue<string>());
        Assert.True(r["ping"]!.GetValue<bool>());

        Assert.True(r["bigWireBytes"]!.GetValue<long>() > Kestrel30Mb, $"the bulk body is {r["bigWireBytes"]} bytes gzipped");
        Assert.False(r["bigBulk"]!["errors"]!.GetValue<bool>());
        Assert.Equal(BigDocs, r["bigBulk"]!["items"]!.GetValue<int>());
        Assert.Equal(BigDocs, r["bigBulk"]!["count"]!.GetValue<int>());

        var reranked = r["reranked"]!;
        Assert.Equal("applied", reranked["rerank"]!.GetValue<string>());
        Assert.Equal(fx.Rank1Order, Strings(reranked["ids"]));
        var scores = reranked["scores"]!.AsArray().Take(5).Select(s => s!.GetValue<double>()).ToArray();
        Assert.Equal(scores.OrderDescending(), scores);

        var plain = r["plain"]!;
        Assert.Equal("skipped", plain["rerank"]!.GetValue<string>());
        Assert.Equal(Disabled, plain["reason"]!.GetValue<string>());
        Assert.Equal(fx.BackendOrder, Strings(plain["ids"]));
        Assert.False(plain["scored"]!.GetValue<bool>());

        // filter_path is applied to the reranked answer (the backend still got the passage fields it needed).
        var filtered = r["filtered"]!;
        Assert.Equal("applied", filtered["rerank"]!.GetValue<string>());
        var filteredHits = filtered["body"]!["hits"]!["hits"]!.AsArray();
        Assert.Equal(["hits"], filtered["body"]!.AsObject().Select(p => p.Key));
        Assert.Equal(fx.Rank1Order, filteredHits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.All(filteredHits.Take(5), h => Assert.Equal(["_id", "fields"], h!.AsObject().Select(p => p.Key)));

        Assert.Equal(Msearch, r["msearch"]!["items"]!.AsArray().Select(i => new Item(i!["status"]!.GetValue<int>(), i["error"]?.GetValue<string>(),
            i["rerank"]!.GetValue<string>(), i["reason"]?.GetValue<string>(), i["scored"]?.GetValue<bool>())));
        Assert.Equal(MsearchHeader, r["msearch"]!["header"]!.GetValue<string>());

        Assert.Equal("skipped", r["scroll"]!["rerank"]!.GetValue<string>());
        Assert.Equal("scroll searches pass through un-reranked", r["scroll"]!["reason"]!.GetValue<string>());
        Assert.Equal(ScrollOrder, Strings(r["scroll"]!["ids"]));
        Assert.Equal(1, r["scroll"]!["freed"]!.GetValue<int>());

        AssertYearDescPages(r["searchAfter"]!);
        AssertYearDescPages(r["pit"]!["pages"]!);
        Assert.Equal(1, r["pit"]!["closed"]!.GetValue<int>());
    }

    // Pages sorted by a field (the first) or after a sort value (the others) pass through un-reranked.
    private static void AssertYearDescPages(JsonNode pages)
    {
        Assert.Equal(YearDescPages, pages.AsArray().Select(p => Strings(p!["ids"])));
        Assert.All(pages.AsArray(), p => Assert.Equal("skipped", p!["rerank"]!.GetValue<string>()));
        Assert.Equal([Sorted, .. Enumerable.Repeat("search_after pages pass through un-reranked", YearDescPages.Length - 1)],
            pages.AsArray().Select(p => p!["reason"]!.GetValue<string>()));
    }

    public static string[] Strings(JsonNode? array) => array!.AsArray().Select(s => s!.GetValue<string>()).ToArray();

    /// <summary>How many bytes <paramref name="body"/> takes on the wire gzipped (as the clients send it with compression on).</summary>
    public static long GzippedLength(byte[] body)
    {
        using var counter = new MemoryStream();
        using (var gzip = new GZipStream(counter, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(body);
        }

        return counter.Length;
    }
}

/// <summary>
/// The client conformance suite, Elasticsearch flavour: @elastic/elasticsearch, Elastic.Clients.Elasticsearch and
/// @opensearch-project/opensearch (which has no product check and is used against Elasticsearch-compatible clusters),
/// each with its defaults plus compression and sniffing, through the proxy. Every call must succeed in the client
/// (its product check included) and what the client reads from its own response objects must be the real values.
/// </summary>
public sealed class ElasticsearchClientConformanceTests(ElasticsearchConformanceStack fx) : IClassFixture<ElasticsearchConformanceStack>
{
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public Task ElasticJavaScriptClient_AcceptsEveryAnswer_AndReadsEachItemsStatus() => Conformance.AssertJavaScriptClientAsync(fx, "elasticsearch", "elasticsearch");

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public Task OpenSearchJavaScriptClient_AcceptsEveryAnswer_AndReadsEachItemsStatus() => Conformance.AssertJavaScriptClientAsync(fx, "opensearch", "elasticsearch");

    public sealed class BigDoc
    {
        public int N { get; set; }

        public string Blob { get; set; } = "";
    }

    public sealed class PagingDoc
    {
        public string Title { get; set; } = "";

        public int Year { get; set; }
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task DotNetTypedClient_AcceptsEveryAnswer_AndReadsEachItemsStatus()
    {
        var proxy = fx.Stack.Proxy.Url;
        var client = new ElasticsearchClient(new ElasticsearchClientSettings(new SniffingNodePool([proxy])).EnableHttpCompression()
            .ResponseHeadersToParse(new HeadersList(["X-Rank1-Rerank", "X-Rank1-Reason"])));

        var info = await client.InfoAsync();
        Assert.True(info.IsValidResponse, info.DebugInformation);
        // The pool sniffed /_nodes/http,settings through the proxy and kept the proxy as its node.
        Assert.Contains(info.ApiCallDetails.AuditTrail!, a => a.Event == AuditEvent.SniffSuccess);
        Assert.Equal(proxy.Port, info.ApiCallDetails.Uri!.Port);
        Assert.Equal("You Know, for Search", info.Tagline);
        var ping = await client.PingAsync();
        Assert.True(ping.IsValidResponse, ping.DebugInformation);

        // A bulk over Kestrel's 30 MB default even gzipped (Elasticsearch takes up to 100 MB).
        var random = new Random(13);
        var bytes = new byte[768 * 1024];
        random.NextBytes(bytes);
        var blob = Convert.ToBase64String(bytes);
        var docs = Enumerable.Range(0, Conformance.BigDocs).Select(i => new BigDoc { N = i, Blob = i + blob }).ToArray();
        Assert.True(Conformance.GzippedLength(JsonSerializer.SerializeToUtf8Bytes(docs)) > Conformance.Kestrel30Mb);
        var create = await client.Indices.CreateAsync("big-dotnet", c => c.Mappings(m => m.Properties<BigDoc>(p => p.IntegerNumber(d => d.N).Keyword(d => d.Blob, k => k.IgnoreAbove(256)))));
        Assert.True(create.IsValidResponse, create.DebugInformation);
        var bulk = await client.BulkAsync(b => b.Index("big-dotnet").IndexMany(docs, (d, doc) => d.Id($"big{doc.N}")).Refresh(Refresh.True));
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);
        Assert.False(bulk.Errors);
        Assert.Equal(Conformance.BigDocs, bulk.Items.Count);
        Assert.Equal(Conformance.BigDocs, (await client.CountAsync<BigDoc>(c => c.Indices("big-dotnet"))).Count);

        var reranked = await client.SearchAsync<ProxyClientDocument>(s => s.Indices(ProxyStack.Index).Query(q => q.Match(m => m.Field("text").Query(ConformanceStack.Query))));
        Assert.True(reranked.IsValidResponse, reranked.DebugInformation);
        Assert.Equal("applied", Header(reranked, "X-Rank1-Rerank"));
        Assert.Equal(fx.Rank1Order, reranked.Hits.Select(h => h.Id));
        var scores = reranked.Hits.Take(5).Select(h => ((JsonElement)h.Fields!["_rank1.score"])[0].GetDouble()).ToArray();
        Assert.Equal(scores.OrderDescending(), scores);

        var plain = await client.SearchAsync<ProxyClientDocument>(s => s.Indices(ProxyStack.Index).Query(q => q.Match(m => m.Field("text").Query(ConformanceStack.Query)))
            .Ext(new Dictionary<string, object> { ["rank1"] = new Dictionary<string, object> { ["enabled"] = false } }));
        Assert.True(plain.IsValidResponse, plain.DebugInformation);
        Assert.Equal("skipped", Header(plain, "X-Rank1-Rerank"));
        Assert.Equal(Conformance.Disabled, Header(plain, "X-Rank1-Reason"));
        Assert.Equal(fx.BackendOrder, plain.Hits.Select(h => h.Id));
        Assert.All(plain.Hits, h => Assert.Null(h.Fields));

        // The client's filter_path is marked experimental (a filtered answer may not fit its types); it reads this one.
#pragma warning disable ESCEXP0001
        var filtered = await client.SearchAsync<ProxyClientDocument>(new SearchRequest(ProxyStack.Index)
        {
            Query = new global::Elastic.Clients.Elasticsearch.QueryDsl.MatchQuery { Field = "text", Query = ConformanceStack.Query },
            FilterPath = ["hits.hits._id", "hits.hits.fields"],
        });
#pragma warning restore ESCEXP0001
        Assert.True(filtered.IsValidResponse, filtered.DebugInformation);
        Assert.Equal("applied", Header(filtered, "X-Rank1-Rerank"));
        Assert.Equal(fx.Rank1Order, filtered.Hits.Select(h => h.Id));
        Assert.Null(filtered.HitsMetadata.Total); // filtered away, as filter_path asked
        Assert.All(filtered.Hits.Take(5), h => Assert.Contains("_rank1.score", h.Fields!.Keys));

        await AssertMsearchAsync(client);
        await AssertPagingAsync(client);
    }

    private static string? Header(global::Elastic.Transport.Products.Elasticsearch.ElasticsearchResponse response, string name) =>
        response.ApiCallDetails.TryGetHeader(name, out var values) ? values.Single() : null;

    /// <summary>
    /// The typed client keeps an item's top-level <c>fields</c> (<see cref="MultiSearchItem{T}.Fields"/>), so each
    /// item carries its status there too; an error item is the client's <see cref="ErrorResponseBase"/>.
    /// </summary>
    private static async Task AssertMsearchAsync(ElasticsearchClient client)
    {
        var request = new MultiSearchRequest { Searches = [] };
        foreach (var pair in JsonNode.Parse(await File.ReadAllTextAsync(Conformance.MsearchPath))!.AsArray())
        {
            request.Searches.Add(new SearchRequestItem(Read<MultisearchHeader>(client, pair![0]!), Read<MultisearchBody>(client, pair[1]!)));
        }

        var response = await client.MultiSearchAsync<ProxyClientDocument>(request);
        // Items with errors make the client call the whole answer not "valid" (as for a cluster's): what counts is
        // that the call succeeded and that every item was read, as a hit list or as an error.
        Assert.True(response.ApiCallDetails.HasSuccessfulStatusCode, response.DebugInformation);
        Assert.Null(response.ApiCallDetails.OriginalException);
        var items = response.Responses.Select(item => item.Match(
            ok => new Conformance.Item(ok!.Status!.Value, null, Field(ok, "_rank1.rerank"), Field(ok, "_rank1.reason"), ok.Hits.Any(h => h.Fields?.ContainsKey("_rank1.score") == true)),
            error => new Conformance.Item(error!.Status, error.Error.Type, null, null, null))).ToArray();
        // An error item is never reranked: the typed client reads it as the cluster's error object, nothing more.
        Assert.Equal(Conformance.Msearch.Select(i => i.Error is null ? i : i with { Rerank = null, Reason = null }), items);
        Assert.Equal(Conformance.MsearchHeader, Header(response, "X-Rank1-Rerank"));
    }

    private static T Read<T>(ElasticsearchClient client, JsonNode json)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()));
        return client.RequestResponseSerializer.Deserialize<T>(stream)!;
    }

    private static string? Field<T>(MultiSearchItem<T> item, string name) =>
        item.Fields is { } fields && fields.TryGetValue(name, out var value) ? ((JsonElement)value)[0].GetString() : null;

    private static async Task AssertPagingAsync(ElasticsearchClient client)
    {
        const string index = "paging-dotnet";
        var docs = Enumerable.Range(1, 7).Select(i => new PagingDoc { Title = $"page {i}", Year = 2000 + i }).ToArray();
        var bulk = await client.BulkAsync(b => b.Index(index).IndexMany(docs, (d, doc) => d.Id($"p{doc.Year - 2000}")).Refresh(Refresh.True));
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);

        var first = await client.SearchAsync<PagingDoc>(s => s.Indices(index).Scroll("1m").Size(3).Sort(o => o.Field("_doc")));
        Assert.True(first.IsValidResponse, first.DebugInformation);
        Assert.Equal("scroll searches pass through un-reranked", Header(first, "X-Rank1-Reason"));
        var scrolled = first.Hits.Select(h => h.Id!).ToList();
        var scrollId = first.ScrollId!;
        while (true)
        {
            var page = await client.ScrollAsync<PagingDoc>(new ScrollRequest { ScrollId = scrollId, Scroll = "1m" });
            Assert.True(page.IsValidResponse, page.DebugInformation);
            if (page.Hits.Count == 0)
            {
                break;
            }

            scrolled.AddRange(page.Hits.Select(h => h.Id!));
            scrollId = page.ScrollId!;
        }

        Assert.Equal(Conformance.ScrollOrder, scrolled);
        var cleared = await client.ClearScrollAsync(c => c.ScrollId(scrollId));
        Assert.True(cleared.IsValidResponse, cleared.DebugInformation);
        Assert.Equal(1, cleared.NumFreed);

        Assert.Equal(Conformance.YearDescPages, await YearDescPagesAsync(client, index, null));
        var pit = await client.OpenPointInTimeAsync(index, p => p.KeepAlive("1m"));
        Assert.True(pit.IsValidResponse, pit.DebugInformation);
        Assert.Equal(Conformance.YearDescPages, await YearDescPagesAsync(client, null, pit.Id));
        var closed = await client.ClosePointInTimeAsync(c => c.Id(pit.Id));
        Assert.True(closed.IsValidResponse, closed.DebugInformation);
        Assert.Equal(1, closed.NumFreed);
    }

    private static async Task<string[][]> YearDescPagesAsync(ElasticsearchClient client, string? index, string? pit)
    {
        var pages = new List<string[]>();
        ICollection<FieldValue>? after = null;
        while (true)
        {
            var page = await client.SearchAsync<PagingDoc>(s =>
            {
                s.Size(2).Sort(o => o.Field(f => f.Year, SortOrder.Desc));
                if (index is not null)
                {
                    s.Indices(index);
                }

                if (pit is not null)
                {
                    s.Pit(new PointInTimeReference { Id = pit, KeepAlive = "1m" });
                }

                if (after is not null)
                {
                    s.SearchAfter(after);
                }
            });
            Assert.True(page.IsValidResponse, page.DebugInformation);
            Assert.Equal(after is null ? Conformance.Sorted : "search_after pages pass through un-reranked", Header(page, "X-Rank1-Reason"));
            if (page.Hits.Count == 0)
            {
                return [.. pages];
            }

            pages.Add(page.Hits.Select(h => h.Id!).ToArray());
            after = page.Hits.Last().Sort!.ToList();
        }
    }
}

/// <summary>
/// The client conformance suite, OpenSearch flavour: @opensearch-project/opensearch with compression and sniffing,
/// through the proxy. The Elastic clients refuse this flavour by their own product check (the answer lacks
/// <c>X-Elastic-Product: Elasticsearch</c>), as they refuse a real OpenSearch cluster: proven here, not assumed.
/// </summary>
public sealed class OpenSearchClientConformanceTests(OpenSearchConformanceStack fx) : IClassFixture<OpenSearchConformanceStack>
{
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public Task OpenSearchJavaScriptClient_AcceptsEveryAnswer_AndReadsEachItemsStatus() => Conformance.AssertJavaScriptClientAsync(fx, "opensearch", "opensearch");

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task ElasticJavaScriptClient_RefusesTheOpenSearchFlavour_ByItsProductCheck()
    {
        var r = await TestProcess.RunNodeAsync("product-check.mjs", fx.Stack.Proxy.Url.ToString());

        // The client refused a successful answer, for the missing header alone.
        Assert.Equal("ProductNotSupportedError", r["error"]!.GetValue<string>());
        Assert.True(r["productCheck"]!.GetValue<bool>());
        Assert.Equal(200, r["status"]!.GetValue<int>());
        Assert.Null(r["product"]);
    }

    [Fact]
    public async Task DotNetTypedClient_RefusesTheOpenSearchFlavour_ByItsProductCheck()
    {
        var client = new ElasticsearchClient(new ElasticsearchClientSettings(new SniffingNodePool([fx.Stack.Proxy.Url])).EnableHttpCompression());

        var refused = await Assert.ThrowsAsync<UnsupportedProductException>(() => client.InfoAsync());
        Assert.Equal("The client noticed that the server is not a supported distribution of Elasticsearch or an unknown product.", refused.Message);
    }
}
