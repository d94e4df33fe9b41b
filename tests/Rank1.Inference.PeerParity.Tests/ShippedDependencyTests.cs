using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.Inference.PeerParity.Tests;

/// <summary>
/// The peer engines (OnnxRuntimeGenAI, llama.cpp through LLamaSharp) are for tests and benchmarks only: no shipped
/// project (src/*) has them anywhere in its restored dependency closure, direct or transitive.
/// </summary>
public sealed class ShippedDependencyTests
{
    private static readonly string[] PeerPackages = ["LLamaSharp", "Microsoft.ML.OnnxRuntimeGenAI"];

    [Fact]
    public void ShippedProjects_DoNotDependOnThePeerEngines()
    {
        var projects = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.csproj", SearchOption.AllDirectories);
        Assert.NotEmpty(projects);
        foreach (var project in projects)
        {
            var peers = Libraries(Path.GetDirectoryName(project)!).Where(l => PeerPackages.Any(p => l.StartsWith(p, StringComparison.OrdinalIgnoreCase))).ToArray();
            Assert.True(peers.Length == 0, $"{Path.GetFileName(project)} depends on {string.Join(", ", peers)}: peer engines are for tests and benchmarks only");
        }

        // The check reads real closures: the inference library's includes ONNX Runtime, and this test project's the peers.
        Assert.Contains("Microsoft.ML.OnnxRuntime", Libraries(Path.Combine(TestPaths.RepoRoot, "src", "Rank1.Inference")));
        var own = Libraries(Path.Combine(TestPaths.RepoRoot, "tests", "Rank1.Inference.PeerParity.Tests"));
        Assert.All(PeerPackages, p => Assert.Contains(p, own));
    }

    /// <summary>What restore resolved for a project: every package of its closure is a key ("name/version") of "libraries".</summary>
    private static string[] Libraries(string projectDir)
    {
        var assets = Path.Combine(projectDir, "obj", "project.assets.json");
        Assert.True(File.Exists(assets), $"{assets} is missing: restore the solution first");
        return JsonNode.Parse(File.ReadAllText(assets))!["libraries"]!.AsObject().Select(l => l.Key.Split('/')[0]).ToArray();
    }
}
