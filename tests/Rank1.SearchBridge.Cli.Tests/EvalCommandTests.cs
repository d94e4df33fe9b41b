using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class EvalCommandTests
{
    private static Task<CliResult> Eval(string runDir, params string[] extra) =>
        CliRunner.RunAsync(["eval", "--sample", "--model", TestPaths.TinyModel, "--max-think-tokens", "2", "--run-out", runDir, "--json", .. extra]);

    private static Dictionary<string, List<string>> ReadRun(string file) => File.ReadAllLines(file)
        .Select(l => l.Split(' ')).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Select(p => p[2]).ToList());

    [Fact]
    public async Task Eval_Sample_WritesBothRunsAndComparesEveryMetric()
    {
        var dir = Directory.CreateTempSubdirectory("rank1-eval-").FullName;
        var result = await Eval(dir);
        Assert.True(result.ExitCode == 0, result.Error);

        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal(10, json["topics"]!.GetValue<int>());
        Assert.Equal(10, json["judged_topics"]!.GetValue<int>());
        Assert.Equal(["ndcg@10", "mrr@10", "recall@100", "map"], json["metrics"]!.AsArray().Select(m => m!["metric"]!.GetValue<string>()));
        foreach (var m in json["metrics"]!.AsArray())
        {
            Assert.Equal(m!["proxy"]!.GetValue<double>() - m["backend"]!.GetValue<double>(), m["delta"]!.GetValue<double>(), 12);
            Assert.InRange(m["p_value"]!.GetValue<double>(), 0.0, 1.0);
            Assert.InRange(m["wins"]!.GetValue<int>() + m["losses"]!.GetValue<int>(), 0, 10);
        }

        // Reranking permutes the top 10 (the proxy's default window) and leaves the rest in backend order,
        // so recall@100 cannot change.
        var backend = ReadRun(Path.Combine(dir, "backend.run"));
        var proxy = ReadRun(Path.Combine(dir, "proxy.run"));
        Assert.Equal(10, backend.Count);
        foreach (var (qid, docs) in backend)
        {
            Assert.Equal(docs.Take(10).Order(), proxy[qid].Take(10).Order());
            Assert.Equal(docs.Skip(10), proxy[qid].Skip(10));
        }

        var recall = json["metrics"]!.AsArray().Single(m => m!["metric"]!.GetValue<string>() == "recall@100")!;
        Assert.Equal(recall["backend"]!.GetValue<double>(), recall["proxy"]!.GetValue<double>());
    }

    [Fact]
    public async Task Eval_InterruptedRun_ResumesAndGivesTheSameResult()
    {
        var dir = Directory.CreateTempSubdirectory("rank1-eval-resume-").FullName;
        var first = await Eval(dir);
        Assert.True(first.ExitCode == 0, first.Error);
        var proxyRun = Path.Combine(dir, "proxy.run");
        var complete = File.ReadAllLines(proxyRun);

        // Simulate a crash: the last three queries never finished, the last write was torn.
        var keep = complete.Where(l => l.Split(' ')[0] is not ("q8" or "q9" or "q10")).ToList();
        File.WriteAllText(proxyRun, string.Join('\n', keep) + "\nq8 Q0 onion-0");

        var second = await Eval(dir);
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Equal(JsonNode.Parse(first.Out)!["metrics"]!.ToJsonString(), JsonNode.Parse(second.Out)!["metrics"]!.ToJsonString());
        Assert.Equal(complete.Order(), File.ReadAllLines(proxyRun).Order());
        Assert.Contains("7 resumed", second.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_TableOutput_ShowsEveryMetricSideBySide()
    {
        var dir = Directory.CreateTempSubdirectory("rank1-eval-table-").FullName;
        var result = await CliRunner.RunAsync("eval", "--sample", "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--run-out", dir, "--metrics", "ndcg@5,p@3");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("│ ndcg@5 ", result.Out, StringComparison.Ordinal);
        Assert.Contains("│ p@3 ", result.Out, StringComparison.Ordinal);
        Assert.Contains("randomisation", result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "eval", "--qrels", "q", "--index", "i" }, 2, "--topics is required")]
    [InlineData(new[] { "eval", "--sample", "--metrics", "recall" }, 2, "unknown metric 'recall'")]
    [InlineData(new[] { "eval", "--topics", "/nonexistent/topics.tsv", "--qrels", "q", "--index", "i" }, 4, "/nonexistent/topics.tsv: file not found")]
    [InlineData(new[] { "eval", "--topics", "x", "--qrels", "q", "--index", "i", "--backend", "ftp://x" }, 2, "--backend must be an http(s) URL")]
    public async Task Eval_BadArguments_OneLineAndExitCode(string[] args, int exitCode, string message)
    {
        var result = await CliRunner.RunAsync(args);
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_BadQrelsLine_NamesFileAndLine()
    {
        var dir = Directory.CreateTempSubdirectory("rank1-eval-bad-").FullName;
        var topics = Path.Combine(dir, "t.tsv");
        var qrels = Path.Combine(dir, "q.txt");
        await File.WriteAllTextAsync(topics, "q1\tonions\n");
        await File.WriteAllTextAsync(qrels, "q1 0 onion-02 2\nq1 onion-03\n");
        var result = await CliRunner.RunAsync("eval", "--sample", "--model", TestPaths.TinyModel, "--topics", topics, "--qrels", qrels, "--run-out", dir);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{qrels}: line 2", result.Error, StringComparison.Ordinal);
    }
}
