using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Cross-request batching through the proxy, over real loopback HTTP: concurrent searches share the engine's decode
/// steps and each still gets the order of judging every passage alone; a full engine queue answers at once in backend
/// order with <c>fallback-overload</c>.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class ProxyBatchingTests
{
    private static readonly string[] Queries = ["onion eyes", "onion soup", "eyes irritation", "onion storage"];

    private static string Search(string query, string? ext = null)
    {
        var body = new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["text"] = query } } };
        if (ext is not null)
        {
            body["ext"] = new JsonObject { ["rank1"] = JsonNode.Parse(ext) };
        }

        return body.ToJsonString();
    }

    [Fact]
    public async Task ConcurrentSearches_ShareDecodeSteps_AndEachIsInItsOwnRank1Order()
    {
        await using var stack = await ProxyStack.StartAsync(new Dictionary<string, string?>
        {
            ["Rank1:Model:MaxBatch"] = "32",
            ["Rank1:Proxy:MaxConcurrentReranks"] = "8",
            ["Rank1:Proxy:Default:MaxThinkTokens"] = "48",
        });

        // Held, the proxy's engine admits nothing until every search has queued its window (its feed closed), so the
        // windows share steps however late this machine gets one of the searches to the model: on a loaded host the
        // first search's window could be judged to its end before the next one came (the widest step fed 5 rows).
        var engine = (Rank1Engine)stack.Proxy.Services.GetRequiredService<IPassageJudge>();
        engine.Scheduler.Hold();
        var windows = 0;
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Closed = _ =>
        {
            if (Interlocked.Increment(ref windows) == Queries.Length)
            {
                queued.TrySetResult();
            }
        };
        var searches = Task.WhenAll(Queries.Select(q => stack.SearchAsync(Search(q))));
        await queued.Task.WaitAsync(TestBounds.Hang); // a bound on a hang only
        engine.Scheduler.Closed = null;
        engine.Scheduler.Resume();
        var results = await searches;

        foreach (var (query, r) in Queries.Zip(results))
        {
            Assert.Equal(200, r.Status);
            Assert.Equal("applied", r.Rerank);
            var backendOrder = await stack.BackendIdsAsync(Search(query));
            var window = backendOrder.Take(5).ToArray();
            var expected = await ProxyStack.ExpectedRank1OrderAsync(query, window, 48);
            Assert.Equal(expected.Concat(backendOrder.Skip(window.Length)).Take(10), r.Ids);
        }

        var health = await stack.SendAsync(HttpMethod.Get, "_rank1/health");
        var batch = health.Json["model"]!["batch"]!;
        Assert.Equal(32, batch["max_rows"]!.GetValue<int>());
        var peak = batch["peak_step_rows"]!.GetValue<int>();
        Assert.True(peak > 5, $"the widest step fed {peak} rows: concurrent windows of 5 passages did not share steps");
    }

    [Fact]
    public async Task FullEngineQueue_AnswersAtOnceInBackendOrder_WithFallbackOverload()
    {
        // The proxy's clock is a FakeTimeProvider: the slow search's deadline passes when the test moves it, after the
        // second search was refused, however long this machine takes to get there. (On the wall clock, a loaded host that
        // took 4 s to queue the slow search's passages and send the second found the queue empty again.)
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var stack = await ProxyStack.StartAsync(new Dictionary<string, string?>
        {
            ["Rank1:Model:MaxBatch"] = "2",
            ["Rank1:Model:MaxQueuedPassages"] = "2",
            ["Rank1:Proxy:MaxConcurrentReranks"] = "4",
            // The forced end at the deadline is what this test is about, not the cut-off after it: on a saturated
            // machine that last step can take longer than the default 500 ms grace.
            ["Rank1:Proxy:DeadlineGrace"] = "00:01:00",
        }, s => s.AddSingleton<TimeProvider>(clock));

        // A slow search holds the batch (2 rows) and leaves 3 passages waiting, until its deadline. The clock moves past
        // that deadline only once its rows have been read and stepped (peak_step_rows counts a step after the admission's
        // prefill): moved while the prefill still ran (a loaded host), the search would be the fallback-timeout of a window
        // the model was still reading, not the partial answer of started rows this test is about.
        var slow = stack.SearchAsync(Search("onion eyes", """{"max_think_tokens":8192,"deadline_ms":4000}"""));
        // The bound only turns a search that never queues into a failure instead of a hang.
        var hang = Stopwatch.StartNew();
        while ((await stack.SendAsync(HttpMethod.Get, "_rank1/health")).Json["model"]!["batch"] is var batch
               && (batch!["queued_passages"]!.GetValue<int>() == 0 || batch["peak_step_rows"]!.GetValue<int>() == 0))
        {
            Assert.True(hang.Elapsed < TestBounds.Hang, "the slow search never queued passages, or its rows never stepped");
            await Task.Delay(20);
        }

        var refused = await stack.SearchAsync(Search("onion soup"));
        Assert.Equal(200, refused.Status);
        Assert.Equal("fallback-overload", refused.Rerank);
        Assert.Contains("MaxQueuedPassages", refused.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);
        Assert.Equal(await stack.BackendIdsAsync(Search("onion soup")), refused.Ids);

        // The slow search ends at its deadline: started passages scored from their reasoning so far, the rest in
        // backend order after them.
        clock.Advance(TimeSpan.FromMilliseconds(4000));
        var done = await slow.WaitAsync(TestBounds.Hang); // the timeout only ends a broken run
        Assert.Equal("partial", done.Rerank);
        var sources = done.Json["hits"]!["hits"]!.AsArray().Select(h => h!["fields"]?["_rank1.source"]?[0]?.GetValue<string>()).ToArray();
        Assert.Contains("forced", sources);
    }
}
