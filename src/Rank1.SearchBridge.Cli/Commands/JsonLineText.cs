using System.Text.Json;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>The text of a string field of a JSON Lines input (passages, topics), or a one-line bad input naming the file and line.</summary>
internal static class JsonLineText
{
    /// <summary>How a line is parsed: a field given twice is an error, as the rerank service refuses it, not one of the two values picked.</summary>
    public static JsonDocumentOptions Strict { get; } = new() { AllowDuplicateProperties = false };

    /// <summary>
    /// A line of <paramref name="file"/> (<paramref name="where"/>, which names its file and line) that does not parse, as
    /// a one-line bad input. System.Text.Json ends its message with the position in what it parsed, the one line:
    /// <c>LineNumber: 0 | BytePositionInLine: 22.</c>, which next to the file's line (<c>line 2: ... LineNumber: 0</c>)
    /// reads as a contradiction; it is said as the byte of the line instead, by the one rule <see cref="Utf8Lines"/>
    /// names a byte that is not UTF-8 by: counted from 1 in UTF-8 bytes (not characters) of the line as the file holds
    /// it, so the first line's count includes the file's byte order mark, and a line parsed trimmed
    /// (<paramref name="leadingBytes"/>: the bytes of white space cut from its start) counts them too.
    /// </summary>
    /// <param name="where">The file and line.</param>
    /// <param name="error">The parser's error.</param>
    /// <param name="file">The file, to find a byte order mark before its first line.</param>
    /// <param name="lineNumber">The line's number, from 1.</param>
    /// <param name="leadingBytes">The UTF-8 bytes of the file's line before the text that was parsed.</param>
    public static CliException NotValidJson(string where, JsonException error, string file, int lineNumber, int leadingBytes = 0)
    {
        var cut = error.Message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut <= 0 || error.BytePositionInLine is not { } at)
        {
            return new CliException($"{where}: not valid JSON ({error.Message})", ExitCodes.BadInput);
        }

        var before = leadingBytes + (lineNumber == 1 ? Utf8Lines.ByteOrderMarkLength(file) : 0);
        return new CliException($"{where}: not valid JSON at byte {before + at + 1} of the line ({error.Message[..cut]})", ExitCodes.BadInput);
    }

    /// <summary>
    /// <paramref name="value"/>'s string. JSON may escape a lone UTF-16 surrogate (<c>"\ud83d"</c>: half an emoji),
    /// which .NET cannot turn into a string (an InvalidOperationException, an unhandled stack trace before): it is a bad
    /// input naming <paramref name="where"/> (<c>FILE:LINE</c>) and <paramref name="field"/>, as the rerank service
    /// refuses it in a request.
    /// </summary>
    /// <param name="value">A string element.</param>
    /// <param name="where">The file and line, <c>FILE:LINE</c>.</param>
    /// <param name="field">The field's name.</param>
    public static string Of(JsonElement value, string where, string field)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new CliException($"{where}: \"{field}\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)", ExitCodes.BadInput);
        }
    }
}
