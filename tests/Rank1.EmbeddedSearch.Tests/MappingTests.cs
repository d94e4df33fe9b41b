using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Object mappings as users copy them from their cluster: <c>"type": "object"</c> (or no type), <c>"enabled": false</c>
/// and <c>"dynamic"</c> (<c>false</c>, <c>"strict"</c>), read as Elasticsearch's <c>ObjectMapper</c> and
/// <c>DocumentParser</c> read them. Before, <c>{"type":"object"}</c> and <c>{"enabled":false}</c> were refused with
/// "No handler for type [object]", and <c>dynamic</c> was accepted and ignored (every new field was indexed).
/// </summary>
public sealed class MappingTests
{
    private const string Mapping = """
        {"mappings":{"dynamic":"strict","properties":{
          "title":{"type":"text"},
          "meta":{"type":"object","dynamic":true},
          "blob":{"type":"object","enabled":false},
          "tags":{}}}}
        """;

    [Fact]
    public async Task ObjectMappings_EnabledFalseAndStrictDynamic_AreReadAsElasticsearchReadsThem_AndSurviveARestart()
    {
        var data = TestTemp.Folder("rank1-es-mapping-");
        await using (var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data }))
        {
            using var es = new EsClient(server.Url);
            var created = await es.PutAsync("/shop", JsonNode.Parse(Mapping));
            Assert.True(created.Status == 200, created.Json.ToJsonString());
            await AssertBehavesAsMappedAsync(es, firstRun: true);
        }

        await using var again = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data });
        using var es2 = new EsClient(again.Url);
        await AssertBehavesAsMappedAsync(es2, firstRun: false);
    }

    private static async Task AssertBehavesAsMappedAsync(EsClient es, bool firstRun)
    {
        if (firstRun)
        {
            var doc = await es.PutAsync("/shop/_doc/1?refresh=true", JsonNode.Parse("""{"title":"onions","meta":{"origin":"spain"},"blob":{"raw":"shallots","deep":{"x":1}},"tags":{}}"""));
            Assert.Equal(201, doc.Status);
        }

        // ObjectMapper.toXContent: "type": "object" only on an object without properties; dynamic as its lower-case name;
        // enabled only when false; properties sorted. meta.origin was added under meta's "dynamic": true.
        var expected = JsonNode.Parse("""
            {"dynamic":"strict","properties":{
              "blob":{"type":"object","enabled":false},
              "meta":{"dynamic":"true","properties":{"origin":{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}}},
              "tags":{"type":"object"},
              "title":{"type":"text"}}}
            """);
        var mapping = (await es.GetAsync("/shop/_mapping")).Json["shop"]!["mappings"];
        Assert.True(JsonNode.DeepEquals(expected, mapping), mapping!.ToJsonString());

        // A disabled object is kept in _source and never indexed; a field new to meta is indexed.
        Assert.Equal(1, await CountAsync(es, """{"match":{"meta.origin":"spain"}}"""));
        Assert.Equal(0, await CountAsync(es, """{"match":{"blob.raw":"shallots"}}"""));
        Assert.Equal("shallots", (await es.GetAsync("/shop/_doc/1")).Json["_source"]!["blob"]!["raw"]!.GetValue<string>());

        // Strict, at the root and inherited by tags: the document is refused, naming the new field and its object.
        var extra = await es.PutAsync("/shop/_doc/2", JsonNode.Parse("""{"title":"leeks","colour":"green"}"""));
        Assert.Equal((400, "strict_dynamic_mapping_exception"), (extra.Status, extra.ErrorType));
        Assert.EndsWith("mapping set to strict, dynamic introduction of [colour] within [_doc] is not allowed", extra.ErrorReason, StringComparison.Ordinal);
        var inherited = await es.PutAsync("/shop/_doc/2", JsonNode.Parse("""{"title":"leeks","tags":{"season":{"month":"may"}}}"""));
        Assert.Equal((400, "strict_dynamic_mapping_exception"), (inherited.Status, inherited.ErrorType));
        Assert.EndsWith("mapping set to strict, dynamic introduction of [season] within [tags] is not allowed", inherited.ErrorReason, StringComparison.Ordinal);

        // A new object, empty or not, and a null for an unmapped field are new to a strict object too (DocumentParser).
        foreach (var (body, name, within) in new[] { ("""{"title":"leeks","box":{}}""", "box", "_doc"), ("""{"title":"leeks","note":null}""", "note", "_doc"), ("""{"title":"leeks","tags":{"season":null}}""", "season", "tags") })
        {
            var refused = await es.PutAsync("/shop/_doc/2", JsonNode.Parse(body));
            Assert.Equal((400, "strict_dynamic_mapping_exception"), (refused.Status, refused.ErrorType));
            Assert.EndsWith($"mapping set to strict, dynamic introduction of [{name}] within [{within}] is not allowed", refused.ErrorReason, StringComparison.Ordinal);
        }

        // A null for a mapped field, and an empty mapped object, are taken (nothing new).
        Assert.Equal(firstRun ? 201 : 200, (await es.PutAsync("/shop/_doc/3", JsonNode.Parse("""{"title":null,"tags":{},"meta":{}}"""))).Status);

        // A concrete value where an object is mapped (DocumentParser); a disabled object takes any JSON.
        var flat = await es.PutAsync("/shop/_doc/2", JsonNode.Parse("""{"title":"leeks","meta":"green"}"""));
        Assert.Equal((400, "document_parsing_exception"), (flat.Status, flat.ErrorType));
        Assert.EndsWith("object mapping for [meta] tried to parse field [meta] as object, but found a concrete value", flat.ErrorReason, StringComparison.Ordinal);
        Assert.Equal(404, (await es.GetAsync("/shop/_doc/2")).Status);
        Assert.True((await es.GetAsync("/shop/_doc/3")).Json["found"]!.GetValue<bool>());
    }

    [Fact]
    public async Task DynamicFalse_KeepsANewFieldInSourceUnindexedAndUnmapped()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/quiet", JsonNode.Parse("""{"mappings":{"dynamic":false,"properties":{"title":{"type":"text"}}}}"""))).Status);
        Assert.Equal(201, (await es.PutAsync("/quiet/_doc/1?refresh=true", JsonNode.Parse("""{"title":"onions","note":"hidden words"}"""))).Status);

        Assert.Equal(0, (await es.PostAsync("/quiet/_count", JsonNode.Parse("""{"query":{"match":{"note":"hidden"}}}"""))).Json["count"]!.GetValue<int>());
        Assert.Equal(1, (await es.PostAsync("/quiet/_count", JsonNode.Parse("""{"query":{"match":{"title":"onions"}}}"""))).Json["count"]!.GetValue<int>());
        Assert.Equal("hidden words", (await es.GetAsync("/quiet/_doc/1")).Json["_source"]!["note"]!.GetValue<string>());
        var mapping = (await es.GetAsync("/quiet/_mapping")).Json["quiet"]!["mappings"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"dynamic":"false","properties":{"title":{"type":"text"}}}"""), mapping), mapping.ToJsonString());
    }

    /// <summary>
    /// A number past its field's type is refused as Elasticsearch's <c>NumberFieldMapper</c> refuses it, a 400
    /// <c>document_parsing_exception</c> naming the field and previewing the value as Java writes what Jackson read: 1e400 in a double ("supports
    /// only finite values"), 1e39 in a float, 123456789012345678901234567890 in a long and 3000000000 in an integer.
    /// Before, they were indexed as infinity or a wrapped number.
    /// The values in range are taken, and a refused document is not kept.
    /// </summary>
    [Fact]
    public async Task ANumberPastItsFieldsType_IsRefused_AsElasticsearchRefusesIt()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/nums", JsonNode.Parse("""{"mappings":{"properties":{"d":{"type":"double"},"f":{"type":"float"},"l":{"type":"long"},"i":{"type":"integer"}}}}"""))).Status);
        // The preview is FieldMapper's: the value read back with AbstractXContentParser.readValue, Jackson's numberValue()
        // (a Double for a fraction or exponent, a BigInteger or Long for a whole number), written with Java's toString.
        foreach (var (field, type, number, preview) in new[] { ("d", "double", "1e400", "Infinity"), ("d", "double", "-1e400", "-Infinity"), ("f", "float", "1e39", "1.0E39"), ("l", "long", "123456789012345678901234567890", "123456789012345678901234567890"), ("i", "integer", "3000000000", "3000000000") })
        {
            var put = await es.PutAsync("/nums/_doc/e", new JsonObject { [field] = JsonNode.Parse(number) });
            Assert.True((put.Status, put.ErrorType) == (400, "document_parsing_exception"), $"{field} {number}: {put.Status} {put.Json.ToJsonString()}");
            Assert.EndsWith($"failed to parse field [{field}] of type [{type}] in document with id 'e'. Preview of field's value: '{preview}'", put.ErrorReason, StringComparison.Ordinal);
        }

        Assert.Equal(404, (await es.GetAsync("/nums/_doc/e")).Status);
        Assert.Equal(201, (await es.PutAsync("/nums/_doc/ok", JsonNode.Parse("""{"d":1.7976931348623157e308,"f":3.4e38,"l":-9223372036854775808,"i":2147483647}"""))).Status);
    }

    /// <summary>
    /// An object (or an array of objects) given to a text, keyword, number, date or boolean field is refused as
    /// Elasticsearch's <c>FieldMapper.parse</c> refuses it: a 400 <c>document_parsing_exception</c> naming the field, its
    /// type and the document, with the value as Java's <c>HashMap</c> writes it, through <c>_doc</c>, <c>_create</c>,
    /// <c>_update</c> and a <c>_bulk</c> item (the others indexed); and a refused document leaves the mapping as it was,
    /// the fields new in it included (DocumentParser merges a document's dynamic update only once it parsed). Before, the
    /// object was taken and mapped under the field (<c>"title":{"type":"text","properties":{"x":{"type":"long"}}}</c>),
    /// and a refused document's new fields stayed mapped.
    /// </summary>
    [Fact]
    public async Task AnObjectInAConcreteField_IsRefused_AndARefusedDocumentLeavesTheMappingAsItWas()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        const string Mapped = """{"properties":{"d":{"type":"date"},"flag":{"type":"boolean"},"n":{"type":"long"},"tag":{"type":"keyword"},"title":{"type":"text"}}}""";
        Assert.Equal(200, (await es.PutAsync("/t2", JsonNode.Parse("{\"mappings\":" + Mapped + "}"))).Status);
        Assert.Equal(201, (await es.PutAsync("/t2/_doc/u", JsonNode.Parse("""{"title":"onions"}"""))).Status);

        foreach (var (field, type) in new[] { ("title", "text"), ("tag", "keyword"), ("n", "long"), ("d", "date"), ("flag", "boolean") })
        {
            var reason = $"failed to parse field [{field}] of type [{type}] in document with id 'e'. Preview of field's value: '{{x=1}}'";
            var put = await es.PutAsync("/t2/_doc/e", new JsonObject { [field] = JsonNode.Parse("""{"x":1}""") });
            Assert.Equal((400, "document_parsing_exception"), (put.Status, put.ErrorType));
            Assert.EndsWith(reason, put.ErrorReason, StringComparison.Ordinal);
            var created = await es.PutAsync("/t2/_create/e", new JsonObject { [field] = JsonNode.Parse("""[{"x":1}]""") });
            Assert.Equal((400, "document_parsing_exception"), (created.Status, created.ErrorType));
            Assert.EndsWith(reason, created.ErrorReason, StringComparison.Ordinal);
            var updated = await es.PostAsync("/t2/_update/u", new JsonObject { ["doc"] = new JsonObject { [field] = JsonNode.Parse("""{"x":1}""") } });
            Assert.Equal((400, "document_parsing_exception"), (updated.Status, updated.ErrorType));
            Assert.EndsWith(reason.Replace("id 'e'", "id 'u'", StringComparison.Ordinal), updated.ErrorReason, StringComparison.Ordinal);
        }

        // Java's HashMap order for the preview; a new field before the bad one is not mapped.
        var several = await es.PutAsync("/t2/_doc/e", JsonNode.Parse("""{"fresh":"new","title":{"b":2,"a":"x","c":[1,2.5]}}"""));
        Assert.EndsWith("Preview of field's value: '{a=x, b=2, c=[1, 2.5]}'", several.ErrorReason, StringComparison.Ordinal);
        var badNumber = await es.PutAsync("/t2/_doc/e", JsonNode.Parse("""{"fresh":"new","n":"many"}"""));
        Assert.Equal((400, "document_parsing_exception"), (badNumber.Status, badNumber.ErrorType));

        var bulk = await es.BulkAsync(
            "{\"index\":{\"_index\":\"t2\",\"_id\":\"b1\"}}\n{\"title\":{\"x\":1},\"fresh\":1}\n" +
            "{\"index\":{\"_index\":\"t2\",\"_id\":\"b2\"}}\n{\"title\":\"leeks\"}\n");
        var items = bulk.Json["items"]!.AsArray().Select(i => i!["index"]!).ToArray();
        Assert.Equal([400, 201], items.Select(i => i["status"]!.GetValue<int>()));
        Assert.EndsWith("failed to parse field [title] of type [text] in document with id 'b1'. Preview of field's value: '{x=1}'", items[0]["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);

        var mapping = (await es.GetAsync("/t2/_mapping")).Json["t2"]!["mappings"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Mapped), mapping), mapping.ToJsonString());
        Assert.Equal(404, (await es.GetAsync("/t2/_doc/e")).Status);
        Assert.Equal("onions", (await es.GetAsync("/t2/_doc/u")).Json["_source"]!["title"]!.GetValue<string>());
    }

    /// <summary>
    /// Dates as the default format <c>strict_date_optional_time||epoch_millis</c> reads them, a JSON number's text
    /// included: <c>"2019"</c> (or 2019) is the year 2019 and a 13-digit number epoch milliseconds, in documents and in
    /// queries alike; a US-style date is no date. Before, any digits were epoch milliseconds ("2019" was 1970) and
    /// .NET's lenient parser took "12/05/2019".
    /// </summary>
    [Fact]
    public async Task Dates_AreReadAsStrictDateOptionalTimeThenEpochMillis()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(200, (await es.PutAsync("/events", JsonNode.Parse("""{"mappings":{"properties":{"d":{"type":"date"}}}}"""))).Status);
        var bulk = await es.BulkAsync(
            "{\"index\":{\"_index\":\"events\",\"_id\":\"year\"}}\n{\"d\":\"2019\"}\n" +
            "{\"index\":{\"_index\":\"events\",\"_id\":\"number-year\"}}\n{\"d\":2019}\n" +
            "{\"index\":{\"_index\":\"events\",\"_id\":\"zoned\"}}\n{\"d\":\"2019-06-15T10:00:00.5+02:00\"}\n" +
            "{\"index\":{\"_index\":\"events\",\"_id\":\"epoch\"}}\n{\"d\":1420070400001}\n" +
            "{\"index\":{\"_index\":\"events\",\"_id\":\"noon\"}}\n{\"d\":\"2019-01-01T12:00Z\"}\n" +
            "{\"index\":{\"_index\":\"events\",\"_id\":\"us\"}}\n{\"d\":\"12/05/2019\"}\n");
        var items = bulk.Json["items"]!.AsArray().Select(i => i!["index"]!).ToArray();
        Assert.Equal([201, 201, 201, 201, 201, 400], items.Select(i => i["status"]!.GetValue<int>()));
        Assert.Equal("document_parsing_exception", items[5]["error"]!["type"]!.GetValue<string>());

        // Sort values are the epoch milliseconds read: 2015-01-01T00:00:00.001Z, 2019-01-01 twice, its noon, 2019-06-15T08:00:00.500Z.
        var sorted = await es.SearchAsync("events", JsonNode.Parse("""{"sort":[{"d":"asc"}]}""")!);
        Assert.Equal([1420070400001L, 1546300800000L, 1546300800000L, 1546344000000L, 1560585600500L],
            sorted.Json["hits"]!["hits"]!.AsArray().Select(h => h!["sort"]![0]!.GetValue<long>()));

        Assert.Equal(["noon", "number-year", "year", "zoned"], await IdsAsync(es, """{"range":{"d":{"gte":"2019"}}}"""));
        Assert.Equal(["epoch", "noon", "number-year", "year"], await IdsAsync(es, """{"range":{"d":{"lt":"2019-01-02"}}}"""));
        // A term and an inclusive upper bound are rounded up (the round-up parser defaults month and day to 1): "2019" is
        // its first day whole. A number is read by its text as a string is: 2019 is rounded up as "2019" is.
        Assert.Equal(["noon", "number-year", "year"], await IdsAsync(es, """{"term":{"d":"2019"}}"""));
        Assert.Equal(["epoch", "noon", "number-year", "year"], await IdsAsync(es, """{"range":{"d":{"lte":2019}}}"""));
        Assert.Equal(["noon", "number-year", "year"], await IdsAsync(es, """{"term":{"d":2019}}"""));
    }

    private static async Task<string[]> IdsAsync(EsClient es, string query) =>
        [.. (await es.SearchAsync("events", JsonNode.Parse($$"""{"query":{{query}}}""")!)).Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).Order(StringComparer.Ordinal)];

    /// <summary>
    /// <c>dynamic</c> and <c>enabled</c> read as <c>ObjectMapper.TypeParser</c> reads them: <c>strict</c> and
    /// <c>runtime</c> in any case, otherwise exactly <c>true</c> or <c>false</c> (<c>XContentMapValues.nodeBooleanValue</c>),
    /// refused in its words; a lenient that is no boolean is a 400, never a 500.
    /// </summary>
    [Theory]
    [InlineData("""{"mappings":{"dynamic":"TRUE"}}""", 400, "Failed to parse mapping: Could not convert [dynamic.dynamic] to boolean")]
    [InlineData("""{"mappings":{"properties":{"o":{"type":"object","dynamic":"no"}}}}""", 400, "Failed to parse mapping: Could not convert [dynamic.dynamic] to boolean")]
    [InlineData("""{"mappings":{"properties":{"o":{"type":"object","enabled":"no"}}}}""", 400, "Failed to parse mapping: Could not convert [enabled.enabled] to boolean")]
    [InlineData("""{"mappings":{"dynamic":"Strict","properties":{"o":{"dynamic":"false","enabled":"true"}}}}""", 200, null)]
    public async Task DynamicAndEnabled_AreReadAsObjectMapperReadsThem(string body, int status, string? reason)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        var r = await es.PutAsync("/settings", JsonNode.Parse(body));
        Assert.Equal(status, r.Status);
        if (reason is not null)
        {
            Assert.Equal(("mapper_parsing_exception", reason), (r.ErrorType, r.ErrorReason));
        }
    }

    [Theory]
    [InlineData("\"abc\"", "illegal_argument_exception", "Failed to parse value [abc] as only [true] or [false] are allowed.")]
    [InlineData("\"True\"", "illegal_argument_exception", "Failed to parse value [True] as only [true] or [false] are allowed.")]
    // booleanValue() on a number: Jackson's getBooleanValue() refusal, where Jackson stands, as JsonXContentParser wraps it.
    [InlineData("1", "x_content_parse_exception", "[1:55] Current token (VALUE_NUMBER_INT) not of boolean type\n at [Source: (byte[])\"{\"query\":{\"query_string\":{\"query\":\"onions\",\"lenient\":1}}}\"; line: 1, column: 55]")]
    public async Task QueryStringLenient_ThatIsNoBoolean_Is400(string lenient, string type, string reason)
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        await es.PutAsync("/notes/_doc/1?refresh=true", JsonNode.Parse("""{"text":"onions"}"""));
        var r = await es.PostAsync("/notes/_search", JsonNode.Parse("""{"query":{"query_string":{"query":"onions","lenient":""" + lenient + "}}}"));
        Assert.Equal((400, type, reason), (r.Status, r.ErrorType, r.ErrorReason));
    }

    [Fact]
    public async Task QueryStringLenient_AnEmptyString_IsFalse()
    {
        // QueryStringQueryBuilder reads lenient with parser.booleanValue(): Booleans.parseBoolean's default false for an
        // empty or blank string. It was refused.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        await es.PutAsync("/notes/_doc/1?refresh=true", JsonNode.Parse("""{"text":"onions"}"""));
        var r = await es.PostAsync("/notes/_search", JsonNode.Parse("""{"query":{"query_string":{"query":"onions","lenient":""}}}"""));
        Assert.True(r.Status == 200, r.Json.ToJsonString());
        Assert.Equal(1, r.Json["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    /// <summary>
    /// index.mapping.depth.limit (20; an object's depth is its dots plus 2, MappingLookup.checkObjectDepthLimit): a field
    /// under 19 new objects is mapped and kept across a restart; under 20 the document is refused, naming the object, and
    /// so is a mapping that deep. Before, any depth was taken, and past 32 objects the saved mapping could not be read back.
    /// </summary>
    [Fact]
    public async Task MappingDepthLimit_IsElasticsearchs20_ForDynamicAndExplicitObjects()
    {
        static JsonNode Nested(int objects, JsonNode leaf) =>
            Enumerable.Range(1, objects).Reverse().Aggregate(leaf, (inner, i) => new JsonObject { [$"o{i}"] = inner });
        var twenty = string.Join('.', Enumerable.Range(1, 20).Select(i => $"o{i}"));

        var data = TestTemp.Folder("rank1-es-depth-");
        await using (var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data }))
        {
            using var es = new EsClient(server.Url);
            Assert.Equal(201, (await es.PutAsync("/deep/_doc/19?refresh=true", Nested(19, new JsonObject { ["word"] = "onion" }))).Status);

            var refused = await es.PutAsync("/deep/_doc/20", Nested(20, new JsonObject { ["word"] = "onion" }));
            Assert.Equal((400, "document_parsing_exception"), (refused.Status, refused.ErrorType));
            Assert.EndsWith($"failed to parse: Limit of mapping depth [20] has been exceeded due to object field [{twenty}]", refused.ErrorReason, StringComparison.Ordinal);
            Assert.Equal(("illegal_argument_exception", $"Limit of mapping depth [20] has been exceeded due to object field [{twenty}]"),
                (refused.Json["error"]!["caused_by"]!["type"]!.GetValue<string>(), refused.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>()));

            // {"o1":{"properties":{"o2":...{"o20":{"type":"object"}}}}}: 20 objects, as a mapping.
            JsonNode level = new JsonObject { ["type"] = "object" };
            for (var i = 20; i > 1; i--)
            {
                level = new JsonObject { ["properties"] = new JsonObject { [$"o{i}"] = level } };
            }

            var explicitMapping = new JsonObject { ["mappings"] = new JsonObject { ["properties"] = new JsonObject { ["o1"] = level } } };
            var deepMapping = await es.PutAsync("/deeper", explicitMapping);
            Assert.Equal((400, "illegal_argument_exception", $"Limit of mapping depth [20] has been exceeded due to object field [{twenty}]"), (deepMapping.Status, deepMapping.ErrorType, deepMapping.ErrorReason));
        }

        // The mapping of 19 objects was saved and is read back: the field is still searched.
        await using var again = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, DataPath = data });
        using var es2 = new EsClient(again.Url);
        var field = string.Join('.', Enumerable.Range(1, 19).Select(i => $"o{i}")) + ".word";
        var match = new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { [field] = "onion" } } };
        Assert.Equal(1, (await es2.PostAsync("/deep/_count", match)).Json["count"]!.GetValue<int>());
    }

    /// <summary>
    /// A new number is mapped by Jackson's token, as <c>DynamicFieldsBuilder.createDynamicFieldFromValue</c> reads
    /// <c>numberType()</c>: a VALUE_NUMBER_INT (INT, LONG, BIG_INTEGER) is a <c>long</c>, so one past a long's range is
    /// then refused as a long refuses it, and a VALUE_NUMBER_FLOAT (<c>1e2</c>) is a <c>float</c>. Before, <c>1e2</c> was
    /// mapped as a long and the big integer as a float.
    /// </summary>
    [Fact]
    public async Task ANewNumber_IsMappedByItsJacksonToken()
    {
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var es = new EsClient(server.Url);
        Assert.Equal(201, (await es.PutAsync("/nums/_doc/1", JsonNode.Parse("""{"e":1e2,"i":7}"""))).Status);
        var mapping = (await es.GetAsync("/nums/_mapping")).Json["nums"]!["mappings"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"properties":{"e":{"type":"float"},"i":{"type":"long"}}}"""), mapping), mapping.ToJsonString());

        var big = await es.SendAsync(HttpMethod.Put, "/nums/_doc/2", """{"big":123456789012345678901234567890}""");
        big.AssertError(400, "document_parsing_exception",
            "[1:8] failed to parse field [big] of type [long] in document with id '2'. Preview of field's value: '123456789012345678901234567890'");
        mapping = (await es.GetAsync("/nums/_mapping")).Json["nums"]!["mappings"]!;
        Assert.Null(mapping["properties"]!["big"]);
    }

    private static async Task<int> CountAsync(EsClient es, string query) =>
        (await es.PostAsync("/shop/_count", JsonNode.Parse($$"""{"query":{{query}}}"""))).Json["count"]!.GetValue<int>();
}
