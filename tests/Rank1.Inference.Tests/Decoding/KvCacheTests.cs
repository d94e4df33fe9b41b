using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Decoding;

public sealed class KvCacheTests
{
    private static readonly int[] Prompt = [785, 6722, 315, 9625, 374, 12095, 13, 576, 3974, 198];

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-builder")]
    public void IncrementalDecode_EqualsOneStepPrefill(string model)
    {
        using var lm = CausalLm.Load(ModelFolder.Open(model == "tiny" ? TestPaths.TinyModel : TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu);
        var (tokens, logits) = ModelRuns.Greedy(lm, Prompt, 20);
        var reference = ModelRuns.LogitsInOneStep(lm, [.. Prompt, .. tokens]);
        Assert.True(ModelRuns.MaxAbsDiff(logits, reference) < 1e-4, $"max |diff| {ModelRuns.MaxAbsDiff(logits, reference)}");
    }

    [Fact]
    public void OptimumAndBuilderConventions_SameWeights_SameTokensAndLogits()
    {
        using var optimum = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Cpu);
        using var builder = CausalLm.Load(ModelFolder.Open(TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu);
        var a = ModelRuns.Greedy(optimum, Prompt, 24);
        var b = ModelRuns.Greedy(builder, Prompt, 24);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.True(ModelRuns.MaxAbsDiff(a.Logits, b.Logits) < 1e-4);
    }

    [Fact]
    public void BuilderFixture_LoadsAndDecodesThroughTheCache()
    {
        var dir = TestPaths.Fixture("ort-genai-tiny-qwen2");
        using var lm = CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu);

        var sig = lm.Signature;
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32, sig.InputIdsType);
        Assert.Null(sig.PositionIds); // genai_config.json names position_ids, the graph has none
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, sig.KvType);
        Assert.Equal((2, 2, 16, 1000), (sig.Layers, sig.KvHeads, sig.HeadSize, sig.VocabularySize));

        int[] prompt = [1, 5, 7, 9, 11, 13];
        var (tokens, logits) = ModelRuns.Greedy(lm, prompt, 24);
        Assert.Equal(24, tokens.Length);
        Assert.All(tokens, t => Assert.InRange(t, 0, 999));
        var reference = ModelRuns.LogitsInOneStep(lm, [.. prompt, .. tokens]);
        // fp16 KV: the cache round-trips through half precision.
        Assert.True(ModelRuns.MaxAbsDiff(logits, reference) < 2e-2, $"max |diff| {ModelRuns.MaxAbsDiff(logits, reference)}");
    }
}
