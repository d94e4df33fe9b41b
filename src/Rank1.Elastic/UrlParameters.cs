namespace Rank1.Elastic;

/// <summary>
/// The URL parameters of a request as Elasticsearch decodes them before any handler runs (<c>RestUtils.decodeQueryString</c>,
/// when <c>RestRequest</c> is made): a malformed percent escape in a name or value is a 400 <c>bad_parameter_exception</c>
/// for the whole request, whatever its path. ASP.NET Core keeps such an escape as text (<c>?q=%</c> searched for
/// <c>%</c>), so the proxy and the embedded backend check the raw query string first.
/// </summary>
internal static class UrlParameters
{
    /// <summary>
    /// Checks each name and value of <paramref name="queryString"/> (the raw query string, with or without its
    /// <c>?</c>), split as Elasticsearch splits it (<c>&amp;</c> and <c>;</c> between parameters, the first <c>=</c>
    /// between name and value), as <c>RestUtils.decode</c> reads its escapes: a <c>%</c> at the end is "unterminated
    /// escape sequence at end of string: %", one with a single character after it "partial escape sequence at end of
    /// string: %4", one not followed by two hex digits "invalid escape sequence `%zz' at index 1 of: a%zzb"; <c>%%</c>
    /// is a percent sign. Thrown as Elasticsearch answers it: <c>bad_parameter_exception</c> with the
    /// <c>illegal_argument_exception</c> as its <c>caused_by</c>.
    /// </summary>
    /// <param name="queryString">The raw query string.</param>
    public static void CheckEscapes(string? queryString)
    {
        if (string.IsNullOrEmpty(queryString) || !queryString.Contains('%', StringComparison.Ordinal))
        {
            return;
        }

        var text = queryString.StartsWith('?') ? queryString[1..] : queryString;
        foreach (var parameter in text.Split('&', ';'))
        {
            var equals = parameter.IndexOf('=', StringComparison.Ordinal);
            CheckComponent(equals < 0 ? parameter : parameter[..equals]);
            if (equals >= 0)
            {
                CheckComponent(parameter[(equals + 1)..]);
            }
        }
    }

    private static void CheckComponent(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '%')
            {
                continue;
            }

            if (i == s.Length - 1)
            {
                throw BadParameter($"unterminated escape sequence at end of string: {s}");
            }

            if (s[++i] == '%')
            {
                continue; // "%%" is "%"
            }

            if (i == s.Length - 1)
            {
                throw BadParameter($"partial escape sequence at end of string: {s}");
            }

            if (!char.IsAsciiHexDigit(s[i]) || !char.IsAsciiHexDigit(s[i + 1]))
            {
                throw BadParameter($"invalid escape sequence `%{s[i]}{s[i + 1]}' at index {i - 1} of: {s}");
            }

            i++;
        }
    }

    // RestRequest.BadParameterException wraps the IllegalArgumentException: its reason is the cause's toString().
    private static EsException BadParameter(string message) =>
        new(400, "bad_parameter_exception", $"java.lang.IllegalArgumentException: {message}", null, EsException.IllegalArgument(message));
}
