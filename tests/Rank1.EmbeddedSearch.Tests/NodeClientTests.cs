using Rank1.Testing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>The official JavaScript client (npm @elastic/elasticsearch) as a caller, in a real Node.js process.</summary>
public sealed class NodeClientTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task JavaScriptClient_BulkThenSearch_Works()
    {
        var result = await TestProcess.RunNodeAsync("es-client-smoke.mjs", fx.Server.Url.ToString(), "js-kitchen");
        Assert.False(result["bulkErrors"]!.GetValue<bool>());
        Assert.Equal(3, result["bulkItems"]!.GetValue<int>());
        Assert.Equal(2, result["total"]!.GetValue<int>());
        // "hot water": js-2 has both terms, js-1 only "water".
        Assert.Equal(["js-2", "js-1"], result["ids"]!.AsArray().Select(i => i!.GetValue<string>()));
    }
}
