using Microsoft.Extensions.Time.Testing;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>
/// Fair queueing in front of the continuous batch: free rows go to the waiting caller with the fewest prompt tokens in
/// the batch (ties: the one served longest ago), one admission feeds a bounded number of prefill positions, the batch's
/// KV cache stays under its ceiling, one caller's queued passages are capped, and a lone big call never
/// shuts out other callers. First the queue alone (no model, every order exact), then through the engine.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class FairQueueingTests
{
    private static BatchRow[] Rows(int count) =>
        Enumerable.Range(0, count).Select(_ => new BatchRow([1, 2, 3], 4, null, false, CancellationToken.None)).ToArray();

    private static List<BatchRow> Take(FairQueue queue, int max) => queue.Take(max, int.MaxValue, (_, row) => row.TryStart());

    /// <summary>
    /// Rows answered while they wait (cancelled, or past their deadline) leave the queue at the next admission even when
    /// the batch has no free row (max 0): they held their places until a batch row freed, and a newcomer was refused.
    /// </summary>
    [Fact]
    public void Take_WithNoFreeBatchRow_StillDropsTheRowsAnsweredWhileTheyWaited()
    {
        var queue = new FairQueue(capacity: 4, perCaller: 4);
        var waiting = Rows(4);
        queue.Add("window", waiting);
        Assert.Throws<Rank1OverloadedException>(() => queue.Add("newcomer", Rows(1)));
        waiting[0].Cancel();
        waiting[2].Cancel();

        Assert.Empty(Take(queue, 0));

        Assert.Equal((2, 1, 2), (queue.Count, queue.WaitingCallers, queue.MostWaitingForOneCaller));
        queue.Add("newcomer", Rows(2)); // the places given back
        Assert.Equal(4, queue.Count);
        Assert.Equal([waiting[1], waiting[3]], Take(queue, 4).Where(waiting.Contains)); // the live rows kept their order
    }

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

    private static BatchRow[] Rows(int count, int length) =>
        Enumerable.Range(0, count).Select(_ => new BatchRow(Enumerable.Range(1, length).ToArray(), 4, null, false, CancellationToken.None)).ToArray();

    [Fact]
    public void Take_CallerWithLongPrompts_YieldsFreeRowsToACallerWithShortOnes()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var hostile = Rows(8, 2048);
        var short_ = Rows(8, 100);
        queue.Add("hostile", hostile);
        queue.Add("short", short_);

        // Shared by work, not rows: after one 2,048-token row, the short caller's rows join until they weigh as much.
        Assert.Equal([hostile[0], short_[0], short_[1], short_[2]], Take(queue, 4));
        short_[0].Complete(null);
        hostile[0].Complete(null);
        // The long caller, with nothing left in the batch, gets the next row; then the short one again (200 tokens against 2,048).
        Assert.Equal([hostile[1], short_[3]], Take(queue, 2));
    }

    [Fact]
    public void Take_StopsAtThePrefillBudget_CountingRowsTimesTheLongest_ButAlwaysTakesOneRow()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var small = Rows(4, 100);
        var big = Rows(2, 2048);
        queue.Add("small", small);
        queue.Add("big", big);

        // 100 + 2,048 would be fed padded as 2 x 2,048: past the budget, so the big row waits for the next admission.
        Assert.Equal([small[0]], queue.Take(8, 1024, (_, row) => row.TryStart()));
        Assert.Equal([big[0]], queue.Take(8, 1024, (_, row) => row.TryStart())); // alone, even past the budget
        Assert.Equal(small[1..4], queue.Take(8, 300, (_, row) => row.TryStart())); // 3 x 100 fits 300
    }

    [Fact]
    public void Take_LongRowsPastTheirLimit_WaitInTheQueue_WhileOtherCallersRowsAreTaken()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var hostile = Rows(4, 2048);
        var short_ = Rows(2, 100);
        queue.Add("hostile", hostile);
        Take(queue, 1);

        // One long row in flight apart (the limit 0): the hostile caller is passed over, the newcomer's rows are taken.
        queue.Add("short", short_);
        Assert.Equal(short_, queue.Take(8, 1024, BatchCache.Unbounded, longPrompt: 128, longRows: 0, (_, row) => row.TryStart()));
        Assert.Empty(queue.Take(8, 1024, BatchCache.Unbounded, longPrompt: 128, longRows: 0, (_, row) => row.TryStart()));
        // Room for one: exactly one long row, however many wait and however many rows are free.
        Assert.Equal([hostile[1]], queue.Take(8, int.MaxValue, BatchCache.Unbounded, longPrompt: 128, longRows: 1, (_, row) => row.TryStart()));
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public void Take_RowThatWouldWidenTheCachePastItsCeiling_WaitsWithTheRowsBehindIt_UntilTheBatchNarrows()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var short_ = Rows(3, 100); // each can reach 100 + 4 reasoning + </think> = 105 positions
        var long_ = Rows(1, 2048); // 2,053
        var after = Rows(2, 100);
        List<BatchRow> Take(BatchCache cache) => queue.Take(8, int.MaxValue, cache, (_, row) => row.TryStart());
        const long Ceiling = 4_200;

        queue.Add("short", short_);
        Assert.Equal(short_, Take(new BatchCache(0, 0, Ceiling))); // 3 x 105
        queue.Add("long", long_);
        queue.Add("after", after);
        // With three rows in the batch the long one would make it 4 x 2,053 wide: it waits, and so do the short rows
        // queued after it (first come, first served), however small.
        Assert.Empty(Take(new BatchCache(3, 105, Ceiling)));
        short_[0].Complete(null);
        short_[1].Complete(null);
        Assert.Equal(long_, Take(new BatchCache(1, 105, Ceiling))); // 2 x 2,053 fits; the next short row would make it 3 x 2,053
        short_[2].Complete(null);
        long_[0].Complete(null);
        Assert.Equal(after, Take(new BatchCache(0, 0, Ceiling)));

        // Into an empty batch a row goes whatever its length: nothing waits for ever.
        var huge = Rows(1, 5000);
        queue.Add("huge", huge);
        Assert.Equal(huge, Take(new BatchCache(0, 0, Ceiling)));
    }

    [Fact]
    public void Take_CancelledRowThatWouldNotFitTheCeiling_HoldsUpNobodyBehindIt()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        var running = Rows(3, 100);
        queue.Add("a", running);
        queue.Take(8, int.MaxValue, new BatchCache(0, 0, 4_200), (_, row) => row.TryStart());
        var hostile = Rows(1, 2048); // 4 x 2,053 would pass the ceiling, were it alive
        queue.Add("hostile", hostile);
        hostile[0].Cancel();
        var small = Rows(1, 100);
        queue.Add("b", small);

        Assert.Equal(small, queue.Take(8, int.MaxValue, new BatchCache(3, 105, 4_200), (_, row) => row.TryStart()));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Take_LateWindowRowThatWouldNotFitTheCeiling_IsAnsweredWithNull_AndHoldsUpNobodyBehindIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var queue = new FairQueue(capacity: 256, perCaller: 64, time);
        var late = new BatchRow(Enumerable.Range(1, 2048).ToArray(), 4, time.GetUtcNow().AddSeconds(1), skipIfLate: true, CancellationToken.None);
        queue.Add("window", [late]);
        var small = Rows(1, 100);
        queue.Add("b", small);
        time.Advance(TimeSpan.FromSeconds(1)); // its deadline passes while it waits (no timer has expired it)

        Assert.Equal(small, queue.Take(8, int.MaxValue, new BatchCache(3, 105, 4_200), (_, row) => row.TryStart()));
        Assert.True(late.Completion.IsCompleted);
        Assert.Null(await late.Completion);
        Assert.Equal(0, queue.Count);
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

        Assert.Equal(live, queue.Take(8, int.MaxValue, (_, row) => !row.IsDone && row.TryStart()));
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

    /// <summary>
    /// A window queued as it is tokenized is admitted whole (its rows reserved): the rows not yet queued count against
    /// both bounds as queued ones do, its caller is kept while they are to come (its queued rows judged meanwhile), and
    /// they stop counting once queued and taken, or given up.
    /// </summary>
    [Fact]
    public void Reserve_CountsAWindowsRowsNotYetQueued_AgainstBothBounds_UntilQueuedOrGivenUp()
    {
        var queue = new FairQueue(capacity: 8, perCaller: 6);
        queue.Reserve("window", 6);
        Assert.Equal((6, 6, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        Assert.Equal("This caller's share of the Rank1 engine's queue is full: 6 of its passages wait and 3 more would pass Rank1:Model:MaxQueuedPassagesPerCaller (6).",
            Assert.Throws<Rank1OverloadedException>(() => queue.Add("window", Rows(3))).Message);
        Assert.Equal(
            "The Rank1 engine's queue is full: 6 passages wait and 3 more would pass Rank1:Model:MaxQueuedPassages (8), each caller counted up to Rank1:Model:MaxQueuedPassagesPerCaller (6).",
            Assert.Throws<Rank1OverloadedException>(() => queue.Reserve("other", 3)).Message);

        var first = Rows(2);
        queue.Fill("window", first);
        Assert.Equal(first, Take(queue, 8));
        Assert.Equal(4, queue.Count);
        foreach (var row in first)
        {
            row.Complete(null);
        }

        Assert.Empty(Take(queue, 8)); // nothing waiting, nothing running: the caller is kept for the rows to come
        var second = Rows(2);
        queue.Fill("window", second);
        queue.Release("window", 2); // the last two failed on their input
        Assert.Equal(2, queue.Count);
        queue.Add("other", Rows(3)); // 2 + 3 of 8
        Assert.Equal(5, Take(queue, 8).Count);
        Assert.Equal(0, queue.Count);
        Assert.Throws<InvalidOperationException>(() => queue.Fill("window", Rows(1))); // past its reservation
    }

    /// <summary>
    /// Two windows of one caller (an msearch's, sharing its caller) reserved side by side and given up independently:
    /// each release gives back only its own places, so the other's rows still count (and may still be queued) until
    /// they are queued and taken, or given up in turn.
    /// </summary>
    [Fact]
    public void Release_OfOneOfACallersTwoReservations_GivesBackOnlyItsOwnPlaces()
    {
        var queue = new FairQueue(capacity: 8, perCaller: 6);
        queue.Reserve("msearch", 3);
        queue.Reserve("msearch", 2);
        Assert.Equal((5, 5, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));

        var first = Rows(1);
        queue.Fill("msearch", first); // the first window queues one row, and its two others fail on their input
        queue.Release("msearch", 2);
        Assert.Equal((3, 3, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        Assert.Equal(first, Take(queue, 8));
        Assert.Equal((2, 2, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers)); // the second's places

        var second = Rows(1);
        queue.Fill("msearch", second); // the second window queues one row, and its deadline passes before the other
        Assert.Equal((2, 2, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        queue.Release("msearch", 1);
        Assert.Equal((1, 1, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        Assert.Equal(second, Take(queue, 8));
        Assert.Equal((0, 0, 0), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        Assert.Throws<InvalidOperationException>(() => queue.Fill("msearch", Rows(1))); // nothing is reserved any more
    }

    /// <summary>
    /// Giving up more places than a caller holds reserved is a scheduler bug: refused, in a Release build too, with nothing
    /// given back. Clamped, it handed back the places its other call still holds and let the queue pass its bounds.
    /// </summary>
    [Fact]
    public void Release_OfMorePlacesThanTheCallerReserved_Throws_AndGivesBackNothing()
    {
        var queue = new FairQueue(capacity: 8, perCaller: 6);
        queue.Reserve("msearch", 3);
        queue.Add("msearch", Rows(1));
        Assert.Equal("Released 4 places of a caller holding 3 reserved.", Assert.Throws<InvalidOperationException>(() => queue.Release("msearch", 4)).Message);
        Assert.Equal((4, 4, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        Assert.Equal(
            "The Rank1 engine's queue is full: 4 passages wait and 5 more would pass Rank1:Model:MaxQueuedPassages (8), each caller counted up to Rank1:Model:MaxQueuedPassagesPerCaller (6).",
            Assert.Throws<Rank1OverloadedException>(() => queue.Reserve("other", 5)).Message);

        queue.Release("msearch", 3);
        Assert.Equal((1, 1, 1), (queue.Count, queue.MostWaitingForOneCaller, queue.WaitingCallers));
        Assert.Throws<InvalidOperationException>(() => queue.Release("msearch", 1)); // its queued row is not a reserved place
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
    public void Add_SeveralBigCallers_EachWeighsOneShare_UpToTheQueueBound()
    {
        var queue = new FairQueue(capacity: 256, perCaller: 64);
        queue.Add("first", Rows(300)); // alone: accepted; it counts its share (64) only
        queue.Add("second", Rows(300)); // before: refused (300 waiting + 300 - one excess of 236 > 256), though a front end admitted both
        queue.Add("third", Rows(1000));
        queue.Add("fourth", Rows(1000)); // 4 shares of 64: 256 of 256
        foreach (var caller in new[] { "fifth", "small" })
        {
            var full = Assert.Throws<Rank1OverloadedException>(() => queue.Add(caller, Rows(caller == "small" ? 1 : 1000)));
            Assert.Contains("MaxQueuedPassages (256)", full.Message, StringComparison.Ordinal);
        }

        Assert.Equal(2600, queue.Count);
        Assert.Equal(4, queue.WaitingCallers);
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
        var bigWindow = await ContinuousBatchingTests.QueueWindowAsync(engine, "onions", Passages("onion", 40), settings with { Caller = big });
        var smallWindow = await ContinuousBatchingTests.QueueWindowAsync(engine, "bridges", Passages("bridge", 2), settings with { Caller = small });
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
    public async Task Engine_CallerWithShortPassages_GetsTheFreeRowsAheadOfACallerWithLongOnes()
    {
        using var engine = ContinuousBatchingTests.LoadTiny(maxBatch: 4);
        var settings = new JudgeSettings { MaxThinkTokens = 2 };
        object hostile = new(), wellFormed = new();
        var admitted = new List<(object Caller, int Prompt)>();
        engine.Scheduler.Admitted = (caller, row) =>
        {
            lock (admitted)
            {
                admitted.Add((caller, row.Prompt.Length));
            }
        };

        var longText = string.Join(' ', Enumerable.Repeat("onions are layered vegetables grown in many gardens.", 80));
        engine.Scheduler.Hold();
        var hostileWindow = await ContinuousBatchingTests.QueueWindowAsync(engine, "onions", [.. Enumerable.Range(0, 4).Select(i => ((string?)null, $"{i} {longText}"))], settings with { Caller = hostile });
        var wellFormedWindow = await ContinuousBatchingTests.QueueWindowAsync(engine, "bridges", Passages("bridge", 4), settings with { Caller = wellFormed });
        engine.Scheduler.Resume();
        var (hostileResults, wellFormedResults) = (await hostileWindow, await wellFormedWindow);

        Assert.All(hostileResults.Concat(wellFormedResults), r => Assert.NotNull(r.Judgement));
        Assert.Equal(8, admitted.Count);
        var longPrompt = admitted[0].Prompt;
        Assert.InRange(longPrompt, BatchScheduler.PrefillBudget / 2 + 1, int.MaxValue); // two long rows never share an admission
        Assert.All(admitted.Where(a => a.Caller == wellFormed), a => Assert.InRange(a.Prompt * 3, 0, longPrompt - 1));
        // The long row came first (both callers had nothing in the batch), then the three free rows went to the short
        // passages, not one each as rows-based sharing would give.
        Assert.Equal([hostile, wellFormed, wellFormed, wellFormed], admitted.Take(4).Select(a => a.Caller));

        var alone = engine.Judge(new Rank1Input("bridges", Passages("bridge", 4)[2].Text), settings);
        Assert.Equal(alone.Reasoning, wellFormedResults[2].Judgement!.Reasoning);
        Assert.InRange(Math.Abs(alone.Score - wellFormedResults[2].Judgement!.Score), 0, 1e-4);
    }

    [Fact]
    public async Task Engine_LongPromptInTheBatch_NeverWidensTheCachePastItsCeiling_AndEveryRowIsJudged()
    {
        using var engine = ContinuousBatchingTests.LoadTiny(maxBatch: 4);
        var settings = new JudgeSettings { MaxThinkTokens = 2 };
        var longText = string.Join(' ', Enumerable.Repeat("onions are layered vegetables grown in many gardens.", 80));
        var longRow = engine.EncodePrompt(new Rank1Input("onions", $"0 {longText}")).Count + settings.MaxThinkTokens.Value + 1;
        // Room for two rows as long as the long prompt can grow: the tiny model's default ceiling (256 MiB) never
        // binds, so the test lowers it. Without the ceiling, the long row and three short ones share the batch at its width.
        var ceiling = 2L * longRow;
        engine.Scheduler.MaxCachePositions = ceiling;

        engine.Scheduler.Hold();
        var hostile = await ContinuousBatchingTests.QueueWindowAsync(engine, "onions", [.. Enumerable.Range(0, 4).Select(i => ((string?)null, $"{i} {longText}"))], settings with { Caller = new object() });
        var wellFormed = await ContinuousBatchingTests.QueueWindowAsync(engine, "bridges", Passages("bridge", 4), settings with { Caller = new object() });
        engine.Scheduler.Resume();

        Assert.All(await hostile, r => Assert.NotNull(r.Judgement));
        Assert.All(await wellFormed, r => Assert.NotNull(r.Judgement));
        Assert.InRange(engine.Scheduler.PeakCachePositions, longRow - 3, ceiling);
        Assert.InRange(engine.PeakBatchRows, 2, 4);
    }

    /// <summary>
    /// A window of long prompts (each prefilled apart, one chunk per step, while the batch decodes) no longer takes every
    /// free row: its rows beyond the one being prefilled wait in the fair queue. A short window arriving four steps in
    /// is admitted at the next step; before, the long window held all four rows (one decoding, three waiting to be
    /// prefilled) and the newcomer waited until the first long row had finished its reasoning.
    /// </summary>
    [Fact]
    public async Task Engine_ShortWindowArrivingWhileLongRowsArePrefilledApart_IsAdmittedAtTheNextStep()
    {
        using var engine = ContinuousBatchingTests.LoadTiny(maxBatch: 4);
        var longText = string.Join(' ', Enumerable.Repeat("onions are layered vegetables grown in many gardens.", 60));
        BatchRow Row(string query, string text, int budget) =>
            new(engine.EncodePrompt(new Rank1Input(query, text)).ToArray(), budget, null, false, CancellationToken.None);
        var hostile = Enumerable.Range(0, 4).Select(i => Row("onions", $"{i} {longText}", 16)).ToArray();
        var wellFormed = Passages("bridge", 2).Select(p => Row("bridges", p.Text, 2)).ToArray();
        // Each admitted alone (two would pass the prefill budget) and prefilled apart in several chunks.
        Assert.All(hostile, r => Assert.InRange(r.Prompt.Length, BatchScheduler.PrefillBudget / 2 + 1, BatchScheduler.PrefillBudget));
        Assert.All(wellFormed, r => Assert.InRange(r.Prompt.Length, 1, CausalLm.PrefillChunk));

        object hostileCaller = new(), newcomer = new();
        var admitted = new List<(object Caller, long Step)>();
        engine.Scheduler.Admitted = (caller, _) => admitted.Add((caller, engine.Scheduler.Steps)); // both hooks run on the batch thread
        var newcomerCall = new TaskCompletionSource<Task<JudgeTrace?[]>>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Stepped = steps =>
        {
            if (steps == 4)
            {
                newcomerCall.TrySetResult(engine.Scheduler.ScheduleAsync(newcomer, wellFormed, CancellationToken.None)); // queued before it returns
            }
        };

        engine.Scheduler.Hold();
        var hostileCall = engine.Scheduler.ScheduleAsync(hostileCaller, hostile, CancellationToken.None);
        engine.Scheduler.Resume();
        // Awaited through the calls, so a refusal fails the test rather than leaving its rows waiting; the timeout only
        // ends a broken run instead of hanging the suite.
        await hostileCall.WaitAsync(TimeSpan.FromMinutes(2));
        await (await newcomerCall.Task.WaitAsync(TimeSpan.FromMinutes(2))).WaitAsync(TimeSpan.FromMinutes(2));
        var traces = await Task.WhenAll(hostile.Concat(wellFormed).Select(r => r.Completion));

        Assert.All(traces, t => Assert.NotNull(t));
        Assert.Equal([(newcomer, 4L), (newcomer, 4L)], admitted.Where(a => a.Caller == newcomer));
        // The long rows were let in one at a time: the first into the empty batch, the second prefilled apart, the third
        // only once the second had joined (its prompt is several chunks, one per step).
        var hostileSteps = admitted.Where(a => a.Caller == hostileCaller).Select(a => a.Step).ToArray();
        Assert.Equal([0L, 1L], hostileSteps[..2]);
        Assert.InRange(hostileSteps[2], 1 + (hostile[1].Prompt.Length / CausalLm.PrefillChunk), long.MaxValue);

        var alone = engine.JudgeTraced(new Rank1Input("bridges", Passages("bridge", 2)[1].Text), new JudgeSettings { MaxThinkTokens = 2 }, CancellationToken.None);
        BatchDecodingTests.AssertSame(alone, traces[^1]!, 1);
    }

    [Fact]
    public void Engine_MaxBatchCacheMiB_SetsTheCeilingFromTheModelsShape()
    {
        // The tiny model: 2 layers x (K, V) x 2 KV heads x head size 8 x 4 bytes = 256 bytes a position, context 4,096.
        using var small = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxBatch = 8, MaxBatchCacheMiB = 1 });
        Assert.Equal((1 << 20) / 256, small.Scheduler.MaxCachePositions);
        using var byDefault = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxBatch = 8 });
        Assert.Equal(8 * 4096, byDefault.Scheduler.MaxCachePositions); // 256 MiB would be 1,048,576 positions: never more than MaxBatch whole contexts
    }

    [Fact]
    public async Task Engine_CallerPastItsShare_GetsOverload_WhileAnotherCallersWindowIsAdmitted()
    {
        using var engine = ContinuousBatchingTests.LoadTiny(maxBatch: 2, perCaller: 8);
        var settings = new JudgeSettings { MaxThinkTokens = 2 };
        object msearch = new(), other = new();
        engine.Scheduler.Hold();
        var first = await ContinuousBatchingTests.QueueWindowAsync(engine, "onions", Passages("onion", 6), settings with { Caller = msearch });
        var refused = await Assert.ThrowsAsync<Rank1OverloadedException>(() =>
            engine.JudgeWindowAsync("onions", null, Passages("onion", 3), settings with { Caller = msearch }).AsTask());
        Assert.Contains("MaxQueuedPassagesPerCaller (8)", refused.Message, StringComparison.Ordinal);
        var admitted = await ContinuousBatchingTests.QueueWindowAsync(engine, "bridges", Passages("bridge", 6), settings with { Caller = other });
        Assert.Equal(12, engine.QueuedPassages);
        Assert.Equal(2, engine.WaitingCallers);
        Assert.Equal(6, engine.MostQueuedForOneCaller);
        engine.Scheduler.Resume();

        Assert.All(await first, r => Assert.NotNull(r.Judgement));
        Assert.All(await admitted, r => Assert.NotNull(r.Judgement));
        Assert.Equal(0, engine.QueuedPassages);
    }
}
