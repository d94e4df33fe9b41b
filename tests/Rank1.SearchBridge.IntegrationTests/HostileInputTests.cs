using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>Issue #18 through the proxy over loopback, with the tiny model: long text has a bounded cost and cannot take reranking down.</summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private ProxyStack _stack = null!;

    public async Task InitializeAsync()
    {
        _stack = await ProxyStack.StartAsync();
        using var backend = new HttpClient { BaseAddress = _stack.Backend.Url };
        // One word of 300,000 characters after "onion": a single pre-token for the tokenizer.
        var put = await backend.PutAsJsonAsync($"{ProxyStack.Index}/_doc/huge?refresh=true", new JsonObject
        {
            ["title"] = "Onion essay",
            ["text"] = "onion " + string.Concat(Enumerable.Repeat("tearsgasonion", 23_077)),
            ["topic"] = "food",
        });
        put.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task Search_HugeDocumentInTheWindow_IsRerankedWithTheDocumentTruncated()
    {
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":10}""");
        Assert.Contains("huge", backendOrder);

        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"size":10,"ext":{"rank1":{"window":10}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal(backendOrder.Order(), r.Ids.Order());
        foreach (var hit in r.Json["hits"]!["hits"]!.AsArray())
        {
            var fields = hit!["fields"]!.AsObject();
            Assert.Equal("computed", fields["_rank1.source"]![0]!.GetValue<string>());
            if (hit["_id"]!.GetValue<string>() == "huge")
            {
                Assert.True(fields["_rank1.truncated"]![0]!.GetValue<bool>());
            }
            else
            {
                Assert.False(fields.ContainsKey("_rank1.truncated"));
            }
        }
    }
}
