using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Rank1.SearchBridge.Messages;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

public sealed class HotQueryTests
{
    internal sealed class RecordingPublisher : IPrecomputePublisher
    {
        public ConcurrentQueue<PrecomputeReasoning> Messages { get; } = new();

        public Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
        {
            Messages.Enqueue(message);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task RepeatedQueryWithUnstoredHits_IsPublishedOnceForPrecomputation()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Store:Enabled"] = "false", // nothing gets stored, so every search has unstored hits
            ["Rank1:HotQueries:Threshold"] = "2",
        }, s => s.AddSingleton<IPrecomputePublisher>(publisher));

        const string query = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"instructions":"Only cooking advice counts."}}}""";
        Assert.Equal("applied", (await stack.SearchAsync(query)).Rerank);
        Assert.Empty(publisher.Messages);
        await stack.SearchAsync(query);
        await stack.SearchAsync(query);
        await stack.SearchAsync("""{"query":{"match":{"text":"eye drops"}}}""");

        var message = Assert.Single(publisher.Messages);
        Assert.Equal(("docs", "onion eyes", "Only cooking advice counts.", 5, "title", 4, "hot-query"),
            (message.TargetIndex, message.Query, message.Instructions, message.Window, message.TitleField, message.MaxThinkTokens, message.Reason));
        Assert.Equal(["text"], message.Fields);
        // The worker re-runs the client's own query (not the proxy's window size, ext or source filter).
        Assert.Equal("""{"query":{"match":{"text":"onion eyes"}}}""", message.SearchBody);
        Assert.NotEqual(Guid.Empty, message.JobId);
        Assert.Equal(1, PrometheusText.Value(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", "published")));
    }

    [Fact]
    public async Task HotQueryJob_TakesTheRulesSettings_NeverTheCallers()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Store:Enabled"] = "false",
            ["Rank1:HotQueries:Threshold"] = "2",
        }, s => s.AddSingleton<IPrecomputePublisher>(publisher));

        // The caller asks for a wider window, another field and a bigger reasoning budget than the rule (5, text, 4).
        const string query = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"window":8,"max_think_tokens":6,"fields":["title"]}}}""";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("applied", (await stack.SearchAsync(query)).Rerank);
        }

        var message = Assert.Single(publisher.Messages);
        Assert.Equal((5, 4, "title"), (message.Window, message.MaxThinkTokens, message.TitleField));
        Assert.Equal(["text"], message.Fields);
    }
}
