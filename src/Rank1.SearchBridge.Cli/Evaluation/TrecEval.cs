using System.Globalization;

namespace Rank1.SearchBridge.Cli.Evaluation;

/// <summary>Relevance judgments: query id -> document id -> grade (TREC qrels: <c>qid 0 docid rel</c>).</summary>
internal sealed class Qrels
{
    private readonly Dictionary<string, Dictionary<string, int>> _judgments;

    private Qrels(Dictionary<string, Dictionary<string, int>> judgments) => _judgments = judgments;

    /// <summary>Query ids that have judgments.</summary>
    public IReadOnlyCollection<string> QueryIds => _judgments.Keys;

    /// <summary>The judgments of one query (empty when it has none).</summary>
    public IReadOnlyDictionary<string, int> For(string queryId) =>
        _judgments.TryGetValue(queryId, out var j) ? j : new Dictionary<string, int>();

    /// <summary>
    /// Parses TREC qrels as trec_eval reads them: four fields separated by ASCII white space, the grade its leading
    /// integer (<c>1.0</c> is 1), a line starting with <c>#</c> a comment (<see cref="TrecText.IsQrelsComment"/>). A
    /// malformed line, or a document judged twice for a topic (trec_eval refuses those: "duplicate docs"), is a
    /// <see cref="FormatException"/> naming its number.
    /// </summary>
    public static Qrels Parse(IEnumerable<string> lines)
    {
        var result = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        var firstLine = new Dictionary<(string Query, string Doc), int>();
        var n = 0;
        foreach (var line in lines)
        {
            n++;
            var parts = TrecText.IsQrelsComment(line) ? [] : TrecText.Fields(line);
            if (parts.Length == 0)
            {
                continue;
            }

            if (parts.Length != 4 || !TrecText.TryParseGrade(parts[3], out var rel))
            {
                throw new FormatException($"line {n}: expected 'qid 0 docid relevance' (TREC qrels, relevance an integer), got '{line}'");
            }

            if (!firstLine.TryAdd((parts[0], parts[2]), n))
            {
                throw new FormatException($"line {n}: document '{parts[2]}' is judged twice for topic '{parts[0]}' (first on line {firstLine[(parts[0], parts[2])]}); trec_eval refuses duplicate judgments too");
            }

            if (!result.TryGetValue(parts[0], out var q))
            {
                q = new Dictionary<string, int>(StringComparer.Ordinal);
                result[parts[0]] = q;
            }

            q[parts[2]] = rel;
        }

        return new Qrels(result);
    }
}

/// <summary>One retrieved document of a run.</summary>
internal sealed record RunEntry(string DocId, double Score);

/// <summary>
/// Metrics as trec_eval (≥ 9.0.4) computes them (relevance level 1: a grade of 1 or more is relevant; unjudged
/// documents are non-relevant). A run is first ordered as trec_eval orders it: by score descending, ties by document
/// id descending. Queries with judgments but no relevant document score 0, and a mean is over every query of the
/// qrels, a query missing from the run scoring 0 (<c>trec_eval -c</c>). Checked against trec_eval's own output in
/// tests/fixtures/trec_eval.
/// </summary>
internal static class TrecEval
{
    /// <summary>
    /// The metrics this evaluator knows, as named on the command line: <c>ndcg</c> and <c>mrr</c> with or without a
    /// cut (trec_eval <c>ndcg</c>, <c>ndcg_cut_K</c>, <c>recip_rank</c>), <c>recall@K</c>, <c>p@K</c>, <c>map</c>.
    /// </summary>
    public static bool TryParseMetric(string name, out Metric metric) => TryParseMetric(name, out metric, out _);

    /// <summary>As <see cref="TryParseMetric(string, out Metric)"/>, saying what is wrong with a name it refuses.</summary>
    /// <param name="name">The metric's name, as on the command line.</param>
    /// <param name="metric">The metric.</param>
    /// <param name="problem">Why the name is refused (a cut out of range, an unknown metric), or null.</param>
    public static bool TryParseMetric(string name, out Metric metric, out string? problem)
    {
        metric = default;
        var unknown = $"unknown metric '{name}' (use ndcg, ndcg@K, mrr, mrr@K, recall@K, p@K, map)";
        var at = name.IndexOf('@', StringComparison.Ordinal);
        var kind = at < 0 ? name : name[..at];
        int? cut = null;
        if (at >= 0)
        {
            var digits = name[(at + 1)..];
            if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
            {
                problem = unknown;
                return false;
            }

            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var c) || c == 0)
            {
                problem = $"the cut of '{name}' must be from 1 to {int.MaxValue}";
                return false;
            }

