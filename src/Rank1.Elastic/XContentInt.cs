using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.Elastic;

/// <summary>
/// An integer of a request read as Elasticsearch reads one: a body value as <c>AbstractXContentParser.intValue()</c>
/// reads it (its default coerce policy: a fraction is truncated, a string holding a number is parsed), a URL
/// parameter as <c>RestRequest.paramAsInt</c> reads it (<c>Integer.parseInt</c>: digits only).
/// </summary>
internal static partial class XContentInt
{
    private const string IntRange = "(-2147483648 - 2147483647)";
    private const string LongRange = "(-9223372036854775808 - 9223372036854775807)";

    // Digits of int.MaxValue: a number of more significant digits is past an int's range.
    private const int MaxIntDigits = 10;

    // Digits of long.MaxValue: a number of more significant digits is past a long's range.
    private const int MaxLongDigits = 19;

    /// <summary>
    /// A body value as <c>SearchSourceBuilder.parseXContent</c> reads <c>from</c>, <c>size</c> or
    /// <c>track_total_hits</c>: a JSON number is Jackson's <c>getIntValue()</c> (truncated toward zero: <c>1.5</c> is 1,
    /// <c>-0.5</c> is 0, <c>1e1</c> is 10); past an <see cref="int"/>'s range it is an <c>x_content_parse_exception</c>
    /// "[1:19] Numeric value (2147483648) out of range of int (-2147483648 - 2147483647)\n at [Source: ..]", caused by
    /// Jackson's <c>input_coercion_exception</c>. A string is
    /// <c>Double.parseDouble</c>'s number, truncated (<c>"1.5"</c> is 1, <c>" 10"</c> is 10, <c>"NaN"</c> is 0): not a number
    /// is a <c>number_format_exception</c> (<c>For input string: "abc"</c>, <c>empty String</c>), past an int's range an
    /// <c>illegal_argument_exception</c> "Value [1e20] is out of range for an integer". A boolean is an
    /// <c>x_content_parse_exception</c> "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors\n at
    /// [Source: ..]", caused by Jackson's <c>json_parse_exception</c>;
    /// null, an array or an object a <c>parsing_exception</c> "Unknown key for a VALUE_NULL in [from]." at the value
    /// (<see cref="SearchBody.UnknownKey"/>; a null's place is known only to a caller that passes its object, as
    /// <see cref="SearchBody.Int"/> does).
    /// </summary>
    /// <param name="key">The field's name.</param>
    /// <param name="value">Its value (JSON null is null).</param>
    public static int Read(string key, JsonNode? value) => value switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => FromNumber(v),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => FromString(v.GetValue<string>()),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False =>
            throw JacksonSyntax.AccessorFailure(v, NotNumeric(v), "json_parse_exception"),
        _ => throw SearchBody.UnknownKey(key, value, value?.Parent as JsonObject),
    };

    /// <summary>
    /// An int field an <c>ObjectParser</c> declares with <c>declareInt</c> (<c>ValueType.INT</c>: a number or a string),
    /// read while the request is parsed, as <c>ObjectParser.parse</c> reads it: another token (null, a boolean, an array,
    /// an object) is <c>FieldParser.assertSupports</c>' 400 <c>x_content_parse_exception</c> "[1:47] [terms] size doesn't
    /// support values of type: VALUE_NULL", unwrapped; what <see cref="Read"/> refuses is wrapped by
    /// <c>ObjectParser.parseValue</c> (<see cref="EsException.FailedToParseField"/>: "[terms] failed to parse field
    /// [size]"). Both are placed where the parser stands, on the value. The same in OpenSearch 2.x, whose ObjectParser
    /// says the same words.
    /// </summary>
    /// <param name="parser">The ObjectParser's name (<c>terms</c>, <c>highlight</c>, <c>highlight_field</c>).</param>
    /// <param name="spec">The object it reads.</param>
    /// <param name="key">The int field, present in <paramref name="spec"/>.</param>
    public static int Declared(string parser, JsonObject spec, string key)
    {
        var value = spec[key];
        var at = JsonLocations.OfValue(spec, key);
        if (value is not JsonValue v || v.GetValueKind() is not (JsonValueKind.Number or JsonValueKind.String))
        {
            throw EsException.XContentParse($"[{parser}] {key} doesn't support values of type: {RequestJson.TokenName(value)}", at);
        }

        try
        {
            return Read(key, v);
        }
        catch (EsException e)
        {
            throw EsException.FailedToParseField(parser, key, at, e);
        }
    }

    /// <summary>
    /// A long field an <c>ObjectParser</c> declares with <c>declareLong</c> (TermsAggregationBuilder's
    /// <c>min_doc_count</c>): a JSON integer is Jackson's <c>getLongValue()</c>, past a long's range its "Numeric value (..)
    /// out of range of long (..)" wrapped as <see cref="Declared"/> wraps; any other value is read as <see cref="Declared"/>
    /// reads it (so a fraction or a string past an int's range is still refused as an int's).
    /// </summary>
    /// <param name="parser">The ObjectParser's name.</param>
    /// <param name="spec">The object it reads.</param>
    /// <param name="key">The long field, present in <paramref name="spec"/>.</param>
    public static long DeclaredLong(string parser, JsonObject spec, string key)
    {
        if (spec[key] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || v.ToJsonString() is not { } text || !IsIntegerLiteral(text))
        {
            return Declared(parser, spec, key);
        }

        return LongInRange(text) ?? throw EsException.FailedToParseField(parser, key, JsonLocations.OfValue(spec, key),
            JacksonSyntax.AccessorFailure(v, OutOfRangeOfLong(text), "input_coercion_exception"));
    }

    /// <summary>
    /// A URL parameter as <c>RestRequest.paramAsInt</c> reads it, with Java's <c>Integer.parseInt</c>: an optional sign
    /// and decimal digits, nothing else (<c>"1.5"</c>, <c>" 10"</c>, <c>""</c> are refused); null when absent. Refused, a
    /// 400 <c>illegal_argument_exception</c> "Failed to parse int parameter [from] with value [1.5]", caused by
    /// <c>Integer.parseInt</c>'s <c>number_format_exception</c> "For input string: "1.5"" (<c>paramAsInt</c> passes it on
    /// as the cause, which Elasticsearch's error body shows as <c>caused_by</c>).
    /// </summary>
    /// <param name="key">The parameter's name.</param>
    /// <param name="value">Its value, or null when absent.</param>
    public static int? Param(string key, string? value) => value is null ? null
        : ParseJavaInt(value) ?? throw EsException.Foreign(400, "illegal_argument_exception", $"Failed to parse int parameter [{key}] with value [{value}]",
            EsException.Foreign(400, "number_format_exception", $"For input string: \"{value}\""));

    /// <summary>
    /// Whether <see cref="Read"/> refuses <paramref name="v"/> with Jackson's own error (a boolean, a number past an
    /// int's range), which names the value's place and its body's text (<see cref="JacksonSyntax.AccessorFailure"/>).
    /// </summary>
    /// <param name="v">A value of an int field.</param>
    internal static bool RefusedByJackson(JsonValue v) => v.GetValueKind() switch
    {
        JsonValueKind.True or JsonValueKind.False => true,
        JsonValueKind.Number => NumberInRange(v.ToJsonString()) is null,
        _ => false,
    };

    // Jackson's getIntValue(): an integer literal must fit an int; a fraction or exponent is read as a double, which
    // must lie within int's range, then cast (toward zero).
    private static int FromNumber(JsonValue v)
    {
        var text = v.ToJsonString();
        return NumberInRange(text) ?? throw JacksonSyntax.AccessorFailure(v, OutOfRangeOfInt(text), "input_coercion_exception");
    }

    /// <summary>
    /// Whether Jackson reads a JSON number's literal as a <c>VALUE_NUMBER_INT</c> (no '.', 'e' or 'E', however many
    /// digits) rather than a <c>VALUE_NUMBER_FLOAT</c>.
    /// </summary>
    /// <param name="literal">The number as written.</param>
    internal static bool IsIntegerLiteral(ReadOnlySpan<char> literal) => literal.IndexOfAny('.', 'e', 'E') < 0;

    /// <summary>Jackson's token name for a JSON number's literal (<see cref="IsIntegerLiteral"/>), as its errors name it.</summary>
    /// <param name="literal">The number as written.</param>
    internal static string NumberToken(string literal) => IsIntegerLiteral(literal) ? "VALUE_NUMBER_INT" : "VALUE_NUMBER_FLOAT";

    /// <summary>Jackson's <c>getIntValue()</c> on a JSON number's literal: the int, or null past an int's range.</summary>
    /// <param name="text">The number as written.</param>
    internal static int? NumberInRange(string text)
    {
        if (IsIntegerLiteral(text))
        {
            // JSON allows no leading zero, so an integer literal of more digits than int.MaxValue's 10 is past an
            // int's range: refused without parsing (a literal of millions of digits would take BigInteger seconds).
            if (text.AsSpan().TrimStart('-').Length > MaxIntDigits)
            {
                return null;
            }

            var n = BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            return n >= int.MinValue && n <= int.MaxValue ? (int)n : null;
        }

        var d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return d is < int.MinValue or > int.MaxValue ? null : (int)d;
    }

    /// <summary>
    /// Jackson's <c>getLongValue()</c> on a JSON number's literal: an integer literal must fit a long; a fraction or
    /// exponent is read as a double, which must lie within a long's range, then cast (toward zero). Null past the range.
    /// </summary>
    /// <param name="text">The number as written.</param>
    internal static long? LongInRange(string text)
    {
        if (IsIntegerLiteral(text))
        {
            return text.AsSpan().TrimStart('-').Length <= MaxLongDigits && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null;
        }

        var d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return d is < long.MinValue or > long.MaxValue ? null : (long)d;
    }

    /// <summary>
    /// Jackson's <c>input_coercion_exception</c> text for a JSON number past an int's range (<see cref="NumberInRange"/>):
    /// <c>ParserMinimalBase.reportOverflowInt</c>'s "Numeric value (%s) out of range of int (%d - %s)".
    /// </summary>
    /// <param name="text">The number as written.</param>
    internal static string OutOfRangeOfInt(string text) => $"Numeric value ({text}) out of range of int {IntRange}";

    /// <summary>
    /// Jackson's <c>input_coercion_exception</c> text for a JSON number past a long's range (<see cref="LongInRange"/>):
    /// <c>ParserMinimalBase.reportOverflowLong</c>'s "Numeric value (%s) out of range of long (%d - %s)".
    /// </summary>
    /// <param name="text">The number as written.</param>
    internal static string OutOfRangeOfLong(string text) => $"Numeric value ({text}) out of range of long {LongRange}";

    /// <summary>
    /// Jackson's text for a numeric accessor (<c>getIntValue()</c>, <c>getLongValue()</c>, <c>getDoubleValue()</c>) on a
    /// boolean: <c>ParserBase._parseNumericValue</c>'s "Current token (%s) not numeric, can not use numeric value accessors".
    /// </summary>
    /// <param name="value">A JSON true or false.</param>
    internal static string NotNumeric(JsonValue value) =>
        $"Current token ({(value.GetValue<bool>() ? "VALUE_TRUE" : "VALUE_FALSE")}) not numeric, can not use numeric value accessors";

    /// <summary>
    /// <c>AbstractXContentParser.intValue(coerce: true)</c> on a string: <c>Double.parseDouble</c>, a range check, then the
    /// cast; refused as <see cref="Read"/> refuses a string.
    /// </summary>
    /// <param name="text">The string's text.</param>
    internal static int FromString(string text)
    {
        var d = ParseJavaDouble(text);
        if (d is < int.MinValue or > int.MaxValue)
        {
            throw EsException.IllegalArgument($"Value [{text}] is out of range for an integer");
        }

        return double.IsNaN(d) ? 0 : (int)d;
    }

    /// <summary>
    /// Java's <c>Double.toString</c>: <c>Infinity</c>, <c>-0.0</c>, shortest digits, plain between 10^-3 and 10^7 (with a
    /// <c>.0</c> when whole), else computerized scientific notation (<c>d.dddEn</c>).
    /// </summary>
    /// <param name="d">The double.</param>
    internal static string JavaDoubleToString(double d)
    {
        if (double.IsInfinity(d))
        {
            return d > 0 ? "Infinity" : "-Infinity";
        }

        if (d == 0)
        {
            return double.IsNegative(d) ? "-0.0" : "0.0";
        }

        // Plain between 10^-3 and 10^7, else computerized scientific notation (d.dddEn), its digits and exponent both
        // from the shortest round-trip text (an exponent from a 17-digit rounding would make 1e39, held as
        // 9.99999999999999939E38, 1.0E38).
        var abs = Math.Abs(d);
        var r = abs.ToString("R", CultureInfo.InvariantCulture);
        if (abs is >= 1e-3 and < 1e7)
        {
            return (d < 0 ? "-" : string.Empty) + r + (r.Contains('.', StringComparison.Ordinal) ? string.Empty : ".0");
        }

        var cut = r.IndexOf('E', StringComparison.Ordinal);
        var mantissa = cut < 0 ? r : r[..cut];
        var point = mantissa.IndexOf('.', StringComparison.Ordinal) is var p and >= 0 ? p : mantissa.Length;
        var digits = mantissa.Replace(".", string.Empty, StringComparison.Ordinal);
        point += cut < 0 ? 0 : int.Parse(r[(cut + 1)..], CultureInfo.InvariantCulture);
        var lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        return (d < 0 ? "-" : string.Empty) + digits[0] + "." + (digits.Length > 1 ? digits[1..] : "0") + "E"
            + (point - lead - 1).ToString(CultureInfo.InvariantCulture);
    }

    // Java's Double.parseDouble (FloatingDecimal.readJavaFormatString): trimmed of every char up to U+0020, an optional
    // sign, then NaN, Infinity, a hexadecimal float (0x1.8p1) or a decimal one (1, 1., .5, 1e1) with an optional
    // f/F/d/D suffix; ASCII digits only. Anything else is a NumberFormatException naming the trimmed text.
    internal static double ParseJavaDouble(string text)
    {
        var trimmed = text.AsSpan().Trim(JavaWhitespace).ToString();
        if (trimmed.Length == 0)
        {
            throw new EsException(400, "number_format_exception", "empty String");
        }

        var negative = trimmed[0] == '-';
        var unsigned = trimmed[0] is '-' or '+' ? trimmed[1..] : trimmed;
        double? value = unsigned switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            _ when DecimalFloat().IsMatch(unsigned) => double.Parse(unsigned.TrimEnd('f', 'F', 'd', 'D'), NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture),
            _ when HexFloat().Match(unsigned) is { Success: true } hex && hex.Groups[1].Length + hex.Groups[2].Length > 0 => Hex(hex),
            _ => null,
        };
        return value is { } v
            ? negative ? -v : v
            : throw new EsException(400, "number_format_exception", $"For input string: \"{trimmed}\"");
    }

    private static double Hex(Match hex)
    {
        var digits = hex.Groups[1].Value + hex.Groups[2].Value;
        var mantissa = BigInteger.Parse("0" + digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        // Java reads the exponent as an int, saturating; any exponent past the clamp below scales alike, so one of more
        // significant digits than an int has is not parsed (millions of digits would take BigInteger seconds).
        var written = hex.Groups[3].ValueSpan;
        var magnitude = written.TrimStart("+-").TrimStart('0');
        var exponent = (magnitude.Length > MaxIntDigits
            ? (written[0] == '-' ? -BigInteger.Pow(10, MaxIntDigits) : BigInteger.Pow(10, MaxIntDigits))
            : BigInteger.Parse(written, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)) - (4 * hex.Groups[2].Length);
        return Math.ScaleB((double)mantissa, (int)BigInteger.Clamp(exponent, -100_000, 100_000));
    }

    // Java's Integer.parseInt: an optional sign and at least one digit (Character.digit: any Unicode decimal digit).
    internal static int? ParseJavaInt(string text)
    {
        var digits = text.Length > 0 && text[0] is '-' or '+' ? text.AsSpan(1) : text.AsSpan();
        if (digits.IsEmpty)
        {
            return null;
        }

        long n = 0;
        foreach (var c in digits)
        {
            var digit = CharUnicodeInfo.GetDecimalDigitValue(c);
            if (digit < 0 || CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.DecimalDigitNumber || (n = (n * 10) + digit) > 1L + int.MaxValue)
            {
                return null;
            }
        }

        n = text[0] == '-' ? -n : n;
        return n is >= int.MinValue and <= int.MaxValue ? (int)n : null;
    }

    // Jackson's errors (JsonParseException, InputCoercionException), as JsonXContentParser wraps them in doIntValue.

    private static readonly char[] JavaWhitespace = [.. Enumerable.Range(0, 0x21).Select(c => (char)c)];

    // Each char can be matched one way only (the point, when there is one, splits the digits), so a long run of digits
    // that ends in a bad char fails in linear time: "[0-9]+\\.?[0-9]*" tried every split of the run (quadratic).
    [GeneratedRegex("^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?$", RegexOptions.CultureInvariant)]
    private static partial Regex DecimalFloat();

    [GeneratedRegex("^0[xX]([0-9a-fA-F]*)(?:\\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)[fFdD]?$", RegexOptions.CultureInvariant)]
    private static partial Regex HexFloat();
}
