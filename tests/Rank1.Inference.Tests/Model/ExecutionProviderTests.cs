using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>These run on the default (CPU) build, which has neither CUDA nor DirectML.</summary>
public sealed class ExecutionProviderTests
{
    [Theory]
    [InlineData(ExecutionProviderKind.Cuda, "Microsoft.ML.OnnxRuntime.Gpu", "-p:Rank1Accelerator=Cuda")]
    [InlineData(ExecutionProviderKind.DirectML, "Microsoft.ML.OnnxRuntime.DirectML", "-p:Rank1Accelerator=DirectML")]
    public void Load_ProviderMissingFromThisBuild_NamesPackageAndSwitch(ExecutionProviderKind kind, string package, string buildSwitch)
    {
        var ex = Assert.Throws<ModelLoadException>(() => CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), kind));
        Assert.Contains(package, ex.Message, StringComparison.Ordinal);
        Assert.Contains(buildSwitch, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"ExecutionProvider={kind}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Auto_OnCpuBuild_UsesCpu()
    {
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Auto);
        Assert.Equal(ExecutionProviderKind.Cpu, lm.Provider);
    }
}
