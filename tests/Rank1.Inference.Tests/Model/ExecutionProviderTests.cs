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
    public void Load_Auto_OnCpuBuild_UsesCpuAndSaysWhyNoGpuProvider()
    {
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Auto);
        Assert.Equal(ExecutionProviderKind.Cpu, lm.Provider);
        Assert.Equal(ExecutionProviderKind.Auto, lm.ProviderChoice.Requested);
        Assert.Equal(
            "Cuda: not in this build (CUDAExecutionProvider is not offered); DirectML: not in this build (DmlExecutionProvider is not offered)",
            lm.ProviderChoice.Fallback);
    }

    [Fact]
    public void Load_Cpu_IsNoFallback()
    {
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Cpu);
        Assert.Equal(new ExecutionProviderChoice(ExecutionProviderKind.Cpu, ExecutionProviderKind.Cpu, null), lm.ProviderChoice);
    }

    [Theory]
    [InlineData(ExecutionProviderKind.Auto)]
    [InlineData(ExecutionProviderKind.Cpu)]
    public void Load_RequireAccelerator_OnCpu_Refuses(ExecutionProviderKind kind)
    {
        var ex = Assert.Throws<AcceleratorUnavailableException>(() =>
            Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = kind, RequireAccelerator = true }));
        Assert.Contains($"ExecutionProvider={kind}", ex.Message, StringComparison.Ordinal);
    }
}
