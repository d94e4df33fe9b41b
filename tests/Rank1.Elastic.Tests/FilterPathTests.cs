using System.Text.Json.Nodes;

namespace Rank1.Elastic.Tests;

/// <summary>
/// <see cref="FilterPath"/> against the answers Elasticsearch documents for <c>filter_path</c> (reference
/// "Common options: response filtering") and the cases of its XContent filtering tests.
/// </summary>
public sealed class FilterPathTests
{
    private const string Search = """
        {"took":3,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
         "hits":{"total":{"value":2,"relation":"eq"},"max_score":1.6,
          "hits":[{"_index":"books","_id":"0","_score":1.6,"_source":{"title":"Book #1","rating":200.1}},
                  {"_index":"books","_id":"1","_score":0.5,"_source":{"title":"Book #2","rating":1.7}}]}}
        """;

    private const string ClusterState = """
        {"cluster_name":"c","metadata":{"indices":{
           "my-index-000001":{"state":"open","settings":{"n":1}},
           "logstash-2024":{"state":"close","settings":{"n":2}}}},
         "routing_table":{"indices":{"my-index-000001":{"shards":{"0":[{"state":"STARTED","primary":true,"node":"x"}]}}}}}
        """;

    [Theory]
    // The reference's examples.
    [InlineData(Search, "took,hits.hits._id,hits.hits._score", """{"took":3,"hits":{"hits":[{"_id":"0","_score":1.6},{"_id":"1","_score":0.5}]}}""")]
    [InlineData(ClusterState, "metadata.indices.*.stat*", """{"metadata":{"indices":{"my-index-000001":{"state":"open"},"logstash-2024":{"state":"close"}}}}""")]
    [InlineData(ClusterState, "routing_table.indices.**.state", """{"routing_table":{"indices":{"my-index-000001":{"shards":{"0":[{"state":"STARTED"}]}}}}}""")]
    [InlineData("""{"count":5,"_shards":{"total":1}}""", "-_shards", """{"count":5}""")]
    [InlineData(ClusterState, "metadata.indices.*.state,-metadata.indices.logstash-*", """{"metadata":{"indices":{"my-index-000001":{"state":"open"}}}}""")]
    [InlineData(Search, "hits.hits._source", """{"hits":{"hits":[{"_source":{"title":"Book #1","rating":200.1}},{"_source":{"title":"Book #2","rating":1.7}}]}}""")]
    // Spaces around entries and empty entries are ignored.
    [InlineData(Search, " took , ,timed_out ", """{"took":3,"timed_out":false}""")]
    // Nothing matches: an empty object, not the whole answer.
    [InlineData(Search, "nope", "{}")]
    [InlineData(Search, "took.nope", "{}")]
    // A matched field is kept whole, an empty object included; a partial match keeps no scalar and no empty container.
    [InlineData("""{"a":{},"b":{"c":{}},"d":[]}""", "a,b.c.x,d.x", """{"a":{}}""")]
    // Array elements that keep nothing are dropped, and so is an array left empty.
    [InlineData("""{"hits":[{"_id":"1","h":{"t":["x"]}},{"_id":"2"}],"s":[1,2]}""", "hits.h,s.x", """{"hits":[{"h":{"t":["x"]}}]}""")]
    // Wildcards inside a segment, several per segment.
    [InlineData("""{"index_a1":1,"index_b2":2,"other":3,"xa1":4}""", "*a*1,oth*", """{"index_a1":1,"other":3,"xa1":4}""")]
    // "**" spans one or more levels (as Elasticsearch's trie matches it) but not zero.
    [InlineData("""{"id":0,"a":{"id":1,"b":{"id":2,"c":[{"id":3}]}}}""", "**.id", """{"a":{"id":1,"b":{"id":2,"c":[{"id":3}]}}}""")]
    [InlineData("""{"a":{"b":1,"c":{"d":2}},"e":3}""", "a.**", """{"a":{"b":1,"c":{"d":2}}}""")]
    [InlineData("""{"a":{"b":{"x":{"y":{"b":{"z":1}}}},"c":2}}""", "a.**.z", """{"a":{"b":{"x":{"y":{"b":{"z":1}}}}}}""")]
    [InlineData("""{"a":1,"b":{"c":2}}""", "**", """{"a":1,"b":{"c":2}}""")]
    // An escaped dot is part of a field name.
    [InlineData("""{"a.b":1,"a":{"b":2}}""", "a\\.b", """{"a.b":1}""")]
    // A shorter path swallows a longer one, whatever the order.
    [InlineData("""{"a":{"b":1,"c":2}}""", "a.b,a", """{"a":{"b":1,"c":2}}""")]
    [InlineData("""{"a":{"b":1,"c":2}}""", "a,a.b", """{"a":{"b":1,"c":2}}""")]
    // Excludes: scalars and containers that do not match stay; what was empty stays; what the exclusion emptied goes.
    [InlineData("""{"a":{"b":[],"c":1},"d":{},"e":[1,{"f":2}]}""", "-a.c,-e.f", """{"a":{"b":[]},"d":{},"e":[1]}""")]
    [InlineData("""{"myArray":[{"myField":"myValue"}],"k":1}""", "-myArray.myField", """{"k":1}""")]
    [InlineData("""{"a":{"b":1}}""", "-a.b", "{}")]
    [InlineData(Search, "-hits.hits._source,-_shards,-timed_out,-took", """{"hits":{"total":{"value":2,"relation":"eq"},"max_score":1.6,"hits":[{"_index":"books","_id":"0","_score":1.6},{"_index":"books","_id":"1","_score":0.5}]}}""")]
    // Both: the excludes apply to what the includes kept.
    [InlineData(Search, "hits.hits,-hits.hits._source,-hits.hits._index", """{"hits":{"hits":[{"_id":"0","_score":1.6},{"_id":"1","_score":0.5}]}}""")]
    [InlineData("""{"a":{"b":1}}""", "a,-a.b", "{}")]
    // A root array (the _cat APIs with format=json) filters each element.
    [InlineData("""[{"index":"a","health":"green"},{"index":"b","health":"yellow"}]""", "index", """[{"index":"a"},{"index":"b"}]""")]
    public void Apply_AsElasticsearch(string answer, string filterPath, string expected)
    {
        var filter = FilterPath.Parse(filterPath);
        Assert.NotNull(filter);
        var original = JsonNode.Parse(answer)!;
        var before = original.ToJsonString();
        var filtered = filter.Apply(original);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), filtered), $"{filterPath}: got {filtered.ToJsonString()}");
        Assert.Equal(before, original.ToJsonString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" , ")]
    [InlineData("-")]
    public void Parse_NothingToFilter_IsNull(string? filterPath) => Assert.Null(FilterPath.Parse(filterPath));

    [Theory]
    [InlineData("*", "", true)]
    [InlineData("a*", "a", true)]
    [InlineData("*b", "ab", true)]
    [InlineData("a*c*e", "abcde", true)]
    [InlineData("a*c*e", "abcdf", false)]
    [InlineData("*aab", "aaab", true)]
    [InlineData("abc", "abd", false)]
    [InlineData("ab", "abc", false)]
    public void Glob_AsElasticsearchGlob(string pattern, string name, bool matches) => Assert.Equal(matches, FilterPath.Glob(pattern, name));
}
