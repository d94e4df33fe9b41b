using System.Text.Json;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Cli.Commands;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class RerankCommandTests
{
    private const string Query = "why do onions make people cry";

    private static string SamplePassages => Path.Combine(TestPaths.RepoRoot, "samples", "demo", "passages.jsonl");

    /// <summary>
    /// A passage the model scored NaN is one it failed to judge, as the proxy and the worker take it (PassageResult.Judged,
    /// through PassageRanking.Rank, which the command's engine.RerankAsync ranks with): listed after the judged passages, in
    /// input order, with the executor's words and no score. Before, it was ranked last as a score and the JSON writer threw
    /// (".NET number values such as positive and negative infinity cannot be written as valid JSON").
    /// </summary>
    [Fact]
    public async Task Rerank_APassageScoredNaN_IsListedFailedAfterTheJudgedOnes_InTextAndJson()
    {
        static Rank1Judgement J(double score) => new(score, score >= 0.5, "because", 2, ReasoningEnd.Finished, 5, TimeSpan.Zero, TimeSpan.Zero);
        PassageRecord[] passages = [new("a", null, "A"), new("n1", null, "N1"), new("b", null, "B"), new("n2", null, "N2")];
        var ranked = PassageRanking.Rank([J(0.2), J(double.NaN), J(0.9), J(double.NaN)]);
        var provider = new ExecutionProviderChoice(ExecutionProviderKind.Cpu, ExecutionProviderKind.Cpu, null);

        using var json = new MemoryStream();
        await RerankOutput.WriteJsonAsync(json, "q", null, "m", false, provider, passages, ranked, CancellationToken.None);
        using var doc = JsonDocument.Parse(json.ToArray());
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["b", "a", "n1", "n2"], results.Select(r => r.GetProperty("id").GetString()));
        foreach (var (at, inputRank) in new[] { (2, 2), (3, 4) })
        {
            Assert.Equal(["rank", "id", "input_rank", "error"], results[at].EnumerateObject().Select(p => p.Name));
            Assert.Equal((at + 1, inputRank, "the model's score is NaN (not a number)"),
                (results[at].GetProperty("rank").GetInt32(), results[at].GetProperty("input_rank").GetInt32(), results[at].GetProperty("error").GetString()));
        }

        Assert.Equal(0.9, results[0].GetProperty("score").GetDouble());

        using var text = new StringWriter();
        await RerankOutput.WriteTextAsync(text, "q", provider, passages, ranked);
        var lines = text.ToString().Split('\n');
        Assert.Contains("   3  n1        -  failed           -  -             2", lines);
        Assert.Contains("      error:     the model's score is NaN (not a number)", lines);
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Rerank_Json_ListsEveryPassageBestFirstWithTheEngineScores()
    {
        var result = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", Query, "--passages", SamplePassages, "--max-think-tokens", "6", "--json");
        Assert.True(result.ExitCode == 0, result.Error);

        using var doc = JsonDocument.Parse(result.Out);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToArray();
        var lines = File.ReadAllLines(SamplePassages).Where(l => l.Length > 0).ToArray();
        Assert.Equal(lines.Length, results.Length);
        Assert.True(doc.RootElement.GetProperty("random_weights").GetBoolean());
        Assert.Equal(Enumerable.Range(1, lines.Length), results.Select(r => r.GetProperty("rank").GetInt32()));
        Assert.Equal(Enumerable.Range(1, lines.Length), results.Select(r => r.GetProperty("input_rank").GetInt32()).Order());
        var scores = results.Select(r => r.GetProperty("score").GetDouble()).ToArray();
        Assert.Equal(scores.OrderDescending(), scores);

        // Each printed score is what the engine gives for that passage judged alone (the tool decodes the passages as
        // one batch, which equals judging alone up to float rounding).
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        foreach (var r in results.Take(3))
        {
            using var line = JsonDocument.Parse(lines[r.GetProperty("input_rank").GetInt32() - 1]);
            Assert.Equal(line.RootElement.GetProperty("id").GetString(), r.GetProperty("id").GetString());
            var direct = engine.Judge(new Rank1Input(Query, line.RootElement.GetProperty("text").GetString()!, line.RootElement.GetProperty("title").GetString()),
                new JudgeSettings { MaxThinkTokens = 6 });
            Assert.InRange(Math.Abs(direct.Score - r.GetProperty("score").GetDouble()), 0, 1e-6);
            Assert.Equal(direct.Reasoning, r.GetProperty("reasoning").GetString());
            Assert.Equal(6, r.GetProperty("reasoning_tokens").GetInt32());
            Assert.Equal("budget", r.GetProperty("ended").GetString());
        }
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Rerank_Text_PrintsTheRankedList()
    {
        var result = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", Query, "--passages", SamplePassages, "--max-think-tokens", "2");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("random-weight test model", result.Error, StringComparison.Ordinal);
        Assert.Contains($"Query: {Query}", result.Out, StringComparison.Ordinal);
        Assert.Contains("Execution provider: Cpu (requested Auto); fell back to the CPU: Cuda: not in this build", result.Out, StringComparison.Ordinal);
        Assert.Equal(8, result.Out.Split('\n').Count(l => l.Contains("reasoning:", StringComparison.Ordinal)));
    }

    /// <summary>
    /// A graph whose batched rows differ from alone only by a function of their own tokens (the tiny int4 graph deformed
    /// at more than one row): by default the load warns (1013) and names the setting; <c>--no-exact-batching</c> batches it.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task RealProcess_Rerank_NoExactBatching_BatchesAGraphThatDiffersOnlyByRounding()
    {
        string[] common = ["rerank", "--model", TestPaths.TinyGenAiInt4DeformRoundingModel, "--query", Query, "--passages", SamplePassages, "--max-think-tokens", "2", "--json"];
        var exact = await CliRunner.RunProcessAsync(common);
        Assert.True(exact.ExitCode == 0, exact.Error);
        Assert.Contains("decodes one row at a time", exact.Error, StringComparison.Ordinal);
        Assert.Contains("Rank1:Model:ExactBatching=false batches this graph", exact.Error, StringComparison.Ordinal);

        var batching = await CliRunner.RunProcessAsync([.. common, "--no-exact-batching"]);
        Assert.True(batching.ExitCode == 0, batching.Error);
        Assert.DoesNotContain("decodes one row at a time", batching.Error, StringComparison.Ordinal);
        Assert.Equal(
            JsonDocument.Parse(exact.Out).RootElement.GetProperty("results").GetArrayLength(),
            JsonDocument.Parse(batching.Out).RootElement.GetProperty("results").GetArrayLength());
    }

    [Theory]
    [InlineData(new[] { "rerank", "--passages", "x.jsonl" }, "Option '--query' is required")]
    [InlineData(new[] { "rerank", "--query", "q", "--passages", "x", "--prompt-template", "Claim: {query}" }, "--prompt-template: a prompt template must contain FILL_QUERY_HERE")]
    [InlineData(new[] { "rerank", "--query", "q" }, "Option '--passages' is required")]
    [InlineData(new[] { "rerank", "--query", "q", "--passages", "x", "--bogus", "1" }, "Unrecognized command or argument '--bogus'")]
    [InlineData(new[] { "rerank", "--query", "q", "--passages", "x", "--max-think-tokens", "-3" }, "--max-think-tokens must be a whole number from 0 to 32768")]
    [InlineData(new[] { "rerank", "--query", "q", "--passages", "x", "--execution-provider", "tpu" }, "--execution-provider must be one of Auto, Cpu, Cuda, DirectML")]
    [InlineData(new[] { "rerank", "--query" }, "Required argument missing for option: '--query'")]
    [InlineData(new[] { "frobnicate" }, "Unrecognized command or argument 'frobnicate'")]
    public async Task BadArguments_OneLineErrorAndExitCode2(string[] args, string expected)
    {
        var result = await CliRunner.RunAsync(args);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task BadPassagesFile_NamesFileAndLine()
    {
        var file = Path.Combine(TestTemp.Folder(), "p.jsonl");
        await File.WriteAllLinesAsync(file, ["{\"id\":\"a\",\"text\":\"fine\"}", "{\"id\":\"b\",\"title\":\"no text\"}"]);
        var result = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", file);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{file}:2: \"text\" (a string) is required", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task BadModelFolder_OneLineErrorAndExitCode3()
    {
        var missing = Path.Combine(Path.GetTempPath(), "missing-model-" + Guid.NewGuid().ToString("N"));
        var result = await CliRunner.RunAsync("rerank", "--model", missing, "--query", "q", "--passages", SamplePassages);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains(missing, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
    }

    /// <summary>
    /// Instructions that ask nothing (<c>" "</c>, <c>"\u0001"</c>: PrecomputeReasoning.IsBlankQuery) are a usage error, exit 2,
    /// as precompute's <c>--instructions</c>; <c>""</c> is none. Before, they were appended to the query and judged.
    /// </summary>
    [Theory]
    [InlineData(" ")]
    [InlineData("\u0001")]
    public async Task BlankInstructions_AreAUsageError_Exit2(string instructions)
    {
        var result = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", SamplePassages, "--instructions", instructions);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--instructions must not be blank", result.Error, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task RealProcess_BadArgument_ExitsNonZeroWithOneLine()
    {
        var result = await CliRunner.RunProcessAsync("rerank", "--query", "q");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("rank1-bridge rerank: Option '--passages' is required (see rank1-bridge rerank --help)", result.Error.Trim());
        Assert.Equal(string.Empty, result.Out);
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Rerank_Json_WritesTextPastAsciiAsUtf8_EscapingOnlyWhatJsonRequires()
    {
        // Before, every character past ASCII was a \uXXXX escape (a Japanese passage twice its size in a file piped to disk).
        var passages = Path.Combine(TestTemp.Folder("rank1-rerank-utf8-"), "p.jsonl");
        // An emoji (past U+FFFF) and a backtick, which .NET's relaxed encoder still escapes (the emoji as its \uD83E\uDDC5
        // pair), are written as themselves too (OutputJson), as the rerank service writes them.
        await File.WriteAllTextAsync(passages, "{\"id\":\"文書1 🧅\",\"title\":\"玉ねぎを切ると涙が出る \\\"Zwiebel\\\"\\n `😢`\",\"text\":\"t\"}\n");
        var result = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", "なぜ玉ねぎで泣くのか 😢", "--passages", passages, "--max-think-tokens", "0", "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("\"query\": \"なぜ玉ねぎで泣くのか 😢\"", result.Out, StringComparison.Ordinal);
        Assert.Contains("\"id\": \"文書1 🧅\"", result.Out, StringComparison.Ordinal);
        Assert.Contains("\"title\": \"玉ねぎを切ると涙が出る \\\"Zwiebel\\\"\\n `😢`\"", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", result.Out, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task RealProcess_Rerank_Json_IsOneJsonDocumentOnStdout()
    {
        var result = await CliRunner.RunProcessAsync("rerank", "--model", TestPaths.TinyModel, "--query", Query, "--passages", SamplePassages, "--max-think-tokens", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(8, doc.RootElement.GetProperty("results").GetArrayLength());
        // Auto on this CPU build: the provider in use and why no GPU provider was used are part of the output.
        var provider = doc.RootElement.GetProperty("execution_provider");
        Assert.Equal("Auto", provider.GetProperty("requested").GetString());
        Assert.Equal("Cpu", provider.GetProperty("actual").GetString());
        Assert.Contains("Cuda: not in this build", provider.GetProperty("fallback").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// #18: rank1-bridge rerank on one passage of 32,000 `a`s (no spaces, far past the passage token limit) aborted
    /// (exit 134). Now it is cut to the limit before BPE and judged, and the output says it was cut.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task RealProcess_PassageOf32000LettersWithoutSpaces_IsCutToTheTokenLimitAndJudged()
    {
        var folder = TestTemp.Folder("rank1-rerank-long-");
        try
        {
            var file = Path.Combine(folder, "passages.jsonl");
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new { id = "long", text = new string('a', 32_000) }) + "\n"
                + JsonSerializer.Serialize(new { id = "short", text = "Onions release a gas that makes eyes water." }) + "\n");

            var result = await CliRunner.RunProcessAsync("rerank", "--model", TestPaths.TinyModel, "--execution-provider", "Cpu", "--query", Query, "--passages", file, "--max-think-tokens", "2", "--json");

            Assert.True(result.ExitCode == 0, result.Error);
            using var doc = JsonDocument.Parse(result.Out);
            var results = doc.RootElement.GetProperty("results").EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!);
            Assert.True(results["long"].GetProperty("truncated").GetBoolean());
            Assert.False(results["short"].TryGetProperty("truncated", out _));
            // The cut prompt: the passage at its token limit (2,048 by default) plus the query and the prompt's own tokens.
            Assert.InRange(results["long"].GetProperty("prompt_tokens").GetInt32(), new Rank1EngineOptions().MaxPassageTokens, new Rank1EngineOptions().MaxPassageTokens + 100);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("Auto")]
    [InlineData("Cpu")]
    public async Task RealProcess_RequireAccelerator_WithoutGpu_ExitsWith5NamingTheReason(string provider)
    {
        var result = await CliRunner.RunProcessAsync("rerank", "--model", TestPaths.TinyModel, "--query", Query, "--passages", SamplePassages,
            "--execution-provider", provider, "--require-accelerator", "--json");
        Assert.Equal(5, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        Assert.StartsWith("rank1-bridge rerank: RequireAccelerator is set and no GPU provider can run the model", result.Error.Trim(), StringComparison.Ordinal);
        Assert.Contains($"ExecutionProvider={provider}", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_ListsEveryOption()
    {
        var result = await CliRunner.RunAsync("rerank", "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var option in new[] { "--model", "--query", "--passages", "--instructions", "--max-think-tokens", "--require-accelerator", "--json" })
        {
            Assert.Contains(option, result.Out, StringComparison.Ordinal);
        }
    }
}
