using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntimeGenAI;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.PeerParity.Tests;

public sealed class GenAiRuntime : IDisposable
{
    private readonly OgaHandle _handle = new();

    public void Dispose() => _handle.Dispose();
}

/// <summary>
/// Our decode loop against Microsoft.ML.OnnxRuntimeGenAI 0.18.0 on the same model: greedy tokens must be equal and
/// the true/false logits after a forced &lt;/think&gt; must agree within 1e-3.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class PeerParityTests(GenAiRuntime runtime) : IClassFixture<GenAiRuntime>
{
    private const int Steps = 24;

    public static TheoryData<string, int> RankPrompts => new() { { "tiny", 0 }, { "tiny", 1 }, { "tiny", 2 }, { "tiny-builder", 0 }, { "tiny-builder", 1 }, { "tiny-builder", 2 } };

    private static readonly Rank1Input[] Inputs =
    [
        new("why do onions make people cry", "Cutting an onion releases a gas that irritates the eyes.", "Onions"),
        new("capital of australia", "Sydney is the largest city in Australia, but the capital is Canberra.", null, "Answer for the current capital only."),
        new("如何煮米饭", "把米洗净，加水，煮二十分钟。 Rinse the rice, add water, cook 20 minutes. 🍚"),
    ];

    [Theory]
    [MemberData(nameof(RankPrompts))]
    public void GreedyTokensAndVerdictLogits_EqualThePeer(string model, int promptIndex)
    {
        _ = runtime;
        var dir = model == "tiny" ? TestPaths.TinyModel : TestPaths.TinyBuilderModel;
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = dir, ExecutionProvider = ExecutionProviderKind.Cpu });
        var prompt = engine.EncodePrompt(Inputs[promptIndex]);
        var ids = engine.TokenIds;

        var ours = Ours(engine.Model, prompt, ids.ThinkEnd);
        var peer = Peer(dir, prompt, ids.ThinkEnd, maxLength: prompt.Count + Steps + 4);

        Assert.Equal(peer.Tokens, ours.Tokens);
        Assert.True(Math.Abs(ours.Logits[ids.True] - peer.Logits[ids.True]) < 1e-3, $"true: ours {ours.Logits[ids.True]} peer {peer.Logits[ids.True]}");
        Assert.True(Math.Abs(ours.Logits[ids.False] - peer.Logits[ids.False]) < 1e-3, $"false: ours {ours.Logits[ids.False]} peer {peer.Logits[ids.False]}");
    }

    [Fact]
    public void BuilderFixture_GreedyTokensAndLogits_EqualThePeer()
    {
        _ = runtime;
        var dir = TestPaths.Fixture("ort-genai-tiny-qwen2");
        using var lm = CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu);
        int[] prompt = [1, 17, 230, 4, 512, 99, 7];
        const int marker = 500; // the fixture has no tokenizer: any id stands in for </think>

        var ours = Ours(lm, prompt, marker);
        var peer = Peer(dir, prompt, marker, maxLength: 64);

        Assert.Equal(peer.Tokens, ours.Tokens);
        var max = MaxAbsDiff(ours.Logits, peer.Logits);
        Assert.True(max < 1e-3, $"max |logit diff| {max}");
    }

    /// <summary>
    /// The graphs tools/make-test-model.py writes in the onnxruntime-genai builder's convention (GroupQueryAttention with
    /// rotary inside, packed QKV, SkipSimplifiedLayerNormalization, MatMulNBits output layer at int4, the builder's
    /// genai_config.json with a shared past/present buffer): GenAI runs them as it runs a builder export, and our engine
    /// gives its greedy tokens and every logit of the verdict step within 1e-3.
    /// </summary>
    [Theory]
    [InlineData("tiny-genai", 0)]
    [InlineData("tiny-genai", 2)]
    [InlineData("tiny-genai-int4", 0)]
    [InlineData("tiny-genai-int4", 2)]
    [InlineData("tiny-genai-int4-b128", 0)]
    [InlineData("tiny-genai-fp16", 0)]
    public void GenAiConventionGraphs_GreedyTokensAndLogits_EqualThePeer(string model, int promptIndex)
    {
        _ = runtime;
        var dir = model switch
        {
            "tiny-genai" => TestPaths.TinyGenAiModel,
            "tiny-genai-int4" => TestPaths.TinyGenAiInt4Model,
            "tiny-genai-int4-b128" => TestPaths.TinyGenAiInt4Block128Model,
            _ => TestPaths.TinyGenAiFp16Model,
        };
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = dir, ExecutionProvider = ExecutionProviderKind.Cpu });
        Assert.Null(engine.Model.Signature.PositionIds);
        var prompt = engine.EncodePrompt(Inputs[promptIndex]);

        var ours = Ours(engine.Model, prompt, engine.TokenIds.ThinkEnd);
        var peer = Peer(dir, prompt, engine.TokenIds.ThinkEnd, maxLength: prompt.Count + Steps + 4);

        Assert.Equal(peer.Tokens, ours.Tokens);
        var max = MaxAbsDiff(ours.Logits, peer.Logits);
        Assert.True(max < 1e-3, $"max |logit diff| {max}");
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }

    private static (int[] Tokens, float[] Logits) Ours(CausalLm lm, IReadOnlyList<int> prompt, int marker)
    {
        using var options = new RunOptions();
        using var state = lm.Begin(options);
        state.Step(prompt.ToArray());
        var tokens = new int[Steps];
        for (var i = 0; i < Steps; i++)
        {
            tokens[i] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(state.Logits);
            state.Step([tokens[i]]);
        }

        state.Step([marker]);
        return (tokens, (float[])state.Logits.Clone());
    }

    private static (int[] Tokens, float[] Logits) Peer(string dir, IReadOnlyList<int> prompt, int marker, int maxLength)
    {
        using var config = new Config(dir);
        config.ClearProviders();
        using var model = new Microsoft.ML.OnnxRuntimeGenAI.Model(config);
        var tokens = new int[Steps];
        using (var generator = NewGenerator(model, maxLength))
        {
            generator.AppendTokens(prompt.ToArray());
            for (var i = 0; i < Steps; i++)
            {
                generator.GenerateNextToken();
                tokens[i] = generator.GetNextTokens()[0];
            }
        }

        // GenAI 0.18 cannot append tokens after generating on a model without a shared KV buffer (its preallocated
        // present tensor is one slot too long), so the verdict logits come from a second generator fed the whole
        // sequence at once. Ours come from the KV cache step by step: a stricter comparison, not a looser one.
        using var scorer = NewGenerator(model, maxLength);
        scorer.AppendTokens([.. prompt, .. tokens, marker]);
        using var logits = scorer.GetOutput("logits");
        var vocab = (int)logits.Shape()[^1];
        var all = logits.Type() == ElementType.float16
            ? logits.GetData<ushort>().ToArray().Select(h => (float)BitConverter.UInt16BitsToHalf(h)).ToArray()
            : logits.GetData<float>().ToArray();
        return (tokens, all[^vocab..]);
    }

    private static Generator NewGenerator(Microsoft.ML.OnnxRuntimeGenAI.Model model, int maxLength)
    {
        using var parameters = new GeneratorParams(model);
        parameters.SetSearchOption("max_length", maxLength);
        parameters.SetSearchOption("do_sample", false);
        return new Generator(model, parameters);
    }
}
