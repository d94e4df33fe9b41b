using System.Globalization;
using Rank1.SearchBridge.Cli.Evaluation;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// Every metric <c>rank1-bridge eval</c> offers, per query and on the mean, against the official trec_eval's output
/// (<c>trec_eval -c -q -m all_trec</c>) on qrels and runs with ties, negative scores, unjudged documents, judged
/// queries missing from the run and a run query without judgments (tests/fixtures/trec_eval/PROVENANCE.md).
/// </summary>
public sealed class TrecEvalOracleTests
{
    private static readonly int[] Cuts = [5, 10, 15, 20, 30, 100, 200, 500, 1000];

    private static string Fixture(string file) => Path.Combine(TestPaths.Fixture("trec_eval"), file);

    [Theory]
    [InlineData("run.txt", "trec_eval-c-q-all_trec.txt")]
    [InlineData("run-good.txt", "trec_eval-c-q-all_trec.good.txt")]
    public async Task Evaluate_EveryOfferedMetric_EqualsTrecEvalPerQueryAndMean(string runFile, string oracleFile)
    {
        var qrels = Qrels.Parse(await File.ReadAllLinesAsync(Fixture("qrels.txt")));
        var run = await TrecRun.ReadAsync(Fixture(runFile), CancellationToken.None);
        var oracle = ReadOracle(await File.ReadAllLinesAsync(Fixture(oracleFile)));
        Assert.Equal(qrels.QueryIds.Count, int.Parse(oracle[("num_q", "all")], CultureInfo.InvariantCulture));

        var checkedValues = 0;
        var mismatches = new List<string>();
        foreach (var (name, expected) in Expectations(oracle, qrels.QueryIds))
        {
            Assert.True(TrecEval.TryParseMetric(name, out var metric), name);
            var scores = TrecEval.Evaluate(metric, run, qrels);
            Assert.Equal(expected.PerQuery.Keys.Order(StringComparer.Ordinal), scores.PerQuery.Keys.Order(StringComparer.Ordinal));
            foreach (var (query, value) in expected.PerQuery)
            {
                Check(name, query, value, scores.PerQuery[query], expected.Tolerance);
            }

            Check(name, "all", expected.Mean, scores.Mean, expected.MeanTolerance);
        }

        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));
        Assert.Equal(((Cuts.Length * 4) + 3) * (qrels.QueryIds.Count + 1), checkedValues);

        void Check(string metric, string query, double expected, double actual, double tolerance)
        {
            checkedValues++;
            if (Math.Abs(expected - actual) > tolerance)
            {
                mismatches.Add($"{metric} {query}: trec_eval {expected:0.0000}, ours {actual:0.000000}");
            }
        }
    }

    [Fact]
    public void Evaluate_RunWithDifferentScoresButTheSameRanks_TheRankColumnIsIgnored()
    {
        // trec_eval orders by score: a rank column that says otherwise changes nothing.
        var qrels = Qrels.Parse(["q 0 a 1", "q 0 b 0"]);
        var byScore = TrecRun.Parse(["q Q0 b 1 1.0 t", "q Q0 a 2 2.0 t"]);
        Assert.True(TrecEval.TryParseMetric("mrr", out var mrr));
        Assert.Equal(1.0, TrecEval.Evaluate(mrr, byScore, qrels).Mean);
    }

    [Fact]
    public async Task Evaluate_TrecEvalsOwnQrelsWithComments_EqualsItsOutput()
    {
        // trec_eval's own quick test (its Makefile): `trec_eval test/qrels.test.with-comments test/results.test`
        // prints test/out.test. The qrels there hold '#' comment lines, which trec_eval 10 skips.
        var qrels = Qrels.Parse(await File.ReadAllLinesAsync(Fixture("upstream/qrels.test.with-comments")));
        var run = await TrecRun.ReadAsync(Fixture("upstream/results.test"), CancellationToken.None);
        var oracle = ReadOracle(await File.ReadAllLinesAsync(Fixture("upstream/out.test")));
        Assert.Equal(["301", "302", "303"], qrels.QueryIds.Order(StringComparer.Ordinal));
        Assert.Equal(0, qrels.For("301")["CR#93E-1860"]); // '#' inside a line is part of its field
        var expected = new List<(string Ours, string TrecEval)> { ("map", "map"), ("mrr", "recip_rank") };
        expected.AddRange(Cuts.Select(k => ($"p@{k}", $"P_{k}")));
        foreach (var (ours, trecName) in expected)
        {
            Assert.True(TrecEval.TryParseMetric(ours, out var metric), ours);
            Assert.Equal(double.Parse(oracle[(trecName, "all")], CultureInfo.InvariantCulture), TrecEval.Evaluate(metric, run, qrels).Mean, Printed);
        }
    }

    [Fact]
    public void TrecRun_CommentLines_AreSkippedAsTrecEvalSkipsThem()
    {
        // get_trec_results.c (trec_eval 10): after any leading white space, a line starting with '#' is skipped,
        // whatever follows (six fields or not); a '#' later in a line is part of its field.
        var run = TrecRun.Parse(["# a run made by hand", "q Q0 d#1 1 2.0 t", "   # q Q0 d2 2 9.0 t", "\t#x", "q Q0 d3 3 1.0 t"]);
        Assert.Equal(["q"], run.QueryIds);
        Assert.Equal(["d#1", "d3"], run.For("q").Select(e => e.DocId));
    }

    private sealed record Expected(IReadOnlyDictionary<string, double> PerQuery, double Mean, double Tolerance, double MeanTolerance);

    /// <summary>Printed with 4 decimals: a value within half a unit of the last digit is equal.</summary>
    private const double Printed = 0.00005 + 1e-12;

    private static IEnumerable<(string Metric, Expected Expected)> Expectations(Dictionary<(string, string), string> oracle, IReadOnlyCollection<string> queries)
    {
        Expected Direct(string trecName) => new(
            queries.ToDictionary(q => q, q => double.Parse(oracle[(trecName, q)], CultureInfo.InvariantCulture)),
            double.Parse(oracle[(trecName, "all")], CultureInfo.InvariantCulture), Printed, Printed);

        yield return ("ndcg", Direct("ndcg"));
        yield return ("mrr", Direct("recip_rank"));
        yield return ("map", Direct("map"));
        foreach (var k in Cuts)
        {
            yield return ($"ndcg@{k}", Direct($"ndcg_cut_{k}"));
            yield return ($"p@{k}", Direct($"P_{k}"));
            yield return ($"recall@{k}", Direct($"recall_{k}"));

            // trec_eval has no cut reciprocal rank: it is recip_rank when the first relevant document is within k
            // (recip_rank >= 1/k), else 0. The mean is of 4-decimal values, so it is as exact as their rounding.
            var rr = Direct("recip_rank").PerQuery;
            var cut = rr.ToDictionary(p => p.Key, p => p.Value >= (1.0 / k) - Printed ? p.Value : 0.0);
            yield return ($"mrr@{k}", new Expected(cut, cut.Values.Average(), Printed, Printed * 2));
        }
    }

    /// <summary>trec_eval -q output: 'measure TAB query TAB value', query 'all' for the mean.</summary>
    private static Dictionary<(string, string), string> ReadOracle(IEnumerable<string> lines) =>
        lines.Select(l => l.Split('\t'))
            .Where(p => p.Length == 3)
            .ToDictionary(p => (p[0].Trim(), p[1].Trim()), p => p[2].Trim());
}
