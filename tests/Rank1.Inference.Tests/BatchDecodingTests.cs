using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;

namespace Rank1.Inference.Tests;

/// <summary>Decoding a window as one batch (left padding, masks, per-row positions) equals judging each passage alone.</summary>
public sealed class BatchDecodingTests(TinyEngineFixture fx) : IClassFixture<TinyEngineFixture>
{
    internal const string Query = "why do onions make people cry";

    // Different lengths on purpose, so rows are padded differently (ExactBatchingTests judges the same window).
    internal static readonly (string? Title, string Text)[] Window =
    [
        ("Onion tears", "Cutting an onion releases a gas that irritates the eyes and makes them water."),
        (null, "French onion soup is made from caramelised onions and beef stock, simmered for hours until sweet and dark."),
        ("Crying", "People cry when they are sad."),
        ("Eye drops", "Eye drops relieve dry eyes and irritation. 目薬 🧅"),
        (null, "Onions"),
    ];

    internal static void AssertSame(JudgeTrace alone, JudgeTrace batched, int row)
    {
        Assert.True(alone.Prompt.SequenceEqual(batched.Prompt), $"row {row}: prompt");
        Assert.True(alone.Generated.SequenceEqual(batched.Generated), $"row {row}: reasoning tokens differ: [{string.Join(",", alone.Generated)}] vs [{string.Join(",", batched.Generated)}]");
        Assert.True(alone.Scored.SequenceEqual(batched.Scored), $"row {row}: scored tokens");
        Assert.Equal(alone.Judgement.End, batched.Judgement.End);
        Assert.Equal(alone.Judgement.Reasoning, batched.Judgement.Reasoning);
        Assert.InRange(Math.Abs(alone.LogitTrue - batched.LogitTrue), 0, 1e-3);
        Assert.InRange(Math.Abs(alone.LogitFalse - batched.LogitFalse), 0, 1e-3);
        Assert.InRange(Math.Abs(alone.Judgement.Score - batched.Judgement.Score), 0, 1e-4);
    }

    [Theory]
    [InlineData(16, null)]
    [InlineData(5, "Only cooking advice counts.")]
    [InlineData(0, null)]
    public void Batch_EqualsEachPassageJudgedAlone(int budget, string? instructions)
    {
        var settings = new JudgeSettings { MaxThinkTokens = budget };
        var batched = fx.Engine.JudgeBatchTraced(Query, instructions, Window, settings, CancellationToken.None);
        Assert.Equal(Window.Length, batched.Count);
        for (var r = 0; r < Window.Length; r++)
        {
            AssertSame(fx.Engine.JudgeTraced(new Rank1Input(Query, Window[r].Text, Window[r].Title, instructions), settings, CancellationToken.None), batched[r], r);
        }
    }

    [Fact]
    public void Batch_RowsThatWriteThinkEnd_FinishEarlyAndAreScoredInTheBatch_OthersRunOn()
    {
        // Pretend a token that row 0 writes early is </think>: row 0 must finish there while other rows may go on.
        var probe = fx.Engine.JudgeTraced(new Rank1Input(Query, Window[0].Text, Window[0].Title), new JudgeSettings { MaxThinkTokens = 12 }, CancellationToken.None);
        var marker = probe.Generated[3];
        var ids = fx.Engine.TokenIds with { ThinkEnd = marker, EndOfText = fx.Engine.TokenIds.EndOfText.Where(i => i != marker).ToHashSet() };
        var engine = new Rank1Engine(fx.Engine.Model, fx.Engine.Tokenizer, ids, 12, TimeProvider.System); // shares the fixture's model: not disposed here

        var batched = engine.JudgeBatchTraced(Query, null, Window, null, CancellationToken.None);
        Assert.Equal(ReasoningEnd.Finished, batched[0].Judgement.End);
        Assert.Contains(batched, t => t.Judgement.End != ReasoningEnd.Finished || t.Generated.Count != batched[0].Generated.Count);
        for (var r = 0; r < Window.Length; r++)
        {
            AssertSame(engine.JudgeTraced(new Rank1Input(Query, Window[r].Text, Window[r].Title), null, CancellationToken.None), batched[r], r);
        }
    }

