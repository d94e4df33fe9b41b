using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Decoding;

/// <summary>
/// Batching on graphs whose GroupQueryAttention takes each row's length from the attention mask (the onnxruntime-genai
/// builder's): rows left-aligned and padded on the right, joining and leaving between steps, a shared prefix computed
/// once and reused from the prefix cache, steps writing into the cache in place. Driven with token ids on the
/// builder-made fixture (no rotary in its attention) and on the generated genai graphs at fp32 and int4 (rotary inside
/// GroupQueryAttention): every row's greedy tokens equal decoding it alone and its logits stay within 1e-4 of the
/// single-row decode at every step.
/// </summary>
public sealed class GqaBatchingTests(BuilderFixtureModel fx) : IClassFixture<BuilderFixtureModel>
{

    [Fact]
    public void BatchLayout_FollowsWhereTheGraphWritesANewToken()
    {
        Assert.Equal(KvLayout.LeftAligned, fx.Lm.BatchLayout);            // GroupQueryAttention: at the mask's count
        using var optimum = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Cpu);
        Assert.Equal(KvLayout.RightAligned, optimum.BatchLayout);                 // Concat after the past, position_ids fed
        using var derived = CausalLm.Load(ModelFolder.Open(TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu);
        Assert.Null(derived.BatchLayout);                                         // appends, positions from the mask: one row at a time
    }

