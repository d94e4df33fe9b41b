using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class SeedCommandTests
{
    [Fact]
    public async Task Seed_InstallsTheReasoningIndex_AndLoadsTheSampleCorpus_AndAgainChangesNothing()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var first = await CliRunner.RunAsync("seed", "--backend", backend.Url.ToString());
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("index rank1-reasoning created", first.Out, StringComparison.Ordinal);
        Assert.Contains("Loaded 210 passages", first.Out, StringComparison.Ordinal);

        var second = await CliRunner.RunAsync("seed", "--backend", backend.Url.ToString());
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains("index rank1-reasoning already exists", second.Out, StringComparison.Ordinal);

        using var http = new HttpClient { BaseAddress = backend.Url };
        Assert.Equal(210, JsonNode.Parse(await http.GetStringAsync("rank1-sample/_count"))!["count"]!.GetValue<int>());
        var doc = JsonNode.Parse(await http.GetStringAsync("rank1-sample/_doc/onion-01"))!;
        Assert.Equal("Onion festival", doc["_source"]!["title"]!.GetValue<string>());
        Assert.Equal("text", JsonNode.Parse(await http.GetStringAsync("rank1-sample/_mapping"))!["rank1-sample"]!["mappings"]!["properties"]!["text"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Seed_OwnFile_BadLineNamesFileAndLine_Exit4()
    {
        var path = TestTemp.File($"rank1-seed-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllLinesAsync(path, ["{\"id\":\"a\",\"text\":\"one\"}", "{\"id\":\"b\"}"]);
        var result = await CliRunner.RunAsync("seed", "--file", path, "--backend", "http://127.0.0.1:9");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{path}:2: \"text\" must be a string", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Seed_OwnFile_ARepeatedId_NamesBothLines_Exit4_NothingLoaded()
    {
        // The later passage replaced the earlier in the index, and "Loaded 2 passages" counted both.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var path = TestTemp.File($"rank1-seed-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllLinesAsync(path, ["{\"id\":\"x1\",\"text\":\"one\"}", "{\"id\":\"x2\",\"text\":\"two\"}", "{\"id\":\"x1\",\"text\":\"three\"}"]);
        var result = await CliRunner.RunAsync("seed", "--file", path, "--backend", backend.Url.ToString(), "--index", "seeded");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{path}:3: id \"x1\" repeats line 1", result.Error, StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = backend.Url };
        using var exists = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "seeded"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, exists.StatusCode);
    }

    [Fact]
    public async Task Seed_UnreachableCluster_OneLineError_Exit1()
    {
        var result = await CliRunner.RunAsync("seed", "--backend", "http://127.0.0.1:9");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot reach the cluster at http://127.0.0.1:9", result.Error, StringComparison.Ordinal);
    }
}
