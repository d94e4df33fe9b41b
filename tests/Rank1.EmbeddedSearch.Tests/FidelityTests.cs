using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Where clients depend on Elasticsearch's exact behaviour, the embedded server behaves the same: response
/// filtering, compression, sniffing, paging contexts, index listing and the answers to wrong methods.
/// </summary>
public sealed class FidelityTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        var bulk = string.Concat(Enumerable.Range(1, 5).Select(i =>
            $"{{\"index\":{{\"_index\":\"books\",\"_id\":\"{i}\"}}}}\n{{\"title\":\"river book {i}\",\"rank\":{i}}}\n"));
        Assert.False((await Es.BulkAsync(bulk)).Json["errors"]!.GetValue<bool>());
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    [Fact]
    public async Task FilterPath_ShapesAnswersButNeverErrors()
    {
        var r = await Es.PostAsync("/books/_search?filter_path=took,hits.hits._id,-hits.hits._score", JsonNode.Parse("""{"sort":[{"rank":"asc"}],"size":2}"""));
        Assert.Equal(200, r.Status);
        Assert.Equal(["took", "hits"], r.Json.AsObject().Select(p => p.Key));
        Assert.Equal("""{"hits":[{"_id":"1"},{"_id":"2"}]}""", r.Json["hits"]!.ToJsonString());

        var msearch = await Es.SendAsync(HttpMethod.Post, "/_msearch?filter_path=responses.status,responses.error.type", "{\"index\":\"books\"}\n{}\n{\"index\":\"ghost\"}\n{}\n", "application/x-ndjson");
        Assert.Equal("""{"responses":[{"status":200},{"error":{"type":"index_not_found_exception"},"status":404}]}""", msearch.Json.ToJsonString());

        var error = await Es.GetAsync("/ghost/_search?filter_path=took");
        Assert.Equal(404, error.Status);
        Assert.Equal("index_not_found_exception", error.ErrorType);

        var nothing = await Es.GetAsync("/books/_count?filter_path=nope");
        Assert.Equal("{}", nothing.Json.ToJsonString());
    }
}
