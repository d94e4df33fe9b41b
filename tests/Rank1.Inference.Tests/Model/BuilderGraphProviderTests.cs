using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>
/// The builder's graphs (GroupQueryAttention) on the GPU providers, decided from the real graphs' operators (the tests
/// run on the CPU build). ONNX Runtime's DirectML GroupQueryAttention reads the past from a KV cache kept on the
/// device (it binds no past inputs; DmlOperatorGroupQueryAttention.cpp), which the engine does not keep: a builder
/// graph on DirectML would score without the past, so the load refuses it (<see cref="CausalLm.DirectMlRefusal"/>).
/// On CUDA, an fp32 one falls back to the CPU in every layer, which the load warns about (<see cref="CausalLm.CudaFallback"/>).
/// </summary>
public sealed class BuilderGraphProviderTests
{
    /// <summary>The graphs: the model builder's own fixture and the builder-faithful ones (GroupQueryAttention), and Optimum's (standard attention).</summary>
    public static TheoryData<string, bool> Graphs => new()
    {
        { "ort-genai-tiny-qwen2", true }, { "tiny-genai", true }, { "tiny-genai-int4", true }, { "tiny-genai-fp16", true },
        { "tiny", false }, { "tiny-int4", false }, { "tiny-fp16", false },
    };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void BuilderGraph_IsRefusedOnDirectML_NamingTheExportThatWorks_OptimumGraphIsNot(string graph, bool builderAttention)
    {
        var folder = Folder(graph);
        using var file = File.OpenHandle(folder.GraphPath);

        var operators = LastPositionLogits.OperatorTypes(new LastPositionLogits.FileSource(file));

        Assert.NotNull(operators);
        Assert.Equal(builderAttention, operators.Contains("GroupQueryAttention"));
        var refusal = CausalLm.DirectMlRefusal(operators);
        if (builderAttention)
        {
            Assert.NotNull(refusal);
            Assert.Contains("--method optimum", refusal, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(refusal);
        }
    }

    /// <summary>
    /// ONNX Runtime's CUDA GroupQueryAttention takes fp16 and bf16 only: the builder's fp32 graphs (its --ep cpu builds,
    /// int4 included) fall back to the CPU in every layer, which the load warns about; its fp16 graph and Optimum's do not.
    /// </summary>
    [Theory]
    [InlineData("tiny-genai", true)]
    [InlineData("tiny-genai-int4", true)]
    [InlineData("tiny-genai-fp16", false)]
    [InlineData("tiny", false)]
    [InlineData("tiny-int4", false)]
    public void CpuBuiltBuilderGraph_IsWarnedAboutOnCuda(string graph, bool warned)
    {
        var folder = Folder(graph);
        using var lm = CausalLm.Load(folder, ExecutionProviderKind.Cpu);
        using var file = File.OpenHandle(folder.GraphPath);
        var operators = LastPositionLogits.OperatorTypes(new LastPositionLogits.FileSource(file))!;

        var fallback = CausalLm.CudaFallback(operators, lm.Signature.KvType);

        Assert.Equal(warned, fallback is not null);
        if (warned)
        {
            Assert.Contains("--ep cuda", fallback, StringComparison.Ordinal);
        }
    }

    private static ModelFolder Folder(string graph) => ModelFolder.Open(graph switch
    {
        "tiny" => TestPaths.TinyModel,
        "tiny-int4" => TestPaths.TinyInt4Model,
        "tiny-fp16" => TestPaths.TinyFp16Model,
        "tiny-genai" => TestPaths.TinyGenAiModel,
        "tiny-genai-int4" => TestPaths.TinyGenAiInt4Model,
        "tiny-genai-fp16" => TestPaths.TinyGenAiFp16Model,
        _ => TestPaths.Fixture(graph),
    });

    [Fact]
    public void UnreadableGraph_HasNoOperators()
    {
        var path = Path.Combine(TestTemp.Folder("rank1-graph"), "model.onnx");
        File.WriteAllBytes(path, [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]); // field 7, a length past the end

        using var file = File.OpenHandle(path);

        Assert.Null(LastPositionLogits.OperatorTypes(new LastPositionLogits.FileSource(file)));
    }
}
