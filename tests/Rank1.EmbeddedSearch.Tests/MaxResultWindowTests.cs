using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// <c>index.max_result_window</c> (Elasticsearch's <c>IndexSettings.MAX_RESULT_WINDOW_SETTING</c>: an int, at least 1,
/// 10,000 by default, dynamic), set at creation or by <c>PUT /{index}/_settings</c>, bounds each index's shard
/// (<c>DefaultSearchContext.preProcess</c>). It was accepted with a <c>Warning</c> and ignored: the window stayed 10,000
/// although the error tells users to change the setting.
/// </summary>
public sealed class MaxResultWindowTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private EsClient Es => fx.Client;

    private static string TooLarge(int window, long asked) =>
        $"Result window is too large, from + size must be less than or equal to: [{window}] but was [{asked}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.";

    private async Task CreateWithDocsAsync(string index, string? settings)
    {
        var created = await Es.PutAsync($"/{index}", settings is null ? null : JsonNode.Parse($$"""{"settings":{{settings}}}"""));
        Assert.Equal(200, created.Status);
        Assert.False(created.Headers.Contains("Warning")); // nothing given is ignored
        var bulk = string.Concat(Enumerable.Range(1, 8).Select(i => $"{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"{i}\"}}}}\n{{\"n\":{i}}}\n"));
        Assert.False((await Es.BulkAsync(bulk)).Json["errors"]!.GetValue<bool>());
    }

    [Theory]
    // Settings.fromXContent flattens the object; normalizePrefix gives a key without "index." that prefix.
    [InlineData("win-nested", """{"index":{"max_result_window":5}}""")]
    [InlineData("win-flat", """{"index.max_result_window":"5"}""")]
    [InlineData("win-bare", """{"max_result_window":5}""")]
    public async Task SetAtCreation_BoundsTheIndexsShard_AndIsInItsSettings(string index, string settings)
    {
        await CreateWithDocsAsync(index, settings);
        Assert.Equal(200, (await Es.GetAsync($"/{index}/_search?from=2&size=3")).Status);
        var r = await Es.GetAsync($"/{index}/_search?from=3&size=3");
        Assert.Equal((400, "search_phase_execution_exception"), (r.Status, r.ErrorType));
        Assert.Equal(TooLarge(5, 6), r.Json["error"]!["failed_shards"]![0]!["reason"]!["reason"]!.GetValue<string>());

        Assert.Equal("5", (await Es.GetAsync($"/{index}/_settings")).Json[index]!["settings"]!["index"]!["max_result_window"]!.GetValue<string>());
        Assert.Equal("5", (await Es.GetAsync($"/{index}")).Json[index]!["settings"]!["index"]!["max_result_window"]!.GetValue<string>());
    }

    [Fact]
    public async Task AScrollsBatch_IsBoundByTheSetting()
    {
        await CreateWithDocsAsync("win-scroll", """{"index":{"max_result_window":5}}""");
        var r = await Es.GetAsync("/win-scroll/_search?scroll=1m&size=6");
        Assert.Equal(400, r.Status);
        Assert.Equal(
            "Batch size is too large, size must be less than or equal to: [5] but was [6]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.",
            r.Json["error"]!["failed_shards"]![0]!["reason"]!["reason"]!.GetValue<string>());
    }

    // RestUpdateSettingsAction: the body's settings, or those of its "settings" object; {"acknowledged":true}. A null
    // resets the setting to its default.
    [Fact]
    public async Task UpdatedBySettingsApi_WidensThenResets()
    {
        await CreateWithDocsAsync("win-update", null);
        Assert.Equal(400, (await Es.GetAsync("/win-update/_search?from=9999&size=2")).Status);

        var put = await Es.PutAsync("/win-update/_settings", JsonNode.Parse("""{"index":{"max_result_window":20000}}"""));
        Assert.Equal((200, """{"acknowledged":true}"""), (put.Status, put.Json.ToJsonString()));
        Assert.Equal(200, (await Es.GetAsync("/win-update/_search?from=9999&size=2")).Status);
        Assert.Equal("20000", (await Es.GetAsync("/win-update/_settings")).Json["win-update"]!["settings"]!["index"]!["max_result_window"]!.GetValue<string>());

        Assert.Equal(200, (await Es.PutAsync("/win-update/_settings", JsonNode.Parse("""{"settings":{"index.max_result_window":null}}"""))).Status);
        var r = await Es.GetAsync("/win-update/_search?from=9999&size=2");
        Assert.Equal((400, TooLarge(10_000, 10_001)), (r.Status, r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>()));
        Assert.Null((await Es.GetAsync("/win-update/_settings")).Json["win-update"]!["settings"]!["index"]!["max_result_window"]);
    }

    // RestUpdateSettingsAction reads its body with request.contentParser() (ElasticsearchParseException "request body is
    // required"), before TransportUpdateSettingsAction resolves the indices (a name that is not there: its 404).
    [Fact]
    public async Task TheSettingsApi_WithoutABody_OrOnAnIndexThatIsNotThere_IsRefused()
    {
        (await Es.PutAsync("/win-none/_settings")).AssertError(400, "parse_exception", "request body is required");
        (await Es.PutAsync("/win-none/_settings", JsonNode.Parse("""{"index.max_result_window":0}""")))
            .AssertError(404, "index_not_found_exception", "no such index [win-none]");
    }

    // SearchService checks each shard against its own index's setting: the index whose window is past is that shard's
    // failure, the other answers.
    [Fact]
    public async Task SearchOverTwoIndices_EachShardIsBoundByItsOwnIndex()
    {
        await CreateWithDocsAsync("win-small", """{"index":{"max_result_window":5}}""");
        await CreateWithDocsAsync("win-default", null);
        var r = await Es.GetAsync("/win-small,win-default/_search?from=0&size=8");
        Assert.Equal(200, r.Status);
        Assert.Equal((2, 1, 1), (r.Json["_shards"]!["total"]!.GetValue<int>(), r.Json["_shards"]!["successful"]!.GetValue<int>(), r.Json["_shards"]!["failed"]!.GetValue<int>()));
        var failure = r.Json["_shards"]!["failures"]![0]!;
        Assert.Equal(("win-small", TooLarge(5, 8)), (failure["index"]!.GetValue<string>(), failure["reason"]!["reason"]!.GetValue<string>()));
        Assert.Equal(8, r.Json["hits"]!["hits"]!.AsArray().Count);
    }

    // The setting is the index's, kept with it: a server started again on the same data reads it back.
    [Fact]
    public async Task TheSetting_SurvivesARestart()
    {
        var data = TestTemp.Folder("rank1-es-window-");
        await using (var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data }))
        {
            using var es = new EsClient(server.Url);
            Assert.Equal(200, (await es.PutAsync("/kept", JsonNode.Parse("""{"settings":{"index":{"max_result_window":3}}}"""))).Status);
        }

        await using var again = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data });
        using var es2 = new EsClient(again.Url);
        var r = await es2.GetAsync("/kept/_search?size=4");
        Assert.Equal((400, TooLarge(3, 4)), (r.Status, r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>()));
    }

    // Setting.intSetting(key, 10000, 1): Integer.parseInt's NumberFormatException, which Setting.get turns into an
    // IllegalArgumentException caused by it, or the value under the minimum; IndexScopedSettings.validate runs before the
    // index is made (MetadataCreateIndexService.normalizeRequestSetting), and before a settings update applies.
    [Theory]
    [InlineData("0", "Failed to parse value [0] for setting [index.max_result_window] must be >= 1", null)]
    [InlineData("-3", "Failed to parse value [-3] for setting [index.max_result_window] must be >= 1", null)]
    [InlineData("\"abc\"", "Failed to parse value [abc] for setting [index.max_result_window]", "For input string: \"abc\"")]
    [InlineData("5.0", "Failed to parse value [5.0] for setting [index.max_result_window]", "For input string: \"5.0\"")]
    [InlineData("2147483648", "Failed to parse value [2147483648] for setting [index.max_result_window]", "For input string: \"2147483648\"")]
    public async Task ABadValue_IsRefused_AtCreationAndUpdate(string value, string reason, string? cause)
    {
        var create = await Es.PutAsync("/win-bad", JsonNode.Parse("""{"settings":{"index":{"max_result_window":""" + value + "}}}"));
        create.AssertError(400, "illegal_argument_exception", reason);
        Assert.Equal(cause, create.Json["error"]!["caused_by"]?["reason"]?.GetValue<string>());
        Assert.Equal(cause is null ? null : "number_format_exception", create.Json["error"]!["caused_by"]?["type"]?.GetValue<string>());
        Assert.Equal(404, (await Es.GetAsync("/win-bad")).Status);

        var index = $"win-bad-update-{value.Trim('"').Replace(".", "", StringComparison.Ordinal)}";
        await CreateWithDocsAsync(index, null);
        var update = await Es.PutAsync($"/{index}/_settings", JsonNode.Parse($$"""{"max_result_window":{{value}}}"""));
        update.AssertError(400, "illegal_argument_exception", reason);
        Assert.Null((await Es.GetAsync($"/{index}/_settings")).Json[index]!["settings"]!["index"]!["max_result_window"]);
    }
}
