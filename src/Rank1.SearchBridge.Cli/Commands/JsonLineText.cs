using System.Text.Json;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>The text of a string field of a JSON Lines input (passages, topics), or a one-line bad input naming the file and line.</summary>
internal static class JsonLineText
{
    /// <summary>How a line is parsed: a field given twice is an error, as the rerank service refuses it, not one of the two values picked.</summary>
    public static JsonDocumentOptions Strict { get; } = new() { AllowDuplicateProperties = false };

    /// <summary>
    /// A line of <c>FILE</c> (<paramref name="where"/>, which names its file and line) that does not parse, as a one-line
    /// bad input. System.Text.Json ends its message with the position in what it parsed, the one line:
    /// <c>LineNumber: 0 | BytePositionInLine: 22.</c>, which next to the file's line (<c>line 2: ... LineNumber: 0</c>)
    /// reads as a contradiction; it is said as the byte of the line instead, counted from 1 as <see cref="Utf8Lines"/>
    /// names a byte that is not UTF-8.
    /// </summary>
    /// <param name="where">The file and line.</param>
    /// <param name="error">The parser's error.</param>
    public static CliException NotValidJson(string where, JsonException error)
    {
        var cut = error.Message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return cut > 0 && error.BytePositionInLine is { } at
            ? new CliException($"{where}: not valid JSON at byte {at + 1} of the line ({error.Message[..cut]})", ExitCodes.BadInput)
            : new CliException($"{where}: not valid JSON ({error.Message})", ExitCodes.BadInput);
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
