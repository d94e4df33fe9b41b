using System.Text.Json.Nodes;

namespace Rank1.Elastic.Tests;

/// <summary>
/// <see cref="SourceFilter"/> against Elasticsearch's <c>XContentMapValues.filter</c>: most cases are those of its
/// <c>XContentMapValuesTests</c> (server/src/test/java/org/elasticsearch/common/xcontent/support), named after the test
/// they come from; <c>_source</c> parsing against <c>FetchSourceContext.fromXContent</c>.
/// </summary>
public sealed class SourceFilterTests
{
    private const string Authors = """{"title":"T","authors":[{"name":"Ann","age":30},{"name":"Bob","age":41}]}""";

    // testNestedFiltering and testCompleteObjectFiltering's document.
    private const string Mixed = """{"field":"value","obj":{"field":"value","field2":"value2"},"array":[1,{"field":"value","field2":"value2"}]}""";

    private static string Filtered(string source, string[] includes, string[] excludes)
    {
        var spec = new JsonObject { ["includes"] = new JsonArray([.. includes.Select(i => JsonValue.Create(i))]), ["excludes"] = new JsonArray([.. excludes.Select(e => JsonValue.Create(e))]) };
        return SourceFilter.Parse(spec).Apply(source)!.ToJsonString();
    }

    [Theory]
    // Fields inside arrays of objects: the array is filtered element by element with its own path.
    [InlineData(Authors, new[] { "authors.name" }, new string[0], """{"authors":[{"name":"Ann"},{"name":"Bob"}]}""")]
    [InlineData(Authors, new string[0], new[] { "authors.age" }, """{"title":"T","authors":[{"name":"Ann"},{"name":"Bob"}]}""")]
    [InlineData(Authors, new[] { "authors.*" }, new[] { "*.age" }, """{"authors":[{"name":"Ann"},{"name":"Bob"}]}""")]
    [InlineData(Authors, new[] { "a*s.n*" }, new string[0], """{"authors":[{"name":"Ann"},{"name":"Bob"}]}""")]
    // testNestedFiltering: a scalar in the array is dropped when only a path below the array is included.
    [InlineData(Mixed, new[] { "array.field" }, new string[0], """{"array":[{"field":"value"}]}""")]
    [InlineData(Mixed, new[] { "array.*" }, new string[0], """{"array":[{"field":"value","field2":"value2"}]}""")]
    [InlineData(Mixed, new[] { "obj.field" }, new string[0], """{"obj":{"field":"value"}}""")]
    // testCompleteObjectFiltering: an included array keeps its scalars; the excludes still apply inside it.
    [InlineData(Mixed, new[] { "obj" }, new[] { "*.field2" }, """{"obj":{"field":"value"}}""")]
    [InlineData(Mixed, new[] { "array" }, new string[0], """{"array":[1,{"field":"value","field2":"value2"}]}""")]
    [InlineData(Mixed, new[] { "array" }, new[] { "*.field2" }, """{"array":[1,{"field":"value"}]}""")]
    // testFilterIncludesUsingStarPrefix.
    [InlineData("""{"field":"value","obj":{"field":"value","field2":"value2"},"n_obj":{"n_field":"value","n_field2":"value2"}}""", new[] { "*.field2" }, new string[0], """{"obj":{"field2":"value2"}}""")]
    [InlineData("""{"field":"value","obj":{"field":"value","field2":"value2"},"n_obj":{"n_field":"value","n_field2":"value2"}}""", new[] { "*" }, new[] { "*.*2" }, """{"field":"value","obj":{"field":"value"},"n_obj":{"n_field":"value"}}""")]
    // testPrefixedNamesFilteringTest and testPrefix: a pattern is not a prefix of a longer name.
    [InlineData("""{"obj":"value","obj_name":"value_name"}""", new[] { "obj_name" }, new string[0], """{"obj_name":"value_name"}""")]
    [InlineData("""{"photos":["foo","bar"],"photosCount":2}""", new[] { "photosCount" }, new string[0], """{"photosCount":2}""")]
    // testNotOmittingObjectsWithExcludedProperties and testNotOmittingObjectWithNestedExcludedObject.
    [InlineData("""{"obj":{"f1":"v1"}}""", new string[0], new[] { "obj.f1" }, """{"obj":{}}""")]
    [InlineData("""{"obj1":{"obj2":{"obj3":{}}}}""", new string[0], new[] { "*.obj2" }, """{"obj1":{}}""")]
    [InlineData("""{"obj1":{"obj2":{"obj3":{}}}}""", new[] { "*.obj2" }, new[] { "*.obj3" }, """{"obj1":{"obj2":{}}}""")]
    // testDotsInFieldNames: a field name with a dot is matched as the path it spells.
    [InlineData("""{"foo.bar":2,"foo":{"baz":3},"quux":5}""", new[] { "foo" }, new string[0], """{"foo.bar":2,"foo":{"baz":3}}""")]
    [InlineData("""{"foo.bar":2,"foo":{"baz":3},"quux":5}""", new string[0], new[] { "foo" }, """{"quux":5}""")]
    // testSharedPrefixes.
    [InlineData("""{"foobar":2,"foobaz":3}""", new string[0], new[] { "foobar" }, """{"foobaz":3}""")]
    // testArraySubFieldExclusion: an array whose objects all filter away is kept empty when the array itself is included.
    [InlineData("""{"field":"value","array":[{"exclude":"bar"}]}""", new string[0], new[] { "array.exclude" }, """{"field":"value","array":[]}""")]
    // testEmptyArraySubFieldsInclusion and testEmptyObjectsSubFieldsInclusion: empty, and not included itself, is dropped.
    [InlineData("""{"field":"value","array":[]}""", new[] { "array.include" }, new string[0], "{}")]
    [InlineData("""{"field":"value","array":[]}""", new[] { "array", "array.include" }, new string[0], """{"array":[]}""")]
    [InlineData("""{"field":"value","object":{}}""", new[] { "object.include" }, new string[0], "{}")]
    [InlineData("""{"field":"value","object":{}}""", new[] { "object", "object.include" }, new string[0], """{"object":{}}""")]
    // Arrays of arrays share the path; objects that keep nothing are dropped from them.
    [InlineData("""{"a":[[{"b":1,"c":2},{"c":3}],[5]]}""", new[] { "a.b" }, new string[0], """{"a":[[{"b":1}]]}""")]
    public void Apply_MatchesElasticsearchsFilter(string source, string[] includes, string[] excludes, string expected) =>
        Assert.Equal(expected, Filtered(source, includes, excludes));

