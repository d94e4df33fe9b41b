using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>
/// The onnxruntime-genai builder's graph (tools/make-test-model.py --convention genai: GroupQueryAttention with rotary
/// inside, packed QKV, SkipSimplifiedLayerNormalization) computes the same model as the Optimum-style graph of the same
/// weights: our engine gives the same reasoning and the same score on both.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class GenAiConventionTests
{
    // Stated tolerance, fp32: the two graphs compute the same function by different kernels (fused attention and
    // norms, the rotary table precomputed against computed in the graph), so a score moves by at most 1e-4 and a logit
    // by at most 1e-3.
    private const double ScoreTolerance = 1e-4;
    private const double LogitTolerance = 1e-3;

    [Fact]
    public void GenAiGraphs_RunTheBuilderOperators()
    {
        // What ONNX Runtime executed for one prefill and one decode step, read from its profiler: the builder's fused
        // operators, and at int4 no float MatMul left, the output layer included.
        var fp32 = KernelsRun(TestPaths.TinyGenAiModel);
        var int4 = KernelsRun(TestPaths.TinyGenAiInt4Model);
        var optimum = KernelsRun(TestPaths.TinyGenAiOptimumModel);
        foreach (var ops in new[] { fp32.Values.ToHashSet(), int4.Values.ToHashSet() })
        {
            Assert.Contains("GroupQueryAttention", ops);
            Assert.Contains("SkipSimplifiedLayerNormalization", ops);
            Assert.Contains("SimplifiedLayerNormalization", ops);
            Assert.DoesNotContain("Softmax", ops); // attention is inside GroupQueryAttention, rotary too
            Assert.DoesNotContain("Cos", ops);
        }

        Assert.DoesNotContain("MatMul", int4.Values);
        Assert.Equal("MatMulNBits", int4["/lm_head/MatMul_Q4"]);
        Assert.Equal("MatMul", fp32["/lm_head/MatMul"]);
        Assert.DoesNotContain("GroupQueryAttention", optimum.Values); // the control: the Optimum graph of the same weights
    }

    private static Dictionary<string, string> KernelsRun(string dir)
    {
        var prefix = Path.Combine(Path.GetTempPath(), $"rank1-kernels-{Guid.NewGuid():N}");
        using var lm = CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu, 1, 0, null, s =>
        {
            s.EnableProfiling = true;
            s.ProfileOutputPathPrefix = prefix;
        });
        ModelRuns.Greedy(lm, [785, 6722, 315, 9625], 1);
        var file = lm.EndProfiling();
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            var kernels = new Dictionary<string, string>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() == "Node" && e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var op)
                    && e.GetProperty("name").GetString() is { } name && name.EndsWith("_kernel_time", StringComparison.Ordinal))
                {
                    kernels[name[..^"_kernel_time".Length]] = op.GetString()!;
                }
            }

            return kernels;
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void GenAiGraph_SameWeightsAsTheOptimumGraph_SameReasoningAndScores()
    {
        using var genai = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyGenAiModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        using var optimum = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyGenAiOptimumModel, ExecutionProvider = ExecutionProviderKind.Cpu });

        // The builder's I/O: int64 ids, no position_ids, the head size symbolic in the graph and taken from the config.
        var sig = genai.Model.Signature;
        Assert.Equal(TensorElementType.Int64, sig.InputIdsType);
        Assert.Null(sig.PositionIds);
        Assert.Equal((2, 2, 16, 151_936), (sig.Layers, sig.KvHeads, sig.HeadSize, sig.VocabularySize));
        Assert.Equal("position_ids", optimum.Model.Signature.PositionIds);

        var settings = new JudgeSettings { MaxThinkTokens = 12 };
        var maxScore = 0.0;
        var maxLogit = 0.0;
        var inputs = new[]
        {
            new Rank1Input("why do onions make people cry", "Cutting an onion releases a gas that irritates the eyes."),
            new Rank1Input("capital of australia", "Sydney is the largest city in Australia, but the capital is Canberra.", "Geography"),
            new Rank1Input("如何煮米饭", "把米洗净，加水，煮二十分钟。 Rinse the rice, add water, cook 20 minutes."),
        };
        foreach (var input in inputs)
        {
            var a = genai.JudgeTraced(input, settings, CancellationToken.None);
            var b = optimum.JudgeTraced(input, settings, CancellationToken.None);
            Assert.Equal(b.Prompt, a.Prompt);
            Assert.Equal(b.Generated, a.Generated);
            Assert.Equal(b.Judgement.Relevant, a.Judgement.Relevant);
            maxScore = Math.Max(maxScore, Math.Abs(a.Judgement.Score - b.Judgement.Score));
            maxLogit = Math.Max(maxLogit, Math.Max(Math.Abs(a.LogitTrue - b.LogitTrue), Math.Abs(a.LogitFalse - b.LogitFalse)));

            // Every logit of the last step, the reasoning fed through the KV cache of each graph.
            var sequence = (IReadOnlyList<int>)[.. a.Prompt, .. a.Generated];
            var full = ModelRuns.MaxAbsDiff(ModelRuns.Greedy(genai.Model, sequence, 1).Logits, ModelRuns.Greedy(optimum.Model, sequence, 1).Logits);
            maxLogit = Math.Max(maxLogit, full);
        }

        Assert.True(maxScore <= ScoreTolerance, $"max |score genai graph - score optimum graph| = {maxScore} (logits {maxLogit})");
        Assert.True(maxLogit <= LogitTolerance, $"max |logit genai graph - logit optimum graph| = {maxLogit}");
    }
}
