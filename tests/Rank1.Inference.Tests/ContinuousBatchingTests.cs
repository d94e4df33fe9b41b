using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>
/// Continuous batching: rows that join a running batch between steps (re-padding the rows already there), rows that
/// leave it, the shared prompt prefix computed once inside a batch and reused by later admissions, and the engine's
/// cross-request scheduler.
/// Every result must equal judging that passage alone.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class ContinuousBatchingTests(TinyEngineFixture fx) : IClassFixture<TinyEngineFixture>
{
    internal static readonly (string? Title, string Text)[] Onions =
    [
        ("Onion tears", "Cutting an onion releases a gas that irritates the eyes and makes them water."),
        (null, "French onion soup is made from caramelised onions and beef stock."),
        ("Crying", "People cry when they are sad."),
    ];

    internal static readonly (string? Title, string Text)[] Bridges =
    [
        ("Golden Gate", "The Golden Gate Bridge is a suspension bridge spanning the strait between San Francisco Bay and the Pacific Ocean, opened in 1937 after four years of work."),
        (null, "Suspension bridges hang the deck from cables draped between towers; the cables carry the load to anchorages on each bank, which is why they can span very long distances."),
    ];

    private BatchRow Row(string query, (string? Title, string Text) p, int budget) =>
        new(fx.Engine.EncodePrompt(new Rank1Input(query, p.Text, p.Title)).ToArray(), budget, null, false, CancellationToken.None);

    private JudgeTrace Alone(string query, (string? Title, string Text) p, int budget) =>
        fx.Engine.JudgeTraced(new Rank1Input(query, p.Text, p.Title), new JudgeSettings { MaxThinkTokens = budget }, CancellationToken.None);

    /// <summary>The trace of a row the run has completed (the run is synchronous: its rows are done when it is empty).</summary>
    private static JudgeTrace Done(BatchRow row)
    {
        Assert.Equal(TaskStatus.RanToCompletion, row.Completion.Status);
        return row.Completion.GetAwaiter().GetResult()!;
    }

    internal static Rank1Engine LoadTiny(int maxBatch, int maxQueued = 256, int perCaller = 64) => Rank1Engine.Load(new Rank1EngineOptions
    {
        Path = TestPaths.TinyModel,
        ExecutionProvider = ExecutionProviderKind.Cpu,
        MaxThinkTokens = 16,
        MaxBatch = maxBatch,
        MaxQueuedPassages = maxQueued,
        MaxQueuedPassagesPerCaller = perCaller,
    });

    /// <summary>
    /// Starts a window call and returns it once its rows are queued (or it ended without queueing them): a window is
    /// tokenized on a thread of its own, so the call itself returns before they are. With the batch thread held, windows
    /// queued one after another this way are admitted as if they came in this order at once. It waits for the window's
    /// feed to close, not for its first rows: a window is queued in parts as it is tokenized (Rank1Engine.QueueEvery on
    /// the engine's clock, the real one here), so on a loaded machine the first part may be queued alone. A window given no
    /// <see cref="JudgeSettings.Caller"/> gets one of its own here; one given a caller must be that caller's only call in flight.
    /// </summary>
    internal static async Task<Task<IReadOnlyList<PassageResult>>> QueueWindowAsync(Rank1Engine engine, string query, (string? Title, string Text)[] passages, JudgeSettings settings)
    {
        // Every call's feed closes (JudgeAllAsync's too): wait for this window's, known by its caller.
        var caller = settings.Caller ?? new object();
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Closed = c =>
        {
            if (ReferenceEquals(c, caller))
            {
                queued.TrySetResult();
            }
        };
        var window = engine.JudgeWindowAsync(query, null, passages, settings with { Caller = caller }).AsTask();
        await Task.WhenAny(queued.Task, window);
        engine.Scheduler.Closed = null;
        return window;
    }

    /// <summary>
    /// Completes once <paramref name="calls"/> calls have queued all their rows (each call's feed closed). Made before
    /// the calls start, with the batch thread held (<see cref="BatchScheduler.Hold"/>), so that they are admitted as if
    /// they came at once, however late this machine gets round to tokenizing one of them.
    /// </summary>
    internal static Task AllQueued(Rank1Engine engine, int calls)
    {
        var closed = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Closed = _ =>
        {
            if (Interlocked.Increment(ref closed) == calls)
            {
                engine.Scheduler.Closed = null;
                all.TrySetResult();
            }
        };
        return all.Task;
    }

    /// <summary>
    /// A window's passages share one query: it is cut to its token limit once per window, not once per passage (a
    /// hostile query is 8,192 characters through the tokenizer each time), and the prompts are those of each passage
    /// encoded alone.
    /// </summary>
    [Fact]
    public async Task Window_CutsItsQueryOnce_AndEachPromptIsThePassagesOwn()
    {
        using var engine = LoadTiny(maxBatch: 2);
        var query = new string('q', 20_000);
        var settings = new JudgeSettings { MaxThinkTokens = 1 };
        var passages = Onions.Take(4).ToArray();

        var results = await engine.JudgeWindowAsync(query, null, passages, settings);
        Assert.Equal(1, engine.QueryCuts);
        await engine.JudgeWindowAsync("onions", null, passages, settings);
        Assert.Equal(2, engine.QueryCuts);

        using var fresh = LoadTiny(maxBatch: 2);
        for (var i = 0; i < passages.Length; i++)
        {
            Assert.Equal(fresh.EncodePrompt(new Rank1Input(query, passages[i].Text, passages[i].Title)).Count, results[i].Judgement!.PromptTokens);
            Assert.True(results[i].Judgement!.Truncated);
        }
    }

    /// <summary>
    /// Every async entry point, with and without the batch, does its CPU work (tokenizing; without the batch the
    /// judging too) off the thread pool, even when called from a pool thread: at the token caps it is up to a second of
    /// CPU, and on pool threads it held back the proxy's other work (#18).
    /// </summary>
    [Theory]
    [InlineData("window", 2)]
    [InlineData("window", 1)]
    [InlineData("all", 2)]
    [InlineData("all", 1)]
    [InlineData("one", 2)]
    [InlineData("one", 1)]
    public async Task AsyncCall_FromAPoolThread_EncodesOffThePool(string call, int maxBatch)
    {
        using var engine = LoadTiny(maxBatch);
        var onPool = new System.Collections.Concurrent.ConcurrentQueue<bool>();
        engine.Encoding = () => onPool.Enqueue(Thread.CurrentThread.IsThreadPoolThread);
        var settings = new JudgeSettings { MaxThinkTokens = 2 };
        var passages = Onions.Take(2).ToArray();

        var judged = await Task.Run(async () => call switch
        {
            "window" => (await engine.JudgeWindowAsync("onions", null, passages, settings)).Count(r => r.Judgement is not null),
            "all" => (await engine.JudgeAllAsync("onions", null, passages, settings)).Count,
            _ => (await engine.JudgeAsync(new Rank1Input("onions", passages[0].Text, passages[0].Title), settings)) is not null ? 1 : 0,
        });

        Assert.Equal(call == "one" ? 1 : 2, judged);
        Assert.Equal(Enumerable.Repeat(false, judged), onPool);
    }

    [Fact]
    public void RowsJoiningAndLeavingBetweenSteps_EqualEachPassageJudgedAlone()
    {
        const string onions = "why do onions make people cry";
        const string bridges = "how do suspension bridges carry their load across a wide strait";
        var first = Onions.Select(p => Row(onions, p, 12)).ToArray();
        var longer = Bridges.Select(p => Row(bridges, p, 6)).ToArray();   // longer prompts: the running rows are re-padded
        var shorter = Row(onions, Onions[2], 3);                           // joins after rows have left

        using var runOptions = new RunOptions();
        using var run = new BatchRun(fx.Engine.Model, fx.Engine.Scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap);
        run.Admit(first, CancellationToken.None);
        Assert.Equal(SharedPrefix.Length(first.Select(r => r.Prompt).ToArray()), run.LastSharedPrefix);
        Assert.True(run.LastSharedPrefix >= SharedPrefix.MinLength, $"the three onion prompts share {run.LastSharedPrefix} tokens");
        for (var i = 0; i < 3; i++)
        {
            run.Step(CancellationToken.None);
        }

        Assert.True(longer.Min(r => r.Prompt.Length) > first.Max(r => r.Prompt.Length) + 3, "the joining prompts must be wider than the running rows");
        var onionPrefix = run.LastSharedPrefix;
        run.Admit(longer, CancellationToken.None);
        Assert.Equal(5, run.Count);

        // The bridge rows share the instruction with the onion rows: that part comes from the prefix cache, and only
        // the rest of the bridge rows' common prefix (their query) is computed.
        Assert.InRange(run.LastReusedPrefix, BatchDecodeState.MinPrefix, run.LastSharedPrefix - 1);
        var joined = false;
        while (run.Count > 0)
        {
            if (!joined && run.Count < 5)
            {
                run.Admit([shorter], CancellationToken.None);
                Assert.Equal(onionPrefix, run.LastReusedPrefix); // a later request for the same query: the whole query prefix is reused
                joined = true;
            }

            run.Step(CancellationToken.None);
        }

        Assert.True(joined, "the short row should have joined after others left");
        for (var r = 0; r < first.Length; r++)
        {
            BatchDecodingTests.AssertSame(Alone(onions, Onions[r], 12), Done(first[r]), r);
        }

        for (var r = 0; r < longer.Length; r++)
        {
            BatchDecodingTests.AssertSame(Alone(bridges, Bridges[r], 6), Done(longer[r]), 10 + r);
        }

        BatchDecodingTests.AssertSame(Alone(onions, Onions[2], 3), Done(shorter), 20);
    }

    [Fact]
    public void SharedPrefixPrefill_GivesTheLogitsOfAFullPrefill_Within1e4()
    {
        const string query = "why do onions make people cry";
        var prompts = Onions.Select(p => fx.Engine.EncodePrompt(new Rank1Input(query, p.Text, p.Title)).ToArray()).ToArray();
        var shared = SharedPrefix.Length(prompts);
        Assert.True(shared >= SharedPrefix.MinLength);

        using var runOptions = new RunOptions();
        using var once = new BatchDecodeState(fx.Engine.Model, runOptions, fx.Engine.SharedPrefixCap);
        once.Admit(prompts, shared);
        using var full = new BatchDecodeState(fx.Engine.Model, runOptions, fx.Engine.SharedPrefixCap);
        full.Admit(prompts, 0);
        Assert.Equal(full.Width, once.Width);

        // Then the same forced tokens into both: the caches must go on agreeing.
        int[] forced = [.. Enumerable.Range(0, 3).Select(i => prompts[i][^1])];
        for (var step = 0; step < 3; step++)
        {
            for (var r = 0; r < prompts.Length; r++)
            {
                var alone = ModelRuns.LogitsInOneStep(fx.Engine.Model, [.. prompts[r], .. forced.Take(step)]);
                Assert.InRange(MaxDiff(alone, once.Logits[r]), 0, 1e-4);
                Assert.InRange(MaxDiff(alone, full.Logits[r]), 0, 1e-4);
            }

            once.Step(Enumerable.Repeat(forced[step], prompts.Length).ToArray());
            full.Step(Enumerable.Repeat(forced[step], prompts.Length).ToArray());
        }
    }

    private static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Fact]
    public async Task ConcurrentCalls_ShareDecodeSteps_AndEachEqualsJudgingAlone()
    {
        using var engine = LoadTiny(maxBatch: 8);
        const string onions = "why do onions make people cry";
        const string bridges = "how do suspension bridges carry their load";
        var settings = new JudgeSettings { MaxThinkTokens = 16 };

        // Three callers at once, as three proxy searches would be. Held, the batch thread admits nothing until all three
        // are queued: each tokenizes on a thread of its own, and on a loaded machine the first call's six rows could be
        // judged to their end before the others were queued (the widest step then fed 6 rows).
        engine.Scheduler.Hold();
        var queued = AllQueued(engine, 3);
        var all = engine.JudgeAllAsync(onions, null, [.. Onions, .. Onions.Reverse()], settings).AsTask();
        var one = engine.JudgeAsync(new Rank1Input(bridges, Bridges[0].Text, Bridges[0].Title), settings).AsTask();
        var window = engine.JudgeWindowAsync(bridges, null, Bridges, settings).AsTask();
        await queued.WaitAsync(TimeSpan.FromMinutes(1)); // a bound on a hang only
        engine.Scheduler.Resume();
        var (allResult, oneResult, windowResult) = (await all, await one, await window);

        Assert.True(engine.PeakBatchRows > 6, $"rows of different calls should share steps; the widest step fed {engine.PeakBatchRows} rows");
        var expected = Onions.Concat(Onions.Reverse()).Select(p => engine.Judge(new Rank1Input(onions, p.Text, p.Title), settings)).ToArray();
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Reasoning, allResult[i].Reasoning);
            Assert.InRange(Math.Abs(expected[i].Score - allResult[i].Score), 0, 1e-4);
        }

        var bridge0 = engine.Judge(new Rank1Input(bridges, Bridges[0].Text, Bridges[0].Title), settings);
        Assert.Equal(bridge0.Reasoning, oneResult.Reasoning);
        Assert.InRange(Math.Abs(bridge0.Score - oneResult.Score), 0, 1e-4);
        Assert.Equal(bridge0.Reasoning, windowResult[0].Judgement!.Reasoning);
        Assert.InRange(Math.Abs(bridge0.Score - windowResult[0].Judgement!.Score), 0, 1e-4);
        Assert.NotNull(windowResult[1].Judgement);
    }

    [Fact]
    public async Task FullQueue_RefusesAtOnce_AndTheRunningCallStillCompletes()
    {
        using var engine = LoadTiny(maxBatch: 2, maxQueued: 3);
        var settings = new JudgeSettings { MaxThinkTokens = 16 };
        // Held, the batch thread admits nothing: the big call's nine rows stay queued while the second call asks, however
        // fast this machine judges. (A call tokenizes off the thread pool: the second call waits for the first one's rows
        // to be queued, or it could find the queue still empty.)
        engine.Scheduler.Hold();
        var bigQueued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Enqueued = _ => bigQueued.TrySetResult();
        var big = engine.JudgeAllAsync("onions", null, [.. Onions, .. Onions, .. Onions], settings).AsTask(); // 9 rows: accepted, the queue was empty
        await bigQueued.Task.WaitAsync(TimeSpan.FromMinutes(1));
        var refused = await Assert.ThrowsAsync<Rank1OverloadedException>(async () => await engine.JudgeAllAsync("bridges", null, Bridges, settings));
        Assert.Contains("MaxQueuedPassages (3)", refused.Message, StringComparison.Ordinal);
        engine.Scheduler.Resume();
        Assert.Equal(9, (await big).Count);
        Assert.Equal(2, (await engine.JudgeAllAsync("bridges", null, Bridges, settings)).Count); // drained: accepted again
    }

    /// <summary>
    /// Only the passages the model will judge count against the queue's bounds: a passage failing on its input while its
    /// window is tokenized gives its reserved place back at once, not when the whole window has been tokenized.
    /// </summary>
    [Fact]
    public async Task Window_PassageFailingOnItsInputWhileTokenized_GivesBackItsPlaceAtOnce()
    {
        using var engine = LoadTiny(maxBatch: 2);
        var waiting = new List<int>();
        engine.Encoding = () => waiting.Add(engine.QueuedPassages); // before each passage is encoded, on the tokenizing thread
        var results = await engine.JudgeWindowAsync("bridges", null, [.. Bridges, (null, "Spans.")], new JudgeSettings { MaxThinkTokens = 4, Truncate = false, MaxPassageTokens = 4 });
        engine.Encoding = null;

        Assert.Equal([3, 2, 1], waiting);
        Assert.Equal([true, true, false], results.Select(r => r.Error is not null));
        Assert.NotNull(results[2].Judgement);
        Assert.Equal(0, engine.QueuedPassages);
    }

    [Fact]
    public async Task CancelledCall_ReturnsAtOnce_OthersAreUnaffected()
    {
        using var engine = LoadTiny(maxBatch: 4);
        var settings = new JudgeSettings { MaxThinkTokens = 16 };
        using var cts = new CancellationTokenSource();
        // The call to cancel must still be running when it is cancelled, on a fast machine too: it thinks far longer than
        // the test takes, and it is cancelled only once the batch thread has admitted one of its rows.
        var firstAdmitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Admitted = (_, _) => firstAdmitted.TrySetResult();
        var cancelled = engine.JudgeAllAsync("onions", null, [.. Onions, .. Onions], new JudgeSettings { MaxThinkTokens = 30_000 }, cts.Token).AsTask();
        await firstAdmitted.Task;
        var other = engine.JudgeAllAsync("bridges", null, Bridges, settings).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        var results = await other;
        for (var i = 0; i < Bridges.Length; i++)
        {
            var alone = engine.Judge(new Rank1Input("bridges", Bridges[i].Text, Bridges[i].Title), settings);
            Assert.Equal(alone.Reasoning, results[i].Reasoning);
            Assert.InRange(Math.Abs(alone.Score - results[i].Score), 0, 1e-4);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Window_DeadlinePassedBeforeAnyStart_LeavesEveryPassageUnjudged(int maxBatch)
    {
        using var engine = LoadTiny(maxBatch);
        var results = await engine.JudgeWindowAsync("onions", null, Onions, new JudgeSettings { Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) });
        Assert.Equal(Onions.Length, results.Count);
        Assert.All(results, r => Assert.Same(PassageResult.NotStarted, r));

        // Without a deadline every passage is judged.
        Assert.All(await engine.JudgeWindowAsync("onions", null, Onions, new JudgeSettings { MaxThinkTokens = 2 }), r => Assert.NotNull(r.Judgement));
    }

    [Fact]
    public async Task WindowWaitingBehindAFullBatch_IsAnsweredAtItsDeadline_NotWhenASlotFrees()
    {
        // The engine's clock is a fake one: the window's rows are certainly queued before its deadline, so it is the
        // scheduler's expiry timer that answers them, not the tokenizing finding the deadline already passed.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxThinkTokens = 16, MaxBatch = 2 },
            timeProvider: clock);
        using var cts = new CancellationTokenSource();
        // The batch must be full before the window queues: with fair queueing a window queued while the hog still waits
        // would get one of the two rows.
        var hogAdmitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var admittedRows = 0;
        engine.Scheduler.Admitted = (_, _) =>
        {
            if (Interlocked.Increment(ref admittedRows) == 2)
            {
                hogAdmitted.TrySetResult();
            }
        };
        var hog = engine.JudgeAllAsync("onions", null, Onions.Take(2).ToArray(), new JudgeSettings { MaxThinkTokens = 30_000 }, cts.Token).AsTask();
        await hogAdmitted.Task;
        // Held, the batch thread runs no step and admits nothing: no slot can free up, so only the window's own deadline
        // timer can answer it, however fast or slow this machine is.
        engine.Scheduler.Hold();
        var window = await QueueWindowAsync(engine, "bridges", Bridges, new JudgeSettings { Deadline = clock.GetUtcNow().AddSeconds(1) });
        Assert.False(window.IsCompleted); // queued, waiting for a slot

        clock.Advance(TimeSpan.FromSeconds(1));
        // The timeout only ends a broken run (the window would wait for ever) instead of hanging the suite.
        Assert.All(await window.WaitAsync(TimeSpan.FromMinutes(1)), r => Assert.Same(PassageResult.NotStarted, r));
        Assert.False(hog.IsCompleted);
        await cts.CancelAsync();
        engine.Scheduler.Resume();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hog);
    }

    private static Rank1Engine LoadTiny(FakeTimeProvider clock, int maxThinkTokens, int maxQueued = 256, int perCaller = 64) => Rank1Engine.Load(new Rank1EngineOptions
    {
        Path = TestPaths.TinyModel,
        ExecutionProvider = ExecutionProviderKind.Cpu,
        MaxThinkTokens = maxThinkTokens,
        MaxBatch = 2,
        MaxQueuedPassages = maxQueued,
        MaxQueuedPassagesPerCaller = perCaller,
    }, timeProvider: clock);

    /// <summary>
    /// A tokenizer hook (<see cref="Rank1Engine.Encoding"/>): the second passage takes <see cref="Rank1Engine.QueueEvery"/>
    /// to tokenize, so the window's first two rows are queued, as one part, once it is; <paramref name="atTheThird"/> runs
    /// as the third passage is tokenized, before it is.
    /// </summary>
    private static Action FirstTwoQueuedThen(FakeTimeProvider clock, Action atTheThird)
    {
        var encodes = 0;
        return () =>
        {
            switch (Interlocked.Increment(ref encodes))
            {
                case 2:
                    clock.Advance(Rank1Engine.QueueEvery);
                    break;
                case 3:
                    atTheThird();
                    break;
            }
        };
    }

    /// <summary>
    /// A window whose tokenizing is slow has its first passages judged while the rest are still being tokenized: its rows
    /// are queued as they are tokenized (what is ready every Rank1Engine.QueueEvery), so a deadline that passes during
    /// tokenizing (10,000 documents took seconds on a busy host) still finds passages judged. Each is judged as alone.
    /// Before, no row was queued until every passage was tokenized.
    /// </summary>
    [Fact]
    public async Task Window_WhoseTokenizingIsSlow_HasItsFirstPassagesJudgedWhileTheRestAreTokenized()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = LoadTiny(clock, maxThinkTokens: 2);
        var firstTwoJudged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var judged = 0;
        engine.Scheduler.Admitted = (_, row) => _ = row.Completion.ContinueWith(
            t =>
            {
                if (t.IsCompletedSuccessfully && t.Result is not null && Interlocked.Increment(ref judged) == 2)
                {
                    firstTwoJudged.TrySetResult();
                }
            }, TaskScheduler.Default);
        var judgedBeforeTheThird = false;
        // The third passage is tokenized only once the first two are judged. (The timeout only ends a run where they are
        // never queued, instead of hanging the suite.)
        engine.Encoding = FirstTwoQueuedThen(clock, () => judgedBeforeTheThird = firstTwoJudged.Task.Wait(TimeSpan.FromMinutes(1)));
        var passages = Onions.Take(3).Concat(Bridges).ToArray();
        var settings = new JudgeSettings { MaxThinkTokens = 2, Deadline = clock.GetUtcNow().AddMinutes(10) };

        var results = await engine.JudgeWindowAsync("onions", null, passages, settings);

        Assert.True(judgedBeforeTheThird);
        engine.Encoding = null;
        for (var i = 0; i < passages.Length; i++)
        {
            var alone = engine.Judge(new Rank1Input("onions", passages[i].Text, passages[i].Title), new JudgeSettings { MaxThinkTokens = 2 });
            Assert.Equal(alone.Reasoning, results[i].Judgement!.Reasoning);
            Assert.InRange(Math.Abs(alone.Score - results[i].Judgement!.Score), 0, 1e-4);
        }
    }

    /// <summary>
    /// A window still being tokenized holds its place in the queue whole (its rows not yet queued are reserved): a later
    /// call of the same caller past its share, or of another caller past the queue's bound, is refused at once with the
    /// words of a refusal of rows queued at once; once the window is done its place is free again. Before, a window's rows
    /// counted only once all were tokenized, so the later calls were admitted past the bounds.
    /// </summary>
    [Fact]
    public async Task Window_BeingTokenized_CountsWholeAgainstTheQueueBounds()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = LoadTiny(clock, maxThinkTokens: 2, maxQueued: 8, perCaller: 6);
        var tokenizing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var encodes = 0;
        engine.Encoding = () =>
        {
            if (Interlocked.Increment(ref encodes) == 1)
            {
                tokenizing.TrySetResult();
                release.Wait(TimeSpan.FromMinutes(1)); // the timeout only ends a broken run
            }
        };
        var settings = new JudgeSettings { MaxThinkTokens = 2 };
        object msearch = new(), other = new();
        var passages = Onions.Concat(Onions).ToArray();
        var first = engine.JudgeWindowAsync("onions", null, passages, settings with { Caller = msearch }).AsTask();
        await tokenizing.Task.WaitAsync(TimeSpan.FromMinutes(1));

        var share = await Assert.ThrowsAsync<Rank1OverloadedException>(() => engine.JudgeWindowAsync("onions", null, Onions, settings with { Caller = msearch }).AsTask());
        var full = await Assert.ThrowsAsync<Rank1OverloadedException>(() => engine.JudgeWindowAsync("bridges", null, [.. Bridges, Bridges[0]], settings with { Caller = other }).AsTask());
        Assert.Equal(6, engine.QueuedPassages);
        release.Set();

        Assert.Equal(
            "This caller's share of the Rank1 engine's queue is full: 6 of its passages wait and 3 more would pass Rank1:Model:MaxQueuedPassagesPerCaller (6).",
            share.Message);
        Assert.Equal(
            "The Rank1 engine's queue is full: 6 passages wait and 3 more would pass Rank1:Model:MaxQueuedPassages (8), each caller counted up to Rank1:Model:MaxQueuedPassagesPerCaller (6).",
            full.Message);
        Assert.All(await first, r => Assert.NotNull(r.Judgement));
        Assert.Equal(0, engine.QueuedPassages);
        Assert.All(await engine.JudgeWindowAsync("bridges", null, [.. Bridges, Bridges[0]], settings with { Caller = other }), r => Assert.NotNull(r.Judgement));
    }

    /// <summary>
    /// A window whose tokenizing fails unexpectedly, or whose caller cancels, once its first rows are in the batch: the
    /// call fails (the tokenizer's exception, the cancellation), the rows already queued are cancelled and leave the batch
    /// (a row would think 30,000 tokens), and the window's place in the queue is given up: a window as large as the queue
    /// is then admitted and judged.
    /// </summary>
    [Theory]
    [InlineData("fault")]
    [InlineData("cancel")]
    public async Task Window_FailingOrCancelledWhileTokenized_LeavesNoRowInTheBatch_NorAPlaceInTheQueue(string how)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = LoadTiny(clock, maxThinkTokens: 30_000, maxQueued: 4, perCaller: 4);
        var admitted = new System.Collections.Concurrent.ConcurrentQueue<BatchRow>();
        var twoAdmitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Scheduler.Admitted = (_, row) =>
        {
            admitted.Enqueue(row);
            if (admitted.Count == 2)
            {
                twoAdmitted.TrySetResult();
            }
        };
        using var cts = new CancellationTokenSource();
        engine.Encoding = FirstTwoQueuedThen(clock, () =>
        {
            // The timeout only ends a run where they are never queued, instead of hanging the suite.
            twoAdmitted.Task.Wait(TimeSpan.FromMinutes(1));
            if (how == "fault")
            {
                throw new InvalidOperationException("the tokenizer broke");
            }

            cts.Cancel();
        });
        var window = engine.JudgeWindowAsync("onions", null, [.. Onions, Bridges[0]], new JudgeSettings(), cts.Token).AsTask();

        if (how == "fault")
        {
            Assert.Equal("the tokenizer broke", (await Assert.ThrowsAsync<InvalidOperationException>(() => window)).Message);
        }
        else
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => window);
        }

        Assert.Equal(2, admitted.Count);
        await Task.WhenAll(admitted.Select(r => r.Completion)).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.All(admitted, r => Assert.True(r.Completion.IsCanceled));
        Assert.Equal(0, engine.QueuedPassages);
        engine.Encoding = null;
        var next = await engine.JudgeWindowAsync("bridges", null, [.. Bridges, .. Bridges], new JudgeSettings { MaxThinkTokens = 2 }).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(next, r => Assert.NotNull(r.Judgement));
    }

    /// <summary>
    /// A window whose deadline passes while it is still being tokenized, its first two rows queued and judged (or still
    /// decoding, then cut short at the deadline): the call answers in passage order, those two judged, the rest not started
    /// (<see cref="PassageResult.NotStarted"/>, never tokenized); afterwards nothing of it waits (its places not queued are
    /// given back, <see cref="BatchScheduler.Feed.Close"/>), so a window as large as the queue is then admitted.
    /// </summary>
    [Theory]
    [InlineData("judged")]
    [InlineData("decoding")]
    public async Task Window_WhoseDeadlinePassesWhileTokenized_AnswersItsQueuedRows_TheRestNotStarted_AndGivesBackItsPlaces(string firstTwo)
    {
        var decoding = firstTwo == "decoding";
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = LoadTiny(clock, maxThinkTokens: 30_000, maxQueued: 6, perCaller: 6);
        var firstTwoReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var admitted = 0;
        var judged = 0;
        engine.Scheduler.Admitted = (_, row) =>
        {
            Interlocked.Increment(ref admitted);
            _ = row.Completion.ContinueWith(
                t =>
                {
                    if (!decoding && t.IsCompletedSuccessfully && t.Result is not null && Interlocked.Increment(ref judged) == 2)
                    {
                        firstTwoReady.TrySetResult();
                    }
                }, TaskScheduler.Default);
        };
        // Both rows admitted before a step: that step prefilled them, so they are decoding (30,000 tokens to think).
        engine.Scheduler.Stepped = _ =>
        {
            if (decoding && Volatile.Read(ref admitted) == 2)
            {
                firstTwoReady.TrySetResult();
            }
        };
        var settings = new JudgeSettings { MaxThinkTokens = decoding ? 30_000 : 2, Deadline = clock.GetUtcNow().AddSeconds(10) };
        var readyBeforeTheDeadline = false;
        var hook = FirstTwoQueuedThen(clock, () =>
        {
            // The timeout only ends a run where they are never ready, instead of hanging the suite.
            readyBeforeTheDeadline = firstTwoReady.Task.Wait(TimeSpan.FromMinutes(1));
            clock.Advance(TimeSpan.FromSeconds(10)); // the deadline passes while the third passage is tokenized
        });
        var encodes = 0;
        engine.Encoding = () =>
        {
            Interlocked.Increment(ref encodes);
            hook();
        };
        var passages = Onions.Concat(Bridges).Append(Onions[0]).ToArray(); // 6: the queue's whole

        var results = await engine.JudgeWindowAsync("onions", null, passages, settings).AsTask().WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(readyBeforeTheDeadline);
        Assert.Equal(3, encodes); // the rest were never tokenized
        Assert.Equal(passages.Length, results.Count);
        engine.Encoding = null;
        for (var i = 0; i < 2; i++)
        {
            Assert.Null(results[i].Error);
            Assert.NotNull(results[i].Judgement);
            if (!decoding)
            {
                var alone = engine.Judge(new Rank1Input("onions", passages[i].Text, passages[i].Title), new JudgeSettings { MaxThinkTokens = 2 });
                Assert.Equal(alone.Reasoning, results[i].Judgement!.Reasoning);
                Assert.InRange(Math.Abs(alone.Score - results[i].Judgement!.Score), 0, 1e-4);
            }
        }

        Assert.All(results.Skip(2), r => Assert.Same(PassageResult.NotStarted, r));
        Assert.Equal((0, 0, 0), (engine.QueuedPassages, engine.WaitingCallers, engine.MostQueuedForOneCaller));
        var next = await engine.JudgeWindowAsync("bridges", null, [.. Bridges, .. Bridges, .. Bridges], new JudgeSettings { MaxThinkTokens = 2 }).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(next, r => Assert.NotNull(r.Judgement));
    }

    /// <summary>
    /// A passage refused for its input (over its token limit, <see cref="JudgeSettings.Truncate"/> false) between two parts
    /// of a window queued as it is tokenized: each result is its own passage's (equal to judging it alone), the refused
    /// one has the input error that judging it alone throws, and the window's place is given back.
    /// </summary>
    [Fact]
    public async Task Window_WithAnInputErrorBetweenTwoQueuedParts_KeepsEachResultWithItsPassage()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = LoadTiny(clock, maxThinkTokens: 2);
        var parts = 0;
        engine.Scheduler.Enqueued = _ => Interlocked.Increment(ref parts);
        var encodes = 0;
        engine.Encoding = () =>
        {
            switch (Interlocked.Increment(ref encodes))
            {
                case 2: // the first two rows are queued once the second is tokenized
                case 4: // the fourth alone once it is: the third failed on its input
                    clock.Advance(Rank1Engine.QueueEvery);
                    break;
            }
        };
        var settings = new JudgeSettings { MaxThinkTokens = 2, Truncate = false, MaxPassageTokens = 64 };
        (string? Title, string Text) refused = ("Essay", string.Concat(Enumerable.Repeat("tear ", 100))); // 102 tokens
        (string? Title, string Text)[] passages = [Onions[0], Onions[1], refused, Bridges[0], Onions[2]];

        var results = await engine.JudgeWindowAsync("onions", null, passages, settings).AsTask().WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(3, parts); // [0, 1], [3], [4]
        engine.Encoding = null;
        Assert.Equal(passages.Length, results.Count);
        Assert.Null(results[2].Judgement);
        Assert.Equal(Assert.Throws<Rank1InputException>(() => engine.Judge(new Rank1Input("onions", refused.Text, refused.Title), settings)).Message, results[2].Error);
        foreach (var i in new[] { 0, 1, 3, 4 })
        {
            Assert.Null(results[i].Error);
            var alone = engine.Judge(new Rank1Input("onions", passages[i].Text, passages[i].Title), settings);
            Assert.Equal(alone.Reasoning, results[i].Judgement!.Reasoning);
            Assert.InRange(Math.Abs(alone.Score - results[i].Judgement!.Score), 0, 1e-4);
        }

        Assert.Equal((0, 0, 0), (engine.QueuedPassages, engine.WaitingCallers, engine.MostQueuedForOneCaller));
    }

    [Fact]
    public async Task Dispose_FailsWaitingCalls_AndRefusesNewOnes()
    {
        var engine = LoadTiny(maxBatch: 2);
        var running = engine.JudgeAllAsync("onions", null, [.. Onions, .. Onions, .. Onions], new JudgeSettings { MaxThinkTokens = 200 }).AsTask();
        engine.Dispose();
        // Rank1Engine.Dispose's contract: calls still waiting fail with ObjectDisposedException, not another fault and not cancelled.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => running);
        Assert.True(running.IsFaulted);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await engine.JudgeAsync(new Rank1Input("q", "p")));
    }
}
