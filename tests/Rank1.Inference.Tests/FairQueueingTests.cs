using Rank1.Inference.Decoding;

namespace Rank1.Inference.Tests;

/// <summary>
/// Fair queueing in front of the continuous batch: free rows go to the waiting caller with the fewest rows in the
/// batch (ties: the one served longest ago), one caller's queued passages are capped, and a lone big call never
/// shuts out other callers. First the queue alone (no model, every order exact), then through the engine.
/// </summary>
public sealed class FairQueueingTests
{
    private static BatchRow[] Rows(int count) =>
        Enumerable.Range(0, count).Select(_ => new BatchRow([1, 2, 3], 4, null, false, CancellationToken.None)).ToArray();

    private static List<BatchRow> Take(FairQueue queue, int max) => queue.Take(max, (_, row) => row.TryStart());

    [Fact]
    public void Take_BigWindowFirst_SmallWindowJoinsAtTheNextFreeSlots()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var big = Rows(40);
        var small = Rows(2);
        queue.Add("big", big);
        Assert.Equal(big[..4], Take(queue, 4)); // alone, the big window fills the batch

        queue.Add("small", small);
        big[0].Complete(null);
        Assert.Equal([small[0]], Take(queue, 1)); // small has no row in the batch, big has three
        big[1].Complete(null);
        Assert.Equal([small[1]], Take(queue, 1)); // small one, big two: small again, though 36 big rows waited first
        big[2].Complete(null);
        small[0].Complete(null);
        Assert.Equal([big[4], big[5]], Take(queue, 2)); // small has nothing left: big gets the slots
        Assert.Equal(34, queue.Count);
    }

    [Fact]
    public void Take_CallersWithEqualRowsInTheBatch_AreServedInTurn()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var a = Rows(10);
        var b = Rows(10);
        var c = Rows(10);
        queue.Add("a", a);
        queue.Add("b", b);
        queue.Add("c", c);
        Assert.Equal([a[0], b[0], c[0], a[1], b[1], c[1], a[2]], Take(queue, 7));
    }

    [Fact]
    public void Take_DropsRowsTheStartRefuses_AndForgetsCallersWithNothingLeft()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var cancelled = Rows(3);
        var live = Rows(2);
        queue.Add("cancelled", cancelled);
        queue.Add("live", live);
        foreach (var row in cancelled)
        {
            row.Cancel();
        }

        Assert.Equal(live, queue.Take(8, (_, row) => !row.IsDone && row.TryStart()));
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.WaitingCallers);
    }

    [Fact]
    public void Add_CallerPastItsShare_IsRefused_WhileAnotherCallerIsAdmitted()
    {
        var queue = new FairQueue(capacity: 20, perCaller: 8);
        queue.Add("msearch", Rows(6));
        var refused = Assert.Throws<Rank1OverloadedException>(() => queue.Add("msearch", Rows(3)));
        Assert.Contains("6 of its passages wait", refused.Message, StringComparison.Ordinal);
        Assert.Contains("MaxQueuedPassagesPerCaller (8)", refused.Message, StringComparison.Ordinal);

        queue.Add("other", Rows(6));
        queue.Add("msearch", Rows(2)); // within its share: admitted
        Assert.Equal(14, queue.Count);
        Assert.Equal(8, queue.MostWaitingForOneCaller);
        Assert.Equal(2, queue.WaitingCallers);
    }

    [Fact]
    public void Add_LoneCallLargerThanTheShare_IsAccepted_ButNeverShutsOutOthers()
    {
        var queue = new FairQueue(capacity: 20, perCaller: 8);
        queue.Add("big", Rows(100)); // alone: accepted, as a window larger than the queue always was
        queue.Add("second", Rows(8)); // the big call counts for its share (8) only: 16 of 20
        queue.Add("third", Rows(4)); // 20 of 20
        var full = Assert.Throws<Rank1OverloadedException>(() => queue.Add("fourth", Rows(1)));
        Assert.Contains("MaxQueuedPassages (20)", full.Message, StringComparison.Ordinal);
        Assert.Equal(112, queue.Count);
    }

    [Fact]
    public void Add_SeveralBigCallers_NeverPassTheQueueBoundPlusOneCallsExcess()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        queue.Add("first", Rows(1000)); // alone: accepted; its 936 passages beyond its share do not count
        foreach (var caller in new[] { "second", "third", "fourth" })
        {
            var full = Assert.Throws<Rank1OverloadedException>(() => queue.Add(caller, Rows(1000)));
            Assert.Contains("MaxQueuedPassages (256)", full.Message, StringComparison.Ordinal);
        }

        queue.Add("small", Rows(192)); // the big call is not shutting others out: it counts 64, the others fill the rest of 256
        Assert.Throws<Rank1OverloadedException>(() => queue.Add("another", Rows(1)));
        Assert.Equal(1000 + 192, queue.Count);
    }

    private static (string? Title, string Text)[] Passages(string topic, int count) =>
        Enumerable.Range(0, count).Select(i => ((string?)null, $"{topic} passage number {i} says something about {topic}.")).ToArray();

    [Fact]
    public async Task Engine_SmallWindowQueuedJustAfterABigOne_JoinsTheBatchBeforeTheBigOnesRemainingRows()
    {
        using var engine = ContinuousBatchingTests.LoadTiny(maxBatch: 2);
        var settings = new JudgeSettings { MaxThinkTokens = 3 };
        object big = new(), small = new();
        var admitted = new List<object>();
        engine.Scheduler.Admitted = (caller, _) =>
        {
            lock (admitted)
            {
                admitted.Add(caller);
            }
        };

        engine.Scheduler.Hold();
        var bigWindow = engine.JudgeWindowAsync("onions", null, Passages("onion", 40), settings with { Caller = big }).AsTask();
        var smallWindow = engine.JudgeWindowAsync("bridges", null, Passages("bridge", 2), settings with { Caller = small }).AsTask();
        engine.Scheduler.Resume();
        var (bigResults, smallResults) = (await bigWindow, await smallWindow);

        Assert.All(bigResults.Concat(smallResults), r => Assert.NotNull(r.Judgement));
        Assert.Equal(42, admitted.Count);
        Assert.Equal([big, small], admitted.Take(2)); // one slot each, though 40 big rows were queued first
        // The small window's second row waits only for its first, which leaves the batch within 5 steps of joining (3
        // reasoning tokens, </think>, its score): at most 4 big rows join in between. First come, first served would admit it 42nd.
        var lastSmall = admitted.LastIndexOf(small);
        Assert.InRange(lastSmall, 2, 7);

        // Each row still equals judging its passage alone.
        var alone = engine.Judge(new Rank1Input("bridges", Passages("bridge", 2)[1].Text), settings);
        Assert.Equal(alone.Reasoning, smallResults[1].Judgement!.Reasoning);
        Assert.InRange(Math.Abs(alone.Score - smallResults[1].Judgement!.Score), 0, 1e-4);
    }

    [Fact]
    public async Task Engine_CallerPastItsShare_GetsOverload_WhileAnotherCallersWindowIsAdmitted()
    {
        using var engine = ContinuousBatchingTests.LoadTiny(maxBatch: 2, perCaller: 8);
        var settings = new JudgeSettings { MaxThinkTokens = 2 };
        object msearch = new(), other = new();
        engine.Scheduler.Hold();
        var first = engine.JudgeWindowAsync("onions", null, Passages("onion", 6), settings with { Caller = msearch }).AsTask();
        var refused = await Assert.ThrowsAsync<Rank1OverloadedException>(() =>
            engine.JudgeWindowAsync("onions", null, Passages("onion", 3), settings with { Caller = msearch }).AsTask());
        Assert.Contains("MaxQueuedPassagesPerCaller (8)", refused.Message, StringComparison.Ordinal);
        var admitted = engine.JudgeWindowAsync("bridges", null, Passages("bridge", 6), settings with { Caller = other }).AsTask();
        Assert.Equal(12, engine.QueuedPassages);
        Assert.Equal(2, engine.WaitingCallers);
        Assert.Equal(6, engine.MostQueuedForOneCaller);
        engine.Scheduler.Resume();

        Assert.All(await first, r => Assert.NotNull(r.Judgement));
        Assert.All(await admitted, r => Assert.NotNull(r.Judgement));
        Assert.Equal(0, engine.QueuedPassages);
    }
}
