using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// JSON text whose <c>\uXXXX</c> escapes name half a UTF-16 surrogate pair (<c>"\ud83d"</c>: an emoji cut in two).
/// Elasticsearch's parser (Jackson) reads them, and so can documents it returns; System.Text.Json cannot make a
/// string of one (InvalidOperationException). Where the product needs the text, each lone surrogate is U+FFFD, as
/// Lucene's <c>UnicodeUtil.UTF16toUTF8</c> turns it into U+FFFD when it makes terms of it.
/// </summary>
internal static class LoneSurrogates
{
    /// <summary>
    /// A backend's answer (a search's hits, an msearch item) read with each lone surrogate escape as U+FFFD, and each
    /// byte sequence that is not UTF-8 as U+FFFD (as <see cref="System.Text.Encoding.UTF8"/> decodes it): one such
    /// document must not make the answer unreadable (a 500) when the proxy reads its passages or writes it again.
    /// System.Text.Json checks a string's UTF-8 only when it is read, so such bytes in a string once passed the parse
    /// and failed the search where its passage was read. A key an object holds twice is read once, its last value
    /// (<see cref="AnswerJson.ParseKeysOnce"/>).
    /// </summary>
    /// <param name="json">The answer's UTF-8 JSON text.</param>
    public static JsonNode? ParseAnswer(byte[] json)
    {
        var utf8 = System.Text.Unicode.Utf8.IsValid(json) ? json : System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(json));
        return AnswerJson.ParseKeysOnce(Replaced(utf8) ?? utf8);
    }

    /// <summary>
    /// A copy of <paramref name="json"/> with every lone surrogate escape replaced by <c>\uFFFD</c> (the same six
    /// bytes long, so positions in error reasons stay true), or null when it holds none. Escapes are read in order, so
    /// an escaped backslash (<c>\\ud800</c>, a backslash then text) is not one; outside strings a backslash is not JSON
    /// and the parser refuses it anyway.
    /// </summary>
    /// <param name="json">UTF-8 JSON text.</param>
    public static byte[]? Replaced(ReadOnlySpan<byte> json)
    {
        var first = json.IndexOf((byte)'\\');
        if (first < 0)
        {
            return null;
        }

        byte[]? copy = null;
        for (var i = first; i < json.Length - 1; i++)
        {
            if (json[i] != (byte)'\\')
            {
                continue;
            }

            if (json[i + 1] != (byte)'u' || Unit(json, i) is not { } unit || !char.IsSurrogate(unit))
            {
                i++; // the escaped character: \\ is one escape, not the start of the next
                continue;
            }

            if (char.IsHighSurrogate(unit) && Unit(json, i + 6) is { } low && char.IsLowSurrogate(low))
            {
                i += 11; // a whole pair
                continue;
            }

            copy ??= json.ToArray();
            "\\uFFFD"u8.CopyTo(copy.AsSpan(i));
            i += 5;
        }

        return copy;
    }

    /// <summary>The UTF-16 unit of the <c>\uXXXX</c> escape at <c>json[at]</c>, or null when there is none there.</summary>
    internal static char? Unit(ReadOnlySpan<byte> json, int at)
    {
        if (at + 6 > json.Length || json[at] != (byte)'\\' || json[at + 1] != (byte)'u')
        {
            return null;
        }

        var value = 0;
        foreach (var b in json.Slice(at + 2, 4))
        {
            var digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return null;
            }

            value = (value << 4) | digit;
        }

        return (char)value;
    }
}
