using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>One search of an <c>_msearch</c>: its header line and its body line, as sent.</summary>
internal sealed record MsearchItem(ReadOnlyMemory<byte> Header, ReadOnlyMemory<byte> Body);

/// <summary>One search of an <c>_msearch</c> once read: its header's keys, its body line as sent and that body read.</summary>
internal sealed record MsearchSearch(JsonObject Header, ReadOnlyMemory<byte> Body, JsonObject Source);

/// <summary>
/// The lines of an <c>_msearch</c> body, read by the proxy and by the embedded backend as Elasticsearch's
/// <c>MultiSearchRequest.readMultiLineFormat</c> reads them.
/// </summary>
internal static class MsearchLines
{
    // What an empty header line stands for: the search's defaults (the path's index, the msearch's parameters).
    private static readonly ReadOnlyMemory<byte> DefaultHeader = "{}"u8.ToArray();

    /// <summary>
    /// The header/body pairs: lines end at <c>\n</c>, the line after a header is its body, an empty (or blank) header
    /// line is the default header <c>{}</c>, a header with nothing after it is ignored, text after the last <c>\n</c>
    /// is a 400, and so is a body with no search. Split on bytes, so no text is altered before parsing. With
    /// <paramref name="skipLeadingNewline"/> (OpenSearch, whose <c>readMultiLineFormat</c> keeps Elasticsearch 7's
    /// "support first line with \n"), a <c>\n</c> as the body's very first byte is skipped instead of being read as an
    /// empty header.
    /// </summary>
    /// <param name="raw">The request body.</param>
    /// <param name="skipLeadingNewline">Whether a leading <c>\n</c> is skipped (OpenSearch) or is an empty header (Elasticsearch 8 and 9).</param>
    public static MsearchItem[] Split(ReadOnlyMemory<byte> raw, bool skipLeadingNewline = false) => NotEmpty([.. Lines(raw, skipLeadingNewline)]);

    /// <summary>
    /// The searches, every line read before any search runs, as Elasticsearch's <c>RestMultiSearchAction.parseRequest</c>
    /// reads them (<see cref="Split"/>'s lines, in order): so a bad header or body line anywhere fails the whole request
    /// with a 400, and no search of it runs. A header is read by <see cref="MsearchHeader.Read"/>; a body must be a JSON
    /// object (<c>SearchSourceBuilder.parseXContent</c>: <c>parsing_exception</c> "Expected [START_OBJECT] but found
    /// [START_ARRAY]", an empty line "[null]"), and JSON that does not parse is an <c>x_content_parse_exception</c>
    /// (<c>JsonXContentParser</c>'s wrapping of Jackson's errors; <c>x_content_e_o_f_exception</c> where it ends too soon).
    /// </summary>
    /// <param name="raw">The request body.</param>
    /// <param name="openSearch">Whether the lines are read as OpenSearch reads them (a leading <c>\n</c>, header keys).</param>
    public static MsearchSearch[] Read(ReadOnlyMemory<byte> raw, bool openSearch) =>
        NotEmpty([.. Lines(raw, openSearch).Select(i => new MsearchSearch(MsearchHeader.Read(i.Header.Span, openSearch), i.Body, Source(i.Body.Span)))]);

    /// <summary>
    /// A line's JSON that does not parse, as Elasticsearch answers it: <c>x_content_parse_exception</c> at its
    /// <c>[line:column]</c>, or <c>x_content_e_o_f_exception</c> when the text ends inside a value (Jackson's
    /// <c>JsonEOFException</c>, which <c>JsonXContentParser</c> turns into an <c>XContentEOFException</c>).
    /// </summary>
    /// <param name="e">System.Text.Json's error.</param>
    /// <param name="line">The line it read.</param>
    public static EsException ParseFailure(JsonException e, ReadOnlySpan<byte> line)
    {
        var column = (e.BytePositionInLine ?? 0) + 1;
        var reason = e.Message.IndexOf(" LineNumber:", StringComparison.Ordinal) is var cut and > 0 ? e.Message[..cut] : e.Message;
        var endOfText = column > line.TrimEnd(" \t\r"u8).Length;
        return new EsException(400, endOfText ? "x_content_e_o_f_exception" : "x_content_parse_exception", $"[{(e.LineNumber ?? 0) + 1}:{column}] {reason}");
    }

    private static T[] NotEmpty<T>(T[] items) =>
        items.Length > 0 ? items : throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");

    // Lazily, so that a bad line is reported before a missing final newline after it, as Elasticsearch reads them.
    private static IEnumerable<MsearchItem> Lines(ReadOnlyMemory<byte> raw, bool skipLeadingNewline)
    {
        var rest = skipLeadingNewline && raw.Span is [(byte)'\n', ..] ? raw[1..] : raw;
        while (!rest.IsEmpty)
        {
            var header = NextLine(ref rest);
            if (rest.IsEmpty)
            {
                yield break;
            }

            yield return new MsearchItem(header.Span.Trim(" \t\r"u8).IsEmpty ? DefaultHeader : header, NextLine(ref rest));
        }
    }

    // SearchSourceBuilder.parseXContent: the body's first token must start an object, before the rest is read.
    private static JsonObject Source(ReadOnlySpan<byte> line)
    {
        string? found;
        try
        {
            var reader = new Utf8JsonReader(line);
            found = line.Trim(" \t\r"u8).IsEmpty ? "null" : reader.Read() && reader.TokenType != JsonTokenType.StartObject ? RequestJson.TokenName(reader.TokenType) : null;
        }
        catch (JsonException e)
        {
            throw ParseFailure(e, line);
        }

        if (found is not null)
        {
            throw EsException.Parsing($"Expected [START_OBJECT] but found [{found}]");
        }

        try
        {
            return (JsonObject)RequestJson.Parse(line)!;
        }
        catch (JsonException e)
        {
            throw ParseFailure(e, line);
        }
    }

    private static ReadOnlyMemory<byte> NextLine(ref ReadOnlyMemory<byte> rest)
    {
        var end = rest.Span.IndexOf((byte)'\n');
        if (end < 0)
        {
            throw EsException.IllegalArgument("The msearch request must be terminated by a newline [\\n]");
        }

        var line = rest[..end];
        rest = rest[(end + 1)..];
        return line;
    }
}
