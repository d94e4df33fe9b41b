using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// A bad query says where Elasticsearch's parser stood when it refused it: a <c>parsing_exception</c>'s <c>line</c> and
/// <c>col</c> (<c>ParsingException.metadataToXContent</c>, in the error and in its root cause), an
/// <c>x_content_parse_exception</c>'s <c>[line:col]</c> (<c>ObjectParser</c>'s). The places are Jackson's
/// <c>getTokenLocation()</c>: line and column from 1, the column in bytes, of the token the parser stood on, as
/// <c>AbstractQueryBuilder.parseInnerQueryBuilder</c>, <c>MatchQueryBuilder.fromXContent</c>,
/// <c>SearchSourceBuilder.parseXContent</c> and <c>BoolQueryBuilder</c>'s <c>ObjectParser</c> raise their errors.
/// </summary>
public sealed class QueryParseLocationTests : IAsyncLifetime
{
    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        Assert.Equal(200, (await Es.PutAsync("/library", JsonNode.Parse("""{"mappings":{"properties":{"text":{"type":"text"}}}}"""))).Status);
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    [Theory]
    // NamedXContentRegistry's NamedObjectNotFoundException is raised at the query's START_OBJECT (col 18), the cause of
    // parseInnerQueryBuilder's "unknown query [nope]" at the same place.
    [InlineData("""{"query":{"nope":{}}}""", "unknown query [nope]", 1, 18)]
    // Not an object after the query's name: the token found (the string at col 19).
    [InlineData("""{"query":{"match":"x"}}""", "[match] query malformed, no start_object after query name", 1, 19)]
    // A second name after a whole query: that FIELD_NAME (col 26).
    [InlineData("""{"query":{"match_all":{},"term":{"a":"b"}}}""", "[match_all] malformed query, expected [END_OBJECT] but found [FIELD_NAME]", 1, 26)]
    // MatchQueryBuilder refuses an option when it reads its value: the value's token ("and", col 51).
    [InlineData("""{"query":{"match":{"text":{"query":"x","operater":"and"}}}}""", "[match] query does not support [operater]", 1, 51)]
    [InlineData("""{"query":{"match":{"text":{"query":"x","operator":{"a":1}}}}}""", "[match] unknown token [START_OBJECT] after [operator]", 1, 51)]
    // A null is no value to XContentParser.Token.isValue either: it was taken as the option not given.
    [InlineData("""{"query":{"match":{"text":{"query":"x","operator":null}}}}""", "[match] unknown token [VALUE_NULL] after [operator]", 1, 51)]
    [InlineData("""{"query":{"term":{"text":{"value":null}}}}""", "[term] unknown token [VALUE_NULL] after [value]", 1, 35)]
    // SearchSourceBuilder.parseXContent: a query that is not an object, at its value (col 10).
    [InlineData("""{"query":"x"}""", "Unknown key for a VALUE_STRING in [query].", 1, 10)]
    [InlineData("""{"size":1,"qeury":[1]}""", "Unknown key for a START_ARRAY in [qeury].", 1, 19)]
    // SearchSourceBuilder.parseXContent: a null is no value to XContentParser.Token.isValue(), so every key refuses it as
    // it refuses an unknown key (throwUnknownKey), at the null. A null sort, explain, track_scores, version,
    // seq_no_primary_term, timeout, search_after or pit was taken as absent; a null from had no place.
    [InlineData("""{"sort":null}""", "Unknown key for a VALUE_NULL in [sort].", 1, 9)]
    [InlineData("""{"size":1,"explain":null}""", "Unknown key for a VALUE_NULL in [explain].", 1, 21)]
    [InlineData("""{"track_scores":null}""", "Unknown key for a VALUE_NULL in [track_scores].", 1, 17)]
    [InlineData("""{"version":null}""", "Unknown key for a VALUE_NULL in [version].", 1, 12)]
    [InlineData("""{"seq_no_primary_term":null}""", "Unknown key for a VALUE_NULL in [seq_no_primary_term].", 1, 24)]
    [InlineData("""{"timeout":null}""", "Unknown key for a VALUE_NULL in [timeout].", 1, 12)]
    [InlineData("""{"search_after":null}""", "Unknown key for a VALUE_NULL in [search_after].", 1, 17)]
    [InlineData("""{"pit":null}""", "Unknown key for a VALUE_NULL in [pit].", 1, 8)]
    [InlineData("""{"from":null}""", "Unknown key for a VALUE_NULL in [from].", 1, 9)]
    // SearchSourceBuilder parses post_filter as it parses query (parseTopLevelQuery), while the body is read: it was
    // refused only when the search ran, with no place.
    [InlineData("""{"post_filter":{"nope":{}}}""", "unknown query [nope]", 1, 24)]
    // AbstractQueryBuilder.throwParsingExceptionOnMultipleFields: at the second field's value, naming the first two
    // fields (a third is never read). They were refused when the query ran, with no place, all fields named.
    [InlineData("""{"query":{"match":{"text":"a","k":"b"}}}""", "[match] query doesn't support multiple fields, found [text] and [k]", 1, 35)]
    [InlineData("""{"query":{"term":{"a":"x","b":{"value":"y"},"c":"z"}}}""", "[term] query doesn't support multiple fields, found [a] and [b]", 1, 31)]
    // RangeQueryBuilder.fromXContent refuses an option at its value.
    [InlineData("""{"query":{"range":{"text":{"gte":1,"foo":2}}}}""", "[range] query does not support [foo]", 1, 42)]
    // MatchAllQueryBuilder and IdsQueryBuilder rethrow their ObjectParser's "unknown field" (placed at the name) as a
    // ParsingException where the parser stands, the value. The field was taken and ignored.
    [InlineData("""{"query":{"match_all":{"bost":1}}}""", "[1:24] [match_all] unknown field [bost] did you mean [boost]?", 1, 31)]
    [InlineData("""{"query":{"ids":{"values":["1"],"nope":1}}}""", "[1:33] [ids] unknown field [nope]", 1, 40)]
    // QueryStringQueryBuilder.fromXContent refuses an option it does not read at its value: a value, an array other than
    // fields (a string fields too), and "unknown token" for an object; no query at all at its closing brace. Each was
    // taken and ignored (a misspelt default_operater searched with OR), the missing query refused only when it ran.
    [InlineData("""{"query":{"query_string":{"query":"x","default_operater":"and"}}}""", "[query_string] query does not support [default_operater]", 1, 58)]
    [InlineData("""{"query":{"query_string":{"query":"x","fields":"text"}}}""", "[query_string] query does not support [fields]", 1, 48)]
    [InlineData("""{"query":{"query_string":{"query":"x","analyzer":["standard"]}}}""", "[query_string] query does not support [analyzer]", 1, 50)]
    [InlineData("""{"query":{"query_string":{"query":"x","lenient":{"a":1}}}}""", "[query_string] unknown token [START_OBJECT] after [lenient]", 1, 49)]
    [InlineData("""{"query":{"query_string":{"default_field":"text"}}}""", "[query_string] must be provided with a [query]", 1, 49)]
    // SimpleQueryStringBuilder.fromXContent: its own words for a value it does not read.
    [InlineData("""{"query":{"simple_query_string":{"query":"x","default_operater":"and"}}}""", "[simple_query_string] unsupported field [default_operater]", 1, 65)]
    [InlineData("""{"query":{"simple_query_string":{"query":"x","flags":["AND"]}}}""", "[simple_query_string] query does not support [flags]", 1, 54)]
    [InlineData("""{"query":{"simple_query_string":{"fields":["text"]}}}""", "[simple_query_string] query text missing", 1, 51)]
    // match, match_phrase and term read boost and _name only inside the field's object: beside it they are a second
    // field (throwParsingExceptionOnMultipleFields); range refuses a value beside the field's object. Each was taken,
    // with its boost.
    [InlineData("""{"query":{"match":{"text":"x","boost":2}}}""", "[match] query doesn't support multiple fields, found [text] and [boost]", 1, 39)]
    [InlineData("""{"query":{"match_phrase":{"text":{"query":"x"},"_name":"n"}}}""", "[match_phrase] query doesn't support multiple fields, found [text] and [_name]", 1, 56)]
    [InlineData("""{"query":{"term":{"text":"x","boost":2}}}""", "[term] query doesn't support multiple fields, found [text] and [boost]", 1, 38)]
    [InlineData("""{"query":{"range":{"text":{"gte":"a"},"boost":2}}}""", "[range] query does not support [boost]", 1, 47)]
    [InlineData("""{"query":{"range":{"text":"a"}}}""", "[range] query does not support [text]", 1, 27)]
    // TermsQueryBuilder.fromXContent: one field's array of values, boost and _name beside it; TermQueryBuilder refuses an
    // array. They were refused when the query ran, in this backend's own words.
    [InlineData("""{"query":{"terms":{"text":"a"}}}""", "[terms] query does not support [text]", 1, 27)]
    [InlineData("""{"query":{"terms":{"text":["a"],"k":["b"]}}}""", "[terms] query does not support multiple fields", 1, 37)]
    [InlineData("""{"query":{"terms":{"text":["a",null]}}}""", "No value specified for terms query", 1, 32)]
    [InlineData("""{"query":{"terms":{"boost":2}}}""", "[terms] query requires a field name, followed by array of terms or a document lookup specification", 1, 29)]
    [InlineData("""{"query":{"term":{"text":["a"]}}}""", "[term] query does not support array of values", 1, 26)]
    // MatchNoneQueryBuilder.fromXContent: _name and boost only (others were taken and ignored).
    [InlineData("""{"query":{"match_none":{"foo":1}}}""", "[match_none] query does not support [foo]", 1, 31)]
    [InlineData("""{"query":{"match_none":{"boost":[1]}}}""", "[match_none] unknown token [START_ARRAY] after [boost]", 1, 33)]
    // Lines count from 1, columns restart after each newline.
    [InlineData("{\n  \"query\": {\n    \"nope\": {}\n  }\n}", "unknown query [nope]", 3, 13)]
    public async Task ParsingException_SaysWhereTheParserStood(string body, string reason, int line, int col)
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", body);
        AssertParsingException(r.Json["error"]!, reason, line, col);
        Assert.Equal(400, r.Status);
    }

    [Fact]
    public async Task Match_AnArrayOfValues_IsTheParsersIllegalState()
    {
        // MatchQueryBuilder reads the value with objectText(), whose text() on a START_ARRAY is JsonXContentParser's
        // throwOnNoText (a 500, as Elasticsearch answers it). It was a 400 "expected a value but found array".
        (await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{"match":{"text":["a"]}}}"""))
            .AssertError(500, "illegal_state_exception", "Can't get text on a START_ARRAY at 1:27");
    }

    [Fact]
    public async Task UnknownQuery_IsCausedByTheRegistrysNamedObjectNotFoundException()
    {
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{"nope":{}}}""");
        var cause = r.Json["error"]!["caused_by"]!;
        Assert.Equal("named_object_not_found_exception", cause["type"]!.GetValue<string>());
        Assert.Equal("[1:18] unknown field [nope]", cause["reason"]!.GetValue<string>());
        // ElasticsearchException.guessRootCauses stops above a cause that is not Elasticsearch's own.
        Assert.Single(r.Json["error"]!["root_cause"]!.AsArray());
    }

    [Fact]
    public async Task EmptyClause_IsAnIllegalArgumentNamingItsClosingBrace()
    {
        // parseInnerQueryBuilder: '{}' is an IllegalArgumentException "... found at [" + parser.getTokenLocation() + "]".
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{ }}""");
        r.AssertError(400, "illegal_argument_exception", "query malformed, empty clause found at [1:12]");
    }

    [Fact]
    public async Task Bool_UnknownField_IsObjectParsersError_AtTheFieldsName()
    {
        // BoolQueryBuilder is an ObjectParser: "[bool] unknown field [x]" (ErrorOnUnknown), an XContentParseException
        // placed at the field's name. It was "[bool] query does not support [x]" when the query ran, with no place.
        (await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{"bool":{"x":1}}}"""))
            .AssertError(400, "x_content_parse_exception", "[1:19] [bool] unknown field [x]");
        // SuggestingErrorOnUnknown: the declared names whose Levenshtein similarity is above 0.5.
        (await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{"bool":{"shuold":[]}}}"""))
            .AssertError(400, "x_content_parse_exception", "[1:19] [bool] unknown field [shuold] did you mean [should]?");
        (await Es.SendAsync(HttpMethod.Post, "/library/_search", """{"query":{"bool":{"must":"x"}}}"""))
            .AssertError(400, "x_content_parse_exception", "[1:26] [bool] must doesn't support values of type: VALUE_STRING");
    }

    [Fact]
    public async Task Bool_AClauseThatFails_IsWrappedWhereTheParserStood_TheRootCauseIsTheClausesError()
    {
        // ObjectParser.parseValue wraps a field's failure: "[bool] failed to parse field [must]" at the parser's place
        // (the unknown query's START_OBJECT, col 52); guessRootCauses unwraps an XContentParseException to its cause.
        const string Body = """{"query":{"bool":{"must":[{"match_all":{}},{"nope":{}}]}}}""";
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_search", Body);
        r.AssertError(400, "x_content_parse_exception", "[1:52] [bool] failed to parse field [must]");
        var error = r.Json["error"]!;
        Assert.Null(error["line"]);
        AssertParsingException(error["caused_by"]!, "unknown query [nope]", 1, 52);
        var root = Assert.Single(error["root_cause"]!.AsArray())!;
        AssertParsingException(root, "unknown query [nope]", 1, 52);

        // Found while the body is read: one such search fails its whole msearch, placed within its own line.
        var m = await Es.SendAsync(HttpMethod.Post, "/_msearch", "{\"index\":\"library\"}\n{}\n{\"index\":\"library\"}\n" + Body + "\n", "application/x-ndjson");
        m.AssertError(400, "x_content_parse_exception", "[1:52] [bool] failed to parse field [must]");
    }

    [Fact]
    public async Task Count_PlacesItsErrorsAsASearchDoes()
    {
        // RestActions.getQueryContent: "request does not support [size]" at that FIELD_NAME; the query as a search's.
        var r = await Es.SendAsync(HttpMethod.Post, "/library/_count", """{"size":1}""");
        AssertParsingException(r.Json["error"]!, "request does not support [size]", 1, 2);
        r = await Es.SendAsync(HttpMethod.Post, "/library/_count", """{"query":{"nope":{}}}""");
        AssertParsingException(r.Json["error"]!, "unknown query [nope]", 1, 18);
    }

    private static void AssertParsingException(JsonNode error, string reason, int line, int col)
    {
        Assert.Equal("parsing_exception", error["type"]!.GetValue<string>());
        Assert.StartsWith(reason, error["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(line, error["line"]?.GetValue<int>());
        Assert.Equal(col, error["col"]?.GetValue<int>());
        if (error["root_cause"] is JsonArray roots)
        {
            var root = Assert.Single(roots)!;
            Assert.Equal(line, root["line"]?.GetValue<int>());
            Assert.Equal(col, root["col"]?.GetValue<int>());
        }
    }
}
