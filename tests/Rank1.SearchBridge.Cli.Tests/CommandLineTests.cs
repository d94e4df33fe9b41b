using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>The command line itself (System.CommandLine): every command's options, help, and parse errors as one line with exit code 2.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("demo", "--model", "--query", "--port", "--window", "--max-think-tokens", "--once")]
    [InlineData("eval", "--run", "--topics", "--qrels", "--index", "--backend", "--proxy", "--fields", "--depth", "--window", "--prompt-template", "--metrics", "--run-out", "--sample", "--dataset", "--model", "--max-think-tokens", "--json")]
    [InlineData("init", "--backend", "--index", "--authorization")]
    [InlineData("precompute", "--queries", "--index", "--window", "--fields", "--title-field", "--max-think-tokens", "--max-query-tokens", "--max-passage-tokens", "--instructions", "--prompt-template", "--broker", "--queue", "--connect-timeout", "--wait", "--timeout")]
    [InlineData("proxy", "--backend", "--model", "--port", "--host", "--config", "--require-accelerator")]
    [InlineData("rerank", "--model", "--query", "--passages", "--instructions", "--prompt-template", "--max-think-tokens", "--execution-provider", "--require-accelerator", "--threads", "--no-exact-batching", "--json")]
    [InlineData("search-server", "--port", "--host", "--data", "--flavor", "--sample")]
    [InlineData("seed", "--backend", "--index", "--file", "--reasoning-index", "--authorization", "--wait")]
    [InlineData("serve", "--model", "--port", "--host", "--backend", "--config", "--require-accelerator")]
    public async Task Help_OfEachCommand_ListsEveryOptionAndExits0(string command, params string[] options)
    {
        var result = await CliRunner.RunAsync(command, "--help");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains($"rank1-bridge {command} [options]", result.Out, StringComparison.Ordinal);
        // The first column of the options section, in order (continuation lines of a description are indented further).
        var listed = result.Out.Split('\n').Where(l => l.StartsWith("  --", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')[0]);
        Assert.Equal(options, listed);
        Assert.Contains("-?, -h, --help", result.Out, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Error);
    }

    [Fact]
    public async Task RootHelp_ListsEveryCommand_BareToolIsAUsageError()
    {
        var help = await CliRunner.RunAsync("--help");
        var bare = await CliRunner.RunAsync();
        Assert.Equal(0, help.ExitCode);
        Assert.Equal(2, bare.ExitCode);
        foreach (var command in new[] { "demo", "eval", "init", "precompute", "proxy", "rerank", "search-server", "seed", "serve" })
        {
            Assert.Contains($"\n  {command} ", help.Out, StringComparison.Ordinal);
        }

        Assert.Equal(help.Out, bare.Out);
    }

    [Theory]
    [InlineData(new[] { "demo", "--window", "abc" }, "rank1-bridge demo: --window must be a whole number from 1 to 1000 (got 'abc') (see rank1-bridge demo --help)")]
    [InlineData(new[] { "seed", "--wait", "3601" }, "rank1-bridge seed: --wait must be a whole number from 0 to 3600 (got '3601') (see rank1-bridge seed --help)")]
    [InlineData(new[] { "serve", "--port=65536" }, "rank1-bridge serve: --port must be a whole number from 0 to 65535 (got '65536') (see rank1-bridge serve --help)")]
    [InlineData(new[] { "init", "--index=Bad Name" }, "rank1-bridge init: --index must be a lowercase index name")]
    [InlineData(new[] { "seed", "--backend", "ftp://x" }, "rank1-bridge seed: --backend must be an http(s) URL (got 'ftp://x') (see rank1-bridge seed --help)")]
    [InlineData(new[] { "precompute", "--index", "docs" }, "rank1-bridge precompute: Option '--queries' is required (see rank1-bridge precompute --help)")]
    [InlineData(new[] { "demo", "--once=yes" }, "rank1-bridge demo: Unrecognized command or argument 'yes' (see rank1-bridge demo --help)")]
    [InlineData(new[] { "eval", "--sample", "--prompt-template", "no placeholder" }, "rank1-bridge eval: --prompt-template: a prompt template must contain FILL_QUERY_HERE")]
    public async Task ParseErrors_OneLineOnStderr_NothingOnStdout_Exit2(string[] args, string expected)
    {
        var result = await CliRunner.RunAsync(args);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith(expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.Equal(string.Empty, result.Out);
    }

    /// <summary>
    /// An empty or blank <c>--index</c> made the search path <c>/_search</c>, which Elasticsearch reads as every index
    /// ("To search all data streams and indices, omit this parameter or use * or _all", the search API's
    /// <c>&lt;target&gt;</c>): eval scored runs over every index, the reasoning index included, and precompute queued jobs
    /// that every worker refused, both without a word. A real process, against a cluster that is not there: before,
    /// eval went on to search (exit 1, cannot reach the cluster) and precompute to connect (exit 1).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("eval", "")]
    [InlineData("eval", " ")]
    [InlineData("precompute", "")]
    public async Task Index_EmptyOrBlank_IsAUsageError_NotASearchOfEveryIndex(string command, string index)
    {
        var corpus = Path.Combine(TestPaths.RepoRoot, "samples", "corpus");
        string[] args = command == "eval"
            ? ["eval", "--topics", Path.Combine(corpus, "queries.tsv"), "--qrels", Path.Combine(corpus, "qrels.txt"), "--index", index,
                "--backend", "http://127.0.0.1:9", "--proxy", "http://127.0.0.1:9", "--run-out", TestTemp.Folder("runs-")]
            : ["precompute", "--queries", Path.Combine(corpus, "queries.tsv"), "--index", index, "--broker", "amqp://guest:guest@127.0.0.1:9/", "--connect-timeout", "1"];
        var result = await CliRunner.RunProcessAsync(args);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"rank1-bridge {command}: --index must name an index or index pattern (got '{index}'; an empty one searches every index) (see rank1-bridge {command} --help)",
            result.Error.TrimEnd('\n'));
    }

    [Fact]
    public async Task ArgumentStartingWithAt_IsAValueNotAResponseFile()
    {
        // Response files are off: "@nothing-here" is the passages file, which does not exist (exit 4), not a parse error.
        var result = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", "@nothing-here");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("@nothing-here", result.Error, StringComparison.Ordinal);
    }
}
