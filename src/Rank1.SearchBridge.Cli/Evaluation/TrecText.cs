using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

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

    /// <summary>A line's fields, split on ASCII white space as trec_eval splits them (a no-break space is part of an id).</summary>
    /// <param name="line">The line.</param>
    public static string[] Fields(string line) => line.Split(Separators, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// A file's lines, split at line feeds (a carriage return before one is dropped, a leading byte order mark too).
    /// Bytes that are not UTF-8 are a <see cref="FormatException"/> naming the line and the byte.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<string[]> ReadLinesAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        ReadOnlyMemory<byte> rest = bytes;
        if (rest.Span.StartsWith(Encoding.UTF8.Preamble))
        {
            rest = rest[Encoding.UTF8.Preamble.Length..];
        }

        var lines = new List<string>();
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
            if (line.Span.EndsWith("\r"u8))
            {
                line = line[..^1];
            }

            lines.Add(Decode(line.Span, lines.Count + 1));
        }

        return [.. lines];
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

    private static string Decode(ReadOnlySpan<byte> line, int number)
    {
        var chars = new char[line.Length]; // UTF-8 never takes fewer bytes than UTF-16 takes code units
        if (Utf8.ToUtf16(line, chars, out var read, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            throw new FormatException($"line {number}: not valid UTF-8 (byte 0x{line[read]:X2}, byte {read + 1} of the line): ids are compared as trec_eval compares them, byte for byte, so they are read as UTF-8 or refused");
        }

        return new string(chars, 0, written);
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
