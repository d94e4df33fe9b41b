using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Model;
using Rank1.Testing;
using Xunit.Abstractions;

namespace Rank1.Inference.Tests.Model;

/// <summary>Reduced precision: the same weights in fp16 or int4 load, run on the CPU provider, and give the fp32 verdicts.</summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class PrecisionTests(ITestOutputHelper output)
{
    // Stated tolerances: fp16 moves a score by at most 0.02 on these prompts; MatMulNBits matches its de-quantized
    // fp32 twin within 1e-3 (kernel accumulation order only).
    private const double ScoreTolerance = 0.02;
    private const double Int4KernelTolerance = 1e-3;

    // Stated tolerance of 4-bit quantization against the unquantized weights, on the same tokens: a score moves by at
    // most 0.15, so verdicts agree wherever fp32 is more than 0.15 from 0.5. Measured on the smooth tiny pair, output
    // layer 4-bit as well: 0.057 (0.095 with the output layer left fp32).
    private const double Int4ScoreTolerance = 0.15;

    // Stated tolerance of the 4-bit output layer alone (tied lm_head as MatMulNBits against it in fp32, every other
    // projection 4-bit in both), on the same prompts: a score moves by at most 0.12. Measured on the smooth tiny pair: 0.087.
    private const double Int4OutputLayerTolerance = 0.12;

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
    public void Int4Model_VerdictsAgreeWithFp32_WithinTheStatedTolerance()
    {
        // The smooth pair: the same draws at projection std 0.12, so that the residual stream dominates as in trained
        // models (the default tiny model's large random projections amplify 4-bit noise until verdicts flip). Hidden
        // size 32 puts each weight column in a single 32-wide block: the worst case for block quantization.
        using var fp32 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinySmoothModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var int4 = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinySmoothInt4Model, ExecutionProvider = ExecutionProviderKind.Cpu });
        var compared = 0;
        var decisive = 0;
        var maxDiff = 0.0;
        foreach (var query in new[] { "why do onions make people cry", "how do suspension bridges work", "what is the capital of france" })
        {
            foreach (var text in Passages())
            {
                // Same prompt, and the same tokens after it: fp32's reasoning forced into the int4 model too.
                var reference = fp32.JudgeTraced(new Rank1Input(query, text), new JudgeSettings { MaxThinkTokens = 8 }, CancellationToken.None);
                var fed = reference.Judgement.End == ReasoningEnd.Finished ? reference.Generated : [];
                var logits = ModelRuns.LogitsInOneStep(int4.Model, [.. reference.Prompt, .. fed, .. reference.Scored]);
                var quantized = Rank1Scorer.Sigmoid((double)logits[int4.TokenIds.True] - logits[int4.TokenIds.False]);
                var diff = Math.Abs(reference.Judgement.Score - quantized);
                output.WriteLine($"{query} | {text[..Math.Min(30, text.Length)]}: fp32 {reference.Judgement.Score:0.000} int4 {quantized:0.000}");
                maxDiff = Math.Max(maxDiff, diff);
                Assert.True(diff <= Int4ScoreTolerance, $"|score int4 - score fp32| = {diff:0.000} > {Int4ScoreTolerance} ({query} / {text})");
                if (Math.Abs(reference.Judgement.Score - 0.5) > Int4ScoreTolerance)
                {
                    decisive++;
                    Assert.Equal(reference.Judgement.Relevant, quantized >= 0.5);
                }

                compared++;
            }
        }

        output.WriteLine($"{compared} pairs, {decisive} decisive, max |diff| {maxDiff:0.000}");
        Assert.True(decisive >= 3, $"only {decisive} of {compared} fp32 scores are decisive: the comparison says little");
        Assert.True(maxDiff > 1e-4, "int4 and fp32 scores are identical: the quantized weights are not in use");
    }

    [Fact]
    public void Int4OutputLayer_MovesScoresWithinTheStatedTolerance()
    {
        // The smooth int4 model with its output layer 4-bit (as the builder's int4 writes it) against the same model with
        // the output layer fp32: the score drift the 4-bit output layer causes on its own.
        using var fp32Output = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinySmoothInt4Fp32OutputModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var int4Output = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinySmoothInt4Model, ExecutionProvider = ExecutionProviderKind.Cpu });
        var settings = new JudgeSettings { MaxThinkTokens = 0 };
        var maxDiff = 0.0;
        foreach (var query in new[] { "why do onions make people cry", "how do suspension bridges work" })
        {
            foreach (var text in Passages())
            {
                var input = new Rank1Input(query, text);
                var a = fp32Output.Judge(input, settings).Score;
                var b = int4Output.Judge(input, settings).Score;
                maxDiff = Math.Max(maxDiff, Math.Abs(a - b));
                Assert.True(Math.Abs(a - b) <= Int4OutputLayerTolerance, $"|score 4-bit output layer - score fp32 output layer| = {Math.Abs(a - b):0.000} ({query} / {text})");
            }
        }

        output.WriteLine($"max |score 4-bit output layer - score fp32 output layer| = {maxDiff:0.000}");
        Assert.True(maxDiff > 1e-4, "the output layer's precision changes no score: the 4-bit output layer is not in use");
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
