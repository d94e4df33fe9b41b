using Rank1.Testing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>The official JavaScript clients (npm @elastic/elasticsearch and @opensearch-project/opensearch) as callers, in real Node.js processes.</summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed class NodeClientTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private static readonly string[] Seven = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"];

    [Fact]
    public async Task JavaScriptClient_BulkThenSearch_Works()
    {
        var result = await TestProcess.RunNodeAsync("es-client-smoke.mjs", fx.Server.Url.ToString(), "js-kitchen");
        Assert.False(result["bulkErrors"]!.GetValue<bool>());
        Assert.Equal(3, result["bulkItems"]!.GetValue<int>());
        Assert.Equal(2, result["total"]!.GetValue<int>());
        // "hot water": js-2 has both terms, js-1 only "water".
        Assert.Equal(["js-2", "js-1"], result["ids"]!.AsArray().Select(i => i!.GetValue<string>()));
        // A shard's failure: the client's ResponseError names the search_phase_execution_exception and its root causes.
        Assert.Equal("""
            {"name":"ResponseError","statusCode":400,"message":"search_phase_execution_exception\n\tRoot causes:\n\t\tquery_shard_exception: No mapping found for [nope] in order to sort on"}
            """, result["failed"]!.ToJsonString());
    }

    [Fact]
    public async Task ElasticJavaScriptClient_SniffCompressionScrollHelperPitFilterPathCat()
    {
        var result = await TestProcess.RunNodeAsync("embedded-paging.mjs", fx.Server.Url.ToString(), "elasticsearch", "js-paging");
        AssertPaged(result);
        Assert.Equal("""{"hits":{"hits":[{"_id":"n1"}]}}""", result["filtered"]!.ToJsonString());
        Assert.Equal("""[{"index":"js-paging","docs.count":"7"}]""", result["cat"]!.ToJsonString());
    }

    [Fact]
    public async Task OpenSearchJavaScriptClient_SniffCompressionScrollHelperPit()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        AssertPaged(await TestProcess.RunNodeAsync("embedded-paging.mjs", server.Url.ToString(), "opensearch", "os-paging"));
    }

    private static void AssertPaged(System.Text.Json.Nodes.JsonNode result)
    {
        var sniff = Assert.Single(result["sniffs"]!.AsArray())!;
        Assert.Null(sniff["error"]);
        Assert.Single(sniff["hosts"]!.AsArray());
        Assert.Equal(Seven, result["scrolled"]!.AsArray().Select(i => i!.GetValue<string>()));
        Assert.Equal(Seven.Reverse(), result["paged"]!.AsArray().Select(i => i!.GetValue<string>()));
        Assert.Equal(1, result["closed"]!.GetValue<int>());
    }
}
