using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Decoding;

/// <summary>
/// A single decode on a GroupQueryAttention graph writes each step into its KV cache in place (the graph's shared
/// past/present buffer), copying the cache into a wider one once per <see cref="BatchDecodeState.Headroom"/> steps.
/// The oracle needs no cache at all: the whole sequence so far prefilled from nothing gives the same last logits.
/// </summary>
public sealed class GqaInPlaceDecodeTests(BuilderFixtureModel fx) : IClassFixture<BuilderFixtureModel>
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("fixture")]
    [InlineData("tiny-genai")]
    public void Steps_WriteInPlace_GrowingOncePerHeadroom_AndEachEqualsPrefillingTheWholeSequence(string graph)
    {
        using var loaded = graph == "tiny-genai" ? CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiModel), ExecutionProviderKind.Cpu) : null;
        var lm = loaded ?? fx.Lm;
        using var runOptions = new RunOptions();
        using var state = lm.Begin(runOptions);
        var sequence = new List<int> { 1, 5, 7, 9, 11 };
        state.Step(sequence.ToArray());
        Assert.Equal(sequence.Count + BatchDecodeState.Headroom, state.Capacity);
        for (var i = 0; i < BatchDecodeState.Headroom + 4; i++)
        {
            var next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(state.Logits);
            sequence.Add(next);
            state.Step([next]);
            // Within the headroom every new column goes into the same cache; the step past it grows it once.
            var expected = i < BatchDecodeState.Headroom ? 5 + BatchDecodeState.Headroom : 5 + BatchDecodeState.Headroom + 1 + BatchDecodeState.Headroom;
            Assert.Equal(expected, state.Capacity);
            AssertEqualsPrefill(lm, sequence, state.Logits, $"step {i}");
        }
    }

    /// <summary>
    /// Two pins of one cache: going back to the shorter one and stepping must not write over the columns the longer one
    /// still holds (the step copies the cache first), so the longer one continues as if nothing happened in between.
    /// </summary>
    [Fact]
    public void ShorterPinRestoredAndStepped_LeavesTheLongerPinOfTheSameCacheIntact()
    {
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiModel), ExecutionProviderKind.Cpu);
        using var runOptions = new RunOptions();
        using var state = lm.Begin(runOptions);
        int[] prompt = [1, 5, 7, 9, 11, 13];
        state.Step(prompt);
        var shorter = state.Pin();
        state.Step([300, 301]);
        var longer = state.Pin();

        state.Restore(shorter);
        state.Step([400]);
        AssertEqualsPrefill(lm, [.. prompt, 400], state.Logits, "after the shorter pin");

        state.Restore(longer);
        state.Step([500]);
        AssertEqualsPrefill(lm, [.. prompt, 300, 301, 500], state.Logits, "after the longer pin");
        state.Unpin(shorter);
        state.Unpin(longer);
    }

    private static void AssertEqualsPrefill(CausalLm lm, IReadOnlyList<int> sequence, float[] logits, string what)
    {
        using var options = new RunOptions();
        using var fresh = lm.Begin(options);
        fresh.Step(sequence.ToArray());
        var diff = ModelRuns.MaxAbsDiff(fresh.Logits, logits);
        Assert.True(diff <= Tolerance, $"{what}: max |diff| {diff} against prefilling the {sequence.Count} tokens");
    }
}
