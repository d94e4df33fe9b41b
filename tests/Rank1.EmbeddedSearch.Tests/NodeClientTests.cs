using System.Diagnostics;
using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>The official JavaScript client (npm @elastic/elasticsearch) as a caller, in a real Node.js process.</summary>
public sealed class NodeClientTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task JavaScriptClient_BulkThenSearch_Works()
    {
        var result = await RunNodeAsync("es-client-smoke.mjs", fx.Server.Url.ToString(), "js-kitchen");
        Assert.False(result["bulkErrors"]!.GetValue<bool>());
        Assert.Equal(3, result["bulkItems"]!.GetValue<int>());
        Assert.Equal(2, result["total"]!.GetValue<int>());
        // "hot water": js-2 has both terms, js-1 only "water".
        Assert.Equal(["js-2", "js-1"], result["ids"]!.AsArray().Select(i => i!.GetValue<string>()));
    }

    internal static async Task<JsonNode> RunNodeAsync(string script, params string[] args)
    {
        var folder = Path.Combine(TestPaths.RepoRoot, "tests", "node");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules")), "tests/node/node_modules is missing: run ./build.sh setup");
        var psi = new ProcessStartInfo("node") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"node {script} failed: {await stderr}");
        return JsonNode.Parse((await stdout).Trim().Split('\n')[^1])!;
    }
}
