using System.Text;

namespace Rank1.Elastic.Tests;

/// <summary>
/// <see cref="MsearchHeader"/> against the metadata keys of <c>MultiSearchRequest.readMultiLineFormat</c>: Elasticsearch's
/// (server/src/main/java/org/elasticsearch/action/search/MultiSearchRequest.java) and OpenSearch's, which adds
/// <c>cancel_after_time_interval</c> and <c>phase_took</c>.
/// </summary>
public sealed class MsearchHeaderTests
{
    [Theory]
    [InlineData("cancel_after_time_interval", "\"1s\"")]
    [InlineData("phase_took", "true")] // OpenSearch reads it with nodeBooleanValue(value): "1s" it refuses
    public void Read_OpenSearchOnlyKey_IsRefusedByElasticsearch_AndTakenByOpenSearch(string key, string value)
    {
        var line = Encoding.UTF8.GetBytes($$"""{"{{key}}":{{value}}}""");
        var e = Assert.Throws<EsException>(() => MsearchHeader.Read(line, openSearch: false));
        Assert.Equal("illegal_argument_exception", e.Type);
        Assert.Equal($"key [{key}] is not supported in the metadata section", e.Message);
        Assert.True(MsearchHeader.Read(line, openSearch: true).ContainsKey(key));
    }

    [Theory]
    [InlineData("searchType", "search_type")]
    [InlineData("ccsMinimizeRoundtrips", "ccs_minimize_roundtrips")]
    [InlineData("requestCache", "request_cache")]
    [InlineData("expandWildcards", "expand_wildcards")]
    [InlineData("ignoreUnavailable", "ignore_unavailable")]
    [InlineData("allowNoIndices", "allow_no_indices")]
    [InlineData("ignoreThrottled", "ignore_throttled")]
    [InlineData("preference", "preference")]
    public void Parameter_CamelCaseAlias_IsTheSnakeCaseUrlParameter(string key, string parameter) =>
        Assert.Equal(parameter, MsearchHeader.Parameter(key));

    [Theory]
    [InlineData("\"x\"")]
    [InlineData("5")]
    [InlineData("null")]
    public void Read_ScalarHeader_IsNoKeys(string line) =>
        // parser.map() (AbstractXContentParser.findNonEmptyMapStart) reads a value that is not an object as an empty map,
        // and no token follows it.
        Assert.Empty(MsearchHeader.Read(Encoding.UTF8.GetBytes(line), openSearch: false));

    // Each msearch line is parsed on its own, its bytes through ESByteSourceJsonBootstrapper, which skips a leading BOM.
    [Fact]
    public void Read_AHeaderAfterAUtf8ByteOrderMark_IsReadAsItsKeys() =>
        Assert.Equal("docs", MsearchHeader.Read([0xEF, 0xBB, 0xBF, .. "{\"index\":\"docs\"}"u8], openSearch: false)["index"]!.GetValue<string>());

    // A header line of a comment alone has no token: parser.map() reads no entry, the default header.
    [Fact]
    public void Read_AHeaderOfACommentAlone_IsTheDefaultHeader() =>
        Assert.Empty(MsearchHeader.Read("// all indices"u8, openSearch: false));

    // Each msearch line is parsed by Elasticsearch's JSON parser, which skips comments (JsonXContentImpl:
    // JsonParser.Feature.ALLOW_COMMENTS): a header line with one is read as its keys.
    [Fact]
    public void Read_AHeaderWithAComment_IsReadAsItsKeys() =>
        Assert.Equal("docs", MsearchHeader.Read("{\"index\":\"docs\"} // the index"u8, openSearch: false)["index"]!.GetValue<string>());
}
