using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// How a JSON request body (a search, an msearch line, a document) is parsed, by the proxy and by the embedded backend
/// alike: as deep as the embedded backend reads, and with a repeated field refused as Elasticsearch refuses it (its
/// JSON parser runs with strict duplicate detection) rather than kept, dropped or failing later as a 500.
/// </summary>
internal static class RequestJson
{
    /// <summary>
    /// The deepest nesting read. Elasticsearch reads far deeper bodies than System.Text.Json's default of 64 (30 nested
    /// <c>bool</c> queries are about 92 levels); its own limit is on query nesting (<c>indices.query.bool.max_nested_depth</c>).
    /// </summary>
    public const int MaxDepth = 256;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false, CommentHandling = JsonCommentHandling.Skip };

    /// <summary>
    /// How every reader of a request body reads it: as deep as <see cref="MaxDepth"/>, and with comments (<c>/* .. */</c>,
    /// <c>// ..</c>) skipped as Elasticsearch's JSON parser skips them (<c>JsonXContentImpl</c> turns on Jackson's
    /// <c>JsonParser.Feature.ALLOW_COMMENTS</c>); YAML's <c>#</c> comments stay refused, as there.
    /// </summary>
    public static JsonReaderOptions ReaderOptions => new() { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Skip };

    /// <summary>
    /// <paramref name="raw"/> with a leading UTF-8 byte order mark read as three spaces: Elasticsearch skips the mark
    /// before it parses (<c>ESByteSourceJsonBootstrapper.handleBOM</c>) but counts its bytes in line 1's columns, as these
    /// do. Windows tools write one (PowerShell's <c>Out-File -Encoding utf8</c>).
    /// </summary>
    /// <param name="raw">The UTF-8 request body.</param>
    public static ReadOnlySpan<byte> ByteOrderMarkAsSpaces(ReadOnlySpan<byte> raw)
    {
        if (!raw.StartsWith("\uFEFF"u8))
        {
            return raw;
        }

        var copy = raw.ToArray();
        copy.AsSpan(0, 3).Fill((byte)' ');
        return copy;
    }

    /// <summary>
    /// How much of <paramref name="raw"/> a parser reading one object reads: up to the end of its first value when that is
    /// an object, as Elasticsearch's <c>ObjectParser</c> reads a request (<c>SearchTemplateRequest.fromXContent</c> on
    /// <c>_search/template</c> and <c>_render/template</c>) and never looks past it; all of it otherwise (no object, or one
    /// that does not parse), for the caller's own reading to refuse.
    /// </summary>
    /// <param name="raw">The UTF-8 request body.</param>
    public static int ObjectEnd(ReadOnlySpan<byte> raw)
    {
        var reader = new Utf8JsonReader(ByteOrderMarkAsSpaces(raw), ReaderOptions with { AllowMultipleValues = true });
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                return ObjectEnd(ref reader, raw.Length, out _);
            }
        }
        catch (JsonException)
        {
        }

        return raw.Length;
    }

    /// <summary>
    /// Where the object that <paramref name="reader"/> (reading multiple values) stands at the start of ends, and the token
    /// after it in <paramref name="next"/> (<see cref="JsonTokenType.None"/>: nothing, or text that is no token).
    /// <paramref name="length"/> (the whole text) when the object does not parse, for the caller's own reading to refuse.
    /// </summary>
    /// <param name="reader">A reader on the object's first token.</param>
    /// <param name="length">The text's length.</param>
    /// <param name="next">The token after the object.</param>
    public static int ObjectEnd(ref Utf8JsonReader reader, int length, out JsonTokenType next)
    {
        next = JsonTokenType.None;
        try
        {
            reader.Skip();
        }
        catch (JsonException)
        {
            return length;
        }

        var end = (int)reader.BytesConsumed;
        try
        {
            if (reader.Read())
            {
                next = reader.TokenType;
            }
        }
        catch (JsonException)
        {
        }

        return end;
    }

    /// <summary>Whether <paramref name="raw"/> holds nothing but JSON whitespace: a request with no body.</summary>
    /// <param name="raw">The UTF-8 request body.</param>
    public static bool IsEmpty(ReadOnlySpan<byte> raw) => raw.Trim(" \t\r\n"u8).IsEmpty;

    /// <summary>
    /// Parses <paramref name="raw"/>. A field repeated within one object is a 400 <c>x_content_parse_exception</c>
    /// (<c>[line:column] Duplicate field 'size'</c>, as Elasticsearch words it), and a name or string that is not valid
    /// UTF-8 a 400 <c>parsing_exception</c> saying where; any other malformed text is a <see cref="JsonException"/>,
    /// for the caller to word. A lone surrogate escape (<c>"\ud83d"</c>, half an emoji) is read, as Elasticsearch's
    /// parser reads it, as U+FFFD (<see cref="LoneSurrogates"/>): <paramref name="raw"/> itself is not changed.
    /// </summary>
    /// <param name="raw">The UTF-8 JSON text.</param>
    public static JsonNode? Parse(ReadOnlySpan<byte> raw)
    {
        raw = ByteOrderMarkAsSpaces(raw);
        var text = LoneSurrogates.Replaced(raw) is { } replaced ? replaced : raw;
        try
        {
            ValidateStrings(text);
            return JsonNode.Parse(text, documentOptions: Options);
        }
        catch (JsonException) when (FirstDuplicate(text) is { } duplicate)
        {
            throw duplicate;
        }
    }

    /// <summary>
    /// JSON that does not parse, as Elasticsearch answers it. For the common syntax errors (<see cref="JacksonSyntax"/>)
    /// in Jackson 2.15's words and at its position, as <c>JsonXContentParser</c> wraps them: <c>x_content_parse_exception</c>
    /// "[line:column] " and Jackson's message with its location (<c>\n at [Source: (byte[])"..."; line: 1, column: 5]</c>),
    /// caused by <c>json_parse_exception</c> with that message; or, where the text ends before its objects or arrays do
    /// (Jackson's <c>JsonEOFException</c>, which <c>JsonXContentParser.nextToken</c> turns into an
    /// <c>XContentEOFException</c>), <c>x_content_e_o_f_exception</c> "[line:column] Unexpected end of file" caused by
    /// <c>json_e_o_f_exception</c>. Otherwise (a malformed number, the text ending inside a string value) the same types
    /// at System.Text.Json's position, with its words. For a Jackson-worded error, <see cref="EsException.OpenSearchForm"/>
    /// holds OpenSearch's answer: the <c>json_parse_exception</c> (<c>json_e_o_f_exception</c>) itself, unwrapped, its
    /// source <see cref="JacksonSyntax.Redacted"/>, at Jackson 2.17's column.
    /// </summary>
    /// <param name="e">System.Text.Json's error.</param>
    /// <param name="text">The text it read (a search body, an msearch line).</param>
    public static EsException ParseFailure(JsonException e, ReadOnlySpan<byte> text)
    {
        if (JacksonSyntax.Find(text) is { } found)
        {
            var at = new Elastic.Location(found.Line, found.Column).ToString();
            var jackson = $"{found.Message}\n at {JacksonSyntax.Location(JacksonSyntax.Source(text), found.Line, found.Column)}";
            var jsonType = found.EndOfInput ? "json_e_o_f_exception" : "json_parse_exception";
            var elasticsearch = found.EndOfInput
                ? EsException.Foreign(400, "x_content_e_o_f_exception", $"{at} Unexpected end of file", EsException.Foreign(400, jsonType, jackson))
                : EsException.Foreign(400, "x_content_parse_exception", $"{at} {jackson}", EsException.Foreign(400, jsonType, jackson));

            // OpenSearch's JsonXContentParser does not wrap Jackson's exception, and its JsonXContent leaves
            // INCLUDE_SOURCE_IN_LOCATION at Jackson 2.16+'s default (off): ExceptionsHelper.status makes the
            // JsonParseException itself a 400, its message naming no source, at the column Jackson 2.17+ reports.
            var redacted = JacksonSyntax.Find(text, JacksonSyntax.Redacted)!;
            elasticsearch.OpenSearchForm = EsException.Foreign(400, jsonType,
                $"{redacted.Message}\n at {JacksonSyntax.Location(JacksonSyntax.Redacted, redacted.Line, redacted.ColumnSince217)}");
            return elasticsearch;
        }

        var line = e.LineNumber ?? 0;
        var column = (e.BytePositionInLine ?? 0) + 1;
        var reason = e.Message.IndexOf(" LineNumber:", StringComparison.Ordinal) is var cut and > 0 ? e.Message[..cut] : e.Message;
        var sent = text.TrimEnd(" \t\r\n"u8);
        var lastLine = sent.Count((byte)'\n');
        var endOfText = line > lastLine || (line == lastLine && column > sent.Length - (sent.LastIndexOf((byte)'\n') + 1));
        return new EsException(400, endOfText ? "x_content_e_o_f_exception" : "x_content_parse_exception", $"[{line + 1}:{column}] {reason}");
    }

    /// <summary>
    /// A document (an index or create request's source, a bulk item's) that does not parse, as Elasticsearch 9's
    /// <c>DocumentParser.parseDocument</c> answers it on the shard: the parser's error (<see cref="ParseFailure"/>'s
    /// <c>x_content_parse_exception</c> or <c>x_content_e_o_f_exception</c>, Jackson's error under it) met inside the
    /// document's object is wrapped by <c>wrapInDocumentParsingException</c>, a <c>document_parsing_exception</c>
    /// "[line:col] failed to parse: " and the error's reason, placed at the token the parser stood on
    /// (<see cref="JacksonSyntax.Error.Token"/>); one met before or after that object (<c>validateStart</c>,
    /// <c>validateEnd</c>) is rethrown as a <c>document_parsing_exception</c> at the error's own place, its reason the
    /// error's ("[1:10] [1:10] Unrecognized token ..."); a document that starts with no object is "Malformed content, must
    /// start with an object"; a value after the object is <c>validateEnd</c>'s <c>illegal_argument_exception</c>
    /// "Malformed content, found extra data after parsing: START_OBJECT". The root cause is the
    /// <c>document_parsing_exception</c>: its cause is not Elasticsearch's own. <see cref="EsException.OpenSearchForm"/>
    /// holds OpenSearch's answer, whose <c>DocumentParser</c> wraps every failure in a <c>mapper_parsing_exception</c>
    /// "failed to parse" caused by the parser's own error.
    /// </summary>
    /// <param name="e">System.Text.Json's error.</param>
    /// <param name="text">The document's text.</param>
    public static EsException DocumentParseFailure(JsonException e, ReadOnlySpan<byte> text)
    {
        var parsed = ParseFailure(e, text);
        var cause = EsException.Foreign(parsed.Status, parsed.Type, parsed.Message, parsed.CausedBy);
        EsException elasticsearch;
        if (JacksonSyntax.Find(text) is not { } found)
        {
            var reader = new Utf8JsonReader(text, ReaderOptions with { AllowMultipleValues = true });
            var extra = JsonTokenType.None;
            var objectEnd = false;
            try
            {
                objectEnd = reader.Read() && reader.TokenType == JsonTokenType.StartObject && ObjectEnd(ref reader, text.Length, out extra) < text.Length;
            }
            catch (JsonException)
            {
            }

            elasticsearch = objectEnd && extra != JsonTokenType.None
                ? EsException.Foreign(400, "illegal_argument_exception", $"Malformed content, found extra data after parsing: {TokenName(extra)}")
                : new EsException(400, "document_parsing_exception", $"failed to parse: {parsed.Message}", null, cause);
        }
        else if (found.AtRoot)
        {
            elasticsearch = new EsException(400, "document_parsing_exception", $"{new Elastic.Location(found.Line, found.Column)} {parsed.Message}", null, cause);
        }
        else if (!StartsWithObject(text))
        {
            const string NotAnObject = "Malformed content, must start with an object";
            return new EsException(400, "document_parsing_exception", NotAnObject) { OpenSearchForm = new EsException(400, "mapper_parsing_exception", NotAnObject) };
        }
        else
        {
            elasticsearch = new EsException(400, "document_parsing_exception", $"{(found.Token is { } token ? $"{token} " : "")}failed to parse: {parsed.Message}", null, cause);
        }

        elasticsearch.OpenSearchForm = new EsException(400, "mapper_parsing_exception", "failed to parse", null, elasticsearch.Type == "illegal_argument_exception" ? elasticsearch : parsed.OpenSearchForm ?? cause);
        return elasticsearch;
    }

    // Whether the first token of text is an object's start (DocumentParser.validateStart).
    private static bool StartsWithObject(ReadOnlySpan<byte> text)
    {
        var reader = new Utf8JsonReader(text, ReaderOptions with { AllowMultipleValues = true });
        try
        {
            return reader.Read() && reader.TokenType == JsonTokenType.StartObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Where byte <paramref name="index"/> of <paramref name="text"/> is, as Jackson's <c>XContentLocation</c> prints it
    /// in an error reason: <c>[line:column]</c>, both from 1.
    /// </summary>
    /// <param name="text">The UTF-8 text.</param>
    /// <param name="index">A byte offset into it.</param>
    public static string Location(ReadOnlySpan<byte> text, long index) => Elastic.Location.Of(text, index).ToString();

    /// <summary>
    /// A boolean's text as Elasticsearch's <c>Booleans.parseBoolean</c> reads it: exactly <c>true</c> or <c>false</c>
    /// (not <c>"True"</c>, not empty); otherwise its <c>illegal_argument_exception</c> "Failed to parse value [x] as only
    /// [true] or [false] are allowed.". A URL parameter's, a string field's of a body, a string <c>booleanValue()</c>.
    /// </summary>
    /// <param name="text">The text.</param>
    public static bool ParseBoolean(string text) => text switch
    {
        "true" => true,
        "false" => false,
        _ => throw EsException.IllegalArgument($"Failed to parse value [{text}] as only [true] or [false] are allowed."),
    };

    /// <summary>
    /// A string token as <c>AbstractXContentParser.booleanValue()</c> reads it (a body's boolean option, a document's
    /// <c>boolean</c> field): <c>Booleans.parseBoolean(chars, offset, length, false)</c>, so false when empty or only
    /// whitespace (Java's <c>Character.isWhitespace</c>), otherwise <see cref="ParseBoolean"/>'s strict <c>true</c> or
    /// <c>false</c>.
    /// </summary>
    /// <param name="text">The string's text.</param>
    public static bool StringBooleanValue(string text) => text.Any(c => !IsJavaWhitespace(c)) && ParseBoolean(text);

    /// <summary>
    /// A body value as <c>AbstractXContentParser.booleanValue()</c> reads it, the one reading of a boolean option of a
    /// query (<c>lenient</c>, <c>fuzzy_transpositions</c>, <c>case_insensitive</c>, <c>query_string</c>'s and
    /// <c>simple_query_string</c>'s): a JSON boolean; a string as <see cref="StringBooleanValue"/>; any other token
    /// Jackson's <c>getBooleanValue()</c> refusal as <c>JsonXContentParser</c> wraps it, the 400
    /// <c>x_content_parse_exception</c> "[1:55] Current token (VALUE_NUMBER_INT) not of boolean type\n at [Source: ..]"
    /// (<see cref="JacksonSyntax.AccessorFailure"/>). Null when absent.
    /// </summary>
    /// <param name="value">The value (JSON null is null).</param>
    public static bool? BooleanValue(JsonNode? value) => value switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
        JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => StringBooleanValue(v.GetValue<string>()),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number =>
            throw JacksonSyntax.AccessorFailure(v, $"Current token ({XContentInt.NumberToken(v.ToJsonString())}) not of boolean type"),
        _ => throw JacksonSyntax.AccessorFailure(value, $"Current token ({TokenName(value)}) not of boolean type"),
    };

    /// <summary>Whether <see cref="BooleanValue"/> reads <paramref name="value"/> without Jackson's refusal: a JSON boolean or a string.</summary>
    /// <param name="value">A present value.</param>
    internal static bool ReadsAsBoolean(JsonNode value) => value is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False or JsonValueKind.String;

    // Character.isWhitespace: a space, line or paragraph separator other than the no-break spaces, or \t..\r, \u001C..\u001F.
    private static bool IsJavaWhitespace(char c) =>
        c is (>= '\t' and <= '\r') or (>= '\u001C' and <= '\u001F')
        || (char.GetUnicodeCategory(c) is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            && c is not ('\u00A0' or '\u2007' or '\u202F'));

    /// <summary>
    /// A URL parameter as <c>RestRequest.paramAsBoolean(key, boolean defaultValue)</c> reads it: true when empty (the
    /// parameter's presence turns it on), null (the caller's default) when absent or only whitespace
    /// (<c>Booleans.parseBoolean</c>'s <c>hasText</c>), otherwise <see cref="ParseBoolean"/>'s strict <c>true</c> or
    /// <c>false</c>.
    /// </summary>
    /// <param name="value">The parameter's value, or null.</param>
    public static bool? ParamAsBoolean(string? value) => value == "" ? true : ParamAsNullableBoolean(value);

    /// <summary>
    /// A URL parameter as <c>RestRequest.paramAsBoolean(key, Boolean defaultValue)</c> (the boxed overload, as in
    /// <c>paramAsBoolean("explain", null)</c>) reads it: <c>Booleans.parseBoolean(value, defaultValue)</c>, so null when
    /// absent, empty or only whitespace, otherwise <see cref="ParseBoolean"/>'s strict <c>true</c> or <c>false</c>.
    /// </summary>
    /// <param name="value">The parameter's value, or null.</param>
    public static bool? ParamAsNullableBoolean(string? value) => string.IsNullOrWhiteSpace(value) ? null : ParseBoolean(value);

    /// <summary>
    /// A URL parameter as <c>XContentMapValues.nodeBooleanValue(node, name, defaultValue)</c> reads it (as
    /// <c>IndicesOptions.fromParameters</c> reads <c>ignore_unavailable</c> and <c>allow_no_indices</c>): null (the
    /// default) when absent, empty or only whitespace, else exactly <c>true</c> or <c>false</c>, or 400
    /// <c>illegal_argument_exception</c> "Could not convert [name] to boolean" caused by <see cref="ParseBoolean"/>'s.
    /// </summary>
    /// <param name="value">The parameter's value, or null.</param>
    /// <param name="name">The parameter's name, for the error.</param>
    /// <param name="withDefault">
    /// False for <c>nodeBooleanValue(node, name)</c>, with no default (Elasticsearch 9's <c>IndicesOptions</c>): null
    /// only when absent, an empty or blank value refused as any other but <c>true</c> or <c>false</c>.
    /// </param>
    public static bool? NodeBooleanValue(string? value, string name, bool withDefault = true)
    {
        try
        {
            return withDefault || value is null ? ParamAsNullableBoolean(value) : ParseBoolean(value);
        }
        catch (EsException e)
        {
            throw EsException.Foreign(400, "illegal_argument_exception", $"Could not convert [{name}] to boolean", e);
        }
    }

    /// <summary>
    /// A boolean of a request body as Elasticsearch's parser reads one: <c>true</c> or <c>false</c>, as JSON or as the
    /// exact strings (<c>Booleans.parseBoolean</c>: not <c>"True"</c>); null when absent; otherwise a 400.
    /// </summary>
    /// <param name="value">The field's value.</param>
    /// <param name="name">The field's name, for the error.</param>
    public static bool? Bool(JsonNode? value, string name) => value switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is "true" or "false" => v.GetValue<string>() == "true",
        _ => throw EsException.Parsing($"[{name}] failed to parse: only [true] or [false] are allowed, found [{Echo(value)}]"),
    };

    // A bad value echoed in an error reason: at most 64 characters, however big the value sent.
    private static string Echo(JsonNode value) => value.ToJsonString() is { Length: > 64 } text ? text[..64] + "..." : value.ToJsonString();

    /// <summary>The name Elasticsearch's parser gives the token a value starts with (<c>START_OBJECT</c>, <c>VALUE_NUMBER</c>...), for its error reasons.</summary>
    public static string TokenName(JsonNode? value) => value switch
    {
        JsonObject => "START_OBJECT",
        JsonArray => "START_ARRAY",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => "VALUE_STRING",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => "VALUE_NUMBER",
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => "VALUE_BOOLEAN",
        _ => "VALUE_NULL",
    };

    /// <summary>The name Elasticsearch's parser gives a token a reader stands on, as <see cref="TokenName(JsonNode?)"/>.</summary>
    /// <param name="token">The token.</param>
    public static string TokenName(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "START_OBJECT",
        JsonTokenType.StartArray => "START_ARRAY",
        JsonTokenType.String => "VALUE_STRING",
        JsonTokenType.Number => "VALUE_NUMBER",
        JsonTokenType.True or JsonTokenType.False => "VALUE_BOOLEAN",
        _ => "VALUE_NULL",
    };

    // JsonNode defers string decoding to first use, where invalid UTF-8 would surface as an InvalidOperationException
    // deep in the search (a 500): decode every string once here instead (lone surrogate escapes are replaced before).
    private static void ValidateStrings(ReadOnlySpan<byte> raw)
    {
        var reader = new Utf8JsonReader(raw, ReaderOptions);
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
            {
                try
                {
                    _ = reader.GetString();
                }
                catch (InvalidOperationException e)
                {
                    throw EsException.Parsing($"request body holds invalid text at byte {reader.TokenStartIndex}: {e.Message}");
                }
            }
        }
    }

    // Only on the failure path: System.Text.Json names the duplicate but not where it is.
    private static EsException? FirstDuplicate(ReadOnlySpan<byte> raw)
    {
        var reader = new Utf8JsonReader(raw, ReaderOptions);
        var names = new Stack<HashSet<string>>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        names.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.EndObject:
                        names.Pop();
                        break;
                    case JsonTokenType.PropertyName when !names.Peek().Add(reader.GetString()!):
                        // OpenSearch's JsonXContentParser does not wrap the JsonParseException of Jackson's strict duplicate
                        // detection (JsonReadContext._checkDup, as its JsonXContent turns STRICT_DUPLICATE_DETECTION on): a
                        // 400 of its own (ExceptionsHelper.status), at the parser's current location, just past the name's
                        // closing quote, its source redacted (Jackson 2.16+).
                        var after = Elastic.Location.Of(raw, reader.TokenStartIndex + reader.ValueSpan.Length + 2);
                        return new EsException(400, "x_content_parse_exception", $"{Location(raw, reader.TokenStartIndex)} Duplicate field '{reader.GetString()}'")
                        {
                            OpenSearchForm = EsException.Foreign(400, "json_parse_exception",
                                $"Duplicate field '{reader.GetString()}'\n at {JacksonSyntax.Location(JacksonSyntax.Redacted, after.Line, after.Column)}"),
                        };
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Malformed before any duplicate: the parser's own error stands.
        }

        return null;
    }
}
