using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>Reduced precision: the same weights in fp16 or int4 load, run on the CPU provider, and give the fp32 verdicts.</summary>
public sealed class PrecisionTests
{
    // Stated tolerances: fp16 moves a score by at most 0.02 on these prompts; MatMulNBits matches its de-quantized
    // fp32 twin within 1e-3 (kernel accumulation order only).
    private const double ScoreTolerance = 0.02;
    private const double Int4KernelTolerance = 1e-3;

    private static string[] Passages() => File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "samples", "demo", "passages.jsonl"))
        .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["text"]!.GetValue<string>()).ToArray();

    [Fact]
    public void Int4Model_MatMulNBits_ComputesWithExactlyTheQuantizedWeights()
    {
        // The int4 graph (MatMulNBits) against an fp32 twin whose MatMuls hold the de-quantized weights: packing,
        // nibble order, scales and zero point are right only if the two agree to float rounding.
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.TinyInt4Model, "config.json")))!;
        Assert.Equal("MatMulNBits", config["quantization"]!["method"]!.GetValue<string>());
        using var int4 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyInt4Model, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var twin = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyInt4ReferenceModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var fp32 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });

        var settings = new JudgeSettings { MaxThinkTokens = 0 };
        var maxDiff = 0.0;
        var differsFromFp32 = false;
        foreach (var text in Passages())
        {
            var input = new Rank1Input("why do onions make people cry", text);
            var a = int4.Judge(input, settings);
            var b = twin.Judge(input, settings);
            maxDiff = Math.Max(maxDiff, Math.Abs(a.Score - b.Score));
            Assert.Equal(b.Relevant, a.Relevant);
            differsFromFp32 |= Math.Abs(fp32.Judge(input, settings).Score - a.Score) > 1e-6;
        }

        Assert.True(maxDiff <= Int4KernelTolerance, $"max |score MatMulNBits - score de-quantized fp32| = {maxDiff}");
        Assert.True(differsFromFp32, "int4 scores equal the unquantized model's: the quantized weights are not in use");
    }

    [Fact]
    public void Fp16Model_HasHalfPrecisionKvAndLogits_AndAgreesWithFp32()
    {
        using var fp32 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var fp16 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyFp16Model, ExecutionProvider = ExecutionProviderKind.Cpu });
        Assert.Equal(TensorElementType.Float16, fp16.Model.Signature.KvType);
        Assert.Equal(TensorElementType.Float16, fp16.Model.Signature.LogitsType);

        var passages = Passages();
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
