using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.EmbeddedSearch.Tests;

public sealed class ServerTests
{
    [Fact]
    public async Task DataDirectory_SurvivesARestart()
    {
        var data = TestTemp.Folder("rank1-es-data-");
        await using (var first = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data }))
        {
            using var es = new EsClient(first.Url);
            await es.PutAsync("/kept", JsonNode.Parse("""{"mappings":{"properties":{"topic":{"type":"keyword"}}}}"""));
            await es.BulkAsync("{\"index\":{\"_index\":\"kept\",\"_id\":\"a\"}}\n{\"text\":\"persisted words\",\"topic\":\"t1\"}\n{\"index\":{\"_index\":\"kept\",\"_id\":\"b\"}}\n{\"text\":\"other words\",\"topic\":\"t2\"}\n");
            await es.PutAsync("/kept/_doc/a?refresh=true", JsonNode.Parse("""{"text":"persisted words again","topic":"t1"}"""));
            await es.DeleteAsync("/kept/_doc/b?refresh=true");
        }

        await using var second = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data });
        using var es2 = new EsClient(second.Url);
        var doc = await es2.GetAsync("/kept/_doc/a");
        Assert.True(doc.Json["found"]!.GetValue<bool>());
        Assert.Equal(2, doc.Json["_version"]!.GetValue<int>());
        Assert.Equal(404, (await es2.GetAsync("/kept/_doc/b")).Status);
        var search = await es2.SearchAsync("kept", JsonNode.Parse("""{"query":{"match":{"text":"again"}}}""")!);
        Assert.Equal(["a"], search.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        var mapping = await es2.GetAsync("/kept/_mapping");
        Assert.Equal("keyword", mapping.Json["kept"]!["mappings"]!["properties"]!["topic"]!["type"]!.GetValue<string>());
        // Writing after the restart continues the version sequence.
        var next = await es2.PutAsync("/kept/_doc/a", JsonNode.Parse("""{"text":"third"}"""));
        Assert.Equal(3, next.Json["_version"]!.GetValue<int>());
    }

    [Fact]
    public async Task OpenSearchFlavor_PresentsAsOpenSearchWithoutTheElasticHeader()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        var r = await es.GetAsync("/");
        Assert.Equal("opensearch", r.Json["version"]!["distribution"]!.GetValue<string>());
        Assert.StartsWith("2.", r.Json["version"]!["number"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(r.Headers.Contains("X-Elastic-Product"));
        var error = await es.GetAsync("/ghost/_search");
        Assert.False(error.Headers.Contains("X-Elastic-Product"));
        Assert.Equal("index_not_found_exception", error.ErrorType);
    }

    [Fact]
    public async Task ConcurrentWritersAndSearchers_LoseNothing()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromMilliseconds(50) });
        using var es = new EsClient(server.Url);
        const int writers = 4, perWriter = 150;
        var searchErrors = 0;
        using var stop = new CancellationTokenSource();
        var searcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var r = await es.PostAsync("/concurrent/_search?ignore_unavailable=true", JsonNode.Parse("""{"query":{"match":{"text":"word"}},"size":5}"""));
                if (r.Status != 200)
                {
                    Interlocked.Increment(ref searchErrors);
                }
            }
        });
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                var r = i % 3 == 0
                    ? await es.BulkAsync($"{{\"index\":{{\"_index\":\"concurrent\",\"_id\":\"w{w}-{i}\"}}}}\n{{\"text\":\"word {w} {i}\"}}\n", string.Empty)
                    : await es.PutAsync($"/concurrent/_doc/w{w}-{i}", JsonNode.Parse($"{{\"text\":\"word {w} {i}\"}}"));
                // Every id is new: a _bulk answers 200 with the item created (201), a PUT answers 201 itself.
                if (i % 3 == 0)
                {
                    Assert.Equal(200, r.Status);
                    Assert.False(r.Json["errors"]!.GetValue<bool>(), r.Body?.ToJsonString());
                    Assert.Equal(201, r.Json["items"]![0]!["index"]!["status"]!.GetValue<int>());
                }
                else
                {
                    Assert.Equal(201, r.Status);
                }
            }
        })));
        await stop.CancelAsync();
        await searcher;

        await es.PostAsync("/concurrent/_refresh");
        Assert.Equal(0, searchErrors);
        Assert.Equal(writers * perWriter, (await es.GetAsync("/concurrent/_count")).Json["count"]!.GetValue<int>());
        var all = await es.SearchAsync("concurrent", JsonNode.Parse($$"""{"size":{{writers * perWriter}},"_source":false}""")!);
        var ids = all.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(writers * perWriter, ids.Count);
        Assert.Contains("w3-149", ids);
    }

    [Fact]
    public async Task Gzip_ResponsesCompressedOnRequestAndGzipBodiesAccepted()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var handler = new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { BaseAddress = server.Url };

        using var compressed = new MemoryStream();
        await using (var gz = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gz.WriteAsync(Encoding.UTF8.GetBytes("{\"text\":\"zipped body\"}"));
        }

        using var put = new HttpRequestMessage(HttpMethod.Put, "/gz/_doc/1?refresh=true") { Content = new ByteArrayContent(compressed.ToArray()) };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        put.Content.Headers.ContentEncoding.Add("gzip");
        Assert.Equal(HttpStatusCode.Created, (await http.SendAsync(put)).StatusCode);

        using var search = new HttpRequestMessage(HttpMethod.Post, "/gz/_search") { Content = new StringContent("{\"query\":{\"match\":{\"text\":\"zipped\"}}}", Encoding.UTF8, "application/json") };
        search.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        using var response = await http.SendAsync(search);
        Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
        await using var body = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        var json = await JsonNode.ParseAsync(body);
        Assert.Equal("1", json!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task CompatibleWithAccept_IsAnsweredInTheSameMediaType()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.elasticsearch+json; compatible-with=9");
        using var response = await http.SendAsync(request);
        Assert.Equal("application/vnd.elasticsearch+json; compatible-with=9", response.Content.Headers.ContentType!.ToString());
    }
}
