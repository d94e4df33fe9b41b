namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// <c>DELETE /{index}</c> with wildcards or <c>_all</c>: refused by Elasticsearch 8+ (<c>action.destructive_requires_name</c>
/// defaults to true), allowed by OpenSearch (false).
/// </summary>
public sealed class DeleteIndexTests
{
    [Theory]
    [InlineData("_all")]
    [InlineData("*")]
    [InlineData("w*")]
    [InlineData("wanted,other*")]
    public async Task DeleteIndex_Elasticsearch_WildcardOrAll_Is400AndDeletesNothing(string expression)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/wanted")).Status);

        var r = await es.DeleteAsync("/" + expression);
        r.AssertError(400, "illegal_argument_exception", "Wildcard expressions or all indices are not allowed");
        Assert.Equal(200, (await es.SendAsync(HttpMethod.Head, "/wanted")).Status);
    }

    [Fact]
    public async Task DeleteIndex_ElasticsearchOfficialClient_WildcardRefusedNameAllowed()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var client = OfficialClient.For(server.Url);
        Assert.True((await client.Indices.CreateAsync("kept")).IsValidResponse);

        var all = await client.Indices.DeleteAsync("*");
        Assert.False(all.IsValidResponse);
        Assert.Equal(400, all.ApiCallDetails.HttpStatusCode);
        Assert.Equal("Wildcard expressions or all indices are not allowed", all.ElasticsearchServerError?.Error?.Reason);
        Assert.True((await client.Indices.ExistsAsync("kept")).Exists);

        var named = await client.Indices.DeleteAsync("kept");
        Assert.True(named.IsValidResponse, named.DebugInformation);
        Assert.False((await client.Indices.ExistsAsync("kept")).Exists);
    }

    [Fact]
    public async Task DeleteIndex_OpenSearch_WildcardDeletesMatches()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        await es.PutAsync("/wanted");
        await es.PutAsync("/other");

        var r = await es.DeleteAsync("/w*");
        Assert.Equal(200, r.Status);
        Assert.Equal("""{"acknowledged":true}""", r.Json.ToJsonString());
        Assert.Equal(404, (await es.SendAsync(HttpMethod.Head, "/wanted")).Status);
        Assert.Equal(200, (await es.SendAsync(HttpMethod.Head, "/other")).Status);
    }
}
