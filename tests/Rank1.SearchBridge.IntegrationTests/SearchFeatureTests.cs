using System.Globalization;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Reranked searches combined with the search features apps use: the answer is Elasticsearch's for the search the
/// client sent, its hits reordered by Rank1, though the backend was asked for a wider window.
/// </summary>
public sealed class SearchFeatureTests(ResponseShapingStack fixture) : IClassFixture<ResponseShapingStack>
{
    private ProxyStack Stack => fixture.Stack;

    private static long Total(JsonNode answer) => answer["hits"]!["total"]!["value"]!.GetValue<long>();

    [Fact]
    public async Task MinScore_TotalCountsTheMatchesScoringAtLeastIt_HoweverWideTheWindowTheProxyAsksFor()
    {
        // Elasticsearch's min_score filters what is collected (MinimumScoreCollector): a match scoring below it is neither a
        // hit nor in hits.total, whatever from and size are. The embedded backend once filtered only the hits it had
        // collected and took those from the total, so the total changed with the size the proxy asked for.
        const string match = """{"match":{"text":"onion eyes"}}""";
        using var backend = new HttpClient { BaseAddress = Stack.Backend.Url };
        using var all = await backend.PostAsync("docs/_search", ProxyStack.Json("{\"query\":" + match + ",\"size\":100}"));
        var scores = JsonNode.Parse(await all.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray().Select(h => h!["_score"]!.GetValue<float>()).ToArray();
        var min = scores[1];
        var above = scores.Count(s => s >= min);
        Assert.InRange(above, 2, scores.Length - 1); // the min_score leaves some matches out

        var minScore = min.ToString("R", CultureInfo.InvariantCulture);
        var reranked = await Stack.SearchAsync("{\"query\":" + match + ",\"min_score\":" + minScore + ",\"size\":1,\"ext\":{\"rank1\":{\"window\":1,\"query\":\"min score total\"}}}");
        Assert.Equal("applied", reranked.Rerank);
        Assert.Equal(above, Total(reranked.Json));
        Assert.Single(reranked.Ids);

        // Directly too, at any size: the same total, and the hits are the matches scoring at least min_score.
        foreach (var size in new[] { 1, 3, 100 })
        {
            using var direct = await backend.PostAsync("docs/_search", ProxyStack.Json("{\"query\":" + match + ",\"min_score\":" + minScore + ",\"size\":" + size + "}"));
            var json = JsonNode.Parse(await direct.Content.ReadAsStringAsync())!;
            Assert.Equal(above, Total(json));
            Assert.Equal(Math.Min(size, above), json["hits"]!["hits"]!.AsArray().Count);
        }
    }
    [Theory]
    [InlineData("docs/_search", "\"stored_fields\":[\"title\"],", "stored title")]
    [InlineData("docs/_search", "\"stored_fields\":[],", "stored none")]
    [InlineData("docs/_search?stored_fields=title", "", "stored url")]
    public async Task StoredFieldsWithoutSource_AreReranked_AndAnsweredWithoutSource_AsElasticsearchAnswersThem(string path, string storedFields, string judged)
    {
        // Elasticsearch loads no _source for a search that asks for stored fields and names no _source
        // (FetchContext.buildFetchSourceContext): the window had no passage, and the search was skipped ("no passage text").
        // The proxy asks for the passage fields beside the stored fields, and takes them off the answer again.
        var body = "{" + storedFields + "\"query\":{\"match\":{\"text\":\"onion eyes\"}},\"size\":3";
        var r = await Stack.SearchAsync(body + ",\"ext\":{\"rank1\":{\"query\":\"" + judged + "\"}}}", path);
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        var hits = r.Json["hits"]!["hits"]!.AsArray();
        Assert.Equal(3, hits.Count);
        Assert.All(hits, h => Assert.Null(h!["_source"]));
        Assert.All(hits, h => Assert.NotNull(h!["fields"]!["_rank1.score"]));

        // The backend's own answer to the search as sent: no _source either, unless _source is a stored field named.
        using var backend = new HttpClient { BaseAddress = Stack.Backend.Url };
        using var direct = await backend.PostAsync(path, ProxyStack.Json(body + "}"));
        Assert.All(JsonNode.Parse(await direct.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray(), h => Assert.Null(h!["_source"]));
        var withSource = await Stack.SearchAsync("{\"stored_fields\":[\"title\",\"_source\"],\"query\":{\"match\":{\"text\":\"onion eyes\"}},\"size\":3,\"ext\":{\"rank1\":{\"query\":\"" + judged + " source\"}}}");
        Assert.Equal("applied", withSource.Rerank);
        Assert.All(withSource.Json["hits"]!["hits"]!.AsArray(), h => Assert.NotNull(h!["_source"]!["text"]));
    }
}
