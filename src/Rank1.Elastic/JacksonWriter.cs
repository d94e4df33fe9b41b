using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// A JSON document as Elasticsearch writes it again from the maps it read (<c>XContentBuilder</c> on Jackson's
/// <c>UTF8JsonGenerator</c>, or <c>copyCurrentStructure</c>), for the places its parser reports in that text
/// (<see cref="JsonLocations"/>): compact; a fraction as the double read, in Java's <c>Double.toString</c> (1.50 is 1.5,
/// 1e2 100.0), one past a double's range quoted as Jackson writes a non-finite number (<c>QUOTE_NON_NUMERIC_NUMBERS</c>:
/// "Infinity", "-Infinity"); an integer as the int, long or BigInteger read (-0 is 0); a string with only what Jackson
/// escapes escaped (quote, backslash, control characters: \b \t \n \f \r, else \u00XX), anything else as it is, so
/// that in UTF-8 an emoji is its four bytes, not System.Text.Json's twelve of escapes.
/// </summary>
internal static class JacksonWriter
{
    /// <summary>Writes <paramref name="node"/> as Jackson writes it (<see cref="JacksonWriter"/>).</summary>
    /// <param name="node">A parsed JSON node (null for JSON <c>null</c>).</param>
    /// <param name="text">Where it is written.</param>
    public static void Write(JsonNode? node, StringBuilder text)
    {
        switch (node)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject o:
                text.Append('{');
                var first = true;
                foreach (var (key, value) in o)
                {
                    text.Append(first ? "" : ",");
                    first = false;
                    WriteString(key, text);
                    text.Append(':');
                    Write(value, text);
                }

                text.Append('}');
                break;
            case JsonArray a:
                text.Append('[');
                for (var i = 0; i < a.Count; i++)
                {
                    text.Append(i == 0 ? "" : ",");
                    Write(a[i], text);
                }

                text.Append(']');
                break;
            default:
                var v = node.AsValue();
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String:
                        WriteString(v.GetValue<string>(), text);
                        break;
                    case JsonValueKind.Number:
                        var literal = v.ToJsonString();
                        if (XContentInt.IsIntegerLiteral(literal))
                        {
                            text.Append(BigInteger.Parse(literal, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture));
                        }
                        else if (double.Parse(literal, CultureInfo.InvariantCulture) is var d && double.IsFinite(d))
                        {
                            text.Append(XContentInt.JavaDoubleToString(d));
                        }
                        else
                        {
                            WriteString(XContentInt.JavaDoubleToString(d), text);
                        }

                        break;
                    default:
                        text.Append(v.ToJsonString());
                        break;
                }

                break;
        }
    }

    /// <summary>Writes <paramref name="s"/> as a JSON string, escaped as Jackson escapes it (<see cref="JacksonWriter"/>).</summary>
    /// <param name="s">The string.</param>
    /// <param name="text">Where it is written.</param>
    public static void WriteString(string s, StringBuilder text)
    {
        text.Append('"');
        QuoteAsString(s, text);
        text.Append('"');
    }

    /// <summary>
    /// Jackson's <c>JsonStringEncoder.quoteAsString</c>: <paramref name="s"/>'s characters with quote and backslash escaped,
    /// control characters as <c>\b \t \n \f \r</c> or <c>\u00XX</c>, anything else as it is (no surrounding quotes).
    /// </summary>
    /// <param name="s">The string.</param>
    /// <param name="text">Where it is written.</param>
    public static void QuoteAsString(string s, StringBuilder text)
    {
        foreach (var c in s)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append("\\\\"),
                '\b' => text.Append("\\b"),
                '\t' => text.Append("\\t"),
                '\n' => text.Append("\\n"),
                '\f' => text.Append("\\f"),
                '\r' => text.Append("\\r"),
                < ' ' => text.Append("\\u00").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture)),
                _ => text.Append(c),
            };
        }
    }
}
