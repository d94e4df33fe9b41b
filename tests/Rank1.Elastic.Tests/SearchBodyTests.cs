using System.Text;
using System.Text.Json.Nodes;

namespace Rank1.Elastic.Tests;

/// <summary><see cref="SearchBody"/>: a search body read as Elasticsearch's <c>SearchSourceBuilder.parseXContent</c> reads it.</summary>
public sealed class SearchBodyTests
{
    [Fact]
    public void ReadOptional_NoBody_IsNull() => Assert.Null(SearchBody.ReadOptional(""u8));

    // RestRequest.hasContent is contentLength() > 0: whitespace is a body, and the parser finds no token in it.
    [Theory]
    [InlineData(" ")]
    [InlineData(" \t\r\n")]
    [InlineData("\uFEFF")]
    public void ReadOptional_WhitespaceAlone_IsExpectedStartObjectFoundNull(string body)
    {
        var e = Assert.Throws<EsException>(() => SearchBody.ReadOptional(Encoding.UTF8.GetBytes(body)));
        Assert.Equal((400, "parsing_exception", "Expected [START_OBJECT] but found [null]"), (e.Status, e.Type, e.Message));
    }

    [Fact]
    public void ReadOptional_ABody_IsReadAsReadReadsIt()
    {
        Assert.Equal(3, SearchBody.ReadOptional("\n{\"size\":3}\n"u8)!["size"]!.GetValue<int>());
        var e = Assert.Throws<EsException>(() => SearchBody.ReadOptional("[1]"u8));
        Assert.Equal("Expected [START_OBJECT] but found [START_ARRAY]", e.Message);
    }

    // AbstractXContentParser.intValue() (coerce, its default): a number is Jackson's getIntValue(), cast toward zero;
    // a string is Double.parseDouble's number, range-checked, then cast (NaN is 0).
    [Theory]
    [InlineData("-1", -1)]
    [InlineData("-1.0", -1)]
    [InlineData("1.5", 1)]
    [InlineData("1.99", 1)]
    [InlineData("-0.5", 0)]
    [InlineData("-1.5", -1)]
    [InlineData("1e1", 10)]
    [InlineData("2E1", 20)]
    [InlineData("2147483647", int.MaxValue)]
    [InlineData("-2147483648", int.MinValue)]
    [InlineData("\"-1\"", -1)]
    [InlineData("\"7\"", 7)]
    [InlineData("\"10\"", 10)]
    [InlineData("\"1.5\"", 1)]
    [InlineData("\"1.0\"", 1)]
    [InlineData("\" 10 \"", 10)]
    [InlineData("\"\\t10\\n\"", 10)]
    [InlineData("\"1e1\"", 10)]
    [InlineData("\"+3\"", 3)]
    [InlineData("\".5\"", 0)]
    [InlineData("\"2.\"", 2)]
    [InlineData("\"4f\"", 4)]
    [InlineData("\"4.9D\"", 4)]
    [InlineData("\"0x1p3\"", 8)]
    [InlineData("\"0x1.8p1\"", 3)]
    [InlineData("\"NaN\"", 0)]
    [InlineData("\"-2147483648\"", int.MinValue)]
    public void Read_ANumberOrAStringHoldingOne_IsTruncatedAsElasticsearchReadsIt(string json, int expected) =>
        Assert.Equal(expected, XContentInt.Read("from", RequestJson.Parse(Encoding.UTF8.GetBytes(json))));

