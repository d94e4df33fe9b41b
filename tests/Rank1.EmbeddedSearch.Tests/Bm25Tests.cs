using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Tests;

public sealed class Bm25Tests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    // text, length in tokens
    private static readonly (string Id, string Text)[] Docs =
    [
        ("d1", "apple banana"),
        ("d2", "apple apple cherry"),
        ("d3", "banana cherry date elder"),
        ("d4", "fig grape"),
        ("d5", "apple banana banana cherry date fig grape honey"),
    ];

    /// <summary>Elasticsearch's BM25 by hand: idf = ln(1 + (N − n + 0.5) / (n + 0.5)); tf part = tf / (tf + k1 (1 − b + b·dl/avgdl)).</summary>
    private static double Expected(string text, string[] queryTerms)
    {
        const double k1 = 1.2, b = 0.75;
        var n = Docs.Length;
        var avgdl = Docs.Average(d => d.Text.Split(' ').Length);
        var tokens = text.Split(' ');
        var score = 0.0;
        foreach (var term in queryTerms)
        {
            var df = Docs.Count(d => d.Text.Split(' ').Contains(term));
            var tf = tokens.Count(t => t == term);
            if (tf == 0)
            {
                continue;
            }

            var idf = Math.Log(1 + ((n - df + 0.5) / (df + 0.5)));
            score += idf * tf / (tf + (k1 * (1 - b + (b * tokens.Length / avgdl))));
        }

        return score;
    }

    [Fact]
    public async Task TwoTermQuery_ScoresMatchHandCalculatedBm25_AndOrderFollows()
    {
        var bulk = string.Concat(Docs.Select(d => $"{{\"index\":{{\"_index\":\"bm25\",\"_id\":\"{d.Id}\"}}}}\n{{\"text\":\"{d.Text}\"}}\n"));
        Assert.Equal(200, (await fx.Client.BulkAsync(bulk)).Status);

        var response = await fx.Client.SearchAsync("bm25", new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["text"] = "apple banana" } } });
        var hits = response.Json["hits"]!["hits"]!.AsArray();
        var expected = Docs.Select(d => (d.Id, Score: Expected(d.Text, ["apple", "banana"]))).Where(e => e.Score > 0)
            .OrderByDescending(e => e.Score).ToArray();

        // Hand calculation for d1 ("apple banana", dl 2, avgdl 3.8): 2 × ln(1 + 2.5/3.5) / (1 + 1.2 (0.25 + 0.75·2/3.8)) = 0.6078
        Assert.Equal(0.6078, Expected("apple banana", ["apple", "banana"]), 4);
        Assert.Equal(expected.Select(e => e.Id), hits.Select(h => h!["_id"]!.GetValue<string>()));
        foreach (var (id, score) in expected)
        {
            var actual = hits.Single(h => h!["_id"]!.GetValue<string>() == id)!["_score"]!.GetValue<double>();
            Assert.True(Math.Abs(actual - score) / score < 0.02, $"{id}: score {actual}, hand-calculated {score}");
        }

        Assert.Equal(expected[0].Score, response.Json["hits"]!["max_score"]!.GetValue<double>(), 2);
    }

    [Fact]
    public async Task ConstantScoreQueries_ScoreOne()
    {
        await fx.Client.BulkAsync("{\"index\":{\"_index\":\"const\",\"_id\":\"1\"}}\n{\"tag\":\"x\",\"n\":5}\n");
        var terms = await fx.Client.SearchAsync("const", JsonNode.Parse("{\"query\":{\"terms\":{\"tag.keyword\":[\"x\"]}}}")!);
        var range = await fx.Client.SearchAsync("const", JsonNode.Parse("{\"query\":{\"range\":{\"n\":{\"gte\":1}}}}")!);
        Assert.Equal(1.0, terms.Json["hits"]!["hits"]![0]!["_score"]!.GetValue<double>());
        Assert.Equal(1.0, range.Json["hits"]!["hits"]![0]!["_score"]!.GetValue<double>());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(1000)]
    [InlineData(30000)]
    public void LengthEncoding_IsExactBelow128AndWithinThreePercentAbove(int length)
    {
        var decoded = ElasticBm25Similarity.DecodeLength(ElasticBm25Similarity.EncodeLength(length));
        if (length < 128)
        {
            Assert.Equal(length, decoded);
        }
        else
        {
            Assert.True(Math.Abs(decoded - length) / length < 0.03, $"{length} decoded as {decoded}");
        }
    }
}
