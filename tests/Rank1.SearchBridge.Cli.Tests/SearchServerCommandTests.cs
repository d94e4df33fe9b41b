using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed partial class SearchServerCommandTests
{
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task SearchServer_WithSample_ServesTheCorpusOverHttpUntilSigterm()
    {
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet", [CliRunner.Dll, "search-server", "--port", "0", "--sample"]), Listening());
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            var count = JsonNode.Parse(await http.GetStringAsync("rank1-sample/_count"))!;
            Assert.Equal(210, count["count"]!.GetValue<int>());
            var hits = JsonNode.Parse(await http.GetStringAsync("rank1-sample/_search?q=penguins"))!;
            Assert.Contains("penguin-01", hits["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));

            var (exitCode, output) = await TestProcess.TerminateAsync(process);
            Assert.Equal(0, exitCode);
            Assert.Contains("Stopping.", output, StringComparison.Ordinal);
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Fact]
    public async Task SearchServer_BadFlavor_OneLineUsageError()
    {
        var result = await CliRunner.RunAsync("search-server", "--flavor", "solr");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--flavor must be one of Elasticsearch, OpenSearch", result.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex("listening on (http://\\S+)")]
    private static partial Regex Listening();
}
