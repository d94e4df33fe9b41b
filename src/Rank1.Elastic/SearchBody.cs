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
    /// The stored fields a search asks for: the URL's comma list (<paramref name="url"/>) replacing the body's (a name or a
    /// list of names), or null for none asked. Elasticsearch loads no source for a search that asks for some (even an
    /// empty list) and names no <c>_source</c>, unless <c>_source</c> is one of them (FetchContext.buildFetchSourceContext);
    /// <c>_none_</c> among them fetches no fields at all.
    /// </summary>
    public static string[]? StoredFields(JsonObject? body, string? url) => url is not null
        ? url.Split(',', StringSplitOptions.TrimEntries)
        : body?["stored_fields"] switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
            JsonArray a => a.OfType<JsonValue>().Where(x => x.GetValueKind() == JsonValueKind.String).Select(x => x.GetValue<string>()).ToArray(),
            _ => null,
        };

    /// <summary>
    /// A search template's <c>explain</c> and <c>profile</c> set on the body it rendered to, replacing whatever the template
    /// wrote (<c>TransportSearchTemplateAction.convert</c>: <c>SearchSourceBuilder.explain(request.isExplain())</c>).
    /// </summary>
    /// <param name="body">The rendered search body.</param>
    /// <param name="explain">The template request's <c>explain</c>.</param>
    /// <param name="profile">The template request's <c>profile</c>.</param>
    public static void SetTemplateFlags(JsonObject body, bool explain, bool profile)
    {
        foreach (var (name, on) in new[] { ("explain", explain), ("profile", profile) })
        {
            if (on)
            {
                body[name] = true;
            }
            else
            {
                body.Remove(name);
            }
        }
    }

    /// <summary>
    /// The body's object. Its first token must start an object, before the rest is read: <c>parsing_exception</c>
    /// "Expected [START_OBJECT] but found [START_ARRAY]" (no token at all, comments aside: "[null]"). JSON that does not
    /// parse is <see cref="RequestJson.ParseFailure"/>'s <c>x_content_parse_exception</c> (or <c>x_content_e_o_f_exception</c>).
    /// What follows the object is read only with <paramref name="checkTrailingTokens"/>, as Elasticsearch reads it.
    /// </summary>
    /// <param name="body">The body's UTF-8 text.</param>
    /// <param name="checkTrailingTokens">
    /// A <c>_search</c>'s body (<c>RestSearchAction</c> parses it with <c>checkTrailingTokens</c>): a token after the
    /// object is <c>parsing_exception</c> "Unexpected token [START_OBJECT] found after the main object.", and text after
    /// it that is no token the parser's own error. Otherwise (a rendered template, <c>TransportSearchTemplateAction.convert</c>;
    /// an msearch line, whose rest <see cref="MsearchLines.ThrowIfAnythingAfter"/> reads in Elasticsearch's words) the
    /// parser stops at the object's end.
    /// </param>
    public static JsonObject Read(ReadOnlySpan<byte> body, bool checkTrailingTokens) => ReadObject(body, checkTrailingTokens, out _);

    /// <summary>
    /// <see cref="Read"/>, with <paramref name="length"/> the bytes of <paramref name="body"/> up to its object's end:
    /// an msearch line as Elasticsearch reads it, what follows never read.
    /// </summary>
    /// <param name="body">The body's UTF-8 text.</param>
    /// <param name="checkTrailingTokens">Whether a token after the object is refused, as in <see cref="Read"/>.</param>
    /// <param name="length">Where the object ends in <paramref name="body"/>.</param>
    public static JsonObject ReadObject(ReadOnlySpan<byte> body, bool checkTrailingTokens, out int length)
    {
        body = RequestJson.ByteOrderMarkAsSpaces(body);
        var reader = new Utf8JsonReader(body, RequestJson.ReaderOptions with { AllowMultipleValues = true });
        string? found;
        try
        {
            found = !reader.Read() ? "null" : reader.TokenType != JsonTokenType.StartObject ? RequestJson.TokenName(reader.TokenType) : null;
        }
        catch (JsonException e)
        {
            throw RequestJson.ParseFailure(e, body);
        }

        if (found is not null)
        {
            throw EsException.Parsing($"Expected [START_OBJECT] but found [{found}]");
        }

        // Where the object ends, and the token after it. An object that does not parse gets its own error below, from
        // the whole text; text after it that is no token, the parser's error (with checkTrailingTokens).
        var end = RequestJson.ObjectEnd(ref reader, body.Length, out var next);
        var trailing = next == JsonTokenType.None ? null : EsException.Parsing($"Unexpected token [{RequestJson.TokenName(next)}] found after the main object.");

        JsonObject read;
        try
        {
            read = (JsonObject)RequestJson.Parse(checkTrailingTokens ? body : body[..end])!;
        }
        catch (JsonException e)
        {
            // The object parsed (a duplicate field in it is refused first, as Elasticsearch reads the whole object
            // before the next token): what failed is the token after it.
            throw (checkTrailingTokens ? trailing : null) ?? RequestJson.ParseFailure(e, body);
        }

        // track_total_hits's true or false is no int to read (TrackTotalHits): a body that says it is not copied for it.
        if (IntFields.Any(k => read.TryGetPropertyValue(k, out var n) && n switch
            {
                JsonValue v => !(k == "track_total_hits" && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False) && XContentInt.RefusedByJackson(v),
                _ => true, // null, an object or an array: UnknownKey, at the value
            })
            || BooleanFields.Any(k => read.TryGetPropertyValue(k, out var n) && (n is null || !RequestJson.ReadsAsBoolean(n))))
        {
            // A value Jackson's accessor refuses: its error names the value's place and quotes the text
            // (JacksonSyntax.AccessorFailure); a token parseXContent does not read for the key is refused at its place
            // (UnknownKey). So the text is remembered, for this body only (the proxy keeps no copy of another).
            JsonLocations.Remember(read, body);
        }

        length = end;
        return read;
    }

    // The body's fields read as parser.intValue() (track_total_hits when it is not a boolean).
    private static readonly string[] IntFields = ["from", "size", "track_total_hits"];

    // The body's fields read as parser.booleanValue() (SearchSourceBuilder.parseXContent).
    private static readonly string[] BooleanFields = ["explain", "version", "seq_no_primary_term", "track_scores", "profile"];

    /// <summary>
    /// A boolean field of a search body (<c>explain</c>, <c>track_scores</c>, <c>version</c>, <c>seq_no_primary_term</c>, <c>profile</c>)
    /// as <c>SearchSourceBuilder.parseXContent</c> reads it: a value (string, number, boolean) with
    /// <c>parser.booleanValue()</c> (<see cref="RequestJson.BooleanValue"/>); <c>null</c>, an object or an array is no
    /// token it reads for that key, its <c>parsing_exception</c> "Unknown key for a START_OBJECT in [explain]." at the
    /// value. Null when absent.
    /// </summary>
    /// <param name="body">The search body, or null.</param>
    /// <param name="key">The field's name.</param>
    public static bool? Bool(JsonObject? body, string key) => body is null || !body.TryGetPropertyValue(key, out var value) ? null
        : value is null or JsonObject or JsonArray
            ? throw UnknownKey(key, value, body)
            : RequestJson.BooleanValue(value);

    /// <summary>
    /// <c>SearchSourceBuilder.parseXContent</c>'s refusal of a token it does not read for a key (a null is no
    /// <c>Token.isValue()</c>, so every key refuses it): the <c>ParsingException</c> "Unknown key for a VALUE_NULL in
    /// [from]." at <c>parser.getTokenLocation()</c>, the value's place.
    /// </summary>
    /// <param name="key">The field's name.</param>
    /// <param name="value">Its value (JSON null is null).</param>
    /// <param name="parent">The object that holds it, whose remembered text gives the place (null: none given).</param>
    internal static EsException UnknownKey(string key, JsonNode? value, JsonObject? parent) =>
        EsException.Parsing($"Unknown key for a {RequestJson.TokenName(value)} in [{key}].", parent is null ? null : JsonLocations.OfValue(parent, key));

    /// <summary>
    /// A <c>_search</c>'s body: null when there is none (no bytes at all), as a <c>_search</c> with no body searches
    /// everything; otherwise <see cref="Read"/>'s object. A body of whitespace alone is a body (<c>RestRequest.hasContent</c>
    /// is <c>contentLength() &gt; 0</c>) with no token in it: "Expected [START_OBJECT] but found [null]".
    /// </summary>
    /// <param name="body">The body's UTF-8 text.</param>
    public static JsonObject? ReadOptional(ReadOnlySpan<byte> body) => body.IsEmpty ? null : Read(body, checkTrailingTokens: true);

    /// <summary>
    /// A <c>from</c>, <c>size</c> or <c>track_total_hits</c> of <paramref name="body"/> that Elasticsearch refuses while it
    /// reads the body (negative, or not read by <c>parser.intValue()</c>), refused in the body's order as
    /// <see cref="CheckField"/> refuses it.
    /// </summary>
    /// <param name="body">The search body.</param>
    /// <param name="openSearch">Whether OpenSearch's words apply.</param>
    public static void CheckWindow(JsonObject body, bool openSearch)
    {
        foreach (var (key, value) in body)
        {
            if (value is null && IntFields.Contains(key))
            {
                throw UnknownKey(key, value, body);
            }

            CheckField(key, value, openSearch);
        }
    }

    /// <summary>
    /// A body field <c>from</c>, <c>size</c> or <c>track_total_hits</c> refused as <c>SearchSourceBuilder.parseXContent</c>
    /// refuses it while it reads the body (<c>from(parser.intValue())</c>, <c>size(..)</c>): a value
    /// <see cref="XContentInt.Read"/> refuses, with its error, or one it reads as negative (<see cref="NegativeWindow"/>);
    /// <c>track_total_hits</c> as <see cref="TrackTotalHits"/> reads it. Any other field is not looked at.
    /// </summary>
    /// <param name="key">The field's name.</param>
    /// <param name="value">Its value.</param>
    /// <param name="openSearch">Whether OpenSearch's words apply.</param>
    public static void CheckField(string key, JsonNode? value, bool openSearch = false)
    {
        if (key is "from" or "size" && XContentInt.Read(key, value) is < 0 and var n)
        {
            throw NegativeWindow(key, n, openSearch);
        }

        if (key == "track_total_hits")
        {
            TrackTotalHits(value);
        }
    }

    /// <summary>
    /// A body's <c>track_total_hits</c> as <c>SearchSourceBuilder.parseXContent</c> reads it: a boolean, or a string
    /// <c>Booleans.isBoolean</c> takes (<c>"true"</c>, <c>"false"</c>), is <c>trackTotalHits(..)</c>; anything else is
    /// <c>trackTotalHitsUpTo(parser.intValue())</c> (<see cref="XContentInt.Read"/>, with its errors, then
    /// <see cref="TrackTotalHitsUpTo"/>). The hits to count exactly: <see cref="int.MaxValue"/> for <c>true</c>, null when
    /// none are (<c>false</c>, <c>-1</c>).
    /// </summary>
    /// <param name="value">The field's value (JSON null is null).</param>
    public static int? TrackTotalHits(JsonNode? value) => value is JsonValue v && BooleanOf(v) is { } track
        ? track ? int.MaxValue : null
        : TrackTotalHitsUpTo(XContentInt.Read("track_total_hits", value));

    // A boolean token, or a string Booleans.isBoolean takes; null for anything else.
    private static bool? BooleanOf(JsonValue v) => v.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => v.GetValue<string>() switch { "true" => true, "false" => false, _ => null },
        _ => null,
    };

    /// <summary>
    /// <c>SearchSourceBuilder.trackTotalHitsUpTo</c>: at least 0, or <c>-1</c> (<c>TRACK_TOTAL_HITS_DISABLED</c>: no total,
    /// null here); below that an <c>IllegalArgumentException</c>, a 400 <c>illegal_argument_exception</c>
    /// "[track_total_hits] parameter must be positive or equals to -1, got -5".
    /// </summary>
    /// <param name="n">The value read (body or URL).</param>
    public static int? TrackTotalHitsUpTo(int n) => n switch
    {
        -1 => null,
        >= 0 => n,
        _ => throw EsException.IllegalArgument($"[track_total_hits] parameter must be positive or equals to -1, got {n}"),
    };

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
    /// An integer field of a search body (<c>from</c>, <c>size</c>, <c>track_total_hits</c>) as Elasticsearch's
    /// <c>parser.intValue()</c> reads it (<see cref="XContentInt.Read"/>: <c>1.5</c> is 1, <c>"10"</c> is 10); null when
    /// the body has no such field, Elasticsearch's error when it has one that is refused (JSON <c>null</c> included).
    /// </summary>
    /// <param name="body">The search body, or null.</param>
    /// <param name="key">The field's name.</param>
    public static int? Int(JsonObject? body, string key) => body is not null && body.TryGetPropertyValue(key, out var value)
        ? XContentInt.Read(key, value ?? throw UnknownKey(key, value, body))
        : null;
}
