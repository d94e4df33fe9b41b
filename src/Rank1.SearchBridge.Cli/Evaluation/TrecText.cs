using System.Globalization;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Evaluation;

/// <summary>
/// How trec_eval reads its text files, in one place for the runs, the qrels and the topics: lines of UTF-8 (checked,
/// where trec_eval compares bytes: two different invalid byte sequences must not become the same U+FFFD id), fields
/// separated by ASCII white space only (C's <c>isspace</c>), ids ordered by their bytes (<c>strcmp</c>), grades read
/// as their leading integer (<c>atol</c>).
/// </summary>
internal static class TrecText
{
    /// <summary>C's <c>isspace</c> in the C locale: space, tab, line feed, vertical tab, form feed, carriage return.</summary>
    private static readonly char[] Separators = [' ', '\t', '\n', '\v', '\f', '\r'];

    /// <summary>
    /// Ids in trec_eval's order: <c>strcmp</c> on their UTF-8 bytes, which is Unicode code point order (not
    /// <see cref="StringComparer.Ordinal"/>'s UTF-16 code units, which put U+FF21 after U+1F600).
    /// </summary>
    public static IComparer<string> IdOrder { get; } = Comparer<string>.Create(CompareCodePoints);

    /// <summary>True for the characters that separate fields (C's <c>isspace</c>).</summary>
    /// <param name="c">The character.</param>
    public static bool IsSeparator(char c) => Array.IndexOf(Separators, c) >= 0;

    /// <summary>
    /// True for a comment line of a run, as trec_eval 10 reads runs (get_trec_results.c): its first character after
    /// any white space is <c>#</c>. Such a line is skipped, whatever follows.
    /// </summary>
    /// <param name="line">The line.</param>
    public static bool IsRunComment(string line) => line.TrimStart(Separators).StartsWith('#');

    /// <summary>
    /// True for a comment line of qrels: its first character is <c>#</c> (an indented <c>#</c> starts a topic id, as in
    /// trec_eval 10's get_qrels.c). Every such line is a comment here; get_qrels.c skips one only when the line before
    /// it was not one too (it reads the next as a judgement, or refuses it as malformed), and refuses a blank line,
    /// which is skipped here: more lenient, the same scores for a file both accept.
    /// </summary>
    /// <param name="line">The line.</param>
    public static bool IsQrelsComment(string line) => line.StartsWith('#');

    /// <summary>
    /// A document id as a run file can hold it: each white-space character percent-encoded (<c>"a b"</c> is
    /// <c>a%20b</c>), every other character as it is. Written raw, <c>q1 Q0 a b 1 2 bm25</c> is document <c>a</c> to
    /// trec_eval (and to this tool reading the run again). Qrels cannot judge an id with white space either, so the
    /// encoded id is never relevant: it keeps its rank, as a document not judged.
    /// </summary>
    /// <param name="id">The cluster's <c>_id</c>.</param>
    public static string RunDocId(string id) => id.AsSpan().IndexOfAny(Separators) < 0
        ? id
        : string.Concat(id.Select(c => IsSeparator(c) ? $"%{(int)c:X2}" : c.ToString()));

    /// <summary>A line's fields, split on ASCII white space as trec_eval splits them (a no-break space is part of an id).</summary>
    /// <param name="line">The line.</param>
    public static string[] Fields(string line) => line.Split(Separators, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// A file's lines as <see cref="Utf8Lines.ReadAsync"/> reads them (a line at a time: the file's bytes are not held
    /// besides its lines). Bytes that are not UTF-8 are a <see cref="FormatException"/> naming the line and the byte, and
    /// so is a line longer than <see cref="Utf8Lines.MaxLineBytes"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<string[]> ReadLinesAsync(string path, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        await foreach (var line in Utf8Lines.ReadAsync(path, Invalid, cancellationToken).ConfigureAwait(false))
        {
            lines.Add(line);
        }

        return [.. lines];

        static FormatException Invalid(int line, string reason) => new(reason.StartsWith(Utf8Lines.NotUtf8, StringComparison.Ordinal)
            ? $"line {line}: {reason}: ids are compared as trec_eval compares them, byte for byte, so they are read as UTF-8 or refused"
            : $"line {line}: {reason}");
    }

    /// <summary>
    /// A grade as trec_eval's <c>atol</c> reads it: its leading integer (<c>1.0</c> is 1, <c>2abc</c> is 2). Unlike
    /// <c>atol</c>, which makes it 0, a grade without one is refused (false).
    /// </summary>
    /// <param name="text">The grade field.</param>
    /// <param name="grade">The grade.</param>
    public static bool TryParseGrade(string text, out int grade)
    {
        var digits = text.Length > 0 && text[0] is '+' or '-' ? 1 : 0;
        var end = digits;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        grade = 0;
        return end > digits && int.TryParse(text.AsSpan(0, end), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out grade);
    }

    private static int CompareCodePoints(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        var n = Math.Min(x.Length, y.Length);
        for (var i = 0; i < n; i++)
        {
            if (x[i] != y[i])
            {
                return CodePointRank(x[i]) - CodePointRank(y[i]);
            }
        }

        return x.Length - y.Length;
    }

    /// <summary>
    /// A UTF-16 code unit moved so that code units compare in code point order: surrogates (the code points above
    /// U+FFFF) after U+E000–U+FFFF, which move down to make room.
    /// </summary>
    private static int CodePointRank(char c) => c < 0xD800 ? c : c >= 0xE000 ? c - 0x800 : c + 0x2000;
}
