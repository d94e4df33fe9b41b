using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// A passage the model scores NaN (a NaN logit: an fp16 export overflowing) is one the model failed to judge: in the
/// proxy it is marked and placed exactly as a passage that failed on its input (<c>_rank1.source</c> <c>failed</c>, after
/// the judged hits in backend order, the search <c>partial</c>), never stored, and its hot query not kept unstored.
/// Before, the proxy's answer could not be written: a 500 <c>argument_exception</c> ".NET number values such as positive
/// and negative infinity cannot be written as valid JSON" for the whole search.
/// </summary>
public sealed class NaNScoreTests
{
    private const string Body = """{"query":{"match":{"text":"onion"}}}""";
    private const string Reason = "the model's score is NaN (not a number)";

    [Fact]
    public async Task Search_OnePassageScoredNaN_IsMarkedFailedAfterTheJudgedHits_NotA500()
    {
        var logs = new FakeLoggerProvider();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(new NaNJudge("soup")).AddSingleton<ILoggerProvider>(logs));
        var backendOrder = await stack.BackendIdsAsync(Body);
        Assert.Contains("d02", backendOrder.Take(5)); // "French onion soup ..." is in the window
        var window = backendOrder.Take(5).ToArray();
        var expected = window.Where(id => id != "d02")
            .Select(id => (Id: id, Score: InputFailingJudge.Score(ProxyStack.Corpus.Single(c => c.Id == id).Text), Index: Array.IndexOf(window, id)))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Index).Select(x => x.Id)
            .Append("d02").Concat(backendOrder.Skip(5)).Take(10).ToArray();

        var r = await stack.SearchAsync(Body);
        Assert.Equal((200, "partial"), (r.Status, r.Rerank));
        Assert.Equal(expected, r.Ids);
        AssertFailed(r.Json["hits"]!["hits"]!.AsArray());
        Assert.Equal(window.Length - 1, await ReasoningStoreTests.StoredCountAsync(stack, window.Length - 1)); // the NaN passage is not stored

        // An _msearch item alike (its other passages now come from the store).
        var msearch = await stack.SendAsync(HttpMethod.Post, "_msearch", $"{{\"index\":\"{ProxyStack.Index}\"}}\n{Body}\n", "application/x-ndjson");
        Assert.Equal(200, msearch.Status);
        var item = msearch.Json["responses"]![0]!;
        Assert.Equal((200, "partial"), (item["status"]!.GetValue<int>(), item["_rank1"]!["rerank"]!.GetValue<string>()));
        var hits = item["hits"]!["hits"]!.AsArray();
        Assert.Equal(expected, hits.Select(h => h!["_id"]!.GetValue<string>()));
        AssertFailed(hits);

        // Counted as a passage that could not be judged, once per search, under reason="nan" (not the input's "input"), and
        // said at Warning once per window (2207). Before, untagged, and the proxy logged nothing.
        var metrics = await stack.Http.GetStringAsync("_rank1/metrics");
        Assert.Equal((2, 2), (PrometheusText.Sum(metrics, "rank1_passages_failed_total"), PrometheusText.Value(metrics, "rank1_passages_failed_total", ("reason", "nan"))));
        var said = logs.Collector.GetSnapshot().Where(l => l.Id.Id == 2207).ToArray();
        Assert.Equal(2, said.Length);
        Assert.All(said, l => Assert.Equal(LogLevel.Warning, l.Level));
    }

    [Fact]
    public async Task EveryPassageScoredNaN_TheSearchIsAnsweredInBackendOrder_AsAWindowNothingOfWhichCouldBeJudged()
    {
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(new NaNJudge("")));
        var backendOrder = await stack.BackendIdsAsync(Body);

        var r = await stack.SearchAsync(Body);
        Assert.Equal((200, "fallback-error"), (r.Status, r.Rerank));
        Assert.Equal($"no passage of the window could be judged: {Reason}", r.Headers.GetValues("X-Rank1-Reason").Single());
        Assert.Equal(backendOrder.Take(10), r.Ids);
    }

    [Fact]
    public async Task PassageScoredNaN_DoesNotKeepItsHotQueryUnstored_NoJobIsSent()
    {
        // As a passage the model cannot read: no job could store it, so a hot query whose other passages are stored sends none.
        const string body = """{"query":{"match":{"text":"onion eyes"}}}""";
        var publisher = new HotQueryTests.RecordingPublisher();
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:HotQueries:Threshold"] = "2" },
            s => s.AddSingleton<IPassageJudge>(new NaNJudge("irritates")).AddSingleton<IPrecomputePublisher>(publisher));
        Assert.Contains("d01", (await stack.BackendIdsAsync(body)).Take(5));
        Assert.Equal("partial", (await stack.SearchAsync(body)).Rerank);
        Assert.Equal(4, await ReasoningStoreTests.StoredCountAsync(stack, 4));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("partial", (await stack.SearchAsync(body)).Rerank);
        }

        Assert.Empty(publisher.Messages);
        Assert.Equal(0, PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total"));
    }

    private static void AssertFailed(System.Text.Json.Nodes.JsonArray hits)
    {
        var failed = hits.Single(h => h!["_id"]!.GetValue<string>() == "d02")!["fields"]!;
        Assert.Equal(("failed", Reason), (failed["_rank1.source"]![0]!.GetValue<string>(), failed["_rank1.error"]![0]!.GetValue<string>()));
        Assert.Null(failed["_rank1.score"]);
    }
}

/// <summary>A judge that scores NaN every passage whose text holds the marker ("" : all), and any other <see cref="InputFailingJudge.Score"/>.</summary>
internal sealed class NaNJudge(string marker) : IPassageJudge
{
    private int _windows;

    /// <summary>Windows the judge was asked for.</summary>
    public int Windows => _windows;

    public string ModelId => "nan-scoring";

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _windows);
        return ValueTask.FromResult<IReadOnlyList<PassageResult>>(passages.Select(p =>
        {
            var score = p.Text.Contains(marker, StringComparison.Ordinal) ? double.NaN : InputFailingJudge.Score(p.Text);
            return PassageResult.Judged(new Rank1Judgement(score, score >= 0.5, "reasoned.", 1, ReasoningEnd.Finished, 10, TimeSpan.Zero, TimeSpan.Zero));
        }).ToArray());
    }
}