            cut = c;
        }

        MetricKind? k = kind.ToLowerInvariant() switch
        {
            "ndcg" => MetricKind.Ndcg,
            "mrr" => MetricKind.Mrr,
            "recall" => MetricKind.Recall,
            "map" => MetricKind.Map,
            "p" or "precision" => MetricKind.Precision,
            _ => null,
        };
        if (k is null || (k is MetricKind.Recall or MetricKind.Precision && cut is null) || (k == MetricKind.Map && cut is not null))
        {
            problem = unknown;
            return false;
        }

        metric = new Metric(k.Value, cut);
        problem = null;
        return true;
    }

    /// <summary>
    /// The run as trec_eval sees it: score descending, ties broken by document id descending, ids compared as
    /// trec_eval's <c>strcmp</c> compares their UTF-8 bytes (<see cref="TrecText.IdOrder"/>).
    /// </summary>
    public static IReadOnlyList<RunEntry> TrecOrder(IEnumerable<RunEntry> run) =>
        run.OrderByDescending(e => e.Score).ThenByDescending(e => e.DocId, TrecText.IdOrder).ToArray();

    /// <summary>
    /// One metric over a run as <c>trec_eval -c -q</c> reports it: a value for every query of the qrels (a query the
    /// run lacks scores 0; run queries without judgments are ignored) and their mean.
    /// </summary>
    public static MetricScores Evaluate(Metric metric, TrecRun run, Qrels qrels)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(qrels);
        var perQuery = qrels.QueryIds.Order(TrecText.IdOrder)
            .ToDictionary(q => q, q => Compute(metric, run.For(q), qrels.For(q)), StringComparer.Ordinal);
        return new MetricScores(metric, perQuery, perQuery.Count == 0 ? 0 : perQuery.Values.Average());
    }

    /// <summary>One metric for one query's run entries and judgments.</summary>
    public static double Compute(Metric metric, IEnumerable<RunEntry> run, IReadOnlyDictionary<string, int> judgments)
    {
        var ranked = TrecOrder(run);
        var numRel = judgments.Values.Count(r => r >= 1);
        switch (metric.Kind)
        {
            case MetricKind.Ndcg:
            {
                // trec_eval ndcg / ndcg_cut (m_ndcg.c): gain = grade, the gain at rank r divided by log2(r + 1). The
                // ideal ranking comes from the judgments, cut at the same depth.
                var k = metric.Cut ?? int.MaxValue;
                var dcg = ranked.Take(k).Select((e, i) => Gain(judgments, e.DocId) / Discount(i)).Sum();
                var ideal = judgments.Values.Where(g => g > 0).OrderDescending().Take(k).Select((g, i) => g / Discount(i)).Sum();
                return ideal == 0 ? 0 : dcg / ideal;
            }

            case MetricKind.Mrr:
            {
                // Uncut this is trec_eval's recip_rank; with a cut, 0 when the first relevant document is below it.
                var k = metric.Cut ?? int.MaxValue;
                for (var i = 0; i < Math.Min(k, ranked.Count); i++)
                {
                    if (Gain(judgments, ranked[i].DocId) >= 1)
                    {
                        return 1.0 / (i + 1);
                    }
                }

                return 0;
            }

            case MetricKind.Recall:
                return numRel == 0 ? 0 : (double)ranked.Take(metric.Cut!.Value).Count(e => Gain(judgments, e.DocId) >= 1) / numRel;
            case MetricKind.Precision:
                return (double)ranked.Take(metric.Cut!.Value).Count(e => Gain(judgments, e.DocId) >= 1) / metric.Cut!.Value;
            default:
            {
                if (numRel == 0)
                {
                    return 0;
                }

                var found = 0;
                var sum = 0.0;
                for (var i = 0; i < ranked.Count; i++)
                {
                    if (Gain(judgments, ranked[i].DocId) >= 1)
                    {
                        found++;
                        sum += (double)found / (i + 1);
                    }
                }

                return sum / numRel;
            }
        }
    }

    /// <summary>trec_eval's discount for the 0-based position <paramref name="i"/> (rank i + 1): log2(i + 2).</summary>
    internal static double Discount(int i) => Math.Log2(i + 2);

    private static int Gain(IReadOnlyDictionary<string, int> judgments, string docId) =>
        judgments.TryGetValue(docId, out var g) && g > 0 ? g : 0;

    /// <summary>
    /// Two-sided paired randomisation (sign-flip) test on per-query differences: the share of random sign
    /// assignments whose mean difference is at least as far from zero as the observed one. Seeded, so repeatable.
    /// </summary>
    public static double PairedRandomizationPValue(IReadOnlyList<double> a, IReadOnlyList<double> b, int permutations = 10_000, int seed = 42)
    {
        if (a.Count != b.Count)
        {
            throw new ArgumentException("The two runs must cover the same queries.", nameof(b));
        }

        if (a.Count == 0)
        {
            return 1.0;
        }

        var diffs = a.Zip(b, (x, y) => x - y).ToArray();
        var observed = Math.Abs(diffs.Average());
        if (observed == 0)
        {
            return 1.0;
        }

        var rng = new Random(seed);
        var atLeast = 0;
        for (var p = 0; p < permutations; p++)
        {
            var sum = 0.0;
            foreach (var d in diffs)
            {
                sum += rng.Next(2) == 0 ? d : -d;
            }

            if (Math.Abs(sum / diffs.Length) >= observed - 1e-12)
            {
                atLeast++;
            }
        }

        return (atLeast + 1.0) / (permutations + 1.0);
    }
}

/// <summary>A metric kind.</summary>
internal enum MetricKind
{
    /// <summary>nDCG, uncut (trec_eval ndcg) or at a cut (trec_eval ndcg_cut).</summary>
    Ndcg,

    /// <summary>Reciprocal rank of the first relevant document (trec_eval recip_rank), optionally within a cut.</summary>
    Mrr,

    /// <summary>Recall at a cut.</summary>
    Recall,

    /// <summary>Precision at a cut.</summary>
    Precision,

    /// <summary>Mean average precision over the whole run.</summary>
    Map,
}

/// <summary>A metric's value for every query of the qrels and their mean (trec_eval <c>-c -q</c>).</summary>
internal sealed record MetricScores(Metric Metric, IReadOnlyDictionary<string, double> PerQuery, double Mean);

/// <summary>A metric with its cut.</summary>
internal readonly record struct Metric(MetricKind Kind, int? Cut)
{
    /// <inheritdoc />
    public override string ToString()
    {
        var name = Kind == MetricKind.Precision ? "p" : Kind.ToString().ToLowerInvariant(); // as the command line spells it
        return Cut is { } c ? $"{name}@{c}" : name;
    }
}
