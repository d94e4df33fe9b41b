using System.Text;

namespace Rank1.Elastic.Tests;

/// <summary>
/// <see cref="MsearchLines"/> against Elasticsearch's <c>MultiSearchRequest.readMultiLineFormat</c> (8 and 9, outside REST
/// compatibility with 7: an empty header line is the default header; its <c>testEmptyFirstLine1</c>/<c>2</c> check the
/// skip that compatibility with 7 keeps, which OpenSearch keeps too) and <c>testMsearchTerminatedByNewline</c>.
/// </summary>
public sealed class MsearchLinesTests
{
    private static string[][] Pairs(string body, bool skipLeadingNewline = false) =>
        MsearchLines.Split(Encoding.UTF8.GetBytes(body), skipLeadingNewline).Select(i => new[] { Encoding.UTF8.GetString(i.Header.Span), Encoding.UTF8.GetString(i.Body.Span) }).ToArray();

    [Fact]
    public void Split_EmptyHeaderLines_AreTheDefaultHeader()
    {
        // The body of testEmptyFirstLine1 less its first newline: four searches, every header the default one. Before,
        // empty lines were dropped and the bodies were read as headers.
        const string Q = """{ "query": {"match_all": {}}}""";
        var pairs = Pairs($"\n{Q}\n{{}}\n{Q}\n\n{Q}\n{{}}\n{Q}\n");
        Assert.Equal(4, pairs.Length);
        Assert.All(pairs, p => Assert.Equal(["{}", Q], p));
    }

    [Fact]
    public void Split_LeadingNewline_IsAnEmptyHeaderForElasticsearch_AndSkippedForOpenSearch()
    {
        // OpenSearch's readMultiLineFormat: "support first line with \n" (a \n at byte 0 is skipped). Read as
        // Elasticsearch 8/9 reads it, the same body is one match_all search and the query line is a header with no body.
        const string Q = """{"query":{"match":{"text":"onion"}}}""";
        var body = $"\n{{}}\n{Q}\n";
        Assert.Equal([["{}", "{}"]], Pairs(body));
        Assert.Equal([["{}", Q]], Pairs(body, skipLeadingNewline: true));
    }

    [Fact]
    public void Split_BlankHeaderLineOfACrlfClient_IsTheDefaultHeader() =>
        Assert.Equal([["{}", "{\"size\":1}\r"]], Pairs("\r\n{\"size\":1}\r\n"));

    [Fact]
    public void Split_HeaderWithNothingAfterIt_IsIgnored() =>
        Assert.Equal([["{\"index\":\"a\"}", "{}"]], Pairs("{\"index\":\"a\"}\n{}\n{\"index\":\"b\"}\n"));

    [Theory]
    [InlineData("{}\n{}", "The msearch request must be terminated by a newline [\\n]")]
    [InlineData("", "Validation Failed: 1: no requests added;")]
    [InlineData("{}\n", "Validation Failed: 1: no requests added;")]
    public void Split_WhatElasticsearchRefuses_Is400(string body, string reason)
    {
        var e = Assert.Throws<EsException>(() => MsearchLines.Split(Encoding.UTF8.GetBytes(body)));
        Assert.Equal(400, e.Status);
        Assert.Equal(reason, e.Message);
    }
}
