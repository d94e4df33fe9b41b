using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>
/// Chunked prefill: a row with a long prompt that joins a batch whose rows are decoding is prefilled apart, one chunk of
/// <see cref="CausalLm.PrefillChunk"/> positions per decode step, so the rows already decoding get a step between its
/// chunks; then it joins, and every row still equals judging it alone. On both KV layouts (Optimum, left-padded with
/// position ids; the builder's GroupQueryAttention, right-padded).
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class ChunkedPrefillTests
{
    private const string Onions = "why do onions make people cry";
    private const string Bridges = "how do suspension bridges carry their load";

    public static TheoryData<string> Models => new() { TestPaths.TinyModel, TestPaths.TinyGenAiModel };

    private static Rank1Engine Load(string path) => Rank1Engine.Load(new Rank1EngineOptions
    {
        Path = path,
        ExecutionProvider = ExecutionProviderKind.Cpu,
        MaxThinkTokens = 8,
        MaxBatch = 4,
    });

    /// <summary>A passage whose prompt takes more than three prefill chunks.</summary>
    private static (string? Title, string Text) LongPassage =>
        ("Bridges", string.Join(' ', Enumerable.Repeat(ContinuousBatchingTests.Bridges[1].Text, 12)));

    [Theory]
    [MemberData(nameof(Models))]
    public void LongRowJoiningADecodingBatch_IsPrefilledOneChunkPerStep_AndEqualsJudgingAlone(string path)
    {
        using var engine = Load(path);
        BatchRow Row(string query, (string? Title, string Text) p, int budget) =>
            new(engine.EncodePrompt(new Rank1Input(query, p.Text, p.Title)).ToArray(), budget, null, false, CancellationToken.None);

        var decoding = Row(Onions, ContinuousBatchingTests.Onions[0], 12);
        var longRow = Row(Bridges, LongPassage, 4);
        var chunks = (longRow.Prompt.Length + CausalLm.PrefillChunk - 1) / CausalLm.PrefillChunk;
        Assert.True(chunks >= 3, $"the long prompt has {longRow.Prompt.Length} tokens");
        Assert.True(decoding.Prompt.Length <= CausalLm.PrefillChunk, $"the short prompt has {decoding.Prompt.Length} tokens");

        using var runOptions = new RunOptions();
        using var run = new BatchRun(engine.Model, engine.Scorer, runOptions, TimeProvider.System, engine.SharedPrefixCap);
        run.Admit([decoding], CancellationToken.None);
        run.Step(CancellationToken.None);
        run.Admit([longRow], CancellationToken.None);
        Assert.Equal(1, run.Prefilling);
        Assert.Equal(0, run.PrefillingFed); // nothing fed at admission: the decoding row does not wait for it

        // Each step: one decode step of the row already decoding, then one chunk of the long prompt.
        for (var step = 1; step < chunks; step++)
        {
            var generated = decoding.Generated.Count;
            run.Step(CancellationToken.None);
            Assert.Equal(1, run.LastStepRows);
            Assert.Equal(generated + 1, decoding.Generated.Count);
            Assert.Equal(step * CausalLm.PrefillChunk, run.PrefillingFed);
        }

        run.Step(CancellationToken.None); // the last chunk: the long row joins
        Assert.Equal(0, run.Prefilling);
        Assert.Equal(2, run.Count);
        run.Step(CancellationToken.None);
        Assert.Equal(2, run.LastStepRows);
        while (run.Count > 0)
        {
            run.Step(CancellationToken.None);
        }

        BatchDecodingTests.AssertSame(engine.JudgeTraced(new Rank1Input(Onions, ContinuousBatchingTests.Onions[0].Text, ContinuousBatchingTests.Onions[0].Title), new JudgeSettings { MaxThinkTokens = 12 }, CancellationToken.None), Done(decoding), 0);
        BatchDecodingTests.AssertSame(engine.JudgeTraced(new Rank1Input(Bridges, LongPassage.Text, LongPassage.Title), new JudgeSettings { MaxThinkTokens = 4 }, CancellationToken.None), Done(longRow), 1);
    }

    /// <summary>
    /// An admission that fails while it starts a row's prefill apart fails every row it took that the batch does not hold:
    /// the failing row and the rows after it (which the batch's own failure, FailAll, does not see). Before, they were
    /// never answered, and a caller with no deadline waited for ever.
    /// </summary>
    [Fact]
    public void AdmissionFailingAsItStartsAPrefillApart_FailsEveryRowItTook()
    {
        using var engine = Load(TestPaths.TinyModel);
        BatchRow Row(string query, (string? Title, string Text) p) =>
            new(engine.EncodePrompt(new Rank1Input(query, p.Text, p.Title)).ToArray(), 4, null, false, CancellationToken.None);
        var decoding = Row(Onions, ContinuousBatchingTests.Onions[0]);
        var longRow = Row(Bridges, LongPassage);
        var shortRow = Row(Bridges, ContinuousBatchingTests.Bridges[0]);
        using var runOptions = new RunOptions();
        using var run = new BatchRun(engine.Model, engine.Scorer, runOptions, TimeProvider.System, engine.SharedPrefixCap);
        run.Admit([decoding], CancellationToken.None);
        run.Step(CancellationToken.None);
        var failure = new InvalidOperationException("no memory for the prefix");
        run.PrefillingApart = _ => throw failure;

        Assert.Same(failure, Assert.Throws<InvalidOperationException>(() => run.Admit([longRow, shortRow], CancellationToken.None)));

        Assert.Same(failure, longRow.Completion.Exception?.InnerException);
        Assert.Same(failure, shortRow.Completion.Exception?.InnerException);
        Assert.False(decoding.Completion.IsCompleted); // the batch's own rows are left to FailAll
        Assert.Equal(1, run.Count);
    }

    [Fact]
    public void CancellingARowStillPrefilling_AnswersAtOnce_AndTheBatchGoesOnWithoutIt()
    {
        using var engine = Load(TestPaths.TinyModel);
        using var cts = new CancellationTokenSource();
        var decoding = new BatchRow(engine.EncodePrompt(new Rank1Input(Onions, ContinuousBatchingTests.Onions[0].Text, ContinuousBatchingTests.Onions[0].Title)).ToArray(), 6, null, false, CancellationToken.None);
        var longRow = new BatchRow(engine.EncodePrompt(new Rank1Input(Bridges, LongPassage.Text, LongPassage.Title)).ToArray(), 4, null, false, cts.Token);
        using var runOptions = new RunOptions();
        using var run = new BatchRun(engine.Model, engine.Scorer, runOptions, TimeProvider.System, engine.SharedPrefixCap);
        run.Admit([decoding], CancellationToken.None);
        run.Step(CancellationToken.None);
        run.Admit([longRow], CancellationToken.None);
        run.Step(CancellationToken.None);
        Assert.Equal(CausalLm.PrefillChunk, run.PrefillingFed);

        // What the scheduler does when a caller cancels: the row's answer is its cancellation, at once.
        cts.Cancel();
        longRow.Cancel();
        Assert.True(longRow.Completion.IsCanceled);
        run.Step(CancellationToken.None); // dropped before its next chunk
        Assert.Equal(0, run.Prefilling);
        Assert.Equal(1, run.Count);
        while (run.Count > 0)
        {
            run.Step(CancellationToken.None);
        }

        BatchDecodingTests.AssertSame(engine.JudgeTraced(new Rank1Input(Onions, ContinuousBatchingTests.Onions[0].Text, ContinuousBatchingTests.Onions[0].Title), new JudgeSettings { MaxThinkTokens = 6 }, CancellationToken.None), Done(decoding), 0);
    }

    [Fact]
    public async Task WindowRowStillPrefillingAtItsDeadline_IsAnsweredNotStarted_WhileAPairPastItsDeadlineIsStillPrefilled()
    {
        // A window row (skipIfLate) prefilled apart gets no more chunks once its deadline has passed: it is answered as not
        // started (null) at the next step. A single pair (not skipIfLate) is always judged, so it goes on being prefilled.
        using var engine = Load(TestPaths.TinyModel);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(1);
        var prompt = engine.EncodePrompt(new Rank1Input(Bridges, LongPassage.Text, LongPassage.Title)).ToArray();
        var decoding = new BatchRow(engine.EncodePrompt(new Rank1Input(Onions, ContinuousBatchingTests.Onions[0].Text, ContinuousBatchingTests.Onions[0].Title)).ToArray(), 8, null, false, CancellationToken.None);
        var windowRow = new BatchRow(prompt, 4, deadline, skipIfLate: true, CancellationToken.None);
        var pairRow = new BatchRow(prompt, 4, deadline, skipIfLate: false, CancellationToken.None);
        using var runOptions = new RunOptions();
        using var run = new BatchRun(engine.Model, engine.Scorer, runOptions, clock, engine.SharedPrefixCap);
        run.Admit([decoding], CancellationToken.None);
        run.Step(CancellationToken.None);
        run.Admit([windowRow, pairRow], CancellationToken.None);
        run.Step(CancellationToken.None);
        Assert.Equal((2, CausalLm.PrefillChunk), (run.Prefilling, run.PrefillingFed)); // one chunk of the window row before its deadline

        clock.Advance(TimeSpan.FromSeconds(1));
        run.Step(CancellationToken.None);

        Assert.Equal(TaskStatus.RanToCompletion, windowRow.Completion.Status);
        Assert.Null(await windowRow.Completion);
        Assert.Equal((1, CausalLm.PrefillChunk), (run.Prefilling, run.PrefillingFed)); // the pair's first chunk, fed in this step
        Assert.False(pairRow.IsDone);
    }

    private static JudgeTrace Done(BatchRow row)
    {
        Assert.Equal(TaskStatus.RanToCompletion, row.Completion.Status);
        return row.Completion.GetAwaiter().GetResult()!;
    }
}
