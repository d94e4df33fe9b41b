using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_WithTestModel_ShowsBothOrdersTheTopReasoningAndTheRandomWeightWarning()
    {
        var result = await CliRunner.RunAsync("demo", "--model", TestPaths.TinyModel, "--max-think-tokens", "4");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("random-weight TEST model", result.Out, StringComparison.Ordinal);
        Assert.Contains("tools/export-model.sh", result.Out, StringComparison.Ordinal);
        Assert.Contains("input order", result.Out, StringComparison.Ordinal);
        Assert.Contains("Rank1 order", result.Out, StringComparison.Ordinal);
        Assert.Contains("Reasoning: ", result.Out, StringComparison.Ordinal);
        // The table: input order on the left is the file order; the right column is a permutation of it.
        var lines = result.Out.Split('\n');
        var header = Array.FindIndex(lines, l => l.Contains("input order", StringComparison.Ordinal));
        var rows = lines.Skip(header + 1).TakeWhile(l => l.Trim().Length > 0)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var ids = Enumerable.Range(1, 8).Select(i => $"onion-{i}").ToArray();
        Assert.Equal(ids, rows.Select(r => r[1]));
        Assert.Equal(ids, rows.Select(r => r[3]).Order());
        Assert.Contains($"Top passage: {rows[0][3]} ", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_NoModelAnywhere_SaysHowToGetOne()
    {
        var result = await CliRunner.RunAsync("demo", "--model", Path.Combine(Path.GetTempPath(), "none-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("model folder not found", result.Error, StringComparison.Ordinal);
    }
}
