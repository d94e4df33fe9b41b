using System.Globalization;
using System.Text;
using System.Text.Json;
using Rank1.SearchBridge.Http;
using Rank1.SearchBridge.Http.Service;

namespace Rank1.SearchBridge.Tests;

/// <summary>
/// The rerank service's scores as OpenSearch reads them. ML Commons (ConnectorUtils.processOutput) reads a connector's
/// answer with <c>JsonPath.read</c>, whose default provider is json-smart in MODE_PERMISSIVE: a number with no '.',
/// 'e' or 'E' is an Integer, a float literal longer than 18 characters a BigDecimal (json-smart 2.5.2,
/// JSONParserBase.extractFloat, BIG_DIGIT_UNRESTRICTED). The built-in connector.post_process.cohere.rerank that
/// integrations/opensearch/connector.json uses does <c>(Double) get("relevance_score")</c>, so anything else fails
/// the rerank.
/// </summary>
public sealed class RerankAnswerJsonTests
{
    // 0: a document a partial answer did not judge; 0.19234845963917294 and 0.05890252574752674: scores the test model
    // gave; the small ones: an irrelevant document's probability; 1: a saturated sigmoid.
    private static readonly double[] Scores = [0, 1, 0.19234845963917294, 0.05890252574752674, 1.2339457598623172E-05, 0.00012339457598623172, 0.9994234324260433];

    [Fact]
    public void CohereAndTeiScores_AreNumbersJsonSmartReadsAsDoubles_WithinATrillionthOfTheScore()
    {
        var cohere = new CohereAnswer("id", Scores.Select((s, i) => new CohereResult(i, s, null, null, null, null)).ToArray(),
            new CohereMeta(new CohereApiVersion("1"), new CohereBilledUnits(1)), "rank1", new CohereUsage(0));
        var tei = Scores.Select((s, i) => new TeiResult(i, s, null, null, null, null)).ToArray();
        foreach (var json in new[] { JsonSerializer.Serialize(cohere, HttpJson.Answers.CohereAnswer), JsonSerializer.Serialize(tei, HttpJson.Answers.TeiResultArray) })
        {
            var literals = NumberLiterals(json, json.Contains("relevance_score", StringComparison.Ordinal) ? "relevance_score" : "score");
            Assert.Equal(Scores.Length, literals.Count);
            for (var i = 0; i < Scores.Length; i++)
            {
                Assert.True(literals[i].Length <= 18 && literals[i].AsSpan().IndexOfAny(['.', 'e', 'E']) >= 0, $"{literals[i]} is not a double to json-smart");
                Assert.Equal(Scores[i], double.Parse(literals[i], CultureInfo.InvariantCulture), 1e-12);
            }

            Assert.Equal("0.9994234324260433", literals[^1]); // a short enough shortest round-trip text is kept as it is
        }
    }

    private static List<string> NumberLiterals(string json, string property)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        var literals = new List<string>();
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(property) && reader.Read())
            {
                literals.Add(Encoding.UTF8.GetString(reader.ValueSpan));
            }
        }

        return literals;
    }
}