    [Fact]
    public void FromQuery_ExcludesInsideAnArrayOfObjects()
    {
        // _source_excludes=authors.age (the URL form): before, the age stayed in every author.
        var filter = SourceFilter.FromQuery(null, null, "authors.age")!;
        Assert.Equal("""{"title":"T","authors":[{"name":"Ann"},{"name":"Bob"}]}""", filter.Apply(Authors)!.ToJsonString());
    }

    [Theory]
    [InlineData("""{"includes":5}""", "Unknown key for a VALUE_NUMBER in [includes].")]
    [InlineData("""{"excludes":[1]}""", "Unknown key for a VALUE_NUMBER in [excludes].")]
    [InlineData("""{"includes":[{"a":1}]}""", "Unknown key for a START_OBJECT in [includes].")]
    [InlineData("""{"fields":["a"]}""", "Unknown key for a START_ARRAY in [fields].")]
    [InlineData("""[["a"]]""", "Unknown key for a START_ARRAY in [_source].")]
    [InlineData("5", "Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found [VALUE_NUMBER]")]
    public void Parse_WhatElasticsearchRefuses_IsAFormatExceptionInItsWords(string json, string reason)
    {
        var e = Assert.Throws<FormatException>(() => SourceFilter.Parse(JsonNode.Parse(json)));
        Assert.Equal(reason, e.Message);
    }

    [Fact]
    public void Parse_ExcludeVectors_IsElasticsearchsAndGoesOnWithTheFields()
    {
        // Elasticsearch 9.1's FetchSourceContext.fromXContent reads exclude_vectors (a boolean, or its text through
        // booleanValue()); elasticsearch-dsl sends it. It was "Unknown key for a VALUE_BOOLEAN in [exclude_vectors].", and
        // the proxy's backend request, which names the client's fields and the passage fields, must keep the choice.
        var filter = SourceFilter.Parse(JsonNode.Parse("""{"include":["a"],"exclude_vectors":false}"""));
        Assert.False(filter.ExcludeVectors);
        Assert.Equal("""{"includes":["a","text"],"exclude_vectors":false}""", filter.WithFields(["text"])!.ToJsonString());
        Assert.True(SourceFilter.Parse(JsonNode.Parse("""{"exclude_vectors":"true"}""")).KeepsEverything);
        Assert.Null(SourceFilter.Parse(JsonNode.Parse("""{"excludes":"b"}""")).ExcludeVectors);

        // OpenSearch's parser (and _mget's own) has no such key.
        var e = Assert.Throws<FormatException>(() => SourceFilter.Parse(JsonNode.Parse("""{"exclude_vectors":false}"""), readsExcludeVectors: false));
        Assert.Equal("Unknown key for a VALUE_BOOLEAN in [exclude_vectors].", e.Message);
        e = Assert.Throws<FormatException>(() => SourceFilter.Parse(JsonNode.Parse("""{"exclude_vectors":1}""")));
        Assert.Equal("Unknown key for a VALUE_NUMBER in [exclude_vectors].", e.Message);
    }

    [Fact]
    public void Parse_NumbersInAPatternList_AreTheirText()
    {
        // FetchSourceContext.fromXContent takes parser.text() of each array value: [1] is the pattern "1".
        Assert.Equal("""{"1":"one"}""", SourceFilter.Parse(JsonNode.Parse("[1]")).Apply("""{"1":"one","2":"two"}""")!.ToJsonString());
    }
}
