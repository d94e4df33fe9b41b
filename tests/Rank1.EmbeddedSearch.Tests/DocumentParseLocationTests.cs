using System.Globalization;
using System.Text.Json.Nodes;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// A document the mapping refuses says where, as Elasticsearch 9's <c>DocumentParsingException</c> does: its reason
/// starts with the <c>[line:col]</c> of the token the shard's parser stood on (<c>FieldMapper.rethrowAsDocumentParsingException</c>:
/// <c>parser.getTokenLocation()</c> once the preview has read the value, so an object's closing brace;
/// <c>DocumentParser.throwOnConcreteValue</c> and <c>ensureNotStrict</c>: the value's token), and it is
/// <c>caused_by</c> what the field's parser threw (<c>AbstractXContentParser.toLong</c>'s "For input string",
/// <c>Double.parseDouble</c>'s <c>number_format_exception</c>, <c>NumberFieldMapper.value</c>'s "Cannot parse object as
/// number", <c>JsonXContentParser.throwOnNoText</c>, Jackson's accessor errors). Before, the reason had no place and
/// there was no cause. Numbers are read with <c>coerce</c> on, as <c>NumberFieldMapper</c>'s default: a fraction in a
/// long or integer field is truncated, an empty string is the null value; before, both were refused.
/// </summary>
public sealed class DocumentParseLocationTests : IAsyncLifetime
{
    private const string Mapping = """
        {"mappings":{"properties":{"age":{"type":"long"},"n":{"type":"integer"},"d":{"type":"double"},"fl":{"type":"float"},"b":{"type":"boolean"},
          "dt":{"type":"date"},"k":{"type":"keyword"},"o":{"type":"object","dynamic":"strict"}}}}
        """;

    private readonly ServerFixture _fx = new();

    private EsClient Es => _fx.Client;

    public async Task InitializeAsync()
    {
        await _fx.InitializeAsync();
        Assert.Equal(200, (await Es.PutAsync("/people", JsonNode.Parse(Mapping))).Status);
    }

    public Task DisposeAsync() => _fx.DisposeAsync();

