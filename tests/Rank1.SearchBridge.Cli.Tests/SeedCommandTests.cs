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

    /// <summary>
    /// A passage line with a lone surrogate escape (half an emoji) or a field given twice was a stack trace; it is one
    /// line naming the file, the line and the field, exit 4, as rerank --passages and eval's corpus.jsonl answer it.
    /// </summary>
    [Theory]
    [InlineData("{\"id\":\"a\",\"text\":\"onions \\ud83d\"}", "\"text\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"id\":\"a\",\"title\":\"\\ude00\",\"text\":\"onions\"}", "\"title\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"id\":\"a\\ud83d\",\"text\":\"onions\"}", "\"id\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"id\":\"a\",\"text\":\"onions\",\"text\":\"garlic\"}", "not valid JSON (Duplicate property 'text' encountered during deserialization.)")]
    [InlineData("{\"id\":\"a\",\"id\":\"b\",\"text\":\"onions\"}", "not valid JSON (Duplicate property 'id' encountered during deserialization.)")]
    public async Task Seed_OwnFile_ALoneSurrogateOrAFieldTwice_OneLineNamingFileLineAndField_Exit4(string passage, string problem)
    {
        var path = TestTemp.File($"rank1-seed-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllTextAsync(path, "{\"id\":\"ok\",\"text\":\"fine \\ud83d\\ude00\"}\n" + passage + "\n");
        var result = await CliRunner.RunAsync("seed", "--file", path, "--backend", "http://127.0.0.1:9");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"rank1-bridge seed: {path}:2: {problem}", result.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// A gateway in front of the cluster answering the bulk load with an HTML page or an empty body (with a 200) was a
    /// JsonException's stack trace; it is one line naming the index, the status and the start of the answer, exit 1.
    /// </summary>
    [Theory]
    [InlineData("text/html", "<html><body>Maintenance</body></html>", "<html><body>Maintenance</body></html>")]
    [InlineData("text/plain", "", "(an empty body)")]
    public async Task Seed_BulkAnsweredByAGatewayWithWhatIsNotJson_OneLine_Exit1(string contentType, string body, string shown)
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        await using var gateway = await GatedBackend.StartAsync(backend.Url);
        gateway.AnswerInstead(path => path == "/_bulk", 200, contentType, body);
        var result = await CliRunner.RunAsync("seed", "--backend", gateway.Url.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"rank1-bridge seed: loading rank1-sample failed: HTTP 200 {shown}", result.Error.Trim());
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
