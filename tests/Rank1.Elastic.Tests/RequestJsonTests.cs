using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic.Tests;

/// <summary><see cref="RequestJson"/>: a repeated field is Elasticsearch's 400, and bodies as deep as the embedded backend reads are read.</summary>
public sealed class RequestJsonTests
{
    [Theory]
    [InlineData("""{"size":1,"size":2}""", "[1:11] Duplicate field 'size'")]
    [InlineData("{\"query\":{\"match\":{\"t\":\"x\"}},\n \"a\":{\"b\":1,\"b\":2}}", "[2:13] Duplicate field 'b'")]
    [InlineData("""{"a":[{"b":1},{"b":1,"b":2}]}""", "[1:22] Duplicate field 'b'")]
    public void Parse_RepeatedField_Is400XContentParseException(string json, string reason)
    {
        var e = Assert.Throws<EsException>(() => RequestJson.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(400, e.Status);
        Assert.Equal("x_content_parse_exception", e.Type);
        Assert.Equal(reason, e.Message);
    }

    [Fact]
    public void Bool_IsElasticsearchsStrictTrueOrFalse_AndEchoesAtMost64CharactersOfABadValue()
    {
        Assert.True(RequestJson.Bool(JsonNode.Parse("\"true\""), "explain"));
        Assert.False(RequestJson.Bool(JsonNode.Parse("false"), "explain"));
        Assert.Null(RequestJson.Bool(null, "explain"));
        Assert.Throws<EsException>(() => RequestJson.Bool(JsonNode.Parse("\"True\""), "explain"));
        var e = Assert.Throws<EsException>(() => RequestJson.Bool(JsonNode.Parse($"{{\"a\":\"{new string('x', 10_000)}\"}}"), "explain"));
        Assert.Equal(400, e.Status);
        Assert.Equal($"[explain] failed to parse: only [true] or [false] are allowed, found [{{\"a\":\"{new string('x', 58)}...]", e.Message);
    }

    [Fact]
    public void Parse_SameNameInSiblingObjects_IsNoDuplicate() =>
        Assert.Equal("""{"a":{"b":1},"c":{"b":2}}""", RequestJson.Parse("""{"a":{"b":1},"c":{"b":2}}"""u8)!.ToJsonString());

    [Fact]
    public void Parse_MalformedText_IsTheParsersOwnError() =>
        Assert.ThrowsAny<JsonException>(() => RequestJson.Parse("""{"a":1,"b":"""u8));

    [Fact]
    public void Parse_RepeatedFieldBeforeTheTextBreaks_IsTheDuplicate() =>
        Assert.Equal("[1:8] Duplicate field 'a'", Assert.Throws<EsException>(() => RequestJson.Parse("""{"a":1,"a":"""u8)).Message);

    [Theory]
    [InlineData(RequestJson.MaxDepth, true)]
    [InlineData(RequestJson.MaxDepth + 1, false)]
    public void Parse_ReadsAsDeepAsMaxDepth(int depth, bool read)
    {
        var json = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", depth - 1)) + "{}" + new string('}', depth - 1));
        if (read)
        {
            Assert.NotNull(RequestJson.Parse(json));
        }
        else
        {
            Assert.ThrowsAny<JsonException>(() => RequestJson.Parse(json));
        }
    }
}