    [Theory]
    // Jackson's InputCoercionException / JsonParseException, as JsonXContentParser makes them x_content_parse_exception.
    [InlineData("{\"from\":2147483648}", "x_content_parse_exception", "[1:19] Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"from\":2147483648}\"; line: 1, column: 19]")]
    [InlineData("{\"from\":-2147483649}", "x_content_parse_exception", "[1:20] Numeric value (-2147483649) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"from\":-2147483649}\"; line: 1, column: 20]")]
    [InlineData("{\"from\": 1e20 }", "x_content_parse_exception", "[1:14] Numeric value (1e20) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"from\": 1e20 }\"; line: 1, column: 14]")]
    [InlineData("{\"size\":1,\n \"from\":1e400}", "x_content_parse_exception", "[2:14] Numeric value (1e400) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"size\":1,\n \"from\":1e400}\"; line: 2, column: 14]")]
    [InlineData("{\"from\":2147483647.5}", "x_content_parse_exception", "[1:21] Numeric value (2147483647.5) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"from\":2147483647.5}\"; line: 1, column: 21]")]
    [InlineData("{\"from\":true}", "x_content_parse_exception", "[1:13] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors\n at [Source: (byte[])\"{\"from\":true}\"; line: 1, column: 13]")]
    [InlineData("{\"from\":false}", "x_content_parse_exception", "[1:14] Current token (VALUE_FALSE) not numeric, can not use numeric value accessors\n at [Source: (byte[])\"{\"from\":false}\"; line: 1, column: 14]")]
    // intValue() on a string: Double.parseDouble's NumberFormatException, or its own IllegalArgumentException.
    [InlineData("{\"from\":\"abc\"}", "number_format_exception", "For input string: \"abc\"")]
    [InlineData("{\"from\":\" 1x \"}", "number_format_exception", "For input string: \"1x\"")]
    [InlineData("{\"from\":\"\"}", "number_format_exception", "empty String")]
    [InlineData("{\"from\":\"  \"}", "number_format_exception", "empty String")]
    [InlineData("{\"from\":\"0x10\"}", "number_format_exception", "For input string: \"0x10\"")]
    [InlineData("{\"from\":\"\u0661\"}", "number_format_exception", "For input string: \"\u0661\"")]
    [InlineData("{\"from\":\"1e20\"}", "illegal_argument_exception", "Value [1e20] is out of range for an integer")]
    [InlineData("{\"from\":\"2147483648\"}", "illegal_argument_exception", "Value [2147483648] is out of range for an integer")]
    [InlineData("{\"from\":\"-Infinity\"}", "illegal_argument_exception", "Value [-Infinity] is out of range for an integer")]
    // SearchSourceBuilder.parseXContent: null, an object or an array is no value it reads (throwUnknownKey).
    [InlineData("{\"from\":null}", "parsing_exception", "Unknown key for a VALUE_NULL in [from].")]
    [InlineData("{\"from\":{}}", "parsing_exception", "Unknown key for a START_OBJECT in [from].")]
    [InlineData("{\"from\":[1]}", "parsing_exception", "Unknown key for a START_ARRAY in [from].")]
    public void Int_ARefusedValue_IsElasticsearchsError(string body, string type, string reason)
    {
        var e = Assert.Throws<EsException>(() => SearchBody.Int(SearchBody.Read(Encoding.UTF8.GetBytes(body), checkTrailingTokens: true), "from"));
        Assert.Equal((400, type, reason), (e.Status, e.Type, e.Message));
    }

    // SearchSourceBuilder.parseXContent's ParsingException is at parser.getTokenLocation(): the null, object or array.
    // Int and CheckWindow gave it no place.
    [Theory]
    [InlineData("{\"from\":null}", "from", 1, 9)]
    [InlineData("{\"size\":1,\n \"from\":{}}", "from", 2, 9)]
    [InlineData("{\"size\":[1]}", "size", 1, 9)]
    [InlineData("{\"track_total_hits\":null}", "track_total_hits", 1, 21)]
    public void IntAndCheckWindow_NullObjectOrArray_AreRefusedAtTheValue(string body, string key, int line, int col)
    {
        foreach (var read in new Action<JsonObject>[] { b => SearchBody.Int(b, key), b => SearchBody.CheckWindow(b, openSearch: false) })
        {
            var e = Assert.Throws<EsException>(() => read(SearchBody.Read(Encoding.UTF8.GetBytes(body), checkTrailingTokens: true)!));
            Assert.Equal(("parsing_exception", (long)line, (long)col), (e.Type, e.Numbers.GetValueOrDefault("line"), e.Numbers.GetValueOrDefault("col")));
        }
    }

