using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>Half precision: the same weights in fp16 load, run on the CPU provider, and give the fp32 verdicts.</summary>
public sealed class PrecisionTests
{
    // Stated tolerance: fp16 weights and activations move a score by at most 0.02 on these prompts.
    private const double ScoreTolerance = 0.02;

    [Fact]
    public void Fp16Model_HasHalfPrecisionKvAndLogits_AndAgreesWithFp32()
    {
        using var fp32 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var fp16 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyFp16Model, ExecutionProvider = ExecutionProviderKind.Cpu });
        Assert.Equal(TensorElementType.Float16, fp16.Model.Signature.KvType);
        Assert.Equal(TensorElementType.Float16, fp16.Model.Signature.LogitsType);

        var passages = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "samples", "demo", "passages.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["text"]!.GetValue<string>()).ToArray();
        var settings = new JudgeSettings { MaxThinkTokens = 0 }; // the verdict on the prompt alone: no divergent reasoning
        var maxDiff = 0.0;
        foreach (var text in passages)
        {
            var input = new Rank1Input("why do onions make people cry", text);
            var a = fp32.Judge(input, settings);
            var b = fp16.Judge(input, settings);
            maxDiff = Math.Max(maxDiff, Math.Abs(a.Score - b.Score));
            Assert.Equal(a.Relevant, b.Relevant);
        }

        Assert.True(maxDiff <= ScoreTolerance, $"max |score fp16 - score fp32| = {maxDiff}");
    }
}
