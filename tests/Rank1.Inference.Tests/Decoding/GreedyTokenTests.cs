using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Decoding;

/// <summary>
/// The greedy next token the decode states keep (taken where the logits are read, while ONNX Runtime's output is in
/// cache) is the argmax of the logits they keep, for the single-row decode and for every row of a batch through
/// admissions, steps, a row joining from a prefill apart and rows leaving; on a right-aligned graph (Optimum), a
/// left-aligned one (the builder's int4) and one with fp16 logits. The argmax here is a plain loop, not the engine's.
/// </summary>
public sealed class GreedyTokenTests
{
    public static TheoryData<string> Graphs => new() { "tiny", "tiny-genai-int4", "tiny-genai-fp16" };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void SingleRowDecode_KeepsTheArgmaxOfItsLogits(string graph)
    {
        using var lm = CausalLm.Load(ModelFolder.Open(Path(graph)), ExecutionProviderKind.Cpu);
        using var run = new RunOptions();
        using var state = lm.Begin(run);
        // Longer than one prefill chunk: the greedy token is the last chunk's.
        state.Step(Enumerable.Range(0, CausalLm.PrefillChunk + 40).Select(i => 300 + (i * 7 % 500)).ToArray());
        Assert.Equal(Argmax(state.Logits), state.Greedy);
        var seen = new HashSet<int> { state.Greedy };
        var pin = state.Pin();
        for (var i = 0; i < 6; i++)
        {
            state.Step([state.Greedy]);
            Assert.Equal(Argmax(state.Logits), state.Greedy);
            seen.Add(state.Greedy);
        }

        // Back to the pinned point and on with another token: the greedy token follows the new step.
        state.Restore(pin);
        state.Step([42]);
        Assert.Equal(Argmax(state.Logits), state.Greedy);
        Assert.True(seen.Count > 1, $"{graph}: every step wrote the same token, so a stale greedy token would pass unseen");
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void EveryBatchRow_KeepsTheArgmaxOfItsLogits_ThroughAdmissionsStepsJoinsAndRemovals(string graph)
    {
        using var lm = CausalLm.Load(ModelFolder.Open(Path(graph)), ExecutionProviderKind.Cpu);
        using var run = new RunOptions();
        using var batch = new BatchDecodeState(lm, run, prefixPositions: 16);
        int[] shared = [1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49];
        batch.Admit([[.. shared, 60, 61], [.. shared, 70, 71, 72, 73], [.. shared, 80]], shared.Length);
        AssertRows(batch);
        // Rows with different greedy tokens, so that a row's token kept in another row's place fails the checks below.
        Assert.True(batch.Greedy.Distinct().Count() == batch.Rows, $"{graph}: greedy tokens [{string.Join(",", batch.Greedy)}]");
        Steps(batch, 3);

        batch.Remove([1]);
        AssertRows(batch);
        Steps(batch, 2);

        // A row prefilled apart joins with its own logits and greedy token.
        int[] apart = [1, 500, 501, 502, 503, 504, 505, 506, 507];
        var (past, length) = batch.CachedPrefix(apart);
        using (var alone = new DecodeState(lm, run, past, length))
        {
            alone.Step(apart.AsSpan(length));
            batch.Join(alone.Cache, alone.Length, alone.Logits.ToArray(), alone.Greedy);
        }

        AssertRows(batch);
        Steps(batch, 2);
        batch.Admit([[1, 900, 901, 902]], 0);
        AssertRows(batch);
        Steps(batch, 2);
        batch.Remove([0, 2]);
        AssertRows(batch);
        Steps(batch, 1);
    }

    private static void Steps(BatchDecodeState batch, int count)
    {
        for (var i = 0; i < count; i++)
        {
            batch.Step(batch.Greedy.ToArray());
            AssertRows(batch);
        }
    }

    private static void AssertRows(BatchDecodeState batch)
    {
        Assert.Equal(batch.Rows, batch.Greedy.Count);
        for (var r = 0; r < batch.Rows; r++)
        {
            Assert.Equal(Argmax(batch.Logits[r]), batch.Greedy[r]);
        }
    }

    /// <summary>The first index of the largest value.</summary>
    private static int Argmax(float[] logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static string Path(string graph) => graph switch
    {
        "tiny" => TestPaths.TinyModel,
        "tiny-genai-int4" => TestPaths.TinyGenAiInt4Model,
        _ => TestPaths.TinyGenAiFp16Model,
    };
}
