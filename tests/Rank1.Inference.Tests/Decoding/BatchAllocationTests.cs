using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Testing;
using Xunit.Abstractions;

namespace Rank1.Inference.Tests.Decoding;

/// <summary>
/// The managed memory a batch takes per judged row: a row of logits is a vocabulary of floats (594 KB on the tiny
/// model's 151,936 tokens, on the large-object heap), so a buffer per admitted row and another per forced end made a
/// window of 100 passages allocate 119 MiB and run two full collections.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class BatchAllocationTests(TinyEngineFixture fx, ITestOutputHelper output) : IClassFixture<TinyEngineFixture>
{
    private static readonly string[] Passages =
    [
        "Cutting an onion releases a gas that irritates the eyes and makes them water.",
        "French onion soup is made from caramelised onions and beef stock.",
        "People cry when they are sad.",
        "Suspension bridges hang the deck from cables draped between towers.",
    ];

    private BatchRow[] Rows(string query) =>
        Passages.Select(p => new BatchRow(fx.Engine.EncodePrompt(new Rank1Input(query, p)).ToArray(), 4, null, false, CancellationToken.None)).ToArray();

    private static JudgeTrace[] Judge(BatchRun run, BatchRow[] rows)
    {
        run.Admit(rows, CancellationToken.None);
        while (run.Count > 0)
        {
            run.Step(CancellationToken.None);
        }

        return rows.Select(r => r.Completion.GetAwaiter().GetResult()!).ToArray();
    }

    /// <summary>
    /// A batch that has judged rows before judges as many again, each cut by its budget and scored after a forced end,
    /// taking less managed memory than one row of logits for all of them: the rows' logits buffers and the forced ends'
    /// are the batch's own, reused, and the scores are those of a fresh batch bit for bit.
    /// </summary>
    [Fact]
    public void WarmBatch_JudgingRowsWithForcedEnds_AllocatesLessThanOneLogitsRow_AndScoresAsAFreshBatch()
    {
        var lm = fx.Engine.Model;
        var rowBytes = (long)lm.Signature.VocabularySize!.Value * sizeof(float);
        using var runOptions = new RunOptions();
        JudgeTrace[] fresh;
        using (var first = new BatchRun(lm, fx.Engine.Scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap))
        {
            fresh = Judge(first, Rows("why do bridges hang from cables"));
        }

        using var run = new BatchRun(lm, fx.Engine.Scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap);
        Judge(run, Rows("why do onions make you cry"));
        var rows = Rows("why do bridges hang from cables");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var warm = Judge(run, rows);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{rows.Length} rows allocated {allocated:N0} bytes");

        Assert.All(warm, t => Assert.Equal(ReasoningEnd.Budget, t.Judgement.End));
        Assert.True(allocated < rowBytes, $"{rows.Length} rows allocated {allocated:N0} bytes; one row of logits is {rowBytes:N0}");
        Assert.Equal(fresh.Select(t => (t.LogitTrue, t.LogitFalse)), warm.Select(t => (t.LogitTrue, t.LogitFalse)));
    }

    /// <summary>
    /// A step that keeps the logits of some rows only (those <see cref="BatchRun"/> scores next) gives those rows the
    /// logits, and every row the greedy token, of a step that keeps them all, bit for bit.
    /// </summary>
    [Fact]
    public void Step_KeepingTheLogitsOfOneRow_GivesItsLogitsAndEveryGreedyTokenOfAFullStep()
    {
        var lm = fx.Engine.Model;
        var prompts = Rows("why do onions make you cry").Select(r => r.Prompt).ToArray();
        using var runOptions = new RunOptions();
        using var full = new BatchDecodeState(lm, runOptions, fx.Engine.SharedPrefixCap);
        using var some = new BatchDecodeState(lm, runOptions, fx.Engine.SharedPrefixCap);
        full.Admit(prompts, SharedPrefix.Length(prompts));
        some.Admit(prompts, SharedPrefix.Length(prompts));
        for (var step = 0; step < 3; step++)
        {
            var next = full.Greedy.ToArray();
            Assert.Equal(next, some.Greedy);
            full.Step(next);
            some.Step(next, r => r == 2);
            Assert.Equal(full.Greedy, some.Greedy);
            Assert.Equal(full.Logits[2], some.Logits[2]);
        }
    }
}
