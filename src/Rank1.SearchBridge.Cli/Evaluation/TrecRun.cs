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

    // Each query's first repeated document, as the error that names it.
    private readonly Dictionary<string, string> _repeats;

    private TrecRun(Dictionary<string, List<RunEntry>> queries, Dictionary<string, string> repeats) => (_queries, _repeats) = (queries, repeats);

    /// <summary>Query ids the run retrieved something for.</summary>
    public IReadOnlyCollection<string> QueryIds => _queries.Keys;

    /// <summary>The documents retrieved for one query, in file order (empty when the run lacks it).</summary>
    public IReadOnlyList<RunEntry> For(string queryId) => _queries.TryGetValue(queryId, out var e) ? e : [];

    /// <summary>
    /// The run may be scored on <paramref name="queryIds"/>: none of them lists a document twice. trec_eval refuses a
    /// run that repeats a document of a query it evaluates ("duplicate docs", form_res_rels.c) and never looks at the
    /// others, so a repeat in a query without judgments is no error. Otherwise a <see cref="FormatException"/> naming
    /// the line.
    /// </summary>
    /// <param name="queryIds">The queries that are scored.</param>
    public void RequireNoRepeats(IEnumerable<string> queryIds)
    {
        foreach (var q in queryIds)
        {
            if (_repeats.TryGetValue(q, out var error))
            {
                throw new FormatException(error);
            }
        }
    }

    /// <summary>
    /// Parses a run. A line whose first character after any white space is <c>#</c> is a comment
    /// (<see cref="TrecText.IsRunComment"/>). A line with fewer than six fields, or with a score that is not a number,
    /// is a <see cref="FormatException"/> naming its number; a document that a query lists twice is an error only for
    /// a query that is scored (<see cref="RequireNoRepeats"/>).
    /// </summary>
    public static TrecRun Parse(IEnumerable<string> lines) => Parse(lines, string.Empty);

    private static TrecRun Parse(IEnumerable<string> lines, string source)
    {
        var queries = new Dictionary<string, List<RunEntry>>(StringComparer.Ordinal);
        var repeats = new Dictionary<string, string>(StringComparer.Ordinal);
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

            if (p.Length < 6 || Score(p[4]) is not { } score)
            {
                throw new FormatException($"line {n}: expected 'qid Q0 docno rank score tag' (TREC run, score a decimal number, inf or -inf), got '{line}'");
            }

            if (!seen.Add((p[0], p[2])))
            {
                repeats.TryAdd(p[0], $"{source}line {n}: document '{p[2]}' appears twice for query '{p[0]}'");
                continue;
            }

            if (!queries.TryGetValue(p[0], out var list))
            {
                list = [];
                queries[p[0]] = list;
            }

            list.Add(new RunEntry(p[2], score));
        }

        return new TrecRun(queries, repeats);
    }

    /// <summary>Reads a run file; a malformed line (or one that is not UTF-8) is a <see cref="FormatException"/> naming the file and line.</summary>
    public static async Task<TrecRun> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return Parse(await TrecText.ReadLinesAsync(path, cancellationToken).ConfigureAwait(false), $"{path}: ");
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A score as trec_eval reads it with <c>atof</c> (get_trec_results.c), where both are numbers: a decimal number,
    /// one past double's range (<c>1e400</c>: strtod's HUGE_VAL) and <c>inf</c> or <c>infinity</c> in any case, signed,
    /// as infinities (trec_eval ranks them first and last, ties by docno). Null for anything else: NaN (trec_eval's sort
    /// has no order for it), C99 hex floats, and text that atof would read as 0 or by its leading digits.
    /// </summary>
    private static double? Score(string field)
    {
        var unsigned = field.StartsWith('+') || field.StartsWith('-') ? field[1..] : field;
        if (unsigned.Equals("inf", StringComparison.OrdinalIgnoreCase) || unsigned.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            return field.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
        }

        // .NET's own infinity symbols (∞) and NaN are not strtod's numbers: a decimal number has a digit.
        return double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var score) && !double.IsNaN(score) && unsigned.Any(char.IsAsciiDigit)
            ? score
            : null;
    }
}
