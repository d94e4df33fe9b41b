using System.Reflection;
using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>
/// The CUDA image must be built on the CUDA major version that ONNX Runtime's CUDA provider library links against
/// (its ELF NEEDED entries: <c>libcudart.so.N</c>, <c>libcublas.so.N</c>, <c>libcublasLt.so.N</c>), or the provider
/// cannot load in the image and <c>Auto</c> runs on the CPU of a GPU machine. The library comes from
/// Microsoft.ML.OnnxRuntime.Gpu.Linux, the package <c>-p:Rank1Accelerator=Cuda</c> ships, downloaded by this project's
/// restore (no CUDA build, no Docker).
/// </summary>
public sealed partial class CudaImageDriftTests
{
    private static readonly string[] CudaLibraries = ["libcudart.so.", "libcublas.so.", "libcublasLt.so."];

    private static string ProviderLibrary
    {
        get
        {
            var package = typeof(CudaImageDriftTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Rank1.OnnxRuntimeGpuLinux").Value!;
            var path = Path.Combine(package, "runtimes", "linux-x64", "native", "libonnxruntime_providers_cuda.so");
            Assert.True(File.Exists(path), $"{path} is missing: `dotnet restore` of this project downloads Microsoft.ML.OnnxRuntime.Gpu.Linux");
            return path;
        }
    }

    /// <summary>The CUDA major the provider library needs, from its NEEDED entries (all of them must agree).</summary>
    private static int NeededCudaMajor()
    {
        var needed = ElfDynamic.Needed(ProviderLibrary);
        var majors = CudaLibraries.Select(lib =>
        {
            var entry = needed.SingleOrDefault(n => n.StartsWith(lib, StringComparison.Ordinal));
            Assert.True(entry is not null, $"libonnxruntime_providers_cuda.so does not link {lib}N (NEEDED: {string.Join(", ", needed)})");
            return int.Parse(entry[lib.Length..], System.Globalization.CultureInfo.InvariantCulture);
        }).Distinct().ToArray();
        return Assert.Single(majors);
    }

    [Fact]
    public void CudaImage_IsOnTheCudaMajorTheProviderLibraryNeeds_WithCudnn()
    {
        var dockerfile = File.ReadAllText(Path.Combine(ComposeFiles.Folder, "Dockerfile.cuda"));
        var image = CudaImageArg().Match(dockerfile);
        Assert.True(image.Success, "compose/Dockerfile.cuda has no `ARG CUDA_IMAGE=nvidia/cuda:X.Y.Z-...` line");
        Assert.Equal(NeededCudaMajor(), int.Parse(image.Groups["major"].Value, System.Globalization.CultureInfo.InvariantCulture));
        // The provider loads cuDNN at run time (it is not a NEEDED entry): the image must be a cudnn variant.
        Assert.Contains("-cudnn-runtime-", image.Groups["tag"].Value, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("compose/README.md")]
    [InlineData("compose/Dockerfile.cuda")]
    [InlineData("Directory.Build.props")]
    public void Docs_NameTheCudaMajorTheProviderLibraryNeeds(string file)
    {
        var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, file));
        var mentions = CudaMention().Matches(text).Select(m => int.Parse(m.Groups["major"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.NotEmpty(mentions);
        Assert.All(mentions, m => Assert.Equal(NeededCudaMajor(), m));
    }

    [GeneratedRegex(@"^ARG CUDA_IMAGE=(?<tag>nvidia/cuda:(?<major>\d+)\.\d+\.\d+-\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex CudaImageArg();

    // "CUDA 13", "CUDA 13 and cuDNN 9": a CUDA version named in prose.
    [GeneratedRegex(@"\bCUDA (?<major>\d+)\b")]
    private static partial Regex CudaMention();
}
