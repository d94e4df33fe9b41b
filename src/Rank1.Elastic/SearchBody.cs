using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// A search body (of <c>_search</c>, or an <c>_msearch</c> body line) read as Elasticsearch's
/// <c>SearchSourceBuilder.parseXContent</c> reads it, by the proxy and by the embedded backend alike.
/// </summary>
internal static class SearchBody
{
    /// <summary>
    /// The body's object. Its first token must start an object, before the rest is read: <c>parsing_exception</c>
    /// "Expected [START_OBJECT] but found [START_ARRAY]" (no token at all: "[null]"). JSON that does not parse is
    /// <see cref="RequestJson.ParseFailure"/>'s <c>x_content_parse_exception</c> (or <c>x_content_e_o_f_exception</c>).
    /// </summary>
    /// <param name="body">The body's UTF-8 text.</param>
    public static JsonObject Read(ReadOnlySpan<byte> body)
    {
        string? found;
        try
        {
            var reader = new Utf8JsonReader(body);
            found = RequestJson.IsEmpty(body) ? "null" : reader.Read() && reader.TokenType != JsonTokenType.StartObject ? RequestJson.TokenName(reader.TokenType) : null;
        }
        catch (JsonException e)
        {
            throw RequestJson.ParseFailure(e, body);
        }

        if (found is not null)
        {
            throw EsException.Parsing($"Expected [START_OBJECT] but found [{found}]");
        }

        try
        {
            return (JsonObject)RequestJson.Parse(body)!;
        }
        catch (JsonException e)
        {
            throw RequestJson.ParseFailure(e, body);
        }
    }

    /// <summary>
    /// A search's body: null when there is none (<see cref="RequestJson.IsEmpty"/>), as a <c>_search</c> with no body
    /// searches everything; otherwise <see cref="Read"/>'s object.
    /// </summary>
    /// <param name="body">The body's UTF-8 text.</param>
    public static JsonObject? ReadOptional(ReadOnlySpan<byte> body) => RequestJson.IsEmpty(body) ? null : Read(body);

    /// <summary>
    /// A negative <c>from</c> or <c>size</c> of <paramref name="body"/>, refused in the body's order as
    /// <see cref="CheckField"/> refuses it.
    /// </summary>
    /// <param name="body">The search body.</param>
    /// <param name="openSearch">Whether OpenSearch's words apply.</param>
    public static void CheckWindow(JsonObject body, bool openSearch)
    {
        foreach (var (key, value) in body)
        {
            CheckField(key, value, openSearch);
        }
    }

    /// <summary>
    /// A body field <c>from</c> or <c>size</c> that is negative, refused as <c>SearchSourceBuilder.parseXContent</c>
    /// refuses it while it reads the body (<c>from(parser.intValue())</c>, <c>size(..)</c>, read as <see cref="Int"/> reads
    /// them: <see cref="NegativeWindow"/>); a value that is not a whole number is left for the caller to word. Any other
    /// field is not looked at.
    /// </summary>
    /// <param name="key">The field's name.</param>
    /// <param name="value">Its value.</param>
    /// <param name="openSearch">Whether OpenSearch's words apply.</param>
    public static void CheckField(string key, JsonNode? value, bool openSearch = false)
    {
        if (key is "from" or "size" && Whole(value) is < 0 and var n)
        {
            throw NegativeWindow(key, n, openSearch);
        }
    }

    /// <summary>
    /// Elasticsearch's error for a negative <c>from</c> or <c>size</c> (body or URL): <c>SearchSourceBuilder.from()</c>
    /// and <c>size()</c> throw <c>IllegalArgumentException</c>, a 400 <c>illegal_argument_exception</c> "[from] parameter
    /// cannot be negative but was [-1]" (OpenSearch's <c>from()</c>: "..., found [-1]", as both word <c>size</c>).
    /// </summary>
    /// <param name="key"><c>from</c> or <c>size</c>.</param>
    /// <param name="value">The negative value.</param>
    /// <param name="openSearch">Whether OpenSearch's words apply.</param>
    public static EsException NegativeWindow(string key, long value, bool openSearch = false) => EsException.IllegalArgument(key == "from" && !openSearch
        ? $"[from] parameter cannot be negative but was [{value}]"
        : $"[{key}] parameter cannot be negative, found [{value}]");

    /// <summary>
    /// An integer of a search body (<c>from</c>, <c>size</c>, <c>track_total_hits</c>) as Elasticsearch's
    /// <c>parser.intValue()</c> reads one: a JSON number with no fractional part (<c>-1.0</c> is -1, as Jackson's
    /// <c>getIntValue()</c> reads it) or a string holding an integer (<c>"-1"</c>); null when absent, out of an
    /// <see cref="int"/>'s range, or anything else (<c>1.5</c>, <c>"abc"</c>, <c>true</c>), for the caller to word.
    /// </summary>
    /// <param name="value">The field's value.</param>
    public static int? Int(JsonNode? value) => Whole(value) is >= int.MinValue and <= int.MaxValue and var n ? (int)n : null;

    // Int's reading, wider than an int: a negative from or size past int's range is still refused as negative.
    private static long? Whole(JsonNode? value) => value is not JsonValue v ? null : v.GetValueKind() switch
    {
        JsonValueKind.Number when v.TryGetValue<long>(out var n) => n,
        JsonValueKind.Number when decimal.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d) && d is >= long.MinValue and <= long.MaxValue => (long)d,
        JsonValueKind.String when long.TryParse(v.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
        _ => null,
    };
}
