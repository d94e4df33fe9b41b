using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>
/// The CUDA image's proxy (published by <see cref="DockerfileBuildTests"/> with <c>-p:Rank1Accelerator=Cuda</c>) started
/// as a real process where its CUDA provider cannot start: <c>Auto</c> must fall back visibly (a warning naming the
/// provider and the reason, the provider in use in <c>/_rank1/health</c> and in the metrics), and
/// <c>RequireAccelerator</c> must refuse to start with exit code 5.
/// </summary>
internal static partial class CudaProxyFallback
{
    public static async Task AssertVisibleAndRefusableAsync(string publishedProxy)
    {
        // This build lists CUDAExecutionProvider; without its provider library the provider cannot start on any machine,
        // GPU or not (on a machine without CUDA 13 the library's own NEEDED entries fail the same way), so the outcome
        // does not depend on where the test runs.
        var library = Path.Combine(publishedProxy, "libonnxruntime_providers_cuda.so");
        Assert.True(File.Exists(library), $"{library} is missing from the CUDA publish");
        File.Delete(library);

        var environment = new Dictionary<string, string>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1__Model__Path"] = TestPaths.TinyModel,
            ["Rank1__Model__ExecutionProvider"] = "Auto",
            ["Rank1__Backend__Url"] = "http://127.0.0.1:9",
        };
        var dll = Path.Combine(publishedProxy, "Rank1.SearchBridge.Proxy.dll");
        var log = new List<string>();
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet", [dll], publishedProxy, environment), Listening(), log);
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            using var response = await http.GetAsync(new Uri("_rank1/health", UriKind.Relative));
            var provider = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["model"]!["execution_provider"]!;
            Assert.Equal("Auto", provider["requested"]!.GetValue<string>());
            Assert.Equal("Cpu", provider["actual"]!.GetValue<string>());
            Assert.Contains("Cuda: ExecutionProvider=Cuda: CUDAExecutionProvider could not start", provider["fallback"]!.GetValue<string>(), StringComparison.Ordinal);
            var metrics = await http.GetStringAsync(new Uri("_rank1/metrics", UriKind.Relative));
            Assert.Equal(1, PrometheusText.Value(metrics, "rank1_execution_provider", ("requested", "Auto"), ("actual", "Cpu"), ("fallback", "true")));
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }

        var startLog = string.Join('\n', log);
        Assert.True(FallbackWarning().IsMatch(startLog), startLog);

        environment["Rank1__Model__RequireAccelerator"] = "true";
        var refused = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet", [dll], publishedProxy, environment));
        Assert.Equal(5, refused.ExitCode);
        Assert.Contains("RequireAccelerator is set and no GPU provider can run the model (ExecutionProvider=Auto: Cuda: ExecutionProvider=Cuda: CUDAExecutionProvider could not start",
            refused.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex("Now listening on: (http://\\S+)")]
    private static partial Regex Listening();

    // The console logger's warning ("warn: Rank1.Inference[1004]") naming the provider and ONNX Runtime's reason.
    [GeneratedRegex(@"warn: Rank1\.Inference\[1004\]\s+ExecutionProvider=Auto fell back to the CPU: Cuda: ExecutionProvider=Cuda: CUDAExecutionProvider could not start \([^)]*Failed to load shared library\)")]
    private static partial Regex FallbackWarning();
}