    // Double.parseDouble on a string value: no length limit applies (Jackson's StreamReadConstraints.maxNumberLength
    // bounds number tokens, and this is a string token), so a long run of digits ending in a bad char is refused as any
    // bad number is. The text is read in linear time: the old pattern tried every split of the run (minutes here).
    [Theory]
    [InlineData("", "x")]
    [InlineData("0x", "x")]
    [InlineData("0x", "p1x")]
    public void Read_AStringOfALongRunOfDigitsEndingInABadChar_IsANumberFormatException(string prefix, string suffix)
    {
        var text = prefix + new string('1', 100_000) + suffix;
        AssertReadRefuses(text, "number_format_exception", $"For input string: \"{text}\"");
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x1p")]
    public void Read_AStringOfAHugeNumber_IsOutOfRangeForAnInteger(string prefix)
    {
        var text = prefix + new string('1', 1_000_000);
        AssertReadRefuses(text, "illegal_argument_exception", $"Value [{text}] is out of range for an integer");
    }

    private static void AssertReadRefuses(string text, string type, string reason)
    {
        var e = Assert.Throws<EsException>(() => XContentInt.Read("size", System.Text.Json.Nodes.JsonValue.Create(text)));
        Assert.Equal((400, type, reason), (e.Status, e.Type, e.Message));
    }

    // An integer literal of more than 10 digits is past an int's range (JSON allows no leading zero): refused in
    // getIntValue()'s words without reading its million digits as a BigInteger. Not Elasticsearch's answer: its Jackson
    // (2.15 and later) refuses any number token over 1,000 characters while reading it (StreamReadConstraints
    // maxNumberLength, "Number value length (N) exceeds the maximum allowed (1000, ...)"), an error Elasticsearch does
    // not turn into a parse exception; that refusal is not mirrored.
    [Theory]
    [InlineData("")]
    [InlineData("-")]
    public void Int_AnIntegerLiteralOfAMillionDigits_IsRefusedWithoutParsingIt(string sign)
    {
        var literal = sign + "1" + new string('0', 999_999);
        var text = "{\"from\":" + literal + "}";
        var e = Assert.Throws<EsException>(() => SearchBody.Int(SearchBody.Read(Encoding.UTF8.GetBytes(text), checkTrailingTokens: true), "from"));
        // Jackson's location quotes the first 500 bytes of its source (ContentReference.DEFAULT_MAX_CONTENT_SNIPPET).
        var column = 9 + literal.Length;
        Assert.Equal((400, "x_content_parse_exception", $"[1:{column}] Numeric value ({literal}) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{text[..500]}\"[truncated {text.Length - 500} bytes]; line: 1, column: {column}]"),
            (e.Status, e.Type, e.Message));
    }

    [Fact]
    public void Int_AbsentField_IsNull() => Assert.Null(SearchBody.Int(SearchBody.Read("{\"size\":1}"u8, checkTrailingTokens: true), "from"));

    // RestRequest.paramAsInt: Integer.parseInt, so a URL parameter is digits with an optional sign and nothing else.
    [Theory]
    [InlineData("10", 10)]
    [InlineData("+10", 10)]
    [InlineData("-3", -3)]
    [InlineData("007", 7)]
    [InlineData("-2147483648", int.MinValue)]
    [InlineData("\u0661\u0660", 10)]
    public void Param_AnInteger_IsRead(string value, int expected) => Assert.Equal(expected, XContentInt.Param("from", value));

    [Theory]
    [InlineData("1.5")]
    [InlineData("1.0")]
    [InlineData(" 10")]
    [InlineData("1e1")]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("2147483648")]
    [InlineData("abc")]
    public void Param_AnythingElse_IsRefusedAsElasticsearchRefusesIt(string value)
    {
        var e = Assert.Throws<EsException>(() => XContentInt.Param("from", value));
        Assert.Equal((400, "illegal_argument_exception", $"Failed to parse int parameter [from] with value [{value}]"), (e.Status, e.Type, e.Message));
    }

    [Fact]
    public void CheckField_NegativeNumber_IsRefusedAsNegativeOnceTruncated_ARefusedValueWithItsError_AnyOtherFieldIsLeft()
    {
        var e = Assert.Throws<EsException>(() => SearchBody.CheckField("from", RequestJson.Parse("-1.0"u8)));
        Assert.Equal("[from] parameter cannot be negative but was [-1]", e.Message);
        e = Assert.Throws<EsException>(() => SearchBody.CheckField("size", RequestJson.Parse("-1.5"u8)));
        Assert.Equal("[size] parameter cannot be negative, found [-1]", e.Message);
        e = Assert.Throws<EsException>(() => SearchBody.CheckField("size", RequestJson.Parse("\"abc\""u8)));
        Assert.Equal("number_format_exception", e.Type);
        SearchBody.CheckField("from", RequestJson.Parse("-0.5"u8));
        SearchBody.CheckField("query", RequestJson.Parse("-1"u8));
    }

