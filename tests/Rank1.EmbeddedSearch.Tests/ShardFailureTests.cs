using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// What fails on a shard, while the index's query or sort is built (Elasticsearch's <c>SearchExecutionContext.toQuery</c>
/// and <c>SortBuilder.buildSort</c>), is that shard's failure: when every shard failed, the search answers
/// <c>search_phase_execution_exception</c> "all shards failed" with the shards' failures
/// (<c>SearchPhaseExecutionException</c>, <c>ShardSearchFailure.toXContent</c>); when some answered, a 200 with
/// <c>_shards.failures</c>. Each index here is one shard, shard 0, on the server's one node.
/// </summary>
public sealed class ShardFailureTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        Assert.Equal(200, (await Es.PutAsync("/library", JsonNode.Parse("""
            {"mappings":{"properties":{"title":{"type":"text"},"year":{"type":"integer"},"rating":{"type":"float"},"published":{"type":"date"}}}}
            """))).Status);
        // "year" is a keyword here: "abc" is a value it reads, so a term query on it fails only in library.
        Assert.Equal(200, (await Es.PutAsync("/shelf", JsonNode.Parse("""{"mappings":{"properties":{"title":{"type":"text"},"year":{"type":"keyword"}}}}"""))).Status);
        var r = await Es.BulkAsync("""
            {"index":{"_index":"library","_id":"1"}}
            {"title":"Rivers of Europe","year":2001,"rating":4.5,"published":"2001-05-01"}
            {"index":{"_index":"shelf","_id":"s1"}}
            {"title":"Abc of Rivers","year":"abc"}

            """);
        Assert.False(r.Json["errors"]!.GetValue<bool>());
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    private const string NumberFailure =
        """{"type":"query_shard_exception","reason":"failed to create query: For input string: \"abc\"","index_uuid":"{library}","index":"library","caused_by":{"type":"number_format_exception","reason":"For input string: \"abc\""}}""";

    private const string NumberAllFailed =
        """{"error":{"root_cause":[{"type":"query_shard_exception","reason":"failed to create query: For input string: \"abc\"","index_uuid":"{library}","index":"library"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"library","node":"{node}","reason":""" + NumberFailure + """}]},"status":400}""";

    // TextFieldMapper.TextFieldType.fielddataBuilder; {fielddata} in an expected answer.
    private const string Fielddata =
        "Fielddata is disabled on [title] in [library]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [title] in order to load field data by uninverting the inverted index. Note that this can use significant memory.";

    private const string FielddataFailure =
        """{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"{fielddata}"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"library","node":"{node}","reason":{"type":"illegal_argument_exception","reason":"{fielddata}"}}],"caused_by":{"type":"illegal_argument_exception","reason":"{fielddata}","caused_by":{"type":"illegal_argument_exception","reason":"{fielddata}"}}},"status":400}""";

    public static TheoryData<string, string> AllShardsFailed => new()
    {
        // NumberFieldMapper's Double.parseDouble: a NumberFormatException, which toQuery wraps in a QueryShardException.
        // The shard's QueryShardException is its own root cause, so there is no caused_by (deduplicateCause).
        {
            """{"query":{"term":{"year":"abc"}}}""",
            NumberAllFailed
        },
        {
            """{"query":{"range":{"rating":{"gte":"abc"}}}}""",
            NumberAllFailed
        },
        // The date parser's ElasticsearchParseException is Elasticsearch's own: it is the root cause, and the caused_by.
        {
            """{"query":{"range":{"published":{"gte":"last tuesday"}}}}""",
            """{"error":{"root_cause":[{"type":"parse_exception","reason":"failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]: [failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]]"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"library","node":"{node}","reason":{"type":"query_shard_exception","reason":"failed to create query: failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]: [failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]]","index_uuid":"{library}","index":"library","caused_by":{"type":"parse_exception","reason":"failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]: [failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]]","caused_by":{"type":"illegal_argument_exception","reason":"failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]","caused_by":{"type":"date_time_parse_exception","reason":"Failed to parse with all enclosed parsers"}}}}}],"caused_by":{"type":"parse_exception","reason":"failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]: [failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]]","caused_by":{"type":"illegal_argument_exception","reason":"failed to parse date field [last tuesday] with format [strict_date_optional_time||epoch_millis]","caused_by":{"type":"date_time_parse_exception","reason":"Failed to parse with all enclosed parsers"}}}},"status":400}"""
        },
        // FieldSortBuilder.build's QueryShardException.
        {
            """{"sort":[{"nope":"asc"}]}""",
            """{"error":{"root_cause":[{"type":"query_shard_exception","reason":"No mapping found for [nope] in order to sort on","index_uuid":"{library}","index":"library"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"library","node":"{node}","reason":{"type":"query_shard_exception","reason":"No mapping found for [nope] in order to sort on","index_uuid":"{library}","index":"library"}}]},"status":400}"""
        },
        // The text field's IllegalArgumentException is not Elasticsearch's own: guessRootCauses reports it through a
        // wrapper of its type and reason whose cause it is, so caused_by holds it twice.
        {
            """{"sort":[{"title":"asc"}]}""",
            FielddataFailure
        },
        // The same field type's fielddata, asked for by an aggregation (ValuesSourceConfig.resolve).
        {
            """{"aggs":{"titles":{"terms":{"field":"title"}}}}""",
            FielddataFailure
        },
    };

    [Theory]
    [MemberData(nameof(AllShardsFailed))]
    public async Task Search_EveryShardFailed_IsAllShardsFailed(string body, string expected)
    {
        var r = await Es.SearchAsync("library", JsonNode.Parse(body)!);
        Assert.Equal(400, r.Status);
        Assert.Equal(await Expected(expected), r.Json.ToJsonString());
    }

    // DefaultSearchContext.preProcess's IllegalArgumentException, on the shard: the search's "all shards failed", its root
    // cause the shard's reason, held twice in caused_by (guessRootCauses' wrapper, as for fielddata above).
    private const string WindowFailure =
        """{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"{window}"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"library","node":"{node}","reason":{"type":"illegal_argument_exception","reason":"{window}"}}],"caused_by":{"type":"illegal_argument_exception","reason":"{window}","caused_by":{"type":"illegal_argument_exception","reason":"{window}"}}},"status":400}""";

    [Theory]
    // It was a bare 400 illegal_argument_exception, without Elasticsearch's last sentence.
    [InlineData("/library/_search?from=9999&size=2",
        "Result window is too large, from + size must be less than or equal to: [10000] but was [10001]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.")]
    // preProcess adds from and size as longs: past an int's range the window is still too large.
    [InlineData("/library/_search?from=2147483647&size=1",
        "Result window is too large, from + size must be less than or equal to: [10000] but was [2147483648]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.")]
    // A scroll's batch is bounded alike, in its own words (it was the result window's).
    [InlineData("/library/_search?scroll=1m&size=10001",
        "Batch size is too large, size must be less than or equal to: [10000] but was [10001]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.")]
    public async Task Search_PastTheResultWindow_IsEachShardsFailure(string path, string reason)
    {
        var r = await Es.GetAsync(path);
        Assert.Equal(400, r.Status);
        Assert.Equal(await Expected(WindowFailure.Replace("{window}", reason, StringComparison.Ordinal)), r.Json.ToJsonString());
        // A failed scroll holds no context (SearchService.processFailure frees it): nothing is left to clear.
        var cleared = await Es.SendAsync(HttpMethod.Delete, "/_search/scroll/_all");
        Assert.Equal(0, cleared.Json["num_freed"]!.GetValue<int>());
    }

    // SearchService.createContext builds the shard's sort (parseSource: SortBuilder.buildSort) before preProcess checks
    // its window: a search past the window with a sort the shard cannot build is the sort's failure, not the window's.
    [Theory]
    [InlineData("/library/_search?from=9999&size=2")]
    [InlineData("/library/_search?scroll=1m&size=10001")]
    public async Task Search_PastTheWindow_WithASortTheShardCannotBuild_IsTheSortsFailure(string path)
    {
        var r = await Es.SendAsync(HttpMethod.Post, path, """{"sort":[{"nope":"asc"}]}""");
        Assert.Equal((400, "search_phase_execution_exception"), (r.Status, r.ErrorType));
        var cause = r.Json["error"]!["root_cause"]![0]!;
        Assert.Equal(("query_shard_exception", "No mapping found for [nope] in order to sort on"), (cause["type"]!.GetValue<string>(), cause["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Search_MoreTermsThanMaxClauseCount_IsTheShardsQueryShardException_ABadRequest()
    {
        // SearchExecutionContext.toQuery wraps Lucene's TooManyClauses in a QueryShardException (400); it was a 500
        // "exception", which a caller (the precompute worker) retried as a transient failure.
        var terms = string.Join(' ', Enumerable.Range(0, 1100).Select(i => $"w{i}"));
        var r = await Es.SearchAsync("library", new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["title"] = terms } } });
        const string failure = """{"type":"query_shard_exception","reason":"failed to create query: maxClauseCount is set to 1024","index_uuid":"{library}","index":"library","caused_by":{"type":"too_many_clauses","reason":"maxClauseCount is set to 1024"}}""";
        Assert.Equal(400, r.Status);
        Assert.Equal(await Expected("""{"error":{"root_cause":[{"type":"query_shard_exception","reason":"failed to create query: maxClauseCount is set to 1024","index_uuid":"{library}","index":"library"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"library","node":"{node}","reason":""" + failure + """}]},"status":400}"""),
            r.Json.ToJsonString());
    }

    [Fact]
    public async Task Search_QueryStringTheParserRefuses_IsTheShardsQueryShardException()
    {
        // QueryStringQueryBuilder.doToQuery: QueryShardException "Failed to parse query [..]" caused by the parser's ParseException.
        var r = await Es.SearchAsync("library", JsonNode.Parse("""{"query":{"query_string":{"query":"title:(unbalanced"}}}""")!);
        Assert.Equal(400, r.Status);
        var error = r.Json["error"]!;
        Assert.Equal("search_phase_execution_exception", error["type"]!.GetValue<string>());
        Assert.Equal("all shards failed", error["reason"]!.GetValue<string>());
        Assert.Equal("query", error["phase"]!.GetValue<string>());
        Assert.True(error["grouped"]!.GetValue<bool>());
        Assert.Null(error["caused_by"]);
        var root = Assert.Single(error["root_cause"]!.AsArray())!;
        Assert.Equal("query_shard_exception", root["type"]!.GetValue<string>());
        Assert.Equal("Failed to parse query [title:(unbalanced]", root["reason"]!.GetValue<string>());
        Assert.Equal("library", root["index"]!.GetValue<string>());
        var shard = Assert.Single(error["failed_shards"]!.AsArray())!;
        Assert.Equal(0, shard["shard"]!.GetValue<int>());
        Assert.Equal("library", shard["index"]!.GetValue<string>());
        Assert.Equal("query_shard_exception", shard["reason"]!["type"]!.GetValue<string>());
        Assert.Equal("parse_exception", shard["reason"]!["caused_by"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_SomeShardsFailed_AnswersTheOthersWithTheFailures()
    {
        // AbstractSearchAsyncAction goes on with the shards that answered; RestActions.buildBroadcastShardsHeader lists
        // the failures under _shards.
        var r = await Es.SearchAsync("library,shelf", JsonNode.Parse("""{"query":{"term":{"year":"abc"}}}""")!);
        Assert.Equal(200, r.Status);
        Assert.Equal(await Expected($$"""{"total":2,"successful":1,"skipped":0,"failed":1,"failures":[{"shard":0,"index":"library","node":"{node}","reason":{{NumberFailure}}}]}"""),
            r.Json["_shards"]!.ToJsonString());
        Assert.Equal(["s1"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(1, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    [Fact]
    public async Task Search_EveryIndexFailed_ListsEachShardsFailure()
    {
        var r = await Es.SearchAsync("library,shelf", JsonNode.Parse("""{"sort":[{"title":"asc"}]}""")!);
        Assert.Equal(400, r.Status);
        var error = r.Json["error"]!;
        Assert.Equal("search_phase_execution_exception", error["type"]!.GetValue<string>());
        Assert.Equal(["library", "shelf"], error["failed_shards"]!.AsArray().Select(f => f!["index"]!.GetValue<string>()));
        Assert.Equal(["Fielddata is disabled on [title] in [library]", "Fielddata is disabled on [title] in [shelf]"],
            error["root_cause"]!.AsArray().Select(c => c!["reason"]!.GetValue<string>().Split('.')[0]));
        // The cause is the first failure's (AbstractSearchAsyncAction: guessRootCauses(shardSearchFailures[0]..)[0]).
        Assert.StartsWith("Fielddata is disabled on [title] in [library]", error["caused_by"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CountAndMsearch_ReportTheSameFailure()
    {
        // _count is a search (RestCountAction): the same answer. In an msearch it is that item's error, with its status.
        var expected = JsonNode.Parse(await Expected(NumberAllFailed))!;
        var count = await Es.PostAsync("/library/_count", JsonNode.Parse("""{"query":{"term":{"year":"abc"}}}"""));
        Assert.Equal(400, count.Status);
        Assert.Equal(expected.ToJsonString(), count.Json.ToJsonString());

        var r = await Es.SendAsync(HttpMethod.Post, "/_msearch",
            "{\"index\":\"library\"}\n{\"query\":{\"term\":{\"year\":\"abc\"}}}\n{\"index\":\"library\"}\n{\"query\":{\"term\":{\"year\":2001}}}\n", "application/x-ndjson");
        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal(expected.ToJsonString(), responses[0]!.ToJsonString());
        Assert.Equal(200, responses[1]!["status"]!.GetValue<int>());
    }

    // The expected JSON with the library index's uuid (GET /library), the node's id (GET /_nodes) and the fielddata message in place.
    private async Task<string> Expected(string template)
    {
        var uuid = (await Es.GetAsync("/library")).Json["library"]!["settings"]!["index"]!["uuid"]!.GetValue<string>();
        var node = Assert.Single((await Es.GetAsync("/_nodes")).Json["nodes"]!.AsObject()).Key;
        return JsonNode.Parse(template.Replace("{library}", uuid, StringComparison.Ordinal).Replace("{node}", node, StringComparison.Ordinal)
            .Replace("{fielddata}", Fielddata, StringComparison.Ordinal))!.ToJsonString();
    }
}
