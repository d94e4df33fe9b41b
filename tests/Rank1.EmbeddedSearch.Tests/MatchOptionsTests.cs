using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// The options of <c>match</c>, <c>match_phrase</c> and <c>multi_match</c> over real HTTP, applied as Elasticsearch 9's
/// <c>MatchQueryParser</c> applies them (each was read and ignored: a user got other hits than Elasticsearch's), and
/// their bad values refused in its words.
/// </summary>
public sealed class MatchOptionsTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        Assert.Equal(200, (await Es.PutAsync("/words", JsonNode.Parse("""
            {"mappings":{"properties":{"title":{"type":"text"},"tag":{"type":"keyword"},"year":{"type":"integer"}}}}
            """))).Status);
        var r = await Es.BulkAsync("""
            {"index":{"_index":"words","_id":"1"}}
            {"title":"quick brown fox","tag":"Spain","year":2001}
            {"index":{"_index":"words","_id":"2"}}
            {"title":"the lazy dog","tag":"France","year":1999}
            {"index":{"_index":"words","_id":"3"}}
            {"title":"to jump high","tag":"Italy","year":2010}
            {"index":{"_index":"words","_id":"4"}}
            {"title":"cat"}
            {"index":{"_index":"words","_id":"5"}}
            {"title":"car"}
            {"index":{"_index":"words","_id":"6"}}
            {"title":"cap"}

            """);
        Assert.False(r.Json["errors"]!.GetValue<bool>());
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    private async Task<string[]> Ids(string query)
    {
        var r = await Es.SearchAsync("words", JsonNode.Parse($$"""{"query":{{query}},"size":20}""")!);
        Assert.True(r.Status == 200, r.Body?.ToJsonString());
        return [.. r.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).Order()];
    }

    // The shard's failure: the 400 "all shards failed", whose root cause is the query_shard_exception.
    private async Task AssertShardFailure(string query, string reason)
    {
        var r = await Es.SearchAsync("words", JsonNode.Parse($$"""{"query":{{query}}}""")!);
        r.AssertError(400, "search_phase_execution_exception", "all shards failed");
        Assert.Equal("query_shard_exception", r.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(reason, r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
    }

    [Theory]
    // Fuzziness AUTO: 0..2 code points no edit, 3..5 one, 6 and more two (Fuzziness.asDistance). "brwn" (4) is one
    // insertion from "brown"; "fx" (2) one from "fox", beyond AUTO's none but within AUTO:1,3's one.
    [InlineData("""{"match":{"title":{"query":"brwn","fuzziness":"AUTO"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"brwn","fuzziness":"auto"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"brwn"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"brwn","fuzziness":0}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"fx","fuzziness":"AUTO"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"fx","fuzziness":"AUTO:1,3"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"fx","fuzziness":"1"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"fx","fuzziness":1.0}}}""", new[] { "1" })]
    // Lucene 10's FuzzyTermsEnum takes every term within the distance, one as many edits from "fx" as it is long ("to",
    // two) too.
    [InlineData("""{"match":{"title":{"query":"fx","fuzziness":2}}}""", new[] { "1", "3" })]
    // A prefix as long as the term: the term and those one character longer (Lucene 10's FuzzyQuery).
    [InlineData("""{"match":{"title":{"query":"ca","fuzziness":1,"prefix_length":2}}}""", new[] { "4", "5", "6" })]
    // A transposition is one edit (Damerau-Levenshtein) unless fuzzy_transpositions is false: then "quikc" is two from "quick".
    [InlineData("""{"match":{"title":{"query":"quikc","fuzziness":"AUTO"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"quikc","fuzziness":"AUTO","fuzzy_transpositions":false}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"quikc","fuzziness":2,"fuzzy_transpositions":"false"}}}""", new[] { "1" })]
    // prefix_length: the first characters must match exactly ("crown" is one substitution from "brown", at its first).
    [InlineData("""{"match":{"title":{"query":"crown","fuzziness":1}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"crown","fuzziness":1,"prefix_length":1}}}""", new string[0])]
    // max_expansions: the fuzzy query takes that many of the closest terms ("cat" itself before "car" and "cap").
    [InlineData("""{"match":{"title":{"query":"cat","fuzziness":1}}}""", new[] { "4", "5", "6" })]
    [InlineData("""{"match":{"title":{"query":"cat","fuzziness":1,"max_expansions":1}}}""", new[] { "4" })]
    // Each analysed term is fuzzy, combined by the operator.
    [InlineData("""{"match":{"title":{"query":"quikc lazzy","fuzziness":"AUTO"}}}""", new[] { "1", "2" })]
    [InlineData("""{"match":{"title":{"query":"quikc lazzy","fuzziness":"AUTO","operator":"and"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"quikc lazzy","fuzziness":"AUTO","operator":"AND"}}}""", new string[0])]
    // A keyword field's whole value is one fuzzy term (KeywordFieldType.fuzzyQuery).
    [InlineData("""{"match":{"tag":{"query":"Spian","fuzziness":"AUTO"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"tag":{"query":"Spian"}}}""", new string[0])]
    // multi_match applies them to each field.
    [InlineData("""{"multi_match":{"query":"brwn","fields":["title","tag"],"fuzziness":"AUTO"}}""", new[] { "1" })]
    [InlineData("""{"multi_match":{"query":"brwn","fields":["title","tag"],"fuzziness":0}}""", new string[0])]
    // fuzzy_rewrite: top_terms_N takes N terms, scoring_boolean every one within the distance.
    [InlineData("""{"match":{"title":{"query":"cat","fuzziness":1,"fuzzy_rewrite":"top_terms_1"}}}""", new[] { "4" })]
    [InlineData("""{"match":{"title":{"query":"cat","fuzziness":1,"max_expansions":1,"fuzzy_rewrite":"scoring_boolean"}}}""", new[] { "4", "5", "6" })]
    public async Task Fuzziness_FindsTheTermsWithinItsEditDistance(string query, string[] expected) =>
        Assert.Equal(expected, await Ids(query));

    [Theory]
    // The query's analyzer replaces the field's: "stop" drops "the", "whitespace" keeps "Quick" as written (the index
    // holds "quick"), "keyword" keeps the whole text as one term, "simple" splits "fox2" at the digit, "english" stems
    // "jumps" to the "jump" the index holds.
    [InlineData("""{"match":{"title":{"query":"the"}}}""", new[] { "2" })]
    [InlineData("""{"match":{"title":{"query":"the","analyzer":"stop"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"Quick"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"Quick","analyzer":"whitespace"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"quick brown","analyzer":"keyword"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"quick brown","analyzer":"standard"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"fox2"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"fox2","analyzer":"simple"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"title":{"query":"jumps"}}}""", new string[0])]
    [InlineData("""{"match":{"title":{"query":"jumps","analyzer":"english"}}}""", new[] { "3" })]
    [InlineData("""{"match_phrase":{"title":{"query":"Jump High","analyzer":"whitespace"}}}""", new string[0])]
    [InlineData("""{"multi_match":{"query":"Jump","fields":["title"],"analyzer":"whitespace"}}""", new string[0])]
    // A keyword field analysed by the query's analyzer: "Spain" becomes "spain", which the field does not hold.
    [InlineData("""{"match":{"tag":{"query":"Spain"}}}""", new[] { "1" })]
    [InlineData("""{"match":{"tag":{"query":"Spain","analyzer":"standard"}}}""", new string[0])]
    // zero_terms_query: no term after analysis matches nothing, or with "all" every document.
    [InlineData("""{"match":{"title":{"query":"the","analyzer":"stop","zero_terms_query":"all"}}}""", new[] { "1", "2", "3", "4", "5", "6" })]
    [InlineData("""{"match":{"title":{"query":"!!!","zero_terms_query":"ALL"}}}""", new[] { "1", "2", "3", "4", "5", "6" })]
    [InlineData("""{"match":{"title":{"query":"!!!","zero_terms_query":"none"}}}""", new string[0])]
    [InlineData("""{"match_phrase":{"title":{"query":"the","analyzer":"stop","zero_terms_query":"all"}}}""", new[] { "1", "2", "3", "4", "5", "6" })]
    [InlineData("""{"multi_match":{"query":"!!!","fields":["title"],"zero_terms_query":"all"}}""", new[] { "1", "2", "3", "4", "5", "6" })]
    // lenient: a value the field's type cannot take, or fuzziness on a number, matches nothing for that field.
    [InlineData("""{"match":{"year":{"query":"abc","lenient":true}}}""", new string[0])]
    [InlineData("""{"match":{"year":{"query":"2001","fuzziness":1,"lenient":"true"}}}""", new string[0])]
    [InlineData("""{"multi_match":{"query":"dog","fields":["title","year"],"lenient":true}}""", new[] { "2" })]
    // multi_match over every field (no fields, [], or "*") searches numeric fields too, leniently unless told
    // (MultiMatchQueryBuilder.doToQuery's isAllField); fields may be one string.
    [InlineData("""{"multi_match":{"query":"2001"}}""", new[] { "1" })]
    [InlineData("""{"multi_match":{"query":"2001","fields":["*"]}}""", new[] { "1" })]
    [InlineData("""{"multi_match":{"query":"dog"}}""", new[] { "2" })]
    [InlineData("""{"multi_match":{"query":"fox","fields":[]}}""", new[] { "1" })]
    [InlineData("""{"multi_match":{"query":"fox","fields":"tag"}}""", new string[0])]
    [InlineData("""{"multi_match":{"query":"Spain","fields":"tag"}}""", new[] { "1" })]
    // auto_generate_synonyms_phrase_query changes nothing without synonyms.
    [InlineData("""{"match":{"title":{"query":"lazy","auto_generate_synonyms_phrase_query":false}}}""", new[] { "2" })]
    public async Task AnalyzerZeroTermsAndLenient_AreApplied(string query, string[] expected) =>
        Assert.Equal(expected, await Ids(query));

    [Theory]
    // MatchQueryBuilder.doToQuery: an analyzer the index does not have.
    [InlineData("""{"match":{"title":{"query":"fox","analyzer":"foo"}}}""", "[match] analyzer [foo] not found")]
    [InlineData("""{"match_phrase":{"title":{"query":"fox","analyzer":"foo"}}}""", "[match_phrase] analyzer [foo] not found")]
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"analyzer":"foo"}}""", "[multi_match] analyzer [foo] not found")]
    // Found even for an unmapped field: doToQuery looks before MatchQueryParser reads the field.
    [InlineData("""{"match":{"nope":{"query":"fox","analyzer":"foo"}}}""", "[match] analyzer [foo] not found")]
    // MappedFieldType.fuzzyQuery of a number, and the number's own failure, without lenient.
    [InlineData("""{"match":{"year":{"query":"2001","fuzziness":1}}}""", "failed to create query: Can only use fuzzy queries on keyword and text fields - not on [year] which is of type [integer]")]
    [InlineData("""{"match":{"year":{"query":"abc"}}}""", "failed to create query: For input string: \"abc\"")]
    // A pattern other than "*" takes numeric fields too, and is not lenient by default.
    [InlineData("""{"multi_match":{"query":"dog","fields":["*ear"]}}""", "failed to create query: For input string: \"dog\"")]
    [InlineData("""{"multi_match":{"query":"dog","fields":["*"],"lenient":false}}""", "failed to create query: For input string: \"dog\"")]
    // booleanValue(): a blank string is Booleans.parseBoolean's default false (it was refused as no boolean).
    [InlineData("""{"multi_match":{"query":"dog","fields":["*"],"lenient":" "}}""", "failed to create query: For input string: \"dog\"")]
    // QueryParsers.parseRewriteMethod.
    [InlineData("""{"match":{"title":{"query":"fox","fuzzy_rewrite":"bogus"}}}""", "failed to create query: Failed to parse rewrite_method [bogus]")]
    public async Task WhatTheShardCannotBuild_IsItsFailure(string query, string reason) =>
        await AssertShardFailure(query, reason);

    [Fact]
    public async Task AnAnalyzerOfElasticsearchsThatThisBackendLacks_IsRefused_NotIgnored()
    {
        await AssertShardFailure("""{"match":{"title":{"query":"fox","analyzer":"french"}}}""",
            "[match] analyzer [french] is not supported by the embedded search backend (supported: standard, default, simple, whitespace, keyword, stop, english)");
    }

    [Theory]
    // Fuzziness.parse / fromString / fromEdits / parseCustomAuto, while the body is read.
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":"abc"}}}""", "illegal_argument_exception", "fuzziness cannot be [abc].")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":""}}}""", "illegal_argument_exception", "fuzziness cannot be null or empty.")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":3}}}""", "illegal_argument_exception", "Valid edit distances are [0, 1, 2] but was [3]")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":"1.5"}}}""", "illegal_argument_exception", "fuzziness needs to be one of 0.0, 1.0 or 2.0 but was 1.5")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":true}}}""", "illegal_argument_exception", "Can't parse fuzziness on token: [VALUE_BOOLEAN]")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":"AUTO:5,3"}}}""", "parse_exception", "fuzziness wrongly configured [AUTO:5,3]. Must be 0 < lower value <= higher value.")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":"auto:a,b"}}}""", "parse_exception", "failed to parse [AUTO:A,B] as a \"auto:int,int\"")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzziness":"AUTO:3"}}}""", "parse_exception", "failed to find low and high distance values")]
    // MatchQueryBuilder's setters.
    [InlineData("""{"match":{"title":{"query":"fox","prefix_length":-1}}}""", "illegal_argument_exception", "[match] requires prefix length to be non-negative.")]
    [InlineData("""{"match":{"title":{"query":"fox","max_expansions":0}}}""", "illegal_argument_exception", "[match] requires maxExpansions to be positive.")]
    [InlineData("""{"match":{"title":{"query":"fox","fuzzy_transpositions":"yes"}}}""", "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.")]
    [InlineData("""{"match":{"title":{"query":"fox","lenient":"no"}}}""", "illegal_argument_exception", "Failed to parse value [no] as only [true] or [false] are allowed.")]
    // Operator.fromString: Enum.valueOf of the text upper-cased (a misspelt operator searched with OR).
    [InlineData("""{"match":{"title":{"query":"fox","operator":"xor"}}}""", "illegal_argument_exception", "No enum constant org.elasticsearch.index.query.Operator.XOR")]
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"operator":"nand"}}""", "illegal_argument_exception", "No enum constant org.elasticsearch.index.query.Operator.NAND")]
    // QueryStringQueryBuilder's and SimpleQueryStringBuilder's default_operator, read with Operator.fromString too (it
    // searched with OR).
    [InlineData("""{"query_string":{"query":"fox","default_operator":"xor"}}""", "illegal_argument_exception", "No enum constant org.elasticsearch.index.query.Operator.XOR")]
    [InlineData("""{"simple_query_string":{"query":"fox","default_operator":"Nand"}}""", "illegal_argument_exception", "No enum constant org.elasticsearch.index.query.Operator.NAND")]
    [InlineData("""{"match":{"title":{"query":"fox","zero_terms_query":"some"}}}""", "parsing_exception", "Unsupported zero_terms_query value [some]")]
    [InlineData("""{"match_phrase":{"title":{"query":"fox","zero_terms_query":"some"}}}""", "parsing_exception", "Unsupported zero_terms_query value [some]")]
    [InlineData("""{"match_phrase":{"title":{"query":"fox","slop":-1}}}""", "illegal_argument_exception", "No negative slop allowed.")]
    // MultiMatchQueryBuilder.fromXContent refuses an option it does not read (a misspelt fuzziness was ignored).
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"fuzzyness":1}}""", "parsing_exception", "[multi_match] query does not support [fuzzyness]")]
    [InlineData("""{"multi_match":{"query":"fox","fields":{"title":1}}}""", "parsing_exception", "[multi_match] query does not support [fields]")]
    [InlineData("""{"multi_match":{"query":"fox","fields":"title","type":["phrase"]}}""", "parsing_exception", "[multi_match] unknown token [START_ARRAY] after [type]")]
    // MultiMatchQueryBuilder's setters, in their own words and order (max_expansions before prefix_length).
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"max_expansions":0}}""", "illegal_argument_exception", "Max expansions must be strictly great than zero.")]
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"prefix_length":-1,"max_expansions":0}}""", "illegal_argument_exception", "Max expansions must be strictly great than zero.")]
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"prefix_length":-1}}""", "illegal_argument_exception", "No negative prefix length allowed.")]
    [InlineData("""{"multi_match":{"query":"fox phrase","fields":["title"],"type":"phrase","slop":-2}}""", "illegal_argument_exception", "No negative slop allowed.")]
    // A setter runs once every value is read: the bad fuzziness after it is found first.
    [InlineData("""{"match":{"title":{"query":"fox","prefix_length":-1,"fuzziness":"abc"}}}""", "illegal_argument_exception", "fuzziness cannot be [abc].")]
    [InlineData("""{"multi_match":{"query":"fox","fields":["title"],"type":"phrase","fuzziness":1}}""", "parsing_exception", "Fuzziness not allowed for type [phrase]")]
    public async Task ABadValue_IsRefusedWhileTheBodyIsRead(string query, string type, string reason)
    {
        (await Es.SearchAsync("words", JsonNode.Parse($$"""{"query":{{query}}}""")!)).AssertError(400, type, reason);
        // Found while the body is parsed, so one such search fails its whole msearch.
        (await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"words\"}\n{\"query\":" + query + "}\n{}\n{}\n", "application/x-ndjson"))
            .AssertError(400, type, reason);
    }

    [Fact]
    public async Task MultiMatch_AppliesItsSlopAndBoost()
    {
        // MultiMatchQueryBuilder reads slop for type phrase (it was ignored: "quick fox" is one position apart).
        Assert.Empty(await Ids("""{"multi_match":{"query":"quick fox","fields":["title"],"type":"phrase"}}"""));
        Assert.Equal(["1"], await Ids("""{"multi_match":{"query":"quick fox","fields":["title"],"type":"phrase","slop":1}}"""));

        // AbstractQueryBuilder.toQuery boosts every query by its boost; multi_match's was read and not applied.
        async Task<double> Score(string body)
        {
            var r = await Es.SearchAsync("words", JsonNode.Parse(body)!);
            return r.Json["hits"]!["hits"]![0]!["_score"]!.GetValue<double>();
        }

        var plain = await Score("""{"query":{"multi_match":{"query":"fox","fields":["title"]}}}""");
        Assert.Equal(plain * 3, await Score("""{"query":{"multi_match":{"query":"fox","fields":["title"],"boost":3}}}"""), plain * 1e-5);
    }

    [Theory]
    // In a bool, ObjectParser wraps the error where the parser stood: on the value it read (the fuzziness, col 71), or,
    // for a setter's, on the match query's closing brace (col 78), as for the other errors of a clause.
    [InlineData("""{"query":{"bool":{"must":{"match":{"title":{"query":"fox","fuzziness":"abc"}}}}}}""", "[1:71] [bool] failed to parse field [must]", "fuzziness cannot be [abc].")]
    [InlineData("""{"query":{"bool":{"must":{"match":{"title":{"query":"fox","prefix_length":-1}}}}}}""", "[1:78] [bool] failed to parse field [must]", "[match] requires prefix length to be non-negative.")]
    public async Task InABool_TheErrorIsWrappedWhereTheParserStood(string body, string reason, string cause)
    {
        var r = await Es.SearchAsync("words", JsonNode.Parse(body)!);
        r.AssertError(400, "x_content_parse_exception", reason);
        // ElasticsearchException.guessRootCauses goes down through an XContentParseException only to another one or to
        // one of Elasticsearch's own: an IllegalArgumentException cause leaves the wrapper the root cause.
        Assert.Equal(reason, r.Json["error"]!["root_cause"]![0]!["reason"]!.GetValue<string>());
        Assert.Equal(cause, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Theory]
    // MultiMatchQueryBuilder.parseFieldAndBoost reads each element of fields with text(): a null or an object is
    // JsonXContentParser's IllegalStateException at that element, Elasticsearch's 500 (it was a NullReferenceException).
    [InlineData("""{"query":{"multi_match":{"query":"a","fields":[null]}}}""", "Can't get text on a VALUE_NULL at 1:48")]
    [InlineData("""{"query":{"multi_match":{"query":"a","fields":["title",{"a":1}]}}}""", "Can't get text on a START_OBJECT at 1:56")]
    public async Task MultiMatch_AFieldsElementWithNoText_IsTheParsersIllegalState(string body, string reason)
    {
        (await Es.SearchAsync("words", JsonNode.Parse(body)!)).AssertError(500, "illegal_state_exception", reason);

        // In a bool, ObjectParser wraps it where the parser stood: on the null.
        var r = await Es.SearchAsync("words", JsonNode.Parse("""{"query":{"bool":{"must":{"multi_match":{"query":"a","fields":[null]}}}}}""")!);
        r.AssertError(400, "x_content_parse_exception", "[1:64] [bool] failed to parse field [must]");
        Assert.Equal("illegal_state_exception", r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal("Can't get text on a VALUE_NULL at 1:64", r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bool_TheDeprecatedMustNot_IsMustNot()
    {
        // BoolQueryBuilder: new ParseField("must_not").withDeprecation("mustNot"). It was taken while the body was read
        // and refused when the search ran.
        Assert.Equal(["2", "3", "4", "5", "6"], await Ids("""{"bool":{"mustNot":[{"match":{"title":"fox"}}]}}"""));
        Assert.Equal(["2"], await Ids("""{"bool":{"must":{"match":{"title":"the"}},"mustNot":{"match":{"title":"fox"}}}}"""));
    }
}
