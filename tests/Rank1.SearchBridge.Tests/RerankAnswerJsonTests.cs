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
    public void CohereAndTeiScores_AreNumbersJsonSmartReadsAsDoubles_CohereWithinATrillionthOfTheScore_TeiTheNearestF32()
    {
        var cohere = new CohereAnswer("id", Scores.Select((s, i) => new CohereResult(i, s, null, null, null, null)).ToArray(),
            new CohereMeta(new CohereApiVersion("1"), new CohereBilledUnits(1)), "rank1", new CohereUsage(0));
        var tei = Scores.Select((s, i) => new TeiResult(i, (float)s, null, null, null, null)).ToArray();
        foreach (var json in new[] { JsonSerializer.Serialize(cohere, HttpJson.Answers.CohereAnswer), JsonSerializer.Serialize(tei, HttpJson.Answers.TeiResultArray) })
        {
            var isCohere = json.Contains("relevance_score", StringComparison.Ordinal);
            var literals = NumberLiterals(json, isCohere ? "relevance_score" : "score");
            Assert.Equal(Scores.Length, literals.Count);
            for (var i = 0; i < Scores.Length; i++)
            {
                Assert.True(literals[i].Length <= 18 && literals[i].AsSpan().IndexOfAny(['.', 'e', 'E']) >= 0, $"{literals[i]} is not a double to json-smart");
                if (isCohere)
                {
                    Assert.Equal(Scores[i], double.Parse(literals[i], CultureInfo.InvariantCulture), 1e-12);
                }
                else
                {
                    Assert.Equal((float)Scores[i], float.Parse(literals[i], CultureInfo.InvariantCulture));
                }
            }

            // A short enough shortest round-trip text is kept as it is; TEI's score is an f32, written with its own shortest digits.
            Assert.Equal(isCohere ? "0.9994234324260433" : "0.99942344", literals[^1]);
        }
    }

    /// <summary>
    /// TEI writes its rerank score, an f32 (text-embeddings-inference router/src/http/types.rs, <c>Rank.score</c>), with
    /// serde_json 1.0.140 (<c>Serializer::serialize_f32</c>: <c>Formatter::write_f32</c>, ryu 1.0.20's <c>format_finite</c>;
    /// NaN and the infinities as <c>null</c>). The expected texts are ryu's own f32 test vectors, dtolnay/ryu
    /// tests/f2s_test.rs (<c>check!(x)</c> asserts that <c>ryu::Buffer::new().format(x)</c> is the literal <c>x</c> as
    /// written): test_ryu, test_basic, test_switch_to_subnormal, test_min_and_max, test_boundary_round_even,
    /// test_exact_value_round_even, test_lots_of_trailing_zeros, test_regression, test_looks_like_pow5 and
    /// test_output_length. Before, the score was the f64 the f32 widens to, written with that f64's digits (up to 18
    /// characters) in .NET's notation (<c>E-45</c>), and a NaN failed the whole answer.
    /// </summary>
    [Fact]
    public void TeiScore_IsWrittenAsSerdeJsonWritesAnF32_RyusOwnTestVectors()
    {
        string[] vectors =
        [
            // test_ryu
            "0.3", "1234000000000.0", "1.234e13", "2.71828", "1.1e32", "1.1e-32", "2.7182817", "1e-45", "3.4028235e38", "-0.001234",
            // test_basic
            "0.0", "-0.0", "1.0", "-1.0",
            // test_switch_to_subnormal
            "1.1754944e-38",
            // test_boundary_round_even
            "33554450.0", "9000000000.0", "34366720000.0",
            // test_exact_value_round_even
            "305404.12", "8099.0312",
            // test_lots_of_trailing_zeros
            "0.00024414062", "0.0024414062", "0.0043945312", "0.0063476562",
            // test_regression
            "4.7223665e21", "8388608.0", "16777216.0", "33554436.0", "67131496.0", "1.9310392e-38", "-2.47e-43", "1.993244e-38", "4103.9004",
            "5339999700.0", "6.0898e-39", "0.0010310042", "2.882326e17", "7.038531e-26", "9.223404e17", "67108870.0", "1e-44", "2.816025e14",
            "9.223372e18", "1.5846086e29", "1.1811161e19", "5.368709e18", "4.6143166e18", "0.007812537", "1.18697725e20", "1.00014165e-36",
            "200.0", "33554432.0",
            // test_looks_like_pow5
            "6.7108864e17", "1.3421773e18", "2.6843546e18",
            // test_output_length
            "1.2", "1.23", "1.234", "1.2345", "1.23456", "1.234567", "1.2345678", "1.23456735e-36",
        ];
        var values = vectors.Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToList();
        // test_min_and_max and test_looks_like_pow5 name their values by their bits as well.
        Assert.Equal([3.4028235e38f, 1e-45f, 6.7108864e17f, 1.3421773e18f, 2.6843546e18f],
            new[] { 0x7f7fffffu, 1u, 0x5D1502F9u, 0x5D9502F9u, 0x5E1502F9u }.Select(BitConverter.UInt32BitsToSingle));
        values.AddRange([float.NaN, float.PositiveInfinity, float.NegativeInfinity]);

        var json = JsonSerializer.Serialize(values.Select((v, i) => new TeiResult(i, v, null, null, null, null)).ToArray(), HttpJson.Answers.TeiResultArray);

        Assert.Equal([.. vectors, "null", "null", "null"], NumberLiterals(json, "score"));
    }

    private static List<string> NumberLiterals(string json, string property)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        var literals = new List<string>();
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(property) && reader.Read())
            {
                literals.Add(reader.TokenType == JsonTokenType.Null ? "null" : Encoding.UTF8.GetString(reader.ValueSpan));
            }
        }

        return literals;
    }
}
