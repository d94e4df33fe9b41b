using Rank1.SearchBridge.Cli.Evaluation;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>Hand-computed values of trec_eval's definitions.</summary>
public sealed class TrecEvalTests
{
    // q1: d1 grade 2, d2 grade 1, d5 grade 1 (never retrieved), d3 judged not relevant; d4 unjudged.
    private static readonly Qrels Judgments = Qrels.Parse([
        "q1 0 d1 2", "q1 0 d2 1", "q1 0 d3 0", "q1 0 d5 1",
        "q2 0 x1 0", "q2 0 x2 0",
    ]);

    // d1 and d4 tie at 2.0: trec_eval breaks ties by document id descending, so d4 ranks before d1.
    private static readonly RunEntry[] Run = [new("d1", 2.0), new("d3", 3.0), new("d2", 1.0), new("d4", 2.0)];

    private static double M(string metric, IEnumerable<RunEntry> run, string query = "q1")
    {
        Assert.True(TrecEval.TryParseMetric(metric, out var m), metric);
        return TrecEval.Compute(m, run, Judgments.For(query));
    }

    [Fact]
    public void TrecOrder_ScoreDescendingThenDocIdDescending() =>
        Assert.Equal(["d3", "d4", "d1", "d2"], TrecEval.TrecOrder(Run).Select(e => e.DocId));

    [Fact]
    public void Ndcg_GainIsTheGradeDividedByLog2OfRankPlusOne()
    {
        // DCG = 0 + 0 + 2/log2(4) + 1/log2(5) = 1.430677; ideal = 2/log2(2) + 1/log2(3) + 1/log2(4) = 3.130930.
        Assert.Equal(0.456949, M("ndcg@10", Run), 6);
        Assert.Equal(0.456949, M("ndcg", Run), 6); // uncut: the whole run, all four documents are within 10
        Assert.Equal(0.0, M("ndcg@2", Run), 12);
        // Were ties broken the other way (d1 before d4) the value would be 0.540586: the order matters.
        Assert.NotEqual(0.540586, M("ndcg@10", Run), 6);
    }

    [Fact]
    public void Mrr_RecallAndMap()
    {
        Assert.Equal(1.0 / 3, M("mrr@10", Run), 12);
        Assert.Equal(1.0 / 3, M("mrr", Run), 12);
        Assert.Equal(0.0, M("mrr@2", Run), 12);
        Assert.Equal(0.0, M("recall@2", Run), 12);
        Assert.Equal(1.0 / 3, M("recall@3", Run), 12);
        Assert.Equal(2.0 / 3, M("recall@100", Run), 12); // d5 is relevant but never retrieved
        Assert.Equal(((1.0 / 3) + (2.0 / 4)) / 3, M("map", Run), 12); // divided by all 3 relevant, unjudged d4 non-relevant
        Assert.Equal(0.5, M("p@4", Run), 12); // d1 and d2 in the top 4
    }

    [Fact]
    public void QueryWithNoRelevantDocument_ScoresZeroEverywhere()
    {
        RunEntry[] run = [new("x1", 1), new("x2", 0.5)];
        foreach (var metric in new[] { "ndcg@10", "mrr@10", "recall@100", "map" })
        {
            Assert.Equal(0.0, M(metric, run, "q2"));
        }
    }

    [Fact]
    public void PerfectRun_ScoresOne()
    {
        RunEntry[] run = [new("d1", 3), new("d2", 2), new("d5", 1)];
        Assert.Equal(1.0, M("ndcg@10", run), 12);
        Assert.Equal(1.0, M("map", run), 12);
        Assert.Equal(1.0, M("recall@3", run), 12);
    }

    [Theory]
    [InlineData("recall")]
    [InlineData("p")]
    [InlineData("map@10")]
    [InlineData("ndcg@0")]
    [InlineData("mrr@x")]
    [InlineData("bpref")]
    public void TryParseMetric_RejectsUnknownOrUncut(string name) => Assert.False(TrecEval.TryParseMetric(name, out _));

    [Fact]
    public void Qrels_BadLine_NamesIt()
    {
        var ex = Assert.Throws<FormatException>(() => Qrels.Parse(["q1 0 d1 1", "q1 d2 1"]));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrecRun_AnyWhitespace_RankColumnIgnored()
    {
        var run = TrecRun.Parse(["q1\tQ0\td1\t9\t2.5\tx", "q1  Q0 d2 1   -1e-1 x", "", "q2 Q0 d1 1 3 x"]);
        Assert.Equal(["q1", "q2"], run.QueryIds.Order(StringComparer.Ordinal));
        Assert.Equal([new RunEntry("d1", 2.5), new RunEntry("d2", -0.1)], run.For("q1"));
        Assert.Empty(run.For("q3"));
    }

    [Theory]
    [InlineData("q1 Q0 d2 2 1.0", "line 2: expected 'qid Q0 docno rank score tag'")]
    [InlineData("q1 Q0 d2 2 high x", "line 2: expected 'qid Q0 docno rank score tag'")]
    // A score that is not a number trec_eval and this tool both read the same way is refused: the message says which numbers are taken.
    [InlineData("q1 Q0 d2 2 nan x", "line 2: expected 'qid Q0 docno rank score tag' (TREC run, score a decimal number, inf or -inf), got 'q1 Q0 d2 2 nan x'")]
    [InlineData("q1 Q0 d2 2 0x1p3 x", "line 2: expected 'qid Q0 docno rank score tag' (TREC run, score a decimal number, inf or -inf), got 'q1 Q0 d2 2 0x1p3 x'")]
    [InlineData("q1 Q0 d2 2 \u221E x", "line 2: expected 'qid Q0 docno rank score tag' (TREC run, score a decimal number, inf or -inf), got 'q1 Q0 d2 2 \u221E x'")]
    [InlineData("q1 Q0 d2 2 -infinite x", "line 2: expected 'qid Q0 docno rank score tag' (TREC run, score a decimal number, inf or -inf), got 'q1 Q0 d2 2 -infinite x'")]
    [InlineData("q1 Q0 d1 2 0.5 x", "line 2: document 'd1' appears twice for query 'q1'")]
    public void TrecRun_BadLine_NamesIt(string line, string message)
    {
        var ex = Assert.Throws<FormatException>(() => TrecRun.Parse(["q1 Q0 d1 1 1.0 x", line]).RequireNoRepeats(["q1"]));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Randomization_IdenticalRunsAreNotSignificant_AConsistentGainIs()
    {
        double[] a = [0.5, 0.6, 0.7, 0.4, 0.55, 0.65, 0.45, 0.5, 0.6, 0.7, 0.5, 0.6];
        Assert.Equal(1.0, TrecEval.PairedRandomizationPValue(a, a));
        var better = a.Select(x => x + 0.1).ToArray();
        // Every one of 12 queries improves: only the all-positive and all-negative sign patterns are as extreme,
        // so p is about 2 / 2^12.
        Assert.InRange(TrecEval.PairedRandomizationPValue(better, a), 0.0, 0.002);
        double[] mixed = [0.6, 0.5, 0.8, 0.3, 0.6, 0.6, 0.5, 0.4, 0.7, 0.6, 0.5, 0.7];
        Assert.True(TrecEval.PairedRandomizationPValue(mixed, a) > 0.3);
        Assert.Equal(TrecEval.PairedRandomizationPValue(mixed, a), TrecEval.PairedRandomizationPValue(mixed, a)); // seeded
    }
}
