using System.Numerics.Tensors;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.PeerParity.Tests;

/// <summary>
/// The GGUF that tools/write-gguf.py writes from the tiny model is the same model for llama.cpp (LLamaSharp 0.30.0):
/// llama.cpp tokenizes the Rank1 prompt as we do, and on the same token ids its greedy tokens equal ours and its logits
/// agree with ours within the stated tolerance. That makes the benchmark's llama.cpp columns a like-for-like comparison.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class LlamaCppGgufParityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Steps = 8;

    static LlamaCppGgufParityTests()
    {
        // llama.cpp's loader prints hundreds of lines per model; the test's failure messages say what matters.
        NativeLibraryConfig.All.WithLogCallback((level, message) => { });
    }

    // Stated tolerances on the logits (|logit| up to about 10 on this model): f32 differs from ours only by summation
    // order (measured 1.4e-5); f16 rounds every matrix (and the activations llama.cpp multiplies them with) to half
    // precision (measured 0.033). llama.cpp's flash attention is off: on the CPU it computes Q.K in f16 (f32 then
    // differs by 0.017), and the benchmark runs it the same way.
    public static TheoryData<string, double> Files => new() { { "f32", 1e-3 }, { "f16", 0.05 } };

    [Theory]
    [MemberData(nameof(Files))]
    public void LlamaCpp_OnTheGguf_TokenizesAndComputesAsOurEngine(string type, double tolerance)
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        var input = new Rank1Input("why do onions make people cry", "Cutting an onion releases a gas that irritates the eyes. 🧅 Zwiebeln!", "Onions");
        var prompt = engine.EncodePrompt(input).ToArray();

        var parameters = new ModelParams(TestPaths.TinyGguf(type))
        {
            ContextSize = 512, BatchSize = 512, UBatchSize = 512, Threads = 1, BatchThreads = 1, GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, // ours keeps the KV cache in fp32 too
            FlashAttention = false,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);

        // The vocabulary and merges in the GGUF: llama.cpp's tokenization of the prompt text (special tokens parsed)
        // equals ours.
        var text = engine.Tokenizer.Decode(prompt);
        Assert.Equal(prompt, context.Tokenize(text, addBos: false, special: true).Select(t => (int)t).ToArray());

        var ours = Ours(engine.Model, prompt);
        var theirs = LlamaCpp(context, prompt);
        Assert.Equal(ours.Tokens, theirs.Tokens);
        var max = 0.0;
        for (var i = 0; i < ours.Logits.Length; i++)
        {
            max = Math.Max(max, Math.Abs(ours.Logits[i] - theirs.Logits[i]));
        }

        output.WriteLine($"{type}: max |logit ours - llama.cpp| = {max:0.000000} over {ours.Logits.Length} logits");
        Assert.True(max <= tolerance, $"{type}: max |logit ours - llama.cpp| = {max} > {tolerance}");
        Assert.True(ours.Logits.Max() > 1, "the logits are too small for the comparison to say anything");
    }

    private static (int[] Tokens, float[] Logits) Ours(CausalLm lm, int[] prompt)
    {
        using var options = new RunOptions();
        using var state = lm.Begin(options);
        state.Step(prompt);
        var tokens = new int[Steps];
        for (var i = 0; i < Steps; i++)
        {
            tokens[i] = TensorPrimitives.IndexOfMax<float>(state.Logits);
            state.Step([tokens[i]]);
        }

        return (tokens, (float[])state.Logits.Clone());
    }

    private static (int[] Tokens, float[] Logits) LlamaCpp(LLamaContext context, int[] prompt)
    {
        var batch = new LLamaBatch();
        for (var i = 0; i < prompt.Length; i++)
        {
            batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        }

        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var tokens = new int[Steps];
        var position = prompt.Length;
        for (var i = 0; i < Steps; i++)
        {
            tokens[i] = TensorPrimitives.IndexOfMax<float>(context.NativeHandle.GetLogitsIth(batch.TokenCount - 1));
            batch.Clear();
            batch.Add(tokens[i], position++, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        }

        return (tokens, context.NativeHandle.GetLogitsIth(0).ToArray());
    }
}