    [Fact]
    public void LogitsContract_HoldsOnTheBuilderGraphs_AndFailsWhereRowsSeeTheirPadding()
    {
        Assert.True(KvLayoutProbe.KeepsLeftAlignedContract(fx.Lm));
        foreach (var path in new[] { TestPaths.TinyGenAiModel, TestPaths.TinyGenAiInt4Model, TestPaths.TinyGenAiFp16Model })
        {
            using var genai = CausalLm.Load(ModelFolder.Open(path), ExecutionProviderKind.Cpu);
            Assert.True(KvLayoutProbe.KeepsLeftAlignedContract(genai), path);
            Assert.Equal(KvLayout.LeftAligned, genai.BatchLayout);
        }

        // Appends after the past and derives positions from the mask: a row padded on the right sees its padding.
        using var derived = CausalLm.Load(ModelFolder.Open(TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu);
        Assert.False(KvLayoutProbe.KeepsLeftAlignedContract(derived));
    }

    [Fact]
    public void AGraphThatCannotBatch_SaysWhyInAWarning_AndOneThatCanSaysNothing()
    {
        // Appends after the past and derives positions from the mask: batching is off, and the log says why.
        var log = new FakeLogger();
        using var derived = CausalLm.Load(ModelFolder.Open(TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu, logger: log);
        Assert.Null(derived.BatchLayout);
        var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1013);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(derived.Folder.GraphPath, warning.Message, StringComparison.Ordinal);
        Assert.Contains("position", warning.Message, StringComparison.Ordinal);

        foreach (var path in new[] { TestPaths.TinyModel, TestPaths.TinyGenAiInt4Model })
        {
            var quiet = new FakeLogger();
            using var batches = CausalLm.Load(ModelFolder.Open(path), ExecutionProviderKind.Cpu, logger: quiet);
            Assert.NotNull(batches.BatchLayout);
            Assert.DoesNotContain(quiet.Collector.GetSnapshot(), r => r.Id.Id == 1013);
        }
    }

    [Fact]
    public void LeftAlignedContractBreach_NamesThePromiseBroken_WithTheDistanceMeasured()
    {
        Assert.Null(KvLayoutProbe.LeftAlignedContractBreach(fx.Lm));
        using var derived = CausalLm.Load(ModelFolder.Open(TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu);
        var breach = KvLayoutProbe.LeftAlignedContractBreach(derived);
        Assert.NotNull(breach);
        Assert.Matches(@"logits land [0-9.eE+-]+ away from .* \(tolerance [0-9.eE+-]+", breach);
    }

    /// <summary>The fixture's GroupQueryAttention has no rotary inside; the generated genai graphs rotate within it (do_rotary, cos/sin caches).</summary>
    [Theory]
    [InlineData("fixture")]
    [InlineData("tiny-genai")]
    [InlineData("tiny-genai-int4")]
    public void RowsOfDifferentLengths_JoiningAndLeaving_EachEqualsDecodingItAlone(string graph)
    {
        using var loaded = Generated(graph);
        var lm = loaded ?? fx.Lm;
        int[] shared = [1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49];
        var rows = new List<Row>();
        using var runOptions = new RunOptions();
        using var state = new BatchDecodeState(lm, runOptions, prefixPositions: shared.Length);

        // Three rows of different lengths, nothing shared: each is prefilled alone, then they decode together.
        Admit(state, rows, [[1, 5, 7, 9, 11, 13], [1, 200, 300, 400, 500, 600, 700, 800, 900, 17, 19, 23], [1, 600, 2, 3]]);
        Assert.Equal(0, state.LastPrefix);
        Steps(state, rows, 4);

        // One leaves (the cache is re-packed), two that share a prefix join: the prefix is computed once.
        Remove(lm, state, rows, 1);
        Admit(state, rows, [[.. shared, 60, 61, 62], [.. shared, 70]]);
        Assert.Equal(shared.Length, state.LastPrefix);
        Assert.Equal(0, state.LastReusedPrefix);
        Assert.Equal(4, state.Rows);
        Steps(state, rows, 3);

        // A later row with the same start takes the prefix from the prefix cache.
        Admit(state, rows, [[.. shared, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94]]);
        Assert.Equal(shared.Length, state.LastReusedPrefix);
        Steps(state, rows, 5);
        Assert.Equal(5, state.Rows);

        foreach (var row in rows)
        {
            AssertEqualsAlone(lm, row);
        }
    }

    /// <summary>
    /// A step writes each row's new keys and values into the batch's cache itself (GroupQueryAttention's shared
    /// past/present buffer): the cache keeps its columns while the rows grow into its headroom, then is copied once into
    /// one <see cref="BatchDecodeState.Headroom"/> columns wider, and every row still equals decoding it alone. A step
    /// that made a new cache would widen it at every step; one that did not land in it would lose the new positions.
    /// </summary>
    [Theory]
    [InlineData("fixture")]
    [InlineData("tiny-genai")]
    [InlineData("tiny-genai-int4")]
    public void Steps_WriteIntoTheCacheInPlace_GrowingItOncePerHeadroom_AndEachRowEqualsDecodingItAlone(string graph)
    {
        using var loaded = Generated(graph);
        var lm = loaded ?? fx.Lm;
        var rows = new List<Row>();
        using var runOptions = new RunOptions();
        using var state = new BatchDecodeState(lm, runOptions, prefixPositions: 0); // nothing shared
        Admit(state, rows, [[1, 5, 7, 9, 11, 13, 15], [1, 300, 301]]);
        Assert.Equal(7 + BatchDecodeState.Headroom, state.Capacity);
        Steps(state, rows, BatchDecodeState.Headroom);
        Assert.Equal(7 + BatchDecodeState.Headroom, state.Width);
        Assert.Equal(7 + BatchDecodeState.Headroom, state.Capacity); // every new column went into the same cache
        Steps(state, rows, 4);
        Assert.Equal(7 + BatchDecodeState.Headroom + 4, state.Width);
        Assert.Equal(7 + BatchDecodeState.Headroom + 1 + BatchDecodeState.Headroom, state.Capacity); // grown once
        foreach (var row in rows)
        {
            AssertEqualsAlone(lm, row);
        }
    }

    [Fact]
    public void ACutRow_ExtractedFromTheBatch_ContinuesAsItsOwnDecode()
    {
        var lm = fx.Lm;
        var rows = new List<Row>();
        using var runOptions = new RunOptions();
        using var state = new BatchDecodeState(lm, runOptions, prefixPositions: 0);
        Admit(state, rows, [[1, 5, 7, 9, 11, 13, 15, 17], [1, 300, 301]]);
        Steps(state, rows, 2);

        // As BatchRun scores a row cut short: its prompt's cache, then the forced end fed in one step.
        int[] forced = [271, 7, 9];
        var shortRow = rows[1];
        using var alone = new DecodeState(lm, runOptions, state.ExtractRow(1, shortRow.Prompt.Length), shortRow.Prompt.Length);
        alone.Step(forced);
        using var single = lm.Begin(runOptions);
        single.Step(shortRow.Prompt);
        single.Step(forced);
        Assert.InRange(ModelRuns.MaxAbsDiff(single.Logits, alone.Logits), 0, Tolerance);
    }

    /// <summary>The generated genai graph a theory names, loaded; null for the builder-made fixture (the class's).</summary>
    private static CausalLm? Generated(string graph) => graph switch
    {
        "tiny-genai" => CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiModel), ExecutionProviderKind.Cpu),
        "tiny-genai-int4" => CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiInt4Model), ExecutionProviderKind.Cpu),
        _ => null,
    };

    /// <summary>fp16 keys and values: the batch and the single decode round the same values to half precision.</summary>
    private const double Tolerance = 1e-4;

    private sealed record Row(int[] Prompt)
    {
        public List<int> Generated { get; } = [];

        /// <summary>The row's logits after its prompt and after each generated token.</summary>
        public List<float[]> Logits { get; } = [];
    }

    private static void Admit(BatchDecodeState state, List<Row> rows, int[][] prompts)
    {
        state.Admit(prompts, SharedPrefix.Length(prompts));
        foreach (var p in prompts)
        {
            rows.Add(new Row(p));
        }

        for (var r = rows.Count - prompts.Length; r < rows.Count; r++)
        {
            rows[r].Logits.Add((float[])state.Logits[r].Clone());
        }
    }

    private static void Steps(BatchDecodeState state, List<Row> rows, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var next = rows.Select(r => System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(r.Logits[^1])).ToArray();
            state.Step(next);
            for (var r = 0; r < rows.Count; r++)
            {
                rows[r].Generated.Add(next[r]);
                rows[r].Logits.Add((float[])state.Logits[r].Clone());
            }
        }
    }

    private static void Remove(CausalLm lm, BatchDecodeState state, List<Row> rows, int index)
    {
        AssertEqualsAlone(lm, rows[index]);
        state.Remove([index]);
        rows.RemoveAt(index);
    }

    /// <summary>The row decoded alone through the single-row path: the same greedy tokens, logits within <see cref="Tolerance"/> at every step.</summary>
    private static void AssertEqualsAlone(CausalLm lm, Row row)
    {
        var (tokens, _) = ModelRuns.Greedy(lm, row.Prompt, row.Generated.Count);
        Assert.Equal(tokens, row.Generated);
        using var options = new RunOptions();
        using var alone = lm.Begin(options);
        alone.Step(row.Prompt);
        for (var i = 0; i < row.Logits.Count; i++)
        {
            var diff = ModelRuns.MaxAbsDiff(alone.Logits, row.Logits[i]);
            Assert.True(diff <= Tolerance, $"prompt of {row.Prompt.Length}, step {i}: max |diff| {diff}");
            if (i < row.Generated.Count)
            {
                alone.Step([row.Generated[i]]);
            }
        }
    }
}

/// <summary>The onnxruntime-genai builder's tiny fixture graph, loaded once per test class.</summary>
public sealed class BuilderFixtureModel : IDisposable
{
    internal CausalLm Lm { get; } = CausalLm.Load(ModelFolder.Open(TestPaths.Fixture("ort-genai-tiny-qwen2")), ExecutionProviderKind.Cpu);

    public void Dispose() => Lm.Dispose();
}
