using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// What the shipped hosts tell the .NET runtime, as built: their runtimeconfig.json, which the runtime reads at start.
/// </summary>
public sealed class HostRuntimeConfigTests
{
    /// <summary>
    /// Methods with loops are jitted fully optimized at their first call (no tier-0 code): the per-token greedy argmax
    /// over the vocabulary ran four to five times slower as tier-0 and instrumented code for the first thousands of
    /// tokens of every process (docs/benchmarks.md, "Tiered compilation").
    /// </summary>
    [Theory]
    [InlineData("Rank1.SearchBridge.Cli")]
    [InlineData("Rank1.SearchBridge.Proxy")]
    [InlineData("Rank1.SearchBridge.Worker")]
    public void ShippedHosts_JitMethodsWithLoopsFullyOptimized(string host)
    {
        var config = Path.ChangeExtension(TestPaths.Built(host), ".runtimeconfig.json");
        var properties = JsonNode.Parse(File.ReadAllText(config))!["runtimeOptions"]!["configProperties"]!.AsObject();
        Assert.True(properties.TryGetPropertyValue("System.Runtime.TieredCompilation.QuickJitForLoops", out var value), $"{config} does not set QuickJitForLoops");
        Assert.False(value!.GetValue<bool>());
    }
}