    /// <summary>
    /// A row cut by its budget has its forced end (the reasoning decoded, cut to its last sentence and encoded again
    /// with BPE) queued to the thread pool; when the pool never gets round to it (its queue long, or capped by the host:
    /// here a gate the test holds), the batch thread does not wait for it but computes it itself. Each forced end is
    /// computed exactly once (the pool items, let run afterwards, do nothing), and the tokens it feeds and the reasoning
    /// it reports are the scorer's forced end of its reasoning, as on the single-row path.
    /// </summary>
    [Fact]
    public async Task Batch_RowsCutByTheirBudget_WhenThePoolNeverRunsTheirEnding_AreScoredWithTheirForcedEnd_ComputedOnce()
    {
        var (scorer, computed) = CountingScorer();
        var rows = BudgetRows(5);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new ConcurrentQueue<Task>();
        using var options = new RunOptions();
        using var run = new BatchRun(fx.Engine.Model, scorer, options, TimeProvider.System, fx.Engine.SharedPrefixCap)
        {
            QueueEnding = work => held.Enqueue(gate.Task.ContinueWith(_ => work(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default)),
        };

        var batch = Task.Factory.StartNew(() => Drive(run, rows), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var stalled = false;
        try
        {
            await batch.WaitAsync(TimeSpan.FromMinutes(2)); // a bound on a stall, not on speed: the steps take well under a second
        }
        catch (TimeoutException)
        {
            stalled = true;
        }

        gate.SetResult();
        await batch;
        await Task.WhenAll(held);

        Assert.False(stalled, "the batch waited for endings the pool never ran");
        Assert.Equal(rows.Length, held.Count);
        Assert.Equal(rows.Length, computed.Value);
        await AssertForcedEnds(scorer, rows);
    }

    /// <summary>A row cancelled after its forced end was queued leaves the batch with it unclaimed: the pool item, run later, computes nothing.</summary>
    [Fact]
    public void Batch_ARowCancelledAfterItsEndingWasQueued_NeverHasItComputed()
    {
        var (scorer, computed) = CountingScorer();
        var row = BudgetRows(5)[0];
        var held = new List<Action>();
        using var options = new RunOptions();
        using var run = new BatchRun(fx.Engine.Model, scorer, options, TimeProvider.System, fx.Engine.SharedPrefixCap) { QueueEnding = held.Add };
        run.Admit([row], CancellationToken.None);
        while (row.Ending is null)
        {
            Assert.Equal(1, run.Count); // the row is still decoding: a row that left without an ending fails here instead of looping
            run.Step(CancellationToken.None);
        }

        row.Cancel();
        run.Step(CancellationToken.None);
        held.ForEach(work => work());

        Assert.Equal(0, run.Count);
        Assert.True(row.Completion.IsCanceled);
        Assert.Single(held);
        Assert.Equal(0, computed.Value);
    }

    /// <summary>An ending that throws fails its own row with that exception; the batch goes on and scores the others.</summary>
    [Fact]
    public async Task Batch_AnEndingThatThrows_FailsItsRowAlone()
    {
        var failure = new InvalidOperationException("ending failed");
        var scorer = ScorerFailing(1, failure);
        var rows = BudgetRows(5);
        using var options = new RunOptions();
        using var run = new BatchRun(fx.Engine.Model, scorer, options, TimeProvider.System, fx.Engine.SharedPrefixCap);

        Drive(run, rows);

        var failed = Assert.Single(rows, r => r.Completion.IsFaulted);
        Assert.Same(failure, failed.Completion.Exception!.InnerException);
        scorer.ForcedEndEncoding = null;
        foreach (var trace in await Task.WhenAll(rows.Where(r => r != failed).Select(r => r.Completion)))
        {
            Assert.Equal(ReasoningEnd.Budget, trace!.Judgement.End);
            Assert.Equal(scorer.ForcedEnd(trace.Generated, fx.Engine.Model.ContextLength - trace.Prompt.Count).Scored, trace.Scored);
        }
    }

    /// <summary>Judging a window in one batch, a row whose ending throws makes the call throw that exception itself, not an AggregateException around it.</summary>
    [Fact]
    public void JudgeAll_ARowWhoseEndingThrows_ThrowsThatException()
    {
        var failure = new InvalidOperationException("ending failed");
        var scorer = ScorerFailing(2, failure);

        var thrown = Assert.ThrowsAny<Exception>(() => BatchRun.JudgeAll(fx.Engine.Model, scorer, TimeProvider.System, BudgetRows(5), Window.Length, fx.Engine.SharedPrefixCap, CancellationToken.None));

        Assert.Same(failure, thrown);
    }

    /// <summary>
    /// Endings run the moment they are queued (here on the batch thread itself, as a pool item that starts at once):
    /// the batch thread reuses each one rather than computing it again, and the row is scored with its forced end.
    /// </summary>
    [Fact]
    public async Task Batch_EndingsComputedBeforeTheBatchThreadAsks_AreReused_ComputedOnce()
    {
        var (scorer, computed) = CountingScorer();
        var rows = BudgetRows(5);
        var queued = 0;
        using var options = new RunOptions();
        using var run = new BatchRun(fx.Engine.Model, scorer, options, TimeProvider.System, fx.Engine.SharedPrefixCap)
        {
            QueueEnding = work =>
            {
                queued++;
                work();
            },
        };

        Drive(run, rows);

        Assert.Equal(rows.Length, queued);
        Assert.Equal(rows.Length, computed.Value);
        await AssertForcedEnds(scorer, rows);
    }

    /// <summary>
    /// The batch thread's time on each row's ending is reported inside the step, before that row completes: the i-th
    /// report finds at most i - 1 rows completed, so a caller holding its row's result finds its ending's time counted.
    /// </summary>
    [Fact]
    public void Batch_EndingTimeOfARow_IsReportedBeforeTheRowCompletes()
    {
        var rows = BudgetRows(5);
        var completedAtReport = new List<int>();
        using var options = new RunOptions();
        using var run = new BatchRun(fx.Engine.Model, fx.Engine.Scorer, options, TimeProvider.System, fx.Engine.SharedPrefixCap)
        {
            EndingTimeSpent = _ => completedAtReport.Add(rows.Count(r => r.Completion.IsCompleted)),
        };

        Drive(run, rows);

        Assert.Equal(rows.Length, completedAtReport.Count);
        Assert.All(completedAtReport.Select((completed, i) => (completed, i)), c => Assert.True(c.completed <= c.i, $"report {c.i} found {c.completed} rows completed"));
    }

    /// <summary>An ending abandoned (its row left unscored) before anything computed it has no result to give: asking for one is a bug, and throws.</summary>
    [Fact]
    public void RowEnding_AbandonedBeforeItWasComputed_RefusesAResult()
    {
        var computed = 0;
        var held = new List<Action>();
        var ending = RowEnding.Start(() => (computed++.ToString(System.Globalization.CultureInfo.InvariantCulture), [1]), held.Add);

        ending.Abandon();
        held.ForEach(work => work());

        Assert.Throws<InvalidOperationException>(() => ending.Result());
        Assert.Equal(0, computed);
    }

    /// <summary>Each row was cut by its budget and scored with the scorer's forced end of its reasoning (computed here without the test's hook).</summary>
    private async Task AssertForcedEnds(Rank1Scorer scorer, BatchRow[] rows)
    {
        scorer.ForcedEndEncoding = null;
        foreach (var trace in await Task.WhenAll(rows.Select(r => r.Completion)))
        {
            Assert.Equal(ReasoningEnd.Budget, trace!.Judgement.End);
            var (reasoning, scored) = scorer.ForcedEnd(trace.Generated, fx.Engine.Model.ContextLength - trace.Prompt.Count);
            Assert.Equal(scored, trace.Scored);
            Assert.Equal(reasoning, trace.Judgement.Reasoning);
        }
    }

    /// <summary>A scorer that counts the forced ends it computes.</summary>
    private (Rank1Scorer Scorer, StrongBox<int> Computed) CountingScorer()
    {
        var scorer = new Rank1Scorer(fx.Engine.Tokenizer, fx.Engine.TokenIds, TimeProvider.System);
        var computed = new StrongBox<int>();
        scorer.ForcedEndEncoding = () => Interlocked.Increment(ref computed.Value);
        return (scorer, computed);
    }

    /// <summary>A scorer whose <paramref name="call"/>-th forced end (counted from 1) throws <paramref name="failure"/>.</summary>
    private Rank1Scorer ScorerFailing(int call, Exception failure)
    {
        var scorer = new Rank1Scorer(fx.Engine.Tokenizer, fx.Engine.TokenIds, TimeProvider.System);
        var calls = 0;
        scorer.ForcedEndEncoding = () =>
        {
            if (Interlocked.Increment(ref calls) == call)
            {
                throw failure;
            }
        };
        return scorer;
    }

    private BatchRow[] BudgetRows(int budget) =>
        Window.Select(p => new BatchRow(fx.Engine.EncodePrompt(new Rank1Input(Query, p.Text, p.Title)).ToArray(), budget, null, false, CancellationToken.None)).ToArray();

    private static void Drive(BatchRun run, BatchRow[] rows)
    {
        run.Admit(rows, CancellationToken.None);
        while (run.Count > 0)
        {
            run.Step(CancellationToken.None);
        }
    }

    [Fact]
    public void Batch_OneRowAndEmpty()
    {
        var one = fx.Engine.JudgeBatchTraced(Query, null, [Window[2]], new JudgeSettings { MaxThinkTokens = 4 }, CancellationToken.None);
        AssertSame(fx.Engine.JudgeTraced(new Rank1Input(Query, Window[2].Text, Window[2].Title), new JudgeSettings { MaxThinkTokens = 4 }, CancellationToken.None), Assert.Single(one), 0);
        Assert.Empty(fx.Engine.JudgeBatchTraced(Query, null, [], null, CancellationToken.None));
    }

    [Fact]
    public void Batch_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => fx.Engine.JudgeBatchTraced(Query, null, Window, null, cts.Token));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public void JudgeAll_AnyMaxBatch_EqualsEachPassageJudgedAlone(int maxBatch)
    {
        var engine = new Rank1Engine(fx.Engine.Model, fx.Engine.Tokenizer, fx.Engine.TokenIds, 6, TimeProvider.System, maxBatch); // shares the fixture's model
        var all = engine.JudgeAll(Query, null, Window);
        Assert.Equal(Window.Length, all.Count);
        for (var r = 0; r < Window.Length; r++)
        {
            var alone = engine.Judge(new Rank1Input(Query, Window[r].Text, Window[r].Title));
            Assert.Equal(alone.Reasoning, all[r].Reasoning);
            Assert.Equal(alone.End, all[r].End);
            Assert.InRange(Math.Abs(alone.Score - all[r].Score), 0, 1e-4);
        }
    }
}