    [Theory]
    [InlineData("""{"age": "abc"}""", "[1:9] failed to parse field [age] of type [long] in document with id '1'. Preview of field's value: 'abc'",
        "illegal_argument_exception", "For input string: \"abc\"")]
    // Lines count from 1; the column restarts after each newline.
    [InlineData("{\n  \"n\": \"abc\"\n}", "[2:8] failed to parse field [n] of type [integer] in document with id '1'. Preview of field's value: 'abc'",
        "number_format_exception", "For input string: \"abc\"")]
    // An object: the place of its closing brace, where the preview's readValue leaves the parser.
    [InlineData("""{"age":{"a":1}}""", "[1:14] failed to parse field [age] of type [long] in document with id '1'. Preview of field's value: '{a=1}'",
        "illegal_argument_exception", "Cannot parse object as number")]
    [InlineData("""{"k":{"a":1}}""", "[1:12] failed to parse field [k] of type [keyword] in document with id '1'. Preview of field's value: '{a=1}'",
        "illegal_state_exception", "Can't get text on a START_OBJECT at 1:6")]
    [InlineData("""{"dt":"nope"}""", "[1:7] failed to parse field [dt] of type [date] in document with id '1'. Preview of field's value: 'nope'",
        "illegal_argument_exception", "failed to parse date field [nope] with format [strict_date_optional_time||epoch_millis]")]
    [InlineData("""{"b":"yes"}""", "[1:6] failed to parse field [b] of type [boolean] in document with id '1'. Preview of field's value: 'yes'",
        "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.")]
    [InlineData("""{"d":"NaN"}""", "[1:6] failed to parse field [d] of type [double] in document with id '1'. Preview of field's value: 'NaN'",
        "illegal_argument_exception", "[double] supports only finite values, but got [NaN]")]
    // Jackson's getLongValue() on a boolean: an x_content_parse_exception where Jackson stands, after the token.
    [InlineData("""{"age": true}""", "[1:9] failed to parse field [age] of type [long] in document with id '1'. Preview of field's value: 'true'",
        "x_content_parse_exception", "[1:13] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors\n at [Source: (byte[])\"{\"age\": true}\"; line: 1, column: 13]")]
    // An element of an array: its own place.
    [InlineData("""{"x":1, "age": [1, "q"]}""", "[1:20] failed to parse field [age] of type [long] in document with id '1'. Preview of field's value: 'q'",
        "illegal_argument_exception", "For input string: \"q\"")]
    public async Task AFieldsRefusal_SaysWhere_AndIsCausedByWhatItsParserThrew(string document, string reason, string causeType, string causeReason)
    {
        var r = await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", document);
        r.AssertError(400, "document_parsing_exception", reason);
        Assert.Equal(causeType, r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal(causeReason, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
        // The cause is not Elasticsearch's own exception: the root cause guessed is the document_parsing_exception.
        Assert.Equal("document_parsing_exception", Assert.Single(r.Json["error"]!["root_cause"]!.AsArray())!["type"]!.GetValue<string>());
    }

    // A number past the field's range: NumberFieldMapper's INTEGER and LONG parse with parser.intValue(coerce) and
    // parser.longValue(coerce), Jackson's getIntValue()/getLongValue(), whose ParserMinimalBase.reportOverflowInt and
    // reportOverflowLong say
    //   String.format("Numeric value (%s) out of range of int (%d - %s)", _longIntegerDesc(numDesc), Integer.MIN_VALUE, Integer.MAX_VALUE)
    //   String.format("Numeric value (%s) out of range of long (%d - %s)", _longIntegerDesc(numDesc), Long.MIN_VALUE, Long.MAX_VALUE)
    // (an InputCoercionException), with the number as written (getText(): 1e10, not 1.0E10), which JsonXContentParser
    // wraps as an x_content_parse_exception where Jackson stands, after the token. The preview is the value read back
    // (AbstractXContentParser.readValue: a Double's toString).
    [Theory]
    [InlineData("""{"n": 2147483648}""", "[1:7] failed to parse field [n] of type [integer] in document with id '1'. Preview of field's value: '2147483648'",
        "[1:17] Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"n\": 2147483648}\"; line: 1, column: 17]")]
    [InlineData("""{"n": 1e10}""", "[1:7] failed to parse field [n] of type [integer] in document with id '1'. Preview of field's value: '1.0E10'",
        "[1:11] Numeric value (1e10) out of range of int (-2147483648 - 2147483647)\n at [Source: (byte[])\"{\"n\": 1e10}\"; line: 1, column: 11]")]
    [InlineData("""{"age": 9223372036854775808}""", "[1:9] failed to parse field [age] of type [long] in document with id '1'. Preview of field's value: '9223372036854775808'",
        "[1:28] Numeric value (9223372036854775808) out of range of long (-9223372036854775808 - 9223372036854775807)\n at [Source: (byte[])\"{\"age\": 9223372036854775808}\"; line: 1, column: 28]")]
    public async Task ANumberPastTheFieldsRange_IsJacksonsOverflow(string document, string reason, string causeReason)
    {
        var r = await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", document);
        r.AssertError(400, "document_parsing_exception", reason);
        var cause = r.Json["error"]!["caused_by"]!;
        Assert.Equal(("x_content_parse_exception", causeReason), (cause["type"]!.GetValue<string>(), cause["reason"]!.GetValue<string>()));
        Assert.Equal(("input_coercion_exception", causeReason[(causeReason.IndexOf(' ', StringComparison.Ordinal) + 1)..]),
            (cause["caused_by"]!["type"]!.GetValue<string>(), cause["caused_by"]!["reason"]!.GetValue<string>()));
    }

    // Jackson's range is Java's String.format("%d") of Integer.MIN_VALUE or Long.MIN_VALUE, an ASCII '-' whatever the
    // locale (Formatter's leadingSign). The text is not the current culture's: sv-SE writes a number's minus as U+2212,
    // which an interpolated {long.MinValue} followed.
    [Theory]
    [InlineData("""{"n":2147483648}""", "Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)")]
    [InlineData("""{"age":9223372036854775808}""", "Numeric value (9223372036854775808) out of range of long (-9223372036854775808 - 9223372036854775807)")]
    public void ANumberPastTheFieldsRange_UnderACultureOfAnotherMinusSign_IsJacksonsAsciiText(string document, string jackson)
    {
        var mapping = IndexMapping.Parse(JsonNode.Parse("""{"properties":{"age":{"type":"long"},"n":{"type":"integer"}}}"""));
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("sv-SE");
        try
        {
            Assert.Equal("\u2212", CultureInfo.CurrentCulture.NumberFormat.NegativeSign);
            var e = Assert.Throws<EsException>(() => DocumentFields.Build(mapping, "1", JsonNode.Parse(document)!.AsObject(), document, 1, 0));
            var coercion = e.CausedBy!.CausedBy!;
            Assert.Equal(("input_coercion_exception", jackson), (coercion.Type, coercion.Message[..coercion.Message.IndexOf('\n', StringComparison.Ordinal)]));
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    [Theory]
    // DocumentParser.ensureNotStrict: at the new field's value; for an array, its START_ARRAY; a null too.
    [InlineData("""{"o":{"zz":1}}""", "strict_dynamic_mapping_exception", "[1:12] mapping set to strict, dynamic introduction of [zz] within [o] is not allowed")]
    [InlineData("""{"o":{"zz":[1]}}""", "strict_dynamic_mapping_exception", "[1:12] mapping set to strict, dynamic introduction of [zz] within [o] is not allowed")]
    [InlineData("""{"o":{"zz": null}}""", "strict_dynamic_mapping_exception", "[1:13] mapping set to strict, dynamic introduction of [zz] within [o] is not allowed")]
    // DocumentParser.throwOnConcreteValue: at the value.
    [InlineData("""{"o":5}""", "document_parsing_exception", "[1:6] object mapping for [o] tried to parse field [o] as object, but found a concrete value")]
    public async Task AnObjectsRefusal_SaysWhere(string document, string type, string reason)
    {
        (await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", document)).AssertError(400, type, reason);
    }

    [Fact]
    public async Task BulkItemsAndUpdates_SayWhere_InTheDocumentTheShardParses()
    {
        // A bulk item's source is parsed on its own: its line is line 1, its columns counted from the line's start.
        var bulk = await Es.BulkAsync(
            "{\"index\":{\"_index\":\"people\",\"_id\":\"4\"}}\n{\"a\":1, \"age\":\"zz\"}\n" +
            "{\"create\":{\"_index\":\"people\",\"_id\":\"5\"}}\n  {\"age\":{\"q\":[1]}}\n");
        var items = bulk.Json["items"]!.AsArray();
        Assert.Equal(
            "[1:15] failed to parse field [age] of type [long] in document with id '4'. Preview of field's value: 'zz'",
            items[0]!["index"]!["error"]!["reason"]!.GetValue<string>());
        Assert.Equal("For input string: \"zz\"", items[0]!["index"]!["error"]!["caused_by"]!["reason"]!.GetValue<string>());
        Assert.Equal(
            "[1:18] failed to parse field [age] of type [long] in document with id '5'. Preview of field's value: '{q=[1]}'",
            items[1]!["create"]!["error"]!["reason"]!.GetValue<string>());

        // An update parses the merged document as UpdateHelper writes it again, compact JSON, its fields in their order.
        Assert.Equal(201, (await Es.SendAsync(HttpMethod.Put, "/people/_doc/2", "{\n  \"k\": \"x\",\n  \"age\": 3\n}")).Status);
        (await Es.SendAsync(HttpMethod.Post, "/people/_update/2", """{"doc":{"age":"zz"}}""")).AssertError(400, "document_parsing_exception",
            "[1:16] failed to parse field [age] of type [long] in document with id '2'. Preview of field's value: 'zz'");
        // An upsert: the doc, written again compact.
        (await Es.SendAsync(HttpMethod.Post, "/people/_update/3", """{"doc":{"age":   "zz"},"doc_as_upsert":true}""")).AssertError(400, "document_parsing_exception",
            "[1:8] failed to parse field [age] of type [long] in document with id '3'. Preview of field's value: 'zz'");
    }

    [Fact]
    public async Task AnUpdatesPlaces_AreInTheDocumentAsJacksonWritesItAgain()
    {
        // UpdateHelper writes the merged document from the maps it read (XContentBuilder on Jackson's generator): a
        // fraction as Java's Double.toString writes the double (1.50 is 1.5), a string in UTF-8 with only quotes,
        // backslashes and control characters escaped (\u00e9 is two bytes, an emoji four). The place was counted in
        // System.Text.Json's writing of it (1.50, an emoji as twelve bytes of escapes): age at column 38, not 29.
        Assert.Equal(201, (await Es.SendAsync(HttpMethod.Put, "/people/_doc/u1", "{\"r\": 1.50, \"s\": \"\\u00e9\\ud83d\\ude00\", \"age\": 3}")).Status);
        (await Es.SendAsync(HttpMethod.Post, "/people/_update/u1", """{"doc":{"age":"zz"}}""")).AssertError(400, "document_parsing_exception",
            "[1:29] failed to parse field [age] of type [long] in document with id 'u1'. Preview of field's value: 'zz'");
        // An upsert: the doc as copyCurrentStructure wrote it (1e2 read as a double, written 100.0; a tab as \t).
        (await Es.SendAsync(HttpMethod.Post, "/people/_update/u2", """{"doc":{"r":1e2,"s":"a\u0009/","age":"zz"},"doc_as_upsert":true}""")).AssertError(400, "document_parsing_exception",
            "[1:29] failed to parse field [age] of type [long] in document with id 'u2'. Preview of field's value: 'zz'");
    }

    [Fact]
    public async Task AnUpdatesPlaces_FollowANumberPastADouble_AsJacksonQuotesIt()
    {
        // 1e400 is read as the double Infinity, which Jackson's generator writes quoted (QUOTE_NON_NUMERIC_NUMBERS):
        // {"r":"Infinity","age":"zz"}, age's value at column 23. It was written bare (not JSON), and the place lost.
        Assert.Equal(200, (await Es.PutAsync("/loose", JsonNode.Parse("""{"mappings":{"dynamic":false,"properties":{"age":{"type":"long"}}}}"""))).Status);
        (await Es.SendAsync(HttpMethod.Post, "/loose/_update/1", """{"doc":{"r":1e400,"age":"zz"},"doc_as_upsert":true}""")).AssertError(400, "document_parsing_exception",
            "[1:23] failed to parse field [age] of type [long] in document with id '1'. Preview of field's value: 'zz'");
        // A merged document: {"r":"-Infinity","age":"zz"}.
        Assert.Equal(201, (await Es.SendAsync(HttpMethod.Put, "/loose/_doc/2", """{"r":0,"age":1}""")).Status);
        (await Es.SendAsync(HttpMethod.Post, "/loose/_update/2", """{"doc":{"r":-1e400,"age":"zz"}}""")).AssertError(400, "document_parsing_exception",
            "[1:24] failed to parse field [age] of type [long] in document with id '2'. Preview of field's value: 'zz'");
    }

    [Fact]
    public async Task Numbers_AreCoerced_AsNumberFieldMappersDefaultReadsThem()
    {
        // parser.longValue(coerce)/intValue(coerce): a JSON fraction truncated (Jackson's getLongValue()), a string's
        // fraction too (BigDecimal.toBigInteger, Double.parseDouble then the cast); an empty string is the null value.
        foreach (var (id, document) in new[] { ("f1", """{"age":1.5,"n":"2.7"}"""), ("f2", """{"age":"1.9","n":2.2}"""), ("f3", """{"age":"","n":""}""") })
        {
            var put = await Es.SendAsync(HttpMethod.Put, $"/people/_doc/{id}?refresh=true", document);
            Assert.True(put.Status == 201, put.Json.ToJsonString());
        }

        async Task<string[]> IdsAsync(string query) =>
            (await Es.SearchAsync("people", JsonNode.Parse($$"""{"query":{{query}}}""")!)).Json["hits"]!["hits"]!.AsArray()
                .Select(h => h!["_id"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["f1", "f2"], await IdsAsync("""{"term":{"age":1}}"""));
        Assert.Equal(["f1", "f2"], await IdsAsync("""{"term":{"n":2}}"""));
        // A float in range is indexed as it is read by a query.
        Assert.Equal(201, (await Es.SendAsync(HttpMethod.Put, "/people/_doc/f4?refresh=true", """{"fl":0.1}""")).Status);
        Assert.Equal(["f4"], await IdsAsync("""{"term":{"fl":0.1}}"""));
        (await Es.SendAsync(HttpMethod.Put, "/people/_doc/f5", """{"fl":1e39}""")).AssertError(400, "document_parsing_exception",
            "[1:7] failed to parse field [fl] of type [float] in document with id 'f5'. Preview of field's value: '1.0E39'");
        // f3 was taken, with no value for either field.
        Assert.Equal(200, (await Es.GetAsync("/people/_doc/f3")).Status);
        Assert.Equal(["f1", "f2"], await IdsAsync("""{"range":{"age":{"gte":-1000}}}"""));
        Assert.Equal(["f1", "f2"], await IdsAsync("""{"range":{"n":{"gte":-1000}}}"""));
    }

    [Fact]
    public async Task ABooleanFieldsEmptyString_IsFalse_AsBooleansParseBooleanReadsIt()
    {
        // BooleanFieldMapper reads parser.booleanValue(): Booleans.parseBoolean(chars, offset, length, false), so an empty
        // or blank string is false, indexed as false. It was refused.
        foreach (var (id, document) in new[] { ("b1", """{"b":""}"""), ("b2", """{"b":" "}"""), ("b3", """{"b":"true"}""") })
        {
            var put = await Es.SendAsync(HttpMethod.Put, $"/people/_doc/{id}?refresh=true", document);
            Assert.True(put.Status == 201, put.Json.ToJsonString());
        }

        var hits = (await Es.SearchAsync("people", JsonNode.Parse("""{"query":{"term":{"b":false}}}""")!)).Json["hits"]!["hits"]!.AsArray();
        Assert.Equal(["b1", "b2"], hits.Select(h => h!["_id"]!.GetValue<string>()).Order(StringComparer.Ordinal));
    }

    [Theory]
    // AbstractXContentParser.toLong: a string BigDecimal reads (its scale, unscaled digits apart, decides: past -19 out
    // of range, past 19 zero), whose exponent BigDecimal refuses (more than 10 digits, a scale past an int) is the
    // NumberFormatException's "For input string"; it was out of range, or 0.
    [InlineData("e1", "1e9999999999", "For input string: \"1e9999999999\"")]
    [InlineData("e2", "1e-9999999999", "For input string: \"1e-9999999999\"")]
    [InlineData("e3", "1e00000000000000000000025", "Value [1e00000000000000000000025] is out of range for a long")]
    public async Task ALongStringsExponent_IsReadAsBigDecimalReadsIt(string id, string text, string cause)
    {
        var r = await Es.SendAsync(HttpMethod.Put, $"/people/_doc/{id}", $$"""{"age":"{{text}}"}""");
        r.AssertError(400, "document_parsing_exception",
            $"[1:8] failed to parse field [age] of type [long] in document with id '{id}'. Preview of field's value: '{text}'");
        Assert.Equal(cause, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }

    [Theory]
    // DocumentParser.internalParseDocument: the parser's error (JsonXContentParser.nextToken wraps Jackson's) met inside
    // the document's object is wrapped by wrapInDocumentParsingException at parser.getTokenLocation(): a field name whose
    // value Jackson was reading (it reads a value's first token within the name's nextToken), else the last token read.
    [InlineData("{\"a\":}", "[1:2] failed to parse: ", "x_content_parse_exception", "[1:7] ",
        "json_parse_exception", "Unexpected character ('}' (code 125)): expected a value\n at [Source: (byte[])\"{\"a\":}\"; line: 1, column: 7]")]
    [InlineData("{\"a\":tru}", "[1:2] failed to parse: ", "x_content_parse_exception", "[1:10] ",
        "json_parse_exception", "Unrecognized token 'tru': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: (byte[])\"{\"a\":tru}\"; line: 1, column: 10]")]
    [InlineData("{\"x\": [1, 2 3]}", "[1:11] failed to parse: ", "x_content_parse_exception", "[1:14] ",
        "json_parse_exception", "Unexpected character ('3' (code 51)): was expecting comma to separate Array entries\n at [Source: (byte[])\"{\"x\": [1, 2 3]}\"; line: 1, column: 14]")]
    // A close marker of the wrong kind: Jackson stands on it (_closeArrayScope updates the location before it checks).
    [InlineData("{\n\"o\": {\"a\": 1]}", "[2:13] failed to parse: ", "x_content_parse_exception", "[2:14] ",
        "json_parse_exception", "Unexpected close marker ']': expected '}' (for Object starting at [Source: (byte[])\"{\n\"o\": {\"a\": 1]}\"; line: 2, column: 6])\n at [Source: (byte[])\"{\n\"o\": {\"a\": 1]}\"; line: 2, column: 14]")]
    // The end of the text inside the object: XContentEOFException, "Unexpected end of file".
    [InlineData("{\"a\":1", "[1:6] failed to parse: ", "x_content_e_o_f_exception", "[1:7] ",
        "json_e_o_f_exception", "Unexpected end-of-input: expected close marker for Object (start marker at [Source: (byte[])\"{\"a\":1\"; line: 1, column: 1])\n at [Source: (byte[])\"{\"a\":1\"; line: 1, column: 7]")]
    public async Task ADocumentThatIsNotJson_IsDocumentParsersError_WrappingTheParsers(string document, string prefix, string causeType, string causeAt, string jacksonType, string jackson)
    {
        var r = await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", document);
        var inner = causeType == "x_content_e_o_f_exception" ? "Unexpected end of file" : jackson;
        r.AssertError(400, "document_parsing_exception", prefix + causeAt + inner);
        var cause = r.Json["error"]!["caused_by"]!;
        Assert.Equal(causeType, cause["type"]!.GetValue<string>());
        Assert.Equal(causeAt + inner, cause["reason"]!.GetValue<string>());
        Assert.Equal(jacksonType, cause["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal(jackson, cause["caused_by"]!["reason"]!.GetValue<string>());
        Assert.Equal("document_parsing_exception", Assert.Single(r.Json["error"]!["root_cause"]!.AsArray())!["type"]!.GetValue<string>());

        // A bulk item's source (a line: the document on one line) is parsed on the shard the same way: that item's error alone.
        if (!document.Contains('\n', StringComparison.Ordinal))
        {
            var bulk = await Es.BulkAsync($"{{\"index\":{{\"_index\":\"people\",\"_id\":\"2\"}}}}\n{document}\n{{\"index\":{{\"_index\":\"people\",\"_id\":\"3\"}}}}\n{{\"k\":\"x\"}}\n");
            var items = bulk.Json["items"]!.AsArray();
            Assert.Equal(400, items[0]!["index"]!["status"]!.GetValue<int>());
            Assert.Equal("document_parsing_exception", items[0]!["index"]!["error"]!["type"]!.GetValue<string>());
            Assert.Equal(prefix + causeAt + inner, items[0]!["index"]!["error"]!["reason"]!.GetValue<string>());
            Assert.Equal(201, items[1]!["index"]!["status"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task WhatComesAfterTheDocumentsObject_IsRefusedAsValidateEndRefusesIt()
    {
        // DocumentParser.validateEnd, outside internalParseDocument: a token the parser cannot read is its
        // XContentParseException rethrown as a DocumentParsingException at its own place (so the place twice); a value
        // it can read is the IllegalArgumentException "found extra data".
        var r = await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", "{\"a\":1} x");
        const string jackson = "Unrecognized token 'x': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: (byte[])\"{\"a\":1} x\"; line: 1, column: 10]";
        r.AssertError(400, "document_parsing_exception", "[1:10] [1:10] " + jackson);
        Assert.Equal("[1:10] " + jackson, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
        (await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", "{\"a\":1} {\"b\":2}")).AssertError(400, "illegal_argument_exception", "Malformed content, found extra data after parsing: START_OBJECT");
        (await Es.SendAsync(HttpMethod.Put, "/people/_doc/1", "[1, 2")).AssertError(400, "document_parsing_exception", "Malformed content, must start with an object");
        Assert.Equal(404, (await Es.GetAsync("/people/_doc/1")).Status);

        // The index is created before the shard parses the document (TransportBulkAction's auto-create), as for a value
        // the mapping refuses.
        Assert.Equal(400, (await Es.SendAsync(HttpMethod.Put, "/fresh/_doc/1", "{\"a\":}")).Status);
        Assert.Equal(200, (await Es.SendAsync(HttpMethod.Head, "/fresh")).Status);
    }

    [Fact]
    public async Task ADocumentThatIsNotJson_IsOpenSearchsMapperParsingException()
    {
        // OpenSearch's DocumentParser.wrapInMapperParsingException: "failed to parse", caused by Jackson's own error (its
        // JsonXContentParser does not wrap it), the source redacted and the column Jackson 2.17 reports.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        var r = await es.SendAsync(HttpMethod.Put, "/people/_doc/1", "{\"a\":}");
        r.AssertError(400, "mapper_parsing_exception", "failed to parse");
        Assert.Equal("json_parse_exception", r.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal("Unexpected character ('}' (code 125)): expected a value\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 6]",
            r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
        var bulk = await es.BulkAsync("{\"index\":{\"_index\":\"people\",\"_id\":\"2\"}}\n{\"a\":}\n");
        Assert.Equal("mapper_parsing_exception", bulk.Json["items"]![0]!["index"]!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACreateIndexBodyThatIsNotJson_IsTheParsersError()
    {
        // RestCreateIndexAction reads the body with XContentHelper.convertToMap, which lets JsonXContentParser's
        // XContentParseException through; OpenSearch's convertToMap catches Jackson's IOException in a parse_exception.
        // It was a mapper_parsing_exception in System.Text.Json's words.
        const string jackson = "Unexpected character ('}' (code 125)): expected a value\n at [Source: (byte[])\"{\"mappings\":}\"; line: 1, column: 14]";
        var r = await Es.SendAsync(HttpMethod.Put, "/fresh", "{\"mappings\":}");
        r.AssertError(400, "x_content_parse_exception", "[1:14] " + jackson);
        Assert.Equal(jackson, r.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
        Assert.Equal(404, (await Es.SendAsync(HttpMethod.Head, "/fresh")).Status);

        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, Flavor = SearchFlavor.OpenSearch });
        using var es = new EsClient(server.Url);
        var os = await es.SendAsync(HttpMethod.Put, "/fresh", "{\"mappings\":}");
        os.AssertError(400, "parse_exception", "Failed to parse content to map");
        Assert.Equal("Unexpected character ('}' (code 125)): expected a value\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 13]",
            os.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());
    }
}