    // Elasticsearch's JSON parser skips comments: JsonXContentImpl (libs/x-content/impl/src/main/java/org/elasticsearch/
    // xcontent/provider/json/JsonXContentImpl.java) sets jsonFactory.configure(JsonParser.Feature.ALLOW_COMMENTS, true),
    // so a search body with /* .. */ or // .. comments is searched as if they were not there.
    [Theory]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":3 /* three */}")]
    [InlineData("/* lead */ {\"query\":{\"match\":{\"text\":\"onion\"}}, // the page\n\"size\":3}")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"onion\"}},\"size\":3}\n// trailing\n")]
    public void Read_CommentsAreSkipped_AsElasticsearchsParserSkipsThem(string json)
    {
        var body = SearchBody.Read(Encoding.UTF8.GetBytes(json), checkTrailingTokens: true);
        Assert.Equal(3, body["size"]!.GetValue<int>());
        Assert.Equal("onion", body["query"]!["match"]!["text"]!.GetValue<string>());
    }

    // SearchSourceBuilder.parseXContent with checkTrailingTokens (RestSearchAction): the token after the main object is
    // refused by name (SearchSourceBuilderTests.testFromXContentInvalid: "{}{}"); text that is no token is Jackson's error.
    [Theory]
    [InlineData("{\"size\":3}{\"a\":1}", "START_OBJECT")]
    [InlineData("{}{}", "START_OBJECT")]
    [InlineData("{\"size\":3} [1]", "START_ARRAY")]
    [InlineData("{\"size\":3}\n5", "VALUE_NUMBER")]
    [InlineData("{\"size\":3} /* c */ \"s\"", "VALUE_STRING")]
    public void Read_ATokenAfterTheMainObject_IsAParsingExceptionNamingIt(string json, string token)
    {
        var e = Assert.Throws<EsException>(() => SearchBody.Read(Encoding.UTF8.GetBytes(json), checkTrailingTokens: true));
        Assert.Equal(("parsing_exception", $"Unexpected token [{token}] found after the main object."), (e.Type, e.Message));
    }

    // An msearch line (RestMultiSearchAction: fromXContent(parser, false)) and a rendered template
    // (TransportSearchTemplateAction.convert: parseXContent(parser, false)) are read to the object's end and no further.
    [Theory]
    [InlineData("{\"size\":3}{\"a\":1}")]
    [InlineData("{\"size\":3} garbage")]
    [InlineData("{\"size\":3}]")]
    public void Read_WithoutTrailingTokenCheck_WhatFollowsTheObjectIsNeverRead(string json) =>
        Assert.Equal(3, SearchBody.Read(Encoding.UTF8.GetBytes(json), checkTrailingTokens: false)["size"]!.GetValue<int>());

    // Elasticsearch reads the whole object before the token after it: a duplicate field in it is the error.
    [Fact]
    public void Read_ADuplicateFieldBeforeATrailingToken_IsTheDuplicateError() =>
        Assert.Equal("[1:11] Duplicate field 'size'", Assert.Throws<EsException>(() => SearchBody.Read("{\"size\":1,\"size\":2}{}"u8, checkTrailingTokens: true)).Message);

    // A body of comments alone has no token: nextToken() is null, "Expected [START_OBJECT] but found [null]".
    [Fact]
    public void Read_OnlyAComment_IsExpectedStartObjectFoundNull()
    {
        var e = Assert.Throws<EsException>(() => SearchBody.Read("/* nothing */"u8, checkTrailingTokens: true));
        Assert.Equal(("parsing_exception", "Expected [START_OBJECT] but found [null]"), (e.Type, e.Message));
    }

    // Jackson counts the byte order mark's three bytes in line 1's columns (ESByteSourceJsonBootstrapper hands the
    // parser bytesProcessed = 3): the duplicate at column 11 without one is at column 14 with it.
    [Fact]
    public void Read_AfterAByteOrderMark_ErrorColumnsCountItsBytes() =>
        Assert.Equal("[1:14] Duplicate field 'size'", Assert.Throws<EsException>(() => SearchBody.Read([0xEF, 0xBB, 0xBF, .. "{\"size\":1,\"size\":2}"u8], checkTrailingTokens: true)).Message);

    [Fact]
    public void Read_TextAfterTheMainObjectThatIsNoToken_IsAnXContentParseException() =>
        Assert.Equal("x_content_parse_exception", Assert.Throws<EsException>(() => SearchBody.Read("{\"size\":3}garbage"u8, checkTrailingTokens: true)).Type);

    // ESByteSourceJsonBootstrapper.handleBOM skips a leading UTF-8 byte order mark before Jackson reads the body.
    [Fact]
    public void Read_ALeadingUtf8ByteOrderMark_IsSkipped_AsElasticsearchsBootstrapperSkipsIt()
    {
        var body = SearchBody.Read([0xEF, 0xBB, 0xBF, .. "{\"size\":3}"u8], checkTrailingTokens: true);
        Assert.Equal(3, body["size"]!.GetValue<int>());
    }

    // ALLOW_YAML_COMMENTS is not set in JsonXContentImpl: a '#' comment stays a JSON syntax error there, and here.
    [Fact]
    public void Read_AHashComment_IsStillAnXContentParseException() =>
        Assert.Equal("x_content_parse_exception", Assert.Throws<EsException>(() => SearchBody.Read("{\"size\":3, # no\n\"from\":1}"u8, checkTrailingTokens: true)).Type);

    // A repeated field stays Elasticsearch's duplicate error when comments stand between the two (strict duplicate
    // detection, also set in JsonXContentImpl), at the repeated name.
    [Fact]
    public void Read_CommentedBody_KeepsTheDuplicateError() =>
        Assert.Equal("[1:20] Duplicate field 'size'", Assert.Throws<EsException>(() => SearchBody.Read("{\"size\":1, /* x */ \"size\":2}"u8, checkTrailingTokens: true)).Message);
}
