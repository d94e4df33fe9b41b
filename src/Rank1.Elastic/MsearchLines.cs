namespace Rank1.Elastic;

/// <summary>One search of an <c>_msearch</c>: its header line and its body line, as sent.</summary>
internal sealed record MsearchItem(ReadOnlyMemory<byte> Header, ReadOnlyMemory<byte> Body);

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
    public static MsearchItem[] Split(ReadOnlyMemory<byte> raw, bool skipLeadingNewline = false)
    {
        var items = new List<MsearchItem>();
        var rest = skipLeadingNewline && raw.Span is [(byte)'\n', ..] ? raw[1..] : raw;
        while (!rest.IsEmpty)
        {
            var header = NextLine(ref rest);
            if (rest.IsEmpty)
            {
                break;
            }

            items.Add(new MsearchItem(header.Span.Trim(" \t\r"u8).IsEmpty ? DefaultHeader : header, NextLine(ref rest)));
        }

        return items.Count > 0 ? [.. items] : throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
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
