using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_WithTestModel_ShowsBothOrdersTheTopReasoningAndTheRandomWeightWarning()
    {
        var result = await CliRunner.RunAsync("demo", "--model", TestPaths.TinyModel, "--max-think-tokens", "4", "--once");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("random-weight TEST model", result.Out, StringComparison.Ordinal);
        Assert.Contains("tools/export-model.sh", result.Out, StringComparison.Ordinal);
        Assert.Contains("210 sample passages", result.Out, StringComparison.Ordinal);
        Assert.Contains("Reasoning: ", result.Out, StringComparison.Ordinal);
        // The table: BM25 order on the left, Rank1 order on the right, a permutation of the same hits.
        var lines = result.Out.Split('\n');
        Assert.Contains("X-Rank1-Rerank: applied", result.Out, StringComparison.Ordinal);
        Assert.Contains("curl -s 'http://127.0.0.1:", result.Out, StringComparison.Ordinal);
        // The rerank service is served by the same host: its URL and a ready curl for /v1/rerank on the proxy's port.
        var proxyUrl = System.Text.RegularExpressions.Regex.Match(result.Out, "Rank1 proxy: +(http://\\S+)").Groups[1].Value;
        Assert.Contains($"Rank1 rerank service:    {proxyUrl} ", result.Out, StringComparison.Ordinal);
        Assert.Contains($"  curl -s {proxyUrl}v1/rerank -H 'Content-Type: application/json' -d '{{\"query\":", result.Out, StringComparison.Ordinal);
        var header = Array.FindIndex(lines, l => l.Contains("BM25 order", StringComparison.Ordinal) && l.Contains("Rank1 order", StringComparison.Ordinal));
        var rows = lines.Skip(header + 1).TakeWhile(l => l.Trim().Length > 0)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        Assert.Equal(10, rows.Length);
        Assert.Equal(rows.Select(r => r[1]).Order(), rows.Select(r => r[3]).Order());
        Assert.Contains("onion-02", rows.Select(r => r[1])); // BM25 finds the answer somewhere in its top 10
        var scores = rows.Select(r => double.Parse(r[4], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.Contains($"Top hit: {rows[0][3]} ", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_NoModelAnywhere_SaysHowToGetOne()
    {
        var result = await CliRunner.RunAsync("demo", "--model", Path.Combine(Path.GetTempPath(), "none-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("model folder not found", result.Error, StringComparison.Ordinal);
    }
}
