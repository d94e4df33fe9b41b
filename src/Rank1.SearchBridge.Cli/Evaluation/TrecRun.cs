using System.Globalization;

namespace Rank1.SearchBridge.Cli.Evaluation;

/// <summary>
/// A TREC run (<c>qid Q0 docno rank score tag</c>) read the way trec_eval reads it: fields separated by ASCII white
/// space (<see cref="TrecText"/>), fields after the sixth ignored, the rank column ignored (the order is the score's, see
/// <see cref="TrecEval.TrecOrder"/>).
/// </summary>
internal sealed class TrecRun
{
    private readonly Dictionary<string, List<RunEntry>> _queries;

    private TrecRun(Dictionary<string, List<RunEntry>> queries) => _queries = queries;

    /// <summary>Query ids the run retrieved something for.</summary>
    public IReadOnlyCollection<string> QueryIds => _queries.Keys;

    /// <summary>The documents retrieved for one query, in file order (empty when the run lacks it).</summary>
    public IReadOnlyList<RunEntry> For(string queryId) => _queries.TryGetValue(queryId, out var e) ? e : [];

    /// <summary>
    /// Parses a run. A line whose first character after any white space is <c>#</c> is a comment
    /// (<see cref="TrecText.IsRunComment"/>). A line with fewer than six fields, with a score that is not a number, or
    /// repeating a document of its query (trec_eval refuses duplicates too) is a <see cref="FormatException"/> naming
    /// its number.
    /// </summary>
    public static TrecRun Parse(IEnumerable<string> lines)
    {
        var queries = new Dictionary<string, List<RunEntry>>(StringComparer.Ordinal);
        var seen = new HashSet<(string, string)>();
        var n = 0;
        foreach (var line in lines)
        {
            n++;
            var p = TrecText.IsRunComment(line) ? [] : TrecText.Fields(line);
            if (p.Length == 0)
            {
                continue;
            }

            if (p.Length < 6 || !double.TryParse(p[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var score) || !double.IsFinite(score))
            {
                throw new FormatException($"line {n}: expected 'qid Q0 docno rank score tag' (TREC run, score a number), got '{line}'");
            }

            if (!seen.Add((p[0], p[2])))
            {
                throw new FormatException($"line {n}: document '{p[2]}' appears twice for query '{p[0]}'");
            }

            if (!queries.TryGetValue(p[0], out var list))
            {
                list = [];
                queries[p[0]] = list;
            }

            list.Add(new RunEntry(p[2], score));
        }

        return new TrecRun(queries);
    }

    /// <summary>Reads a run file; a malformed line (or one that is not UTF-8) is a <see cref="FormatException"/> naming the file and line.</summary>
    public static async Task<TrecRun> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return Parse(await TrecText.ReadLinesAsync(path, cancellationToken).ConfigureAwait(false));
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{path}: {ex.Message}", ex);
        }
    }
}
