using System.Text.Json.Nodes;
using Rank1.SearchBridge.Backend;

namespace Rank1.SearchBridge.Tests;

public sealed class PinnedHitsTests
{
    private const string Organic = """{"match":{"text":"onion eyes"}}""";
    private const string RuleRetriever = """{"retriever":{"rule":{"retriever":{"standard":{"query":""" + Organic + """}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["r"]}}}""";

    // Hits scored as written: pins just above PinnedQueryBuilder.MAX_ORGANIC_SCORE (1.7014124E38, 1.7014122E38), an organic
    // hit capped at exactly it (1.7014118E38, no pin), organic scores.
    private static JsonObject[] Hits(params string[] scores) =>
        scores.Select((s, i) => new JsonObject { ["_id"] = $"h{i}", ["_score"] = JsonNode.Parse(s) }).ToArray();

    // Where the organic hits of a window start, for the proxy's rerank and the worker's judging alike: past the pins on top
    // where the answer tells them; null (nothing judged, the backend's order) where it cannot, or the pins are not all on
    // top, or the window holds pins alone (PinnedRetrieverBuilder.combineInnerRetrieverResults: score > MAX_ORGANIC_SCORE).
    [Theory]
    [InlineData("""{"query":""" + Organic + "}", 5, new[] { "1.7014124E38", "2.25" }, 0)] // nothing pins: a score says nothing
    [InlineData(RuleRetriever, 5, new[] { "1.7014124E38", "1.7014122E38", "2.25", "1.5", "0.75" }, 2)]
    [InlineData(RuleRetriever, 5, new[] { "1.7014118E38", "1.5", "0.75" }, 0)] // capped at MAX_ORGANIC_SCORE: no pin
    [InlineData(RuleRetriever, 5, new[] { "2.25", "1.7014124E38", "1.5" }, null)] // a pin below an organic hit
    [InlineData(RuleRetriever, 2, new[] { "1.7014124E38", "1.7014122E38", "2.25" }, null)] // a window of pins alone
    [InlineData("""{"query":{"pinned":{"ids":["a","b"],"organic":""" + Organic + "}}}", 5, new[] { "1.7014124E38", "2.25" }, 1)]
    // The request alone tells these pins (boosted; under bool): the answer's scores are not read.
    [InlineData("""{"query":{"pinned":{"ids":["a"],"organic":""" + Organic + ""","boost":2}}}""", 5, new[] { "2.25", "1.5" }, null)]
    [InlineData("""{"query":{"bool":{"must":{"pinned":{"ids":["a"],"organic":""" + Organic + "}}}}}", 5, new[] { "2.25", "1.5" }, null)]
    public void OrganicFrom_PastThePinsOnTop_OrNoneWhereTheSearchKeepsTheBackendsOrder(string body, int window, string[] scores, int? expected) =>
        Assert.Equal(expected, PinnedHits.OrganicFrom(PinnedHits.Of(JsonNode.Parse(body)!.AsObject()), Hits(scores), window));
}
