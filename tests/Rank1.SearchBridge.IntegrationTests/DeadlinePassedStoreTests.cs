using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// A search whose <c>deadline_ms</c> passes while the backend answers still reads the reasoning store and still
/// counts towards its query's heat: only the model is skipped. The proxy's clock is a <see cref="FakeTimeProvider"/>
/// and <see cref="FrontBackend"/> holds the search (never the store) until the test has moved the clock past the deadline.
/// </summary>
public sealed class DeadlinePassedStoreTests
{
    private const string Query = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"deadline_ms":1000}}}""";

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private FrontBackend? _front;

    private Task<ProxyStack> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection> services) =>
        ProxyStack.StartAsync(settings, s =>
        {
            s.AddSingleton<TimeProvider>(_clock);
            services(s);
        }, inFront: async embedded =>
        {
            _front = await FrontBackend.StartAsync(embedded);
            return _front.Url;
        });

    /// <summary>A search the backend answers only once its 1000 ms deadline has passed.</summary>
    private async Task<HttpResult> SearchPastTheDeadlineAsync(ProxyStack stack)
    {
        _front!.Hold();
        var search = stack.SearchAsync(Query);
        await _front.SearchArrived;
        _clock.Advance(TimeSpan.FromMilliseconds(1000));
        _front.Release();
        return await search;
    }

    [Fact]
    public async Task StoredWindow_DeadlinePassedWhileTheBackendAnswered_IsAnsweredCachedInRerankedOrder()
    {
        using var engine = new CountingEngine();
        // The store's writer sends a batch when it is full or when Rank1:Store:FlushInterval has passed on the proxy's
        // clock, which only this test moves: a batch of the window's 5 judgements is sent as soon as they are queued.
        await using var stack = await StartAsync(new() { ["Rank1:Store:BulkBatchSize"] = "5" }, s => s.AddSingleton<IPassageJudge>(engine));
        await using var front = _front!;
        // Judged and stored under the default deadline (deadline_ms is not part of the stored key).
        var first = await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}}}""");
        Assert.Equal("applied", first.Rerank);
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(stack, 5));
        Assert.NotEqual(await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion eyes"}}}"""), first.Ids);

        var late = await SearchPastTheDeadlineAsync(stack);
        Assert.Equal("cached", late.Rerank);
        Assert.Equal(first.Ids, late.Ids);
        Assert.Equal(5, engine.Calls); // the model was not asked
    }

    [Fact]
    public async Task UnstoredWindow_DeadlinePassedWhileTheBackendAnswered_SkipsTheModelButCountsAsHot()
    {
        var publisher = new HotQueryTests.RecordingPublisher();
        await using var stack = await StartAsync(new() { ["Rank1:Store:Enabled"] = "false", ["Rank1:HotQueries:Threshold"] = "1.5" },
            s => s.AddSingleton<IPrecomputePublisher>(publisher));
        await using var front = _front!;

        var first = await SearchPastTheDeadlineAsync(stack);
        Assert.Equal("fallback-timeout", first.Rerank);
        Assert.Contains("the deadline passed before the model was asked", first.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);
        Assert.Empty(publisher.Messages);

        Assert.Equal("fallback-timeout", (await SearchPastTheDeadlineAsync(stack)).Rerank);
        var message = Assert.Single(publisher.Messages);
        Assert.Equal(("onion eyes", PrecomputeReasoning.HotQuery), (message.Query, message.Reason));
    }
}
