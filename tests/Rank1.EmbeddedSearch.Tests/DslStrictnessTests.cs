using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// What Elasticsearch 9 refuses, warns about or reads strictly in a search body, over real HTTP: a boolean field's
/// value (<c>BooleanFieldType.indexedValueForSearch</c>), the deprecated <c>mustNot</c> (<c>HeaderWarning</c>), the
/// <c>terms</c> aggregation's and <c>highlight</c>'s <c>ObjectParser</c>s, and the <c>terms</c> options applied or refused.
/// Each was taken, and ignored or answered otherwise.
/// </summary>
public sealed class DslStrictnessTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        Assert.Equal(200, (await Es.PutAsync("/shop", JsonNode.Parse("""
            {"mappings":{"properties":{"title":{"type":"text"},"tag":{"type":"keyword"},"flag":{"type":"boolean"},"n":{"type":"integer"}}}}
            """))).Status);
        var r = await Es.BulkAsync("""
            {"index":{"_index":"shop","_id":"1"}}
            {"title":"red fox","tag":"b","flag":true,"n":10}
            {"index":{"_index":"shop","_id":"2"}}
            {"title":"blue fox","tag":"a","flag":false,"n":9}
            {"index":{"_index":"shop","_id":"3"}}
            {"title":"green dog","tag":"c","flag":true,"n":10}
            {"index":{"_index":"shop","_id":"4"}}
            {"title":"grey dog","tag":"c","n":2}
            {"index":{"_index":"shop","_id":"5"}}
            {"title":"white cat","tag":"a","n":9}
            {"index":{"_index":"shop","_id":"6"}}
            {"title":"black cat","tag":"c","n":9}

            """);
        Assert.False(r.Json["errors"]!.GetValue<bool>());
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    private Task<EsResponse> Search(string body) => Es.SendAsync(HttpMethod.Post, "/shop/_search", body);

    [Theory]
    [InlineData("""{"match":{"flag":"abc"}}""", "abc")]
    [InlineData("""{"term":{"flag":"True"}}""", "True")]
    [InlineData("""{"terms":{"flag":["true","yes"]}}""", "yes")]
    [InlineData("""{"range":{"flag":{"gte":"no"}}}""", "no")]
    // Over every field (no default field) query_string is lenient; over title it is not.
    [InlineData("""{"query_string":{"query":"flag:abc","default_field":"title"}}""", "abc")]
    public async Task ABooleanFieldsValue_OtherThanTrueOrFalse_FailsTheShard(string query, string value)
    {
        // BooleanFieldType.indexedValueForSearch's IllegalArgumentException, wrapped by SearchExecutionContext.toQuery.
        // It matched nothing.
        var r = await Search($$"""{"query":{{query}}}""");
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        var root = r.Json["error"]!["root_cause"]![0]!;
        Assert.Equal("query_shard_exception", root["type"]!.GetValue<string>());
        Assert.Equal($"failed to create query: Can't parse boolean value [{value}], expected [true] or [false]", root["reason"]!.GetValue<string>());
        var cause = r.Json["error"]!["failed_shards"]![0]!["reason"]!["caused_by"]!;
        Assert.Equal("illegal_argument_exception", cause["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task TermsQuery_ValueType_IsOpenSearchsOption_AndNotElasticsearchs()
    {
        // OpenSearch's TermsQueryBuilder.fromXContent (2.17 on) reads value_type, ValueType.fromString "default" or
        // "bitmap" in any case, else "<text> is not valid value_type"; Elasticsearch's has no such option. The OpenSearch
        // flavour refused it in Elasticsearch's words.
        const string Terms = """{"query":{"terms":{"tag":["a"],"value_type":"VALUE"}}}""";
        (await Search(Terms.Replace("VALUE", "default", StringComparison.Ordinal)))
            .AssertError(400, "parsing_exception", "[terms] query does not support [value_type]");

        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var os = new EsClient(server.Url);
        Assert.Equal(201, (await os.PutAsync("/shop/_doc/1?refresh=true", JsonNode.Parse("""{"tag":"a"}"""))).Status);
        Assert.Equal(201, (await os.PutAsync("/shop/_doc/2?refresh=true", JsonNode.Parse("""{"tag":"b"}"""))).Status);
        foreach (var taken in new[] { "default", "Default" })
        {
            var r = await os.SendAsync(HttpMethod.Post, "/shop/_search", Terms.Replace("VALUE", taken, StringComparison.Ordinal));
            Assert.Equal(["1"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        }

        (await os.SendAsync(HttpMethod.Post, "/shop/_search", Terms.Replace("VALUE", "dense", StringComparison.Ordinal)))
            .AssertError(400, "illegal_argument_exception", "dense is not valid value_type");
        (await os.SendAsync(HttpMethod.Post, "/shop/_search", Terms.Replace("VALUE", "bitmap", StringComparison.Ordinal)))
            .AssertError(400, "illegal_argument_exception", "[terms] value_type [bitmap] is not supported by the embedded backend, which has no bitmap field type");
    }

    [Fact]
    public async Task ABooleanFieldsValue_TrueOrFalse_OrLenient_Matches()
    {
        Assert.Equal(["1", "3"], Ids(await Search("""{"query":{"match":{"flag":"true"}}}""")));
        Assert.Equal(["2"], Ids(await Search("""{"query":{"term":{"flag":false}}}""")));
        // Lenient: the field's match-nothing query (Queries.newLenientFieldQuery), not a failure; and query_string over
        // every field (lenient by default) finds the text field's match.
        Assert.Empty(Ids(await Search("""{"query":{"match":{"flag":{"query":"abc","lenient":true}}}}""")));
        Assert.Equal(["1", "2"], Ids(await Search("""{"query":{"query_string":{"query":"fox"}}}""")));
    }

    [Fact]
    public async Task Bool_TheDeprecatedMustNot_IsAnsweredWithElasticsearchsDeprecationWarning()
    {
        // ParseField("must_not").withDeprecation("mustNot"), matched by BoolQueryBuilder's ObjectParser("bool") on the
        // value: LoggingDeprecationHandler's "[bool][line:col] " prefix, at that value's token; DeprecationLogger's
        // HeaderWarning, each text once per request (two mustNot, two places: two warnings, in the order parsed).
        const string Expected = "299 Elasticsearch-9.1.0-rank1-embedded \"[bool][1:29] Deprecated field [mustNot] used, expected [must_not] instead\"";
        var r = await Search("""{"query":{"bool":{"mustNot":{"match":{"title":"fox"}},"filter":{"bool":{"mustNot":{"term":{"tag":"a"}}}}}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal(["3", "4", "6"], Ids(r));
        Assert.Equal([Expected, "299 Elasticsearch-9.1.0-rank1-embedded \"[bool][1:83] Deprecated field [mustNot] used, expected [must_not] instead\""], r.Headers.GetValues("Warning"));

        var count = await Es.SendAsync(HttpMethod.Post, "/shop/_count", """{"query":{"bool":{"mustNot":{"match":{"title":"fox"}}}}}""");
        Assert.Equal([Expected], count.Headers.GetValues("Warning"));
        // Two searches, each its mustNot at 1:29 (each line its own parser): the same text, one warning.
        var m = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"shop\"}\n{\"query\":{\"bool\":{\"mustNot\":{\"match_all\":{}}}}}\n{\"index\":\"shop\"}\n{\"query\":{\"bool\":{\"mustNot\":{\"term\":{\"tag\":\"a\"}}}}}\n", "application/x-ndjson");
        Assert.Equal([Expected], m.Headers.GetValues("Warning"));
        var t = await Es.SendAsync(HttpMethod.Post, "/shop/_search/template", """{"source":{"query":{"bool":{"mustNot":{"match":{"title":"{{w}}"}}}}},"params":{"w":"fox"}}""");
        Assert.Equal(200, t.Status);
        Assert.Equal([Expected], t.Headers.GetValues("Warning"));

        // must_not is no deprecated name: no warning.
        Assert.False((await Search("""{"query":{"bool":{"must_not":{"match":{"title":"fox"}}}}}""")).Headers.Contains("Warning"));
    }

    [Fact]
    public async Task Bool_TheDeprecatedMustNot_IsWarnedOf_WhenTheSearchFailsToo()
    {
        // The warning is logged into the thread context while the body is parsed; RestChannel sends the context's response
        // headers with an error as with a hit list. It was added only once the search had succeeded.
        const string Expected = "299 Elasticsearch-9.1.0-rank1-embedded \"[bool][1:29] Deprecated field [mustNot] used, expected [must_not] instead\"";
        var count = await Es.SendAsync(HttpMethod.Post, "/shop/_count?bogus=1", """{"query":{"bool":{"mustNot":{"match_all":{}}}}}""");
        count.AssertError(400, "illegal_argument_exception", "request [/shop/_count] contains unrecognized parameter: [bogus]");
        Assert.Equal([Expected], count.Headers.GetValues("Warning"));

        const string Failing = """{"query":{"bool":{"mustNot":{"match_all":{}},"filter":{"term":{"n":{"value":1,"case_insensitive":true}}}}}}""";
        var r = await Search(Failing);
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        Assert.Equal([Expected], r.Headers.GetValues("Warning"));

        // The first line read, the second refused: the first's warning still answers.
        var m = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"shop\"}\n{\"query\":{\"bool\":{\"mustNot\":{\"match_all\":{}}}}}\n{\"index\":\"shop\"}\n{\"query\":{\"nope\":{}}}\n", "application/x-ndjson");
        Assert.Equal(400, m.Status);
        Assert.Equal([Expected], m.Headers.GetValues("Warning"));

        var t = await Es.SendAsync(HttpMethod.Post, "/shop/_search/template", """{"source":""" + Failing + "}");
        t.AssertError(400, "search_phase_execution_exception", "all shards failed");
        Assert.Equal([Expected], t.Headers.GetValues("Warning"));
    }

    [Theory]
    // TermsAggregationBuilder's ObjectParser (ErrorOnUnknown, with its suggestion), at the name (col 47), while the body
    // is read; MaxAggregationBuilder's (ValuesSourceAggregationBuilder.declareFields) likewise (col 43).
    [InlineData("""{"t":{"terms":{"field":"tag","sise":1}}}""", "[1:47] [terms] unknown field [sise] did you mean [size]?")]
    [InlineData("""{"t":{"terms":{"field":"tag","foo":1}}}""", "[1:47] [terms] unknown field [foo]")]
    [InlineData("""{"m":{"max":{"field":"n","foo":1}}}""", "[1:43] [max] unknown field [foo]")]
    public async Task Aggregation_AFieldItsParserDoesNotDeclare_IsObjectParsersError_AtTheFieldsName(string aggs, string reason)
    {
        (await Search("""{"size":0,"aggs":""" + aggs + "}")).AssertError(400, "x_content_parse_exception", reason);
    }

    [Fact]
    public async Task Aggregations_ThatAreNoObject_AreRefusedAsAnUnknownKey()
    {
        // SearchSourceBuilder.parseXContent reads aggs only as an object.
        (await Search("""{"aggs":"x"}""")).AssertError(400, "parsing_exception", "Unknown key for a VALUE_STRING in [aggs].");
    }

    [Fact]
    public async Task TermsAggregation_OrderAndMinDocCount_AreApplied()
    {
        // c: 3 documents, a: 2, b: 1; by the key ascending, and only those with 2 documents or more.
        Assert.Equal(["a:2", "b:1", "c:3"], Buckets(await Search("""{"size":0,"aggs":{"t":{"terms":{"field":"tag","order":{"_key":"asc"}}}}}""")));
        Assert.Equal(["b:1", "a:2", "c:3"], Buckets(await Search("""{"size":0,"aggs":{"t":{"terms":{"field":"tag","order":[{"_count":"asc"}]}}}}""")));
        var r = await Search("""{"size":0,"aggs":{"t":{"terms":{"field":"tag","min_doc_count":2,"size":1}}}}""");
        Assert.Equal(["c:3"], Buckets(r));
        Assert.Equal(2, r.Json["aggregations"]!["t"]!["sum_other_doc_count"]!.GetValue<long>());
        // A number's key orders by value (9 before 10), ties by the key.
        Assert.Equal(["9:3", "10:2", "2:1"], Buckets(await Search("""{"size":0,"aggs":{"t":{"terms":{"field":"n"}}}}""")));
        Assert.Equal(["2:1", "9:3", "10:2"], Buckets(await Search("""{"size":0,"aggs":{"t":{"terms":{"field":"n","order":{"_key":"asc"}}}}}""")));
    }

    [Theory]
    [InlineData("\"terms\":{\"field\":\"tag\",\"include\":\"a.*\"}", "the embedded search backend does not apply [include] in the [terms] aggregation")]
    [InlineData("\"terms\":{\"field\":\"tag\",\"missing\":\"none\"}", "the embedded search backend does not apply [missing] in the [terms] aggregation")]
    [InlineData("\"terms\":{\"field\":\"tag\",\"min_doc_count\":0}", "the embedded search backend does not apply [min_doc_count] below 1 in the [terms] aggregation")]
    [InlineData("\"terms\":{\"field\":\"tag\",\"order\":{\"avg_n\":\"desc\"}}", "the embedded search backend does not apply an [order] by [avg_n] in the [terms] aggregation: it runs no sub-aggregations")]
    [InlineData("\"max\":{\"field\":\"n\",\"missing\":100}", "the embedded search backend does not apply [missing] in the [max] aggregation")]
    public async Task Aggregation_AnOptionNotApplied_IsRefused(string agg, string reason)
    {
        // Elasticsearch would answer other buckets or another value: refused, not ignored.
        (await Search("""{"size":0,"aggs":{"a":{""" + agg + "}}}")).AssertError(400, "illegal_argument_exception", reason);
    }

    [Fact]
    public async Task Highlight_AFieldItsParserDoesNotDeclare_IsObjectParsersError_AtTheFieldsName()
    {
        // HighlightBuilder's ObjectParser ("highlight"), at the name (col 71), while the body is read.
        (await Search("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{}},"foo":1}}"""))
            .AssertError(400, "x_content_parse_exception", "[1:71] [highlight] unknown field [foo]");
        (await Search("""{"highlight":"title"}""")).AssertError(400, "parsing_exception", "Unknown key for a VALUE_STRING in [highlight].");
    }

    [Theory]
    // Queries.maybeApplyMinimumShouldMatch on the parsed boolean query: two of red, fox, cat (without it: 1, 2, 5, 6).
    [InlineData("""{"query_string":{"query":"red fox cat","default_field":"title","minimum_should_match":"2"}}""", new[] { "1" })]
    [InlineData("""{"simple_query_string":{"query":"red fox cat","fields":["title"],"minimum_should_match":"2"}}""", new[] { "1" })]
    // phrase_slop: the parser's default slop for a phrase ("fox red" is two moves from "red fox"; without it, nothing).
    [InlineData("""{"query_string":{"query":"\"fox red\"","default_field":"title","phrase_slop":2}}""", new[] { "1" })]
    // escape: the text's reserved characters escaped before it is parsed (without it "(red" is the parser's failure).
    [InlineData("""{"query_string":{"query":"(red","default_field":"title","escape":true}}""", new[] { "1" })]
    // A bare "doc~" is the query's fuzziness for the term, AUTO by default: one edit for three letters, dog and not fox
    // (Lucene's parser took two edits); a fuzziness given applies.
    [InlineData("""{"query_string":{"query":"doc~","default_field":"title"}}""", new[] { "3", "4" })]
    [InlineData("""{"query_string":{"query":"doc~","default_field":"title","fuzziness":2}}""", new[] { "1", "2", "3", "4" })]
    // fuzzy_prefix_length: "fog~" is one edit from fox and from dog; with a prefix of one letter kept, fox alone.
    [InlineData("""{"query_string":{"query":"fog~","default_field":"title"}}""", new[] { "1", "2", "3", "4" })]
    [InlineData("""{"query_string":{"query":"fog~","default_field":"title","fuzzy_prefix_length":1}}""", new[] { "1", "2" })]
    [InlineData("""{"query_string":{"query":"doc~2","default_field":"title","fuzzy_prefix_length":1}}""", new[] { "3", "4" })]
    // analyzer replaces the fields' analyzers: keyword keeps "Red" whole, which the title never holds.
    [InlineData("""{"query_string":{"query":"Red","default_field":"title","analyzer":"keyword"}}""", new string[0])]
    public async Task QueryString_ItsOptions_AreApplied(string query, string[] ids)
    {
        Assert.Equal(ids, Ids(await Search($$"""{"query":{{query}}}""")));
    }

    [Fact]
    public async Task QueryString_AnAnalyzerTheIndexLacks_FailsTheShard()
    {
        var r = await Search("""{"query":{"query_string":{"query":"red","analyzer":"nope"}}}""");
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        Assert.Equal("[query_string] analyzer [nope] not found", r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
    }

    [Theory]
    // XContentParser's floatValue(), booleanValue() and intValue() read a number's or a boolean's text as the value, as
    // Elasticsearch answers these (each was a 500 of .NET's words).
    [InlineData("""{"query":{"multi_match":{"query":"fox","fields":"title","tie_breaker":"0.3"}}}""")]
    [InlineData("""{"query":{"query_string":{"query":"*ox","default_field":"title","allow_leading_wildcard":"true"}}}""")]
    [InlineData("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{}},"fragment_size":"50","number_of_fragments":"1"}}""")]
    public async Task ANumbersOrABooleansText_IsReadAsTheValue(string body)
    {
        Assert.Equal(["1", "2"], Ids(await Search(body)));
    }

    [Fact]
    public async Task Boost_IsReadWithFloatValue()
    {
        // floatValue(): a number's text is the number (the boost was ignored), another text its NumberFormatException.
        var plain = (await Search("""{"query":{"match":{"title":"red"}}}""")).Json["hits"]!["max_score"]!.GetValue<double>();
        var boosted = (await Search("""{"query":{"match":{"title":{"query":"red","boost":"3"}}}}""")).Json["hits"]!["max_score"]!.GetValue<double>();
        Assert.Equal(plain * 3, boosted, plain * 1e-5);
        // Float.parseFloat's text: a float or double suffix, a hexadecimal float, blanks around it (they were the
        // number_format_exception); what it refuses is named trimmed.
        foreach (var text in new[] { "3f", "3D", "0x1.8p1", " 3.0d\\t" })
        {
            var r = await Search("{\"query\":{\"match\":{\"title\":{\"query\":\"red\",\"boost\":\"" + text + "\"}}}}");
            Assert.True(r.Status == 200, r.Body?.ToJsonString());
            Assert.Equal(plain * 3, r.Json["hits"]!["max_score"]!.GetValue<double>(), plain * 1e-5);
        }

        (await Search("""{"query":{"match":{"title":{"query":"red","boost":" 3x "}}}}"""))
            .AssertError(400, "number_format_exception", "For input string: \"3x\"");
        (await Search("""{"query":{"match":{"title":{"query":"red","boost":"x"}}}}"""))
            .AssertError(400, "number_format_exception", "For input string: \"x\"");
    }

    [Fact]
    public async Task Term_CaseInsensitive_MatchesEitherCase()
    {
        // StringFieldType.termQueryCaseInsensitive, on keyword and text fields; it was read and ignored (no hits).
        Assert.Equal(["3", "4", "6"], Ids(await Search("""{"query":{"term":{"tag":{"value":"C","case_insensitive":true}}}}""")));
        Assert.Equal(["1", "2"], Ids(await Search("""{"query":{"term":{"title":{"value":"FoX","case_insensitive":"true"}}}}""")));
        Assert.Empty(Ids(await Search("""{"query":{"term":{"tag":{"value":"C","case_insensitive":false}}}}""")));
    }

    [Theory]
    [InlineData("n", "integer", "9")]
    [InlineData("n", "integer", "x")]
    public async Task Term_CaseInsensitive_OnANumberField_FailsTheShard(string field, string type, string value)
    {
        // MappedFieldType.termQueryCaseInsensitive, not overridden by NumberFieldType or DateFieldType: its
        // QueryShardException, unwrapped, before the value is read. It was ignored (the plain term's hits).
        var r = await Search("{\"query\":{\"term\":{\"" + field + "\":{\"value\":\"" + value + "\",\"case_insensitive\":true}}}}");
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        var root = r.Json["error"]!["root_cause"]![0]!;
        Assert.Equal("query_shard_exception", root["type"]!.GetValue<string>());
        Assert.Equal($"[{field}] field which is of type [{type}], does not support case insensitive term queries", root["reason"]!.GetValue<string>());
        Assert.Null(r.Json["error"]!["failed_shards"]![0]!["reason"]!["caused_by"]);
        // A boolean field is TermBasedFieldType's, and reads it.
        Assert.Equal(["1", "3"], Ids(await Search("""{"query":{"term":{"flag":{"value":true,"case_insensitive":true}}}}""")));
    }

    [Fact]
    public async Task TheAggregationsAndHighlightsOptions_AreReadAsTheirParsersReadThem()
    {
        // TermsAggregationBuilder's declareInt: "1" is 1 (a 500 before).
        Assert.Equal(["c:3"], Buckets(await Search("""{"size":0,"aggs":{"t":{"terms":{"field":"tag","size":"1"}}}}""")));
        // declareStringArray: one string is a list of one (it was ignored: <em>).
        var r = await Search("""{"query":{"match":{"title":"red"}},"highlight":{"fields":{"title":{}},"pre_tags":"<b>","post_tags":"</b>"}}""");
        Assert.Equal("<b>red</b> fox", r.Json["hits"]!["hits"]![0]!["highlight"]!["title"]![0]!.GetValue<string>());
    }

    [Theory]
    // AbstractXContentParser.booleanValue() on a number, for every boolean option of a query: Jackson's getBooleanValue()
    // refusal, placed where Jackson stands (after the number) and naming its source, as JsonXContentParser wraps it, caused
    // by Jackson's own. match's lacked the place and the cause; term's case_insensitive was refused in words of this
    // backend's own, once the query ran; simple_query_string's was taken.
    [InlineData("""{"query":{"match":{"title":{"query":"fox","lenient":1}}}}""", "VALUE_NUMBER_INT", 54)]
    [InlineData("""{"query":{"term":{"tag":{"value":"a","case_insensitive":1.5}}}}""", "VALUE_NUMBER_FLOAT", 60)]
    [InlineData("""{"query":{"simple_query_string":{"query":"fox","lenient":0}}}""", "VALUE_NUMBER_INT", 59)]
    public async Task ABooleanOption_GivenANumber_IsJacksonsRefusal(string body, string token, int column)
    {
        var jackson = $"Current token ({token}) not of boolean type\n at [Source: (byte[])\"{body}\"; line: 1, column: {column}]";
        var r = await Search(body);
        r.AssertError(400, "x_content_parse_exception", $"[1:{column}] {jackson}");
        Assert.Equal("json_parse_exception", r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal(jackson, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Ids_ValuesAsOneString_IsAListOfOne()
    {
        // IdsQueryBuilder's ObjectParser.declareStringArray: a single value is a list of one (it was refused); no values is
        // no ids, which doRewrite makes match_none (it was refused).
        Assert.Equal(["3"], Ids(await Search("""{"query":{"ids":{"values":"3"}}}""")));
        Assert.Empty(Ids(await Search("""{"query":{"ids":{}}}""")));

        // Another token is assertSupports' error, rethrown by fromXContent as a ParsingException at the value.
        var number = await Search("""{"query":{"ids":{"values":1}}}""");
        number.AssertError(400, "parsing_exception", "[1:27] [ids] values doesn't support values of type: VALUE_NUMBER");
        Assert.Equal("x_content_parse_exception", number.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());

        // An element with no text: JsonXContentParser's IllegalStateException, wrapped by ObjectParser, at the element.
        var nil = await Search("""{"query":{"ids":{"values":["1",null]}}}""");
        nil.AssertError(400, "parsing_exception", "[1:32] [ids] failed to parse field [values]");
        Assert.Equal("Can't get text on a VALUE_NULL at 1:32", nil.Json["error"]!["caused_by"]!["caused_by"]!["reason"]!.GetValue<string>());

        // An array in it: AbstractObjectParser.parseArray's IllegalStateException before the element is read (it was
        // refused in words of its own, "expected a value but found array"), wrapped the same way at the inner array.
        var nested = await Search("""{"query":{"ids":{"values":["1",["2"]]}}}""");
        nested.AssertError(400, "parsing_exception", "[1:32] [ids] failed to parse field [values]");
        Assert.Equal("illegal_state_exception", nested.Json["error"]!["caused_by"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal("expected value but got [START_ARRAY]", nested.Json["error"]!["caused_by"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Theory]
    // RangeQueryBuilder.relation, once the query is read: disjoint is no relation of a range query, and a name
    // ShapeRelation.getRelationByName does not know is none (both were taken, and searched as intersects).
    [InlineData("disjoint", "[range] query does not support relation [disjoint]")]
    [InlineData("Bogus", "Bogus is not a valid relation")]
    public async Task Range_ARelationItRefuses_IsRefusedWhileTheBodyIsRead(string relation, string reason)
    {
        (await Search("{\"query\":{\"range\":{\"n\":{\"gte\":9,\"relation\":\"" + relation + "\"}}}}")).AssertError(400, "illegal_argument_exception", reason);
    }

    [Fact]
    public async Task Range_TheRelationsItTakes_AreTakenInAnyCase()
    {
        Assert.Equal(["1", "2", "3", "5", "6"], Ids(await Search("""{"query":{"range":{"n":{"gte":9,"relation":"WITHIN"}}}}""")));
        Assert.Equal(["1", "2", "3", "5", "6"], Ids(await Search("""{"query":{"range":{"n":{"gte":9,"relation":"intersects"}}}}""")));
    }

    [Theory]
    // FieldSortBuilder's ObjectParser ("field_sort") and ScoreSortBuilder's ("_score"): a field they do not declare is
    // ErrorOnUnknown's error at its name (it was taken and ignored); a string field given a number assertSupports'; an
    // order SortOrder.fromString refuses, or a mode SortMode.fromString refuses, wrapped where the parser stands.
    [InlineData("""{"sort":[{"n":{"order":"asc","bogus":1}}]}""", "[1:30] [field_sort] unknown field [bogus]", null)]
    [InlineData("""{"sort":[{"_score":{"order":"desc","mode":"max"}}]}""", "[1:36] [_score] unknown field [mode]", null)]
    [InlineData("""{"sort":[{"n":{"order":1}}]}""", "[1:24] [field_sort] order doesn't support values of type: VALUE_NUMBER", null)]
    [InlineData("""{"sort":[{"n":{"order":"up"}}]}""", "[1:24] [field_sort] failed to parse field [order]", "No enum constant org.elasticsearch.search.sort.SortOrder.UP")]
    [InlineData("""{"sort":[{"n":{"mode":"middle"}}]}""", "[1:23] [field_sort] failed to parse field [mode]", "Unknown SortMode [middle]")]
    public async Task Sort_AnOptionItsParserRefuses_IsRefusedInItsWords(string body, string reason, string? cause)
    {
        var r = await Search(body);
        r.AssertError(400, "x_content_parse_exception", reason);
        Assert.Equal(cause, r.Json["error"]!["caused_by"]?["reason"]?.GetValue<string>());
    }

    [Fact]
    public async Task Sort_AnOrderGivenAsText_IsSortOrderFromString()
    {
        // SortBuilder.parseCompoundSortField: SortOrder.fromString, its IllegalArgumentException bare ("Unknown SortOrder
        // [up]" before, nobody's words); either case of asc and desc is taken.
        (await Search("""{"sort":[{"n":"up"}]}""")).AssertError(400, "illegal_argument_exception", "No enum constant org.elasticsearch.search.sort.SortOrder.UP");
        var r = await Search("""{"sort":[{"n":"DESC"},{"tag":{"order":"Asc","mode":"MIN"}}],"size":2}""");
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal(["1", "3"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Sort_AnObjectOfSeveralFields_SortsByEachInOrder()
    {
        // SortBuilder.parseCompoundSortField reads every field of the object, in order (it was a 400 "[sort] must be a
        // field name, an object or an array of them"), in the body and in an array.
        foreach (var sort in new[] { """{"n":"desc","tag":{"order":"asc"}}""", """[{"n":"desc","tag":"asc"}]""" })
        {
            var r = await Search($$"""{"sort":{{sort}}}""");
            Assert.True(r.Status == 200, r.Body?.ToJsonString());
            Assert.Equal(["1", "3", "2", "5", "6", "4"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
            Assert.Equal("[10,\"b\"]", r.Json["hits"]!["hits"]![0]!["sort"]!.ToJsonString());
        }
    }

    [Theory]
    // FieldSortBuilder's ObjectParser, given a field's value that is neither a string (an order) nor an object: from that
    // token it reads the next one, which must start an object (ObjectParser.throwExpectedStartObject, at the next token).
    // It was a parsing_exception "[sort] malformed for field [n]".
    [InlineData("""{"sort":[{"n":1}]}""", "[1:16] [field_sort] Expected START_OBJECT but was: END_OBJECT")]
    [InlineData("""{"sort":{"n":null,"tag":"asc"}}""", "[1:19] [field_sort] Expected START_OBJECT but was: FIELD_NAME")]
    [InlineData("""{"sort":{"n":[1]}}""", "[1:15] [field_sort] Expected START_OBJECT but was: VALUE_NUMBER")]
    [InlineData("""{"sort":[{"_score":true}]}""", "[1:24] [_score] Expected START_OBJECT but was: END_OBJECT")]
    public async Task Sort_AFieldsValueThatIsNoOrderOrObject_IsObjectParsersExpectedStartObject(string body, string reason)
    {
        (await Search(body)).AssertError(400, "x_content_parse_exception", reason);
    }

    [Fact]
    public async Task Sort_AnArrayElementThatIsNoStringOrObject_IsSortBuildersMalformedSortFormat()
    {
        // SortBuilder.fromXContent's IllegalArgumentException (it was a parsing_exception in nobody's words).
        (await Search("""{"sort":["n",1]}"""))
            .AssertError(400, "illegal_argument_exception", "malformed sort format, within the sort array, an object, or an actual string are allowed");
    }

    [Fact]
    public async Task Sort_AMultiValuedField_SortsByItsLowestValueAscending_ItsHighestDescending_OrWhatItsModePicks()
    {
        // FieldSortBuilder.localSortMode: MultiValueMode MIN ascending, MAX descending, else the mode given; sum, avg and
        // median only on numbers (a keyword's field data: "we only support AVG, MEDIAN and SUM on number based fields").
        // The first value sorted, both ways.
        Assert.Equal(200, (await Es.PutAsync("/multi", JsonNode.Parse("""
            {"mappings":{"properties":{"m":{"type":"integer"},"d":{"type":"double"},"k":{"type":"keyword"}}}}
            """))).Status);
        var bulk = await Es.BulkAsync("""
            {"index":{"_index":"multi","_id":"many"}}
            {"m":[10,3,2,1],"d":[1.5,2.5],"k":["x","b"]}
            {"index":{"_index":"multi","_id":"one"}}
            {"m":5,"d":[2.25],"k":"c"}

            """);
        Assert.False(bulk.Json["errors"]!.GetValue<bool>());
        async Task<string> Sorted(string sort)
        {
            var r = await Es.SendAsync(HttpMethod.Post, "/multi/_search", $$"""{"sort":[{{sort}}]}""");
            Assert.True(r.Status == 200, r.Body?.ToJsonString());
            return string.Join(" ", r.Json["hits"]!["hits"]!.AsArray().Select(h => $"{h!["_id"]}:{h["sort"]![0]!.ToJsonString()}"));
        }

        // m: 1, 2, 3 and 10 against 5: sum 16, avg 4, median 2.5, which a long field rounds as Math.round does (3).
        Assert.Equal("many:1 one:5", await Sorted("""{"m":"asc"}"""));
        Assert.Equal("many:10 one:5", await Sorted("""{"m":"desc"}"""));
        Assert.Equal("one:5 many:16", await Sorted("""{"m":{"mode":"sum"}}"""));
        Assert.Equal("one:5 many:4", await Sorted("""{"m":{"mode":"AVG","order":"desc"}}"""));
        Assert.Equal("many:3 one:5", await Sorted("""{"m":{"mode":"median"}}"""));
        Assert.Equal("one:5 many:1", await Sorted("""{"m":{"mode":"min","order":"desc"}}"""));
        Assert.Equal("many:1.5 one:2.25", await Sorted("""{"d":"asc"}"""));
        Assert.Equal("many:2.0 one:2.25", await Sorted("""{"d":{"mode":"avg"}}"""));
        Assert.Equal("many:2.5 one:2.25", await Sorted("""{"d":"desc"}"""));
        Assert.Equal("many:\"b\" one:\"c\"", await Sorted("""{"k":"asc"}"""));
        Assert.Equal("many:\"x\" one:\"c\"", await Sorted("""{"k":"desc"}"""));
        Assert.Equal("one:\"c\" many:\"x\"", await Sorted("""{"k":{"mode":"max"}}"""));

        var r = await Es.SendAsync(HttpMethod.Post, "/multi/_search", """{"sort":[{"k":{"mode":"avg"}}]}""");
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        Assert.Equal("we only support AVG, MEDIAN and SUM on number based fields", r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
        Assert.Equal("query_shard_exception", r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
    }

    private async Task<string> SortedIds(string path, string body)
    {
        var r = await Es.SendAsync(HttpMethod.Post, path, body);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        return string.Join(" ", r.Json["hits"]!["hits"]!.AsArray().Select(h => $"{h!["_id"]}:{h["sort"]![0]?.ToJsonString() ?? "null"}"));
    }

    // Each sort's hits, one string for each sort given.
    private async Task<string[]> SortedBy(string path, params string[] sorts)
    {
        var sorted = new string[sorts.Length];
        for (var i = 0; i < sorts.Length; i++)
        {
            sorted[i] = await SortedIds(path, $$"""{"sort":[{{sorts[i]}}]}""");
        }

        return sorted;
    }

    [Fact]
    public async Task Sort_MultiValuedDocuments_InTwoIndices_MergeByThePickedValue()
    {
        // FieldSortBuilder's MultiValueMode picks each document's value in its own shard; the reduce merges those values.
        foreach (var index in new[] { "mv-a", "mv-b" })
        {
            Assert.Equal(200, (await Es.PutAsync("/" + index, JsonNode.Parse("""{"mappings":{"properties":{"m":{"type":"long"},"d":{"type":"double"},"k":{"type":"keyword"}}}}"""))).Status);
        }

        var bulk = await Es.BulkAsync("""
            {"index":{"_index":"mv-a","_id":"a1"}}
            {"m":[7,1],"d":[0.5,9.5],"k":["m","z"]}
            {"index":{"_index":"mv-a","_id":"a2"}}
            {"m":4,"d":4.0,"k":"n"}
            {"index":{"_index":"mv-b","_id":"b1"}}
            {"m":[3,8,2],"d":[1.0,2.0],"k":["a","o"]}
            {"index":{"_index":"mv-b","_id":"b2"}}
            {"m":6,"d":6.0,"k":"p"}

            """);
        Assert.False(bulk.Json["errors"]!.GetValue<bool>());
        const string Both = "/mv-a,mv-b/_search";
        Assert.Equal(
            [
                "a1:1 b1:2 a2:4 b2:6",
                "b1:8 a1:7 b2:6 a2:4",
                "a2:4 b2:6 a1:8 b1:13",
                "b1:1.5 a2:4.0 a1:5.0 b2:6.0",
                "b1:\"a\" a1:\"m\" a2:\"n\" b2:\"p\"",
                "a1:\"z\" b2:\"p\" b1:\"o\" a2:\"n\"",
            ],
            await SortedBy(Both, """{"m":"asc"}""", """{"m":"desc"}""", """{"m":{"mode":"sum"}}""", """{"d":{"mode":"avg"}}""", """{"k":"asc"}""", """{"k":"desc"}"""));
    }

    [Fact]
    public async Task Sort_SearchAfter_PagesThroughMultiValuedDocuments_ByThePickedValue()
    {
        // search_after compares each document's picked value (MultiValueMode) with the page's last sort value.
        Assert.Equal(200, (await Es.PutAsync("/mv-page", JsonNode.Parse("""{"mappings":{"properties":{"m":{"type":"long"},"k":{"type":"keyword"}}}}"""))).Status);
        var bulk = await Es.BulkAsync("""
            {"index":{"_index":"mv-page","_id":"p1"}}
            {"m":[5,1],"k":["d","w"]}
            {"index":{"_index":"mv-page","_id":"p2"}}
            {"m":3,"k":"b"}
            {"index":{"_index":"mv-page","_id":"p3"}}
            {"m":[2,9],"k":["c","x"]}
            {"index":{"_index":"mv-page","_id":"p4"}}
            {"m":4,"k":"e"}

            """);
        Assert.False(bulk.Json["errors"]!.GetValue<bool>());
        async Task<string> Paged(string sort)
        {
            var seen = new List<string>();
            JsonNode? after = null;
            for (var page = 0; page < 5; page++)
            {
                var body = JsonNode.Parse($$"""{"size":1,"sort":[{{sort}}]}""")!.AsObject();
                if (after is not null)
                {
                    body["search_after"] = after.DeepClone();
                }

                var r = await Es.SendAsync(HttpMethod.Post, "/mv-page/_search", body.ToJsonString());
                Assert.True(r.Status == 200, r.Body?.ToJsonString());
                var hits = r.Json["hits"]!["hits"]!.AsArray();
                if (hits.Count == 0)
                {
                    break;
                }

                seen.Add($"{hits[0]!["_id"]}:{hits[0]!["sort"]![0]!.ToJsonString()}");
                after = hits[0]!["sort"];
            }

            return string.Join(" ", seen);
        }

        Assert.Equal("p1:1 p3:2 p2:3 p4:4", await Paged("""{"m":"asc"}"""));
        Assert.Equal("p3:9 p1:5 p4:4 p2:3", await Paged("""{"m":"desc"}"""));
        Assert.Equal("p2:3 p4:4 p1:6 p3:11", await Paged("""{"m":{"mode":"sum"}}"""));
        Assert.Equal("p2:\"b\" p3:\"c\" p1:\"d\" p4:\"e\"", await Paged("""{"k":"asc"}"""));
        Assert.Equal("p3:\"x\" p1:\"w\" p4:\"e\" p2:\"b\"", await Paged("""{"k":"desc"}"""));
    }

    [Fact]
    public async Task Sort_SegmentsWithAndWithoutMultiValuedDocuments_SortTogether()
    {
        // Each refresh writes a segment: one holding only single-valued documents has no field of several values.
        Assert.Equal(200, (await Es.PutAsync("/mv-seg", JsonNode.Parse("""{"mappings":{"properties":{"m":{"type":"long"},"d":{"type":"double"},"k":{"type":"keyword"}}}}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/mv-seg/_doc/1?refresh=true", JsonNode.Parse("""{"m":5,"d":5.5,"k":"e"}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/mv-seg/_doc/2?refresh=true", JsonNode.Parse("""{"m":[9,1],"d":[9.5,0.5],"k":["z","a"]}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/mv-seg/_doc/3?refresh=true", JsonNode.Parse("""{"m":3,"d":3.5,"k":"c"}"""))).Status);
        const string Path = "/mv-seg/_search";
        Assert.Equal(
            [
                "2:1 3:3 1:5",
                "2:9 1:5 3:3",
                "2:0.5 3:3.5 1:5.5",
                "3:3.5 2:5.0 1:5.5",
                "2:\"a\" 3:\"c\" 1:\"e\"",
                "2:\"z\" 1:\"e\" 3:\"c\"",
            ],
            await SortedBy(Path, """{"m":"asc"}""", """{"m":"desc"}""", """{"d":"asc"}""", """{"d":{"mode":"avg"}}""", """{"k":"asc"}""", """{"k":"desc"}"""));
    }

    [Fact]
    public async Task Sort_AKeywordsTopHits_AcrossSegments_ComeInByteOrder_WhenTheBottomIsNoTermOfTheSegment()
    {
        // Three segments: a page's lowest (or highest) hit so far is often a keyword the next segment lacks.
        Assert.Equal(200, (await Es.PutAsync("/mv-ords", JsonNode.Parse("""{"mappings":{"properties":{"k":{"type":"keyword"}}}}"""))).Status);
        foreach (var (segment, docs) in new[] { ("s1", """["b","d","f","h"]"""), ("s2", """["a","c","e","g","i",null]"""), ("s3", """[["cc","zz"],"ca"]""") })
        {
            var lines = JsonNode.Parse(docs)!.AsArray().Select((k, i) =>
                $$$"""{"index":{"_index":"mv-ords","_id":"{{{segment}}}-{{{i}}}"}}""" + "\n" + (k is null ? "{}" : $$$"""{"k":{{{k.ToJsonString()}}}}"""));
            var bulk = await Es.BulkAsync(string.Join("\n", lines) + "\n");
            Assert.False(bulk.Json["errors"]!.GetValue<bool>());
        }

        Assert.Equal(
            [
                "s2-0:\"a\" s1-0:\"b\" s2-1:\"c\" s3-1:\"ca\" s3-0:\"cc\"",
                "s3-0:\"zz\" s2-4:\"i\" s1-3:\"h\" s2-3:\"g\" s1-2:\"f\"",
                "s2-5:null s2-0:\"a\" s1-0:\"b\" s2-1:\"c\" s3-1:\"ca\"",
                "s2-5:null s3-0:\"zz\" s2-4:\"i\" s1-3:\"h\" s2-3:\"g\"",
            ],
            await SortedBy("/mv-ords/_search?size=5", """{"k":"asc"}""", """{"k":"desc"}""", """{"k":{"missing":"_first"}}""", """{"k":{"order":"desc","missing":"_first"}}"""));
        // Ascending, ["cc","zz"] sorts by "cc": not after "ee".
        Assert.Equal(
            "s1-2:\"f\" s2-3:\"g\" s1-3:\"h\" s2-4:\"i\" s2-5:null",
            await SortedIds("/mv-ords/_search?size=6", """{"sort":["k"],"search_after":["ee"]}"""));
    }

    [Fact]
    public async Task Sort_ADocumentUpdatedFromSeveralValuesToOne_SortsByItsOneValue()
    {
        // The update replaces the document, its recorded values with it.
        Assert.Equal(200, (await Es.PutAsync("/mv-upd", JsonNode.Parse("""{"mappings":{"properties":{"m":{"type":"long"},"k":{"type":"keyword"}}}}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/mv-upd/_doc/1?refresh=true", JsonNode.Parse("""{"m":[1,9],"k":["a","z"]}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/mv-upd/_doc/2?refresh=true", JsonNode.Parse("""{"m":5,"k":"m"}"""))).Status);
        Assert.Equal("1:1 2:5", await SortedIds("/mv-upd/_search", """{"sort":[{"m":"asc"}]}"""));
        Assert.Equal(200, (await Es.PutAsync("/mv-upd/_doc/1?refresh=true", JsonNode.Parse("""{"m":7,"k":"q"}"""))).Status);
        Assert.Equal("2:5 1:7", await SortedIds("/mv-upd/_search", """{"sort":[{"m":"asc"}]}"""));
        Assert.Equal("1:7 2:5", await SortedIds("/mv-upd/_search", """{"sort":[{"m":"desc"}]}"""));
        Assert.Equal("2:\"m\" 1:\"q\"", await SortedIds("/mv-upd/_search", """{"sort":[{"k":"asc"}]}"""));
        Assert.Equal("1:\"q\" 2:\"m\"", await SortedIds("/mv-upd/_search", """{"sort":[{"k":"desc"}]}"""));
    }

    [Theory]
    [InlineData(0.49999999999999994, 0L)]
    [InlineData(4503599627370497.0, 4503599627370497L)]
    [InlineData(-4503599627370497.0, -4503599627370497L)]
    [InlineData(2.5, 3L)]
    [InlineData(-2.5, -2L)]
    [InlineData(-0.5, 0L)]
    [InlineData(-0.49999999999999994, 0L)]
    [InlineData(double.NaN, 0L)]
    [InlineData(1e300, long.MaxValue)]
    [InlineData(-1e300, long.MinValue)]
    public void Sort_ALongsAverageOrMedian_IsRoundedAsJavasMathRound(double value, long rounded)
    {
        // Java 7 on: Math.round is the closest long, ties towards positive infinity (Java 6's floor(x + 0.5) rounded
        // 0.49999999999999994 to 1 and 2^52 + 1 to 2^52 + 2, as this did).
        Assert.Equal(rounded, Querying.MultiValueSort.JavaRound(value));
    }

    [Fact]
    public async Task Sort_ALongsAverage_AboveTwoToThe52_IsTheExactValue()
    {
        // MultiValueMode.AVG on a long: Math.round(sum / count); 2^52 + 1 twice averages to itself. It was 2^52 + 2.
        Assert.Equal(200, (await Es.PutAsync("/mv-big", JsonNode.Parse("""{"mappings":{"properties":{"m":{"type":"long"}}}}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/mv-big/_doc/1?refresh=true", JsonNode.Parse("""{"m":[4503599627370497,4503599627370497]}"""))).Status);
        Assert.Equal("1:4503599627370497", await SortedIds("/mv-big/_search", """{"sort":[{"m":{"mode":"avg"}}]}"""));
        Assert.Equal("1:4503599627370497", await SortedIds("/mv-big/_search", """{"sort":[{"m":{"mode":"median"}}]}"""));
    }

    [Fact]
    public async Task Sort_ADoubleSortValue_IsWrittenAsJacksonWritesADouble()
    {
        // SearchHit's sort values go through XContentBuilder.value(Double): Jackson's Double.toString, so a whole value
        // keeps its ".0" and a large one is in Java's notation. They were 2 and 1E+20.
        Assert.Equal(200, (await Es.PutAsync("/doubles", JsonNode.Parse("""{"mappings":{"properties":{"d":{"type":"double"}}}}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/doubles/_doc/1?refresh=true", JsonNode.Parse("""{"d":2}"""))).Status);
        Assert.Equal(201, (await Es.PutAsync("/doubles/_doc/2?refresh=true", JsonNode.Parse("""{"d":1e20}"""))).Status);
        var r = await Es.SendAsync(HttpMethod.Post, "/doubles/_search", """{"sort":["d"]}""");
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        Assert.Equal(["[2.0]", "[1.0E20]"], r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["sort"]!.ToJsonString()));
    }

    [Fact]
    public async Task Sort_ModeFirst_IsNoSortMode()
    {
        // SortMode.fromString takes min, max, sum, avg and median; "first" was taken.
        var r = await Search("""{"sort":[{"n":{"mode":"first"}}]}""");
        r.AssertError(400, "x_content_parse_exception", "[1:23] [field_sort] failed to parse field [mode]");
        Assert.Equal("Unknown SortMode [first]", r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task SortAndTermsAggregation_WithTheOpenSearchFlavor_AreCheckedAgainstOpenSearchsParsers()
    {
        // OpenSearch 2.x's FieldSortBuilder ObjectParser declares nested_path and nested_filter but no format; its
        // TermsAggregationBuilder the same fields as Elasticsearch's. Nothing was checked with this flavour.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var os = new EsClient(server.Url);
        Assert.Equal(201, (await os.PutAsync("/shop/_doc/1?refresh=true", JsonNode.Parse("""{"tag":"a","n":1}"""))).Status);
        Task<EsResponse> OsSearch(string body) => os.SendAsync(HttpMethod.Post, "/shop/_search", body);

        (await OsSearch("""{"sort":[{"n":{"order":"asc","format":"x"}}]}"""))
            .AssertError(400, "x_content_parse_exception", "[1:30] [field_sort] unknown field [format]");
        (await OsSearch("""{"sort":[{"_score":{"mode":"max"}}]}"""))
            .AssertError(400, "x_content_parse_exception", "[1:21] [_score] unknown field [mode]");
        (await OsSearch("""{"size":0,"aggs":{"t":{"terms":{"field":"tag","sise":1}}}}"""))
            .AssertError(400, "x_content_parse_exception", "[1:47] [terms] unknown field [sise] did you mean [size]?");
        var ok = await OsSearch("""{"sort":[{"n":{"order":"asc","nested_path":"p","numeric_type":"long"}}]}""");
        Assert.True(ok.Status == 200, ok.Body?.ToJsonString());
    }

    [Fact]
    public async Task UrlSort_IsReadAsRestSearchActionReadsIt()
    {
        // RestSearchAction.parseSearchSource: each sort split at its last colon; a direction other than exactly asc or desc
        // adds no sort at all (it sorted ascending), so the hits come in the match_all's order, with no sort values.
        foreach (var unsorted in new[] { "n:up", "n:DESC" })
        {
            var r = await Es.GetAsync($"/shop/_search?sort={unsorted}&size=1");
            Assert.True(r.Status == 200, r.Body?.ToJsonString());
            var hit = r.Json["hits"]!["hits"]![0]!.AsObject();
            Assert.Equal("1", hit["_id"]!.GetValue<string>());
            Assert.False(hit.ContainsKey("sort"));
        }

        var sorted = await Es.GetAsync("/shop/_search?sort=n:asc,tag:desc&size=2");
        Assert.Equal(["4", "6"], sorted.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));

        // With a body sort, the URL's keys come after the body's (SearchSourceBuilder.sort adds to its list); they
        // replaced it, and the search was sorted by tag alone.
        var both = await Es.PostAsync("/shop/_search?sort=tag:desc&size=2", """{"sort":[{"n":"asc"}]}""");
        Assert.Equal(["4", "6"], both.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(2, both.Json["hits"]!["hits"]![0]!["sort"]!.AsArray().Count);
    }

    [Fact]
    public async Task Highlight_AnOptionAFieldsParserDoesNotDeclare_IsRefused()
    {
        // HighlightBuilder.Field's ObjectParser ("highlight_field"), wrapped by declareNamedObjects and by the highlight's
        // parser, both on the unknown option's value (col 76), the option named at its name (col 68). It was ignored.
        var r = await Search("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{"bogus":1}}}}""");
        r.AssertError(400, "x_content_parse_exception", "[1:76] [highlight] failed to parse field [fields]");
        var cause = r.Json["error"]!["caused_by"]!;
        Assert.Equal("[1:76] [fields] failed to parse field [title]", cause["reason"]!.GetValue<string>());
        Assert.Equal("[1:68] [highlight_field] unknown field [bogus]", cause["caused_by"]!["reason"]!.GetValue<string>());

        // The options a field's parser declares (setupParser's, fragment_offset, matched_fields), in either form of fields.
        var ok = await Search("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":[{"title":{"fragment_offset":0,"matched_fields":["title"],"encoder":"html","number_of_fragments":1}}]}}""");
        Assert.Equal(["1", "2"], Ids(ok));
    }

    [Fact]
    public async Task Highlight_ForceSourceUnderCompatibleWith8_IsIgnoredWithElasticsearchsDeprecationWarning()
    {
        // Elasticsearch 9.0 (#124873, backported as #124881) declares force_source again for RestApiVersion V_8 alone, a
        // ParseField withAllDeprecated(): read and ignored, each use logged by LoggingDeprecationHandler.logRemovedField
        // with the parser's name and the value's place. It was refused under compatible-with=8 as without it.
        const string Body = """{"query":{"match":{"title":"fox"}},"highlight":{"force_source":true,"fields":{"title":{"force_source":"false"}}}}""";
        async Task<HttpResponseMessage> SearchAs(string mediaType)
        {
            using var http = new HttpClient { BaseAddress = _fx.Server.Url };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/shop/_search") { Content = new StringContent(Body, System.Text.Encoding.UTF8) };
            request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(mediaType);
            request.Headers.TryAddWithoutValidation("Accept", mediaType);
            return await http.SendAsync(request);
        }

        using var v8 = await SearchAs("application/vnd.elasticsearch+json;compatible-with=8");
        var answer = JsonNode.Parse(await v8.Content.ReadAsStringAsync())!;
        Assert.True(v8.IsSuccessStatusCode, answer.ToJsonString());
        Assert.Equal(["1", "2"], answer["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Contains("<em>fox</em>", answer["hits"]!["hits"]![0]!["highlight"]!["title"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(
        [
            "299 Elasticsearch-9.1.0-rank1-embedded \"[highlight][1:64] Deprecated field [force_source] used, this field is unused and will be removed entirely\"",
            "299 Elasticsearch-9.1.0-rank1-embedded \"[highlight_field][1:103] Deprecated field [force_source] used, this field is unused and will be removed entirely\"",
        ], v8.Headers.GetValues("Warning"));

        // Elasticsearch 9's own API (no compatible-with, or 9) does not declare it.
        foreach (var mediaType in new[] { "application/json", "application/vnd.elasticsearch+json;compatible-with=9" })
        {
            using var v9 = await SearchAs(mediaType);
            var error = JsonNode.Parse(await v9.Content.ReadAsStringAsync())!["error"]!;
            Assert.Equal((400, "x_content_parse_exception", "[1:49] [highlight] unknown field [force_source]"),
                ((int)v9.StatusCode, error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
            Assert.False(v9.Headers.Contains("Warning"));
        }
    }

    // Under compatible-with=8 force_source is declared with declareBoolean (AbstractHighlighterBuilder.setupParser: read,
    // then ignored): ObjectParser's assertSupports refuses a token ValueType.BOOLEAN does not take (a number, an object,
    // null), after ParseField.match has logged the deprecation; a string is read by booleanValue(), whose refusal
    // parseValue wraps; a field's is wrapped again by declareNamedObjects and the highlight's parser. They were ignored.
    [Theory]
    [InlineData("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{}},"force_source":1}}""", "highlight", 86,
        new[] { "[1:86] [highlight] force_source doesn't support values of type: VALUE_NUMBER" }, null)]
    [InlineData("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{"force_source":{}}}}}""", "highlight_field", 83,
        new[] { "[1:83] [highlight] failed to parse field [fields]", "[1:83] [fields] failed to parse field [title]", "[1:83] [highlight_field] force_source doesn't support values of type: START_OBJECT" }, null)]
    [InlineData("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{}},"force_source":"maybe"}}""", "highlight", 86,
        new[] { "[1:86] [highlight] failed to parse field [force_source]" }, "Failed to parse value [maybe] as only [true] or [false] are allowed.")]
    public async Task Highlight_ForceSourceNotABooleanUnderCompatibleWith8_IsRefusedAfterTheWarning(string body, string parser, int column, string[] reasons, string? cause)
    {
        const string MediaType = "application/vnd.elasticsearch+json;compatible-with=8";
        using var http = new HttpClient { BaseAddress = _fx.Server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/shop/_search") { Content = new StringContent(body, System.Text.Encoding.UTF8) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(MediaType);
        request.Headers.TryAddWithoutValidation("Accept", MediaType);
        using var response = await http.SendAsync(request);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal((400, "x_content_parse_exception", reasons[0]), ((int)response.StatusCode, error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        foreach (var reason in reasons.Skip(1))
        {
            error = error["caused_by"]!;
            Assert.Equal(("x_content_parse_exception", reason), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        }

        Assert.Equal(cause is null ? null : $"illegal_argument_exception: {cause}",
            error["caused_by"] is { } c ? $"{c["type"]!.GetValue<string>()}: {c["reason"]!.GetValue<string>()}" : null);
        Assert.Equal($"299 Elasticsearch-9.1.0-rank1-embedded \"[{parser}][1:{column}] Deprecated field [force_source] used, this field is unused and will be removed entirely\"",
            Assert.Single(response.Headers.GetValues("Warning")));
    }

    [Fact]
    public async Task Highlight_WithTheOpenSearchFlavor_IsCheckedAgainstOpenSearchsParsers()
    {
        // OpenSearch 2.x's HighlightBuilder and HighlightBuilder.Field ObjectParsers: setupParser reads force_source and
        // max_analyzer_offset; encoder and tags_schema are the highlight's own. Nothing was checked with this flavour.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var os = new EsClient(server.Url);
        Assert.Equal(201, (await os.PutAsync("/shop/_doc/1?refresh=true", JsonNode.Parse("""{"title":"red fox"}"""))).Status);
        Task<EsResponse> OsSearch(string body) => os.SendAsync(HttpMethod.Post, "/shop/_search", body);

        (await OsSearch("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{}},"bogus":1}}"""))
            .AssertError(400, "x_content_parse_exception", "[1:71] [highlight] unknown field [bogus]");
        var field = await OsSearch("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{"encoder":"html"}}}}""");
        field.AssertError(400, "x_content_parse_exception", "[1:78] [highlight] failed to parse field [fields]");
        Assert.Equal("[1:68] [highlight_field] unknown field [encoder]", field.Json["error"]!["caused_by"]!["caused_by"]!["reason"]!.GetValue<string>());

        var ok = await OsSearch("""{"query":{"match":{"title":"fox"}},"highlight":{"fields":{"title":{"force_source":true,"max_analyzer_offset":100}},"encoder":"html","force_source":true}}""");
        Assert.Equal(["1"], Ids(ok));
    }

    [Fact]
    public async Task MsearchTemplate_AnswersTheRenderedSearchesDeprecationWarnings()
    {
        // TransportSearchTemplateAction.convert parses each rendered search with LoggingDeprecationHandler, in the
        // request's thread context, as _search/template and _msearch do: the warning answers the msearch (it had none).
        const string Expected = "299 Elasticsearch-9.1.0-rank1-embedded \"[bool][1:29] Deprecated field [mustNot] used, expected [must_not] instead\"";
        var m = await Es.SendAsync(HttpMethod.Post, "/_msearch/template",
            "{\"index\":\"shop\"}\n{\"source\":{\"query\":{\"bool\":{\"mustNot\":{\"match_all\":{}}}}}}\n{\"index\":\"shop\"}\n{\"source\":{\"query\":{\"bool\":{\"mustNot\":{\"term\":{\"tag\":\"a\"}}}}}}\n",
            "application/x-ndjson");
        Assert.Equal(200, m.Status);
        Assert.Equal([200, 200], m.Json["responses"]!.AsArray().Select(x => x!["status"]!.GetValue<int>()));
        Assert.Equal([Expected], m.Headers.GetValues("Warning"));
    }

    private static string[] Ids(EsResponse r)
    {
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        return [.. r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).Order()];
    }

    private static string[] Buckets(EsResponse r)
    {
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        return [.. r.Json["aggregations"]!["t"]!["buckets"]!.AsArray().Select(b => $"{b!["key"]}:{b["doc_count"]}")];
    }
}
