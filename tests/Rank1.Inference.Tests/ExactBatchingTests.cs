using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>
/// <see cref="Rank1EngineOptions.ExactBatching"/>: by default a graph batches only when its batched rows equal the rows
/// alone within its precision; turned off, a graph whose batched rows differ only by a function of their own tokens (a
/// kernel's batch-dependent rounding: ONNX Runtime's <c>MatMulNBits</c> with int8 activations at blocks of 64 or more
/// sums a row differently beside another) batches too, and one whose rows see their neighbours (all of them, or only
/// the row before) or their padding still does not. Driven on the tiny int4 builder graph deformed at steps of more than one row (<c>make-test-model.py
/// --deform-batch</c>), which behaves the same on every CPU.
/// </summary>
public sealed class ExactBatchingTests
{
    private const string Query = BatchDecodingTests.Query;

    private static (string? Title, string Text)[] Window => BatchDecodingTests.Window;

    [Fact]
    public void ByDefault_AGraphWhoseRowsDifferOnlyByRounding_DecodesOneRowAtATime_AndTheWarningNamesTheSetting()
    {
        var log = new FakeLogger();
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiInt4DeformRoundingModel), ExecutionProviderKind.Cpu, logger: log);
        Assert.Null(lm.BatchLayout);
        var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1013);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Matches(@"logits land [0-9.eE+-]+ away from the same row's alone \(tolerance [0-9.eE+-]+\)\. Each row's logits depend on its own tokens only", warning.Message);
        Assert.Contains("Rank1:Model:ExactBatching=false", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id == 1014);
    }

    [Fact]
    public void WithoutExactBatching_ThatGraphBatches_AndTheLoadSaysHowFarItsRowsLand()
    {
        var log = new FakeLogger();
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiInt4DeformRoundingModel), ExecutionProviderKind.Cpu, logger: log, exactBatching: false);
        Assert.Equal(KvLayout.LeftAligned, lm.BatchLayout);
        var info = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1014);
        Assert.Equal(LogLevel.Information, info.Level);
        Assert.Contains(lm.Folder.GraphPath, info.Message, StringComparison.Ordinal);
        Assert.Matches(@"logits land [0-9.eE+-]+ away from the same row's alone \(tolerance [0-9.eE+-]+\), only by the kernels' rounding", info.Message);
        Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id == 1013);
    }

    [Theory]
    [InlineData("neighbour", "a row's logits change with the row beside it")]
    [InlineData("previous", "a row's logits change with the row beside it")]
    [InlineData("padding", "a row's logits change with what the columns outside its own positions hold")]
    public void WithoutExactBatching_AGraphWhoseRowsSeeTheirNeighbourOrTheirPadding_StillDecodesOneRowAtATime(string deformation, string why)
    {
        var path = deformation switch
        {
            "neighbour" => TestPaths.TinyGenAiInt4DeformNeighbourModel,
            "previous" => TestPaths.TinyGenAiInt4DeformPreviousModel,
            _ => TestPaths.TinyGenAiInt4DeformPaddingModel,
        };
        var log = new FakeLogger();
        using var lm = CausalLm.Load(ModelFolder.Open(path), ExecutionProviderKind.Cpu, logger: log, exactBatching: false);
        Assert.Null(lm.BatchLayout);
        var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1013);
        Assert.Contains(why, warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ExactBatching", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id == 1014);
    }

    /// <summary>
    /// Graphs that take position ids (Optimum's) batch right-aligned under the same check: the tiny Optimum graph
    /// deformed the same way is refused by default and batches without exact batching; every Optimum test graph that
    /// batches exactly (fp32, fp16, int4) batches with nothing to say.
    /// </summary>
    [Fact]
    public void RightAlignedGraphs_AreCheckedTheSameWay()
    {
        var log = new FakeLogger();
        using (var exact = CausalLm.Load(ModelFolder.Open(TestPaths.TinyDeformRoundingModel), ExecutionProviderKind.Cpu, logger: log))
        {
            Assert.Null(exact.BatchLayout);
            var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1013);
            Assert.Contains("Each row's logits depend on its own tokens only", warning.Message, StringComparison.Ordinal);
            Assert.Contains("Rank1:Model:ExactBatching=false", warning.Message, StringComparison.Ordinal);
        }

        log = new FakeLogger();
        using (var batching = CausalLm.Load(ModelFolder.Open(TestPaths.TinyDeformRoundingModel), ExecutionProviderKind.Cpu, logger: log, exactBatching: false))
        {
            Assert.Equal(KvLayout.RightAligned, batching.BatchLayout);
            Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1014);
        }

        foreach (var path in new[] { TestPaths.TinyModel, TestPaths.TinyFp16Model, TestPaths.TinyInt4Model, TestPaths.TinyGenAiOptimumModel })
        {
            var quiet = new FakeLogger();
            using var lm = CausalLm.Load(ModelFolder.Open(path), ExecutionProviderKind.Cpu, logger: quiet);
            Assert.Equal(KvLayout.RightAligned, lm.BatchLayout);
            Assert.DoesNotContain(quiet.Collector.GetSnapshot(), r => r.Id.Id is 1013 or 1014);
        }
    }

    [Fact]
    public void WithoutExactBatching_AGraphThatBatchesExactly_BatchesWithNothingToSay()
    {
        var log = new FakeLogger();
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiInt4Model), ExecutionProviderKind.Cpu, logger: log, exactBatching: false);
        Assert.Equal(KvLayout.LeftAligned, lm.BatchLayout);
        Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id is 1013 or 1014);
    }

    [Fact]
    public void TheEngineOption_ReachesTheLoad()
    {
        var options = new Rank1EngineOptions { Path = TestPaths.TinyGenAiInt4DeformRoundingModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxBatch = 8 };
        using (var exact = Rank1Engine.Load(options))
        {
            Assert.Null(exact.Model.BatchLayout);
        }

        options.ExactBatching = false;
        using var batching = Rank1Engine.Load(options);
        Assert.Equal(KvLayout.LeftAligned, batching.Model.BatchLayout);
    }

    /// <summary>
    /// Judged as one batch on that graph: every reasoning equals judging the passage alone (the deformation keeps every
    /// argmax), and a row that writes <c>&lt;/think&gt;</c> is scored in the batch, so its score moves by the deformation,
    /// within its bound; by default the same window is judged one row at a time and every score equals alone.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AWindowOnSuchAGraph_IsJudgedAsOneBatchOnlyWithoutExactBatching(bool exactBatching)
    {
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiInt4DeformRoundingModel), ExecutionProviderKind.Cpu, exactBatching: exactBatching);
        using var loaded = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyGenAiInt4DeformRoundingModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        // Pretend a token that row 0 writes early is </think>: row 0 finishes, and is scored, while the others decode on.
        var probe = loaded.JudgeTraced(new Rank1Input(Query, Window[0].Text, Window[0].Title), new JudgeSettings { MaxThinkTokens = 12 }, CancellationToken.None);
        var marker = probe.Generated[3];
        var ids = loaded.TokenIds with { ThinkEnd = marker, EndOfText = loaded.TokenIds.EndOfText.Where(i => i != marker).ToHashSet() };
        var engine = new Rank1Engine(lm, loaded.Tokenizer, ids, 12, TimeProvider.System, maxBatch: 8);

        var all = engine.JudgeAll(Query, null, Window);
        Assert.Equal(ReasoningEnd.Finished, all[0].End);
        for (var r = 0; r < Window.Length; r++)
        {
            var alone = engine.Judge(new Rank1Input(Query, Window[r].Text, Window[r].Title));
            Assert.Equal(alone.Reasoning, all[r].Reasoning);
            Assert.Equal(alone.End, all[r].End);
            var moved = Math.Abs(alone.Score - all[r].Score);
            if (exactBatching || r > 0)
            {
                Assert.InRange(moved, 0, 1e-4); // one row at a time, or cut at the budget and scored alone
            }
            else
            {
                Assert.InRange(moved, 1e-4, 0.05);
            }
        }
    }
}
