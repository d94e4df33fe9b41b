using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>One search of an <c>_msearch</c>: its header line and its body line, as sent.</summary>
internal sealed record MsearchItem(ReadOnlyMemory<byte> Header, ReadOnlyMemory<byte> Body);

/// <summary>
/// One search of an <c>_msearch</c> once read: its header's keys, its body line as sent up to its object's end (what
/// follows it on the line, nothing but whitespace or comments in front of Elasticsearch, is not sent on) and that body read.
/// </summary>
internal sealed record MsearchSearch(JsonObject Header, ReadOnlyMemory<byte> Body, JsonObject Source);

/// <summary>
/// The lines of an <c>_msearch</c> body, read by the proxy and by the embedded backend as Elasticsearch's
/// <c>MultiSearchRequest.readMultiLineFormat</c> reads them.
/// </summary>
internal static class MsearchLines
{
    /// <summary>
    /// An msearch's <c>max_concurrent_searches</c> parameter as Elasticsearch reads it (<c>RestMultiSearchAction</c> and
    /// <c>RestMultiSearchTemplateAction</c>: <c>paramAsInt</c>, then <c>MultiSearchRequest.maxConcurrentSearchRequests</c>),
    /// or null when absent: not an int is "Failed to parse int parameter [max_concurrent_searches] with value [x]", one
    /// below 1 "maxConcurrentSearchRequests must be positive", both a 400 <c>illegal_argument_exception</c>.
    /// </summary>
    /// <param name="value">The parameter's value, or null when absent.</param>
    public static int? MaxConcurrentSearches(string? value) =>
        XContentInt.Param("max_concurrent_searches", value) is not { } n ? null
            : n >= 1 ? n : throw EsException.IllegalArgument("maxConcurrentSearchRequests must be positive");

    // What an empty header line stands for: the search's defaults (the path's index, the msearch's parameters).
    private static readonly ReadOnlyMemory<byte> DefaultHeader = "{}"u8.ToArray();

    /// <summary>
    /// The header/body pairs: lines end at <c>\n</c>, the line after a header is its body, an empty (or blank) header
    /// line is the default header <c>{}</c>, a header with nothing after it is ignored, text after the last <c>\n</c>
    /// is a 400, and so is a body with no search. Split on bytes, so no text is altered before parsing. With
    /// <paramref name="skipLeadingNewline"/> (OpenSearch, whose <c>readMultiLineFormat</c> keeps Elasticsearch 7's
    /// "support first line with \n"), a <c>\n</c> as the body's very first byte is skipped instead of being read as an
    /// empty header. The framing alone, as <see cref="Read{T}"/> reads it line by line: tests check it here, apart from
    /// the reading of headers and bodies.
    /// </summary>
    /// <param name="raw">The request body.</param>
    /// <param name="skipLeadingNewline">Whether a leading <c>\n</c> is skipped (OpenSearch) or is an empty header (Elasticsearch 8 and 9).</param>
    public static MsearchItem[] Split(ReadOnlyMemory<byte> raw, bool skipLeadingNewline = false) => NotEmpty([.. Lines(raw, skipLeadingNewline)]);

    /// <summary>
    /// The searches, every line read before any search runs, as Elasticsearch's <c>RestMultiSearchAction.parseRequest</c>
    /// reads them (<see cref="Split"/>'s lines, in order): so a bad header or body line anywhere fails the whole request
    /// with a 400, and no search of it runs. A header is read by <see cref="MsearchHeader.Read"/>, a body by
    /// <see cref="SearchBody.Read"/> (an empty line: <c>parsing_exception</c> "Expected [START_OBJECT] but found [null]").
    /// Each search is also read by <paramref name="parse"/> before the next line is: what the caller refuses while
    /// reading a body (as <c>SearchSourceBuilder.parseXContent</c> refuses an unknown key or a negative <c>from</c>)
    /// fails the whole request, ahead of any bad line after it, as in Elasticsearch.
    /// </summary>
    /// <typeparam name="T">What the caller makes of a search.</typeparam>
    /// <param name="raw">The request body.</param>
    /// <param name="openSearch">Whether the lines are read as OpenSearch reads them (a leading <c>\n</c>, header keys).</param>
    /// <param name="parse">Reads one search; an <see cref="EsException"/> it throws is the whole request's error.</param>
    public static T[] Read<T>(ReadOnlyMemory<byte> raw, bool openSearch, Func<MsearchSearch, T> parse) =>
        NotEmpty([.. Lines(raw, openSearch).Select(i =>
        {
            var header = MsearchHeader.Read(i.Header.Span, openSearch);
            var source = SearchBody.ReadObject(i.Body.Span, checkTrailingTokens: false, out var length);
            // Sent on as far as it was read: a token after the object would be refused by the _search it goes to.
            var search = parse(new MsearchSearch(header, i.Body[..length], source));
            if (!openSearch)
            {
                // After the search source is read, as Elasticsearch's consumer reads it before it looks further.
                ThrowIfAnythingAfter(i.Body.Span, length);
            }

            return search;
        })]);

    /// <summary>
    /// Elasticsearch reads on past a line's object (<c>MultiSearchRequest.readMultiLineFormat</c>: <c>parser.nextToken()</c>
    /// after the header's <c>map()</c> and after the body's search source; its <c>MultiSearchRequestTests.testFailOnExtraCharacters</c>):
    /// a token there fails the whole msearch with <c>x_content_parse_exception</c> "[1:30] Unexpected token after end of object",
    /// at the token; text there that is no token, with the parser's own error. OpenSearch reads no further than the object.
    /// </summary>
    /// <param name="line">The header or body line.</param>
    /// <param name="end">Where its object ends.</param>
    public static void ThrowIfAnythingAfter(ReadOnlySpan<byte> line, int end)
    {
        line = RequestJson.ByteOrderMarkAsSpaces(line);
        var reader = new Utf8JsonReader(line[end..], RequestJson.ReaderOptions with { AllowMultipleValues = true });
        try
        {
            if (!reader.Read())
            {
                return;
            }
        }
        catch (JsonException)
        {
            try
            {
                RequestJson.Parse(line);
            }
            catch (JsonException e)
            {
                throw RequestJson.ParseFailure(e, line);
            }
        }

        throw new EsException(400, "x_content_parse_exception", $"{RequestJson.Location(line, end + reader.TokenStartIndex)} Unexpected token after end of object");
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
