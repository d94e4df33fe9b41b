using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class InitCommandTests
{
    [Fact]
    public async Task Init_CreatesTheReasoningIndexOnce_AndAgainChangesNothing()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var first = await CliRunner.RunAsync("init", "--backend", backend.Url.ToString());
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("index rank1-reasoning created", first.Out, StringComparison.Ordinal);
        var second = await CliRunner.RunAsync("init", "--backend", backend.Url.ToString());
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("index rank1-reasoning already exists", second.Out, StringComparison.Ordinal);

        using var http = new HttpClient { BaseAddress = backend.Url };
        var props = JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_mapping"))!["rank1-reasoning"]!["mappings"]!["properties"]!;
        Assert.Equal("text", props["reasoning"]!["type"]!.GetValue<string>());
        Assert.Equal("keyword", props["passage_hash"]!["type"]!.GetValue<string>());
        Assert.Equal("double", props["score"]!["type"]!.GetValue<string>());
        Assert.Equal("date", props["created"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Init_OnAnIndexThatIsNotAReasoningIndex_FailsNamingIt()
    {
        // It said "index rank1-sample already exists." and exit 0 for a corpus index named by mistake.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };
        (await http.PutAsync("corpus/_doc/1", new StringContent("""{"text":"tea"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var result = await CliRunner.RunAsync("init", "--backend", backend.Url.ToString(), "--index", "corpus");
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("index corpus exists but is not a reasoning index: [model_id] is missing", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_UnreachableCluster_OneLineError()
    {
        var result = await CliRunner.RunAsync("init", "--backend", "http://127.0.0.1:9");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot reach the cluster at http://127.0.0.1:9", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_BadIndexName_IsAUsageError()
    {
        var result = await CliRunner.RunAsync("init", "--index", "Bad Name");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--index must be a lowercase index name", result.Error, StringComparison.Ordinal);
    }
}
