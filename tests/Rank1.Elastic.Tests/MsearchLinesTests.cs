using System.Text;

namespace Rank1.Elastic.Tests;

/// <summary>
/// <see cref="MsearchLines"/> against Elasticsearch's <c>MultiSearchRequest.readMultiLineFormat</c> and the cases of its
/// <c>MultiSearchRequestTests</c> (<c>testEmptyFirstLine2</c>, <c>testMsearchTerminatedByNewline</c>).
/// </summary>
public sealed class MsearchLinesTests
{
    private static string[][] Pairs(string body) =>
        MsearchLines.Split(Encoding.UTF8.GetBytes(body)).Select(i => new[] { Encoding.UTF8.GetString(i.Header.Span), Encoding.UTF8.GetString(i.Body.Span) }).ToArray();

    [Fact]
    public void Split_EmptyHeaderLines_AreTheDefaultHeader()
    {
        // testEmptyFirstLine2's body: four searches, every header the default one. Before, empty lines were dropped and
        // the bodies were read as headers.
        const string Q = """{ "query": {"match_all": {}}}""";
        var pairs = Pairs($"\n{Q}\n{{}}\n{Q}\n\n{Q}\n{{}}\n{Q}\n");
        Assert.Equal(4, pairs.Length);
        Assert.All(pairs, p => Assert.Equal(["{}", Q], p));
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
