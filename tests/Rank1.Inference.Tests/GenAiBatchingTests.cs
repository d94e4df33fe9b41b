using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>
/// Batching on the graph the onnxruntime-genai builder writes (GroupQueryAttention, no position_ids: each row's length
/// comes from its attention mask): the engine batches it, rows join and leave between steps, the shared prefix is
/// computed once and reused, rows cut short are scored from their own cache, and concurrent calls share decode steps.
/// Every judgement equals judging that passage alone.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class GenAiBatchingTests
{
    private const string Onions = "why do onions make people cry";
    private const string Bridges = "how do suspension bridges carry their load";

    private static readonly (string? Title, string Text)[] OnionPassages = ContinuousBatchingTests.Onions;

    private static readonly (string? Title, string Text)[] BridgePassages = ContinuousBatchingTests.Bridges;

    private static Rank1Engine Load(string path, int maxBatch) => Rank1Engine.Load(new Rank1EngineOptions
    {
        Path = path,
        ExecutionProvider = ExecutionProviderKind.Cpu,
        MaxThinkTokens = 8,
        MaxBatch = maxBatch,
    });

    public static TheoryData<string> GenAiModels => new() { TestPaths.TinyGenAiModel, TestPaths.TinyGenAiInt4Model, TestPaths.TinyGenAiInt4Block128Model };

    [Theory]
    [MemberData(nameof(GenAiModels))]
    public void RowsJoiningAndLeaving_SharedAndCachedPrefix_EachEqualsJudgingAlone(string path)
    {
        using var engine = Load(path, maxBatch: 4);
        Assert.Equal(KvLayout.LeftAligned, engine.Model.BatchLayout);
        Assert.Equal(4, engine.MaxBatch);

        BatchRow Row(string query, (string? Title, string Text) p, int budget) =>
            new(engine.EncodePrompt(new Rank1Input(query, p.Text, p.Title)).ToArray(), budget, null, false, CancellationToken.None);

        var first = OnionPassages.Select((p, i) => Row(Onions, p, 3 + (2 * i))).ToArray(); // budgets 3, 5, 7: rows leave at different steps
        var later = BridgePassages.Select(p => Row(Bridges, p, 4)).ToArray();
        var again = Row(Onions, OnionPassages[1], 2);
        using var runOptions = new RunOptions();
        using var run = new BatchRun(engine.Model, engine.Scorer, runOptions, TimeProvider.System, engine.SharedPrefixCap);
        run.Admit(first, CancellationToken.None);
        Assert.True(run.LastSharedPrefix >= SharedPrefix.MinLength, $"the onion prompts share {run.LastSharedPrefix} tokens");
        var onionPrefix = run.LastSharedPrefix;
        run.Step(CancellationToken.None);
        run.Step(CancellationToken.None);
        Assert.Equal(3, run.LastStepRows);

        run.Admit(later, CancellationToken.None);                  // join a running batch; the instruction comes from the prefix cache
        Assert.InRange(run.LastReusedPrefix, SharedPrefix.MinLength, run.LastSharedPrefix - 1);
        run.Step(CancellationToken.None);
        Assert.Equal(5, run.LastStepRows);
        var joined = false;
        while (run.Count > 0)
        {
            if (!joined && run.Count < 5)
            {
                run.Admit([again], CancellationToken.None);         // after rows left: the whole onion prefix is reused
                Assert.Equal(onionPrefix, run.LastReusedPrefix);
                joined = true;
            }

            run.Step(CancellationToken.None);
        }

        Assert.True(joined);
        var settings = (int budget) => new JudgeSettings { MaxThinkTokens = budget };
        for (var i = 0; i < first.Length; i++)
        {
            BatchDecodingTests.AssertSame(engine.JudgeTraced(new Rank1Input(Onions, OnionPassages[i].Text, OnionPassages[i].Title), settings(3 + (2 * i)), CancellationToken.None), Done(first[i]), i);
        }

        for (var i = 0; i < later.Length; i++)
        {
            BatchDecodingTests.AssertSame(engine.JudgeTraced(new Rank1Input(Bridges, BridgePassages[i].Text, BridgePassages[i].Title), settings(4), CancellationToken.None), Done(later[i]), 10 + i);
        }

        BatchDecodingTests.AssertSame(engine.JudgeTraced(new Rank1Input(Onions, OnionPassages[1].Text, OnionPassages[1].Title), settings(2), CancellationToken.None), Done(again), 20);
    }

    [Fact]
    public async Task ConcurrentCalls_ShareDecodeSteps_AndEachEqualsJudgingAlone()
    {
        using var engine = Load(TestPaths.TinyGenAiModel, maxBatch: 4);
        var settings = new JudgeSettings { MaxThinkTokens = 8 };

        // Held, the batch thread admits nothing until both calls are queued (each tokenizes on a thread of its own, the
        // first perhaps after the second): the first step takes four rows of two calls.
        engine.Scheduler.Hold();
        var queued = ContinuousBatchingTests.AllQueued(engine, 2);
        var all = engine.JudgeAllAsync(Onions, null, OnionPassages, settings).AsTask();
        var window = engine.JudgeWindowAsync(Bridges, null, BridgePassages, settings).AsTask();
        await queued.WaitAsync(TimeSpan.FromMinutes(1)); // a bound on a hang only
        engine.Scheduler.Resume();
        var (allResult, windowResult) = (await all, await window);
        Assert.Equal(4, engine.PeakBatchRows);

        for (var i = 0; i < OnionPassages.Length; i++)
        {
            AssertSame(engine.Judge(new Rank1Input(Onions, OnionPassages[i].Text, OnionPassages[i].Title), settings), allResult[i]);
        }

        for (var i = 0; i < BridgePassages.Length; i++)
        {
            AssertSame(engine.Judge(new Rank1Input(Bridges, BridgePassages[i].Text, BridgePassages[i].Title), settings), windowResult[i].Judgement!);
        }
    }

    private static JudgeTrace Done(BatchRow row)
    {
        Assert.Equal(TaskStatus.RanToCompletion, row.Completion.Status);
        return row.Completion.GetAwaiter().GetResult()!;
    }

    private static void AssertSame(Rank1Judgement alone, Rank1Judgement batched)
    {
        Assert.Equal(alone.End, batched.End);
        Assert.Equal(alone.Reasoning, batched.Reasoning);
        Assert.Equal(alone.ReasoningTokens, batched.ReasoningTokens);
        Assert.InRange(Math.Abs(alone.Score - batched.Score), 0, 1e-4);
    }
}
