namespace Rank1.Elastic;

/// <summary>
/// The URL parameters of a request as Elasticsearch decodes them before any handler runs (<c>RestUtils.decodeQueryString</c>,
/// when <c>RestRequest</c> is made): a malformed percent escape in a name or value is a 400 <c>bad_parameter_exception</c>
/// for the whole request, whatever its path. ASP.NET Core keeps such an escape as text (<c>?q=%</c> searched for
/// <c>%</c>), and reads <c>%%</c>, <c>;</c> and a repeated name otherwise, so the proxy and the embedded backend read
/// the raw query string themselves (<see cref="Decode"/>).
/// </summary>
internal static class UrlParameters
{
    /// <summary>
    /// The parameters of <paramref name="queryString"/> (the raw query string, with or without its <c>?</c>) as
    /// Elasticsearch and OpenSearch decode them (<c>RestUtils.decodeQueryString</c>): split at <c>&amp;</c> and <c>;</c>
    /// (up to a <c>#</c>), the first <c>=</c> between name and value (a parameter without one, or with nothing after it, has
    /// the empty value; a leading <c>=</c> is skipped, so <c>?=pretty</c> is <c>pretty</c>), a repeated name keeps its last
    /// value (<c>params.put</c>), and each name and value decoded as <c>RestUtils.decode</c> does: <c>+</c> is a space,
    /// <c>%%</c> a percent sign, <c>%XX</c> a byte of UTF-8. ASP.NET Core's own reading keeps <c>%%</c> as two characters,
    /// joins a repeated name's values with a comma and does not split at <c>;</c>. A malformed escape is refused as
    /// Elasticsearch refuses it, before any handler runs: a <c>%</c> at the end is "unterminated escape sequence at end of
    /// string: %", one with a single character after it "partial escape sequence at end of string: %4", one not followed
    /// by two hex digits "invalid escape sequence `%zz' at index 1 of: a%zzb"; thrown as Elasticsearch answers it:
    /// <c>bad_parameter_exception</c> with the <c>illegal_argument_exception</c> as its <c>caused_by</c>.
    /// </summary>
    /// <param name="queryString">The raw query string.</param>
    public static Dictionary<string, string> Decode(string? queryString)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(queryString))
        {
            return parameters;
        }

        var text = queryString.StartsWith('?') ? queryString[1..] : queryString;
        var length = text.Contains('#', StringComparison.Ordinal) ? text.IndexOf('#', StringComparison.Ordinal) : text.Length;
        string? name = null;
        var pos = 0;
        for (var i = 0; i < length; i++)
        {
            var c = text[i];
            if (c == '=' && name is null)
            {
                if (pos != i)
                {
                    name = DecodeComponent(text[pos..i]);
                }

                pos = i + 1;
            }
            else if (c is '&' or ';')
            {
                if (name is null && pos != i)
                {
                    parameters[DecodeComponent(text[pos..i])] = "";
                }
                else if (name is not null)
                {
                    parameters[name] = DecodeComponent(text[pos..i]);
                    name = null;
                }

                pos = i + 1;
            }
        }

        if (pos != length)
        {
            parameters[name ?? DecodeComponent(text[pos..length])] = name is null ? "" : DecodeComponent(text[pos..length]);
        }
        else if (name is not null)
        {
            parameters[name] = "";
        }

        return parameters;
    }

    /// <summary>
    /// A segment of a raw path as Elasticsearch's <c>PathTrie</c> decodes a path parameter once it has split the path at
    /// its slashes (<c>RestUtils.decodeComponent</c>, <c>es.rest.url_plus_as_space</c> off): <c>%XX</c> a byte of UTF-8
    /// (<c>%2F</c> a slash in the name), <c>%%</c> a percent sign, <c>+</c> as it is. A malformed escape is the
    /// <c>IllegalArgumentException</c>'s message in <paramref name="error"/> ("invalid escape sequence `%ZZ' at index 3 of:
    /// lib%ZZ"), and false.
    /// </summary>
    /// <param name="segment">The segment as sent.</param>
    /// <param name="decoded">The segment decoded, or null.</param>
    /// <param name="error">Why the segment does not decode, or null.</param>
    public static bool TryDecodePathSegment(string segment, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? decoded, out string? error)
    {
        error = segment.Contains('%', StringComparison.Ordinal) ? MalformedEscape(segment) : null;
        decoded = error is null ? DecodeWellFormed(segment, plusAsSpace: false) : null;
        return error is null;
    }

    // RestUtils.decodeComponent, with plusAsSpace as the query string is decoded.
    private static string DecodeComponent(string s, bool plusAsSpace = true)
    {
        if (!s.Contains('%', StringComparison.Ordinal) && !(plusAsSpace && s.Contains('+', StringComparison.Ordinal)))
        {
            return s;
        }

        return MalformedEscape(s) is { } malformed ? throw BadParameter(malformed) : DecodeWellFormed(s, plusAsSpace);
    }

    private static string DecodeWellFormed(string s, bool plusAsSpace)
    {
        var bytes = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '+' && plusAsSpace)
            {
                bytes.Add((byte)' ');
            }
            else if (c == '%' && s[i + 1] == '%')
            {
                bytes.Add((byte)'%');
                i++;
            }
            else if (c == '%')
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(s.Substring(i, char.IsHighSurrogate(c) && i + 1 < s.Length ? 2 : 1)));
                i += char.IsHighSurrogate(c) && i + 1 < s.Length ? 1 : 0;
            }
        }

        return System.Text.Encoding.UTF8.GetString(bytes.ToArray());
    }

    // RestUtils.decodeComponent's refusal of a malformed escape, in its words; null when every escape is well formed.
    private static string? MalformedEscape(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '%')
            {
                continue;
            }

            if (i == s.Length - 1)
            {
                return $"unterminated escape sequence at end of string: {s}";
            }

            if (s[++i] == '%')
            {
                continue; // "%%" is "%"
            }

            if (i == s.Length - 1)
            {
                return $"partial escape sequence at end of string: {s}";
            }

            if (!char.IsAsciiHexDigit(s[i]) || !char.IsAsciiHexDigit(s[i + 1]))
            {
                return $"invalid escape sequence `%{s[i]}{s[i + 1]}' at index {i - 1} of: {s}";
            }

            i++;
        }

        return null;
    }

    // RestRequest.BadParameterException wraps the IllegalArgumentException: its reason is the cause's toString().
    private static EsException BadParameter(string message) =>
        new(400, "bad_parameter_exception", $"java.lang.IllegalArgumentException: {message}", null, EsException.IllegalArgument(message));
}
