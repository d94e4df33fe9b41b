using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
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

    private BatchRow[] Rows(string query) => Rows(fx.Engine, query);

    private static BatchRow[] Rows(Rank1Engine engine, string query) =>
        Passages.Select(p => new BatchRow(engine.EncodePrompt(new Rank1Input(query, p)).ToArray(), 4, null, false, CancellationToken.None)).ToArray();

    private static JudgeTrace[] Judge(BatchRun run, BatchRow[] rows)
    {
        run.Admit(rows, CancellationToken.None);
        return Finish(run, rows);
    }

    private static JudgeTrace[] Finish(BatchRun run, BatchRow[] rows)
    {
        while (run.Count > 0)
        {
            run.Step(CancellationToken.None);
        }

        return rows.Select(r => r.Completion.GetAwaiter().GetResult()!).ToArray();
    }

    /// <summary>
    /// A batch that has judged rows before judges as many again, taking less managed memory than one row of logits for
    /// all of them: the rows' logits buffers and the forced ends' are the batch's own, reused, one per row (no two rows
    /// share one), and the scores are those of a fresh batch bit for bit, both the score of a row that writes
    /// &lt;/think&gt; (read from its reused row buffer) and those of the rows cut by their budget (scored after a forced end).
    /// </summary>
    [Fact]
    public void WarmBatch_JudgingRows_AllocatesLessThanOneLogitsRow_GivesEachRowItsOwnBuffer_AndScoresAsAFreshBatch()
    {
        var lm = fx.Engine.Model;
        var rowBytes = (long)lm.Signature.VocabularySize!.Value * sizeof(float);
        using var runOptions = new RunOptions();

        // Pretend a token that row 0 writes early is </think> (as BatchDecodingTests does): row 0 finishes and is scored
        // from the batch's logits, the others are cut by their budget.
        JudgeTrace[] probe;
        using (var probing = new BatchRun(lm, fx.Engine.Scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap))
        {
            probe = Judge(probing, Rows("why do bridges hang from cables"));
        }

        var marker = probe[0].Generated[1];
        var ids = fx.Engine.TokenIds with { ThinkEnd = marker, EndOfText = fx.Engine.TokenIds.EndOfText.Where(i => i != marker).ToHashSet() };
        var scorer = new Rank1Scorer(fx.Engine.Tokenizer, ids, TimeProvider.System);
        JudgeTrace[] fresh;
        using (var first = new BatchRun(lm, scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap))
        {
            fresh = Judge(first, Rows("why do bridges hang from cables"));
        }

        using var run = new BatchRun(lm, scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap);
        Judge(run, Rows("why do onions make you cry"));
        var rows = Rows("why do bridges hang from cables");
        var before = GC.GetAllocatedBytesForCurrentThread();
        run.Admit(rows, CancellationToken.None);
        var allocatedByAdmission = GC.GetAllocatedBytesForCurrentThread() - before;
        var buffers = run.State.Logits.ToArray();
        var warm = Finish(run, rows);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{rows.Length} rows allocated {allocated:N0} bytes ({allocatedByAdmission:N0} in their admission)");

        Assert.Equal(rows.Length, buffers.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.Equal(ReasoningEnd.Finished, warm[0].Judgement.End);
        Assert.Contains(warm, t => t.Judgement.End == ReasoningEnd.Budget);
        Assert.True(allocated < rowBytes, $"{rows.Length} rows allocated {allocated:N0} bytes; one row of logits is {rowBytes:N0}");
        Assert.Equal(fresh.Select(t => (t.Judgement.End, t.LogitTrue, t.LogitFalse)), warm.Select(t => (t.Judgement.End, t.LogitTrue, t.LogitFalse)));
    }

    /// <summary>
    /// A row whose prompt is longer than one prefill chunk, joining a warm batch whose rows are decoding, is prefilled
    /// apart (<see cref="AsidePrefill"/>) into a logits buffer of the batch's, which the batch takes over when it joins:
    /// no new row of logits for it, where its prefill took a new one and its join another.
    /// </summary>
    [Fact]
    public void WarmBatch_LongRowPrefilledApart_JoinsInTheBatchsBuffer_AllocatingLessThanOneLogitsRow()
    {
        var lm = fx.Engine.Model;
        var rowBytes = (long)lm.Signature.VocabularySize!.Value * sizeof(float);
        using var runOptions = new RunOptions();
        using var run = new BatchRun(lm, fx.Engine.Scorer, runOptions, TimeProvider.System, fx.Engine.SharedPrefixCap);
        Judge(run, Rows("why do onions make you cry"));
        var decoding = Rows("why do bridges hang from cables")[0];
        var longPassage = string.Join(' ', Enumerable.Repeat(Passages[3], 20));
        var longRow = new BatchRow(fx.Engine.EncodePrompt(new Rank1Input("why do bridges hang from cables", longPassage)).ToArray(), 4, null, false, CancellationToken.None);
        Assert.True(longRow.Prompt.Length > CausalLm.PrefillChunk, $"the long prompt has {longRow.Prompt.Length} tokens");

        var before = GC.GetAllocatedBytesForCurrentThread();
        run.Admit([decoding], CancellationToken.None);
        run.Step(CancellationToken.None);
        run.Admit([longRow], CancellationToken.None);
        Assert.Equal(1, run.Prefilling);
        Finish(run, [decoding, longRow]);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"a decoding row and a long row allocated {allocated:N0} bytes");

        Assert.True(allocated < rowBytes, $"a decoding row and a long row allocated {allocated:N0} bytes; one row of logits is {rowBytes:N0}");
    }

    public static TheoryData<string> Models => new() { TestPaths.TinyModel, TestPaths.TinyFp16Model, TestPaths.TinyGenAiModel, TestPaths.TinyGenAiFp16Model };

    /// <summary>
    /// A step that keeps the logits of some rows only (those <see cref="BatchRun"/> scores next) gives those rows the
    /// logits, and every row the greedy token, of a step that keeps them all, bit for bit: right-aligned (a new cache
    /// per step) and left-aligned (the step written in place), with fp32 logits (the greedy token read in ONNX
    /// Runtime's output) and fp16 ones (converted into the row's buffer first).
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Step_KeepingTheLogitsOfOneRow_GivesItsLogitsAndEveryGreedyTokenOfAFullStep(string path)
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = path, ExecutionProvider = ExecutionProviderKind.Cpu });
        var lm = engine.Model;
        var prompts = Rows(engine, "why do onions make you cry").Select(r => r.Prompt).ToArray();
        using var runOptions = new RunOptions();
        using var full = new BatchDecodeState(lm, runOptions, engine.SharedPrefixCap);
        using var some = new BatchDecodeState(lm, runOptions, engine.SharedPrefixCap);
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

    /// <summary>
    /// A judgement on the single-row path copies one row of logits out of ONNX Runtime's output, its scoring step's:
    /// its prompt's and reasoning's steps read their greedy token in place, as a batch step does for the rows it does
    /// not score (a copy at every step before, 594 KB each on the tiny model's vocabulary). Its tokens are the argmax of
    /// full logits, and its score's logits those of the same steps keeping every row, bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void SingleRowJudgement_CopiesTheLogitsOfItsScoringStepOnly_AndScoresAsFullCopies(string path)
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = path, ExecutionProvider = ExecutionProviderKind.Cpu });
        var lm = engine.Model;
        var before = lm.LogitsRowsCopied;
        var trace = engine.JudgeTraced(new Rank1Input("why do onions make you cry", Passages[0]), new JudgeSettings { MaxThinkTokens = 6 }, CancellationToken.None);
        Assert.Equal(1, lm.LogitsRowsCopied - before);

        Assert.NotEqual(ReasoningEnd.Finished, trace.Judgement.End); // a forced end: fed after the prompt alone, as below
        Assert.Equal(ModelRuns.Greedy(lm, trace.Prompt, trace.Generated.Count).Tokens, trace.Generated);
        using var runOptions = new RunOptions();
        using var full = lm.Begin(runOptions);
        full.Step(trace.Prompt.ToArray());
        full.Step(trace.Scored.ToArray());
        Assert.Equal((full.Logits[engine.TokenIds.True], full.Logits[engine.TokenIds.False]), (trace.LogitTrue, trace.LogitFalse));
    }

    /// <summary>
    /// A decode step of a warm batch allocates less than a quarter of its attention mask (rows × width longs): its ids,
    /// positions and mask are written into buffers the batch keeps, where a step made new ones (the masks were a third
    /// of what a window of 100 passages allocated beside its logits); what is left is ONNX Runtime's own objects of a run.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void WarmBatchStep_AllocatesLessThanAQuarterOfItsMask(string path)
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = path, ExecutionProvider = ExecutionProviderKind.Cpu });
        var longer = string.Join(' ', Enumerable.Repeat(Passages[3], 40)); // a mask of 4 rows × 600 columns or so
        var prompts = Passages.Select(p => engine.EncodePrompt(new Rank1Input("why do bridges hang from cables", $"{p} {longer}")).ToArray()).ToArray();
        using var runOptions = new RunOptions();
        using var state = new BatchDecodeState(engine.Model, runOptions, engine.SharedPrefixCap);
        state.Admit(prompts, SharedPrefix.Length(prompts));
        var next = state.Greedy.ToArray();
        state.Step(next); // the first step sizes the batch's buffers

        const int Steps = 4;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Steps; i++)
        {
            for (var r = 0; r < next.Length; r++)
            {
                next[r] = state.Greedy[r];
            }

            state.Step(next);
        }

        var perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / Steps;
        var maskBytes = (long)state.Rows * state.Width * sizeof(long);
        output.WriteLine($"{Path.GetFileName(path)}: {perStep:N0} bytes a step; its mask is {maskBytes:N0} ({state.Rows} rows × {state.Width} columns)");
        Assert.True(perStep < maskBytes / 4, $"a step allocated {perStep:N0} bytes; its mask is {maskBytes:N0}");
    }
}
