using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lucene.Net.Documents;
using Lucene.Net.Util;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>
/// JSON to Lucene: the fields of one document as <see cref="SearchIndex"/> writes them, typed by the index's mapping
/// (text analysed, keyword exact with sort values, boolean, date and numbers as points with doc values for sorting).
/// </summary>
internal static partial class DocumentFields
{
    /// <summary>The document id: indexed untokenized and stored.</summary>
    public const string IdField = "_id";

    /// <summary>The source as it was written, stored.</summary>
    public const string SourceField = "_source";

    /// <summary>The document's version, stored.</summary>
    public const string VersionField = "_version";

    /// <summary>The sequence number of the document's last write, stored.</summary>
    public const string SeqNoField = "_seq_no";

    /// <summary>
    /// The Lucene document of one source: the stored fields (<c>_id</c>, <c>_source</c>, version, sequence number) and
    /// an indexed field for every value, typed by <paramref name="mapping"/> (a new path is mapped dynamically). Throws
    /// Elasticsearch's <c>document_parsing_exception</c> on a value its field cannot hold, before anything is written.
    /// </summary>
    public static Document Build(IndexMapping mapping, string id, JsonObject source, string json, long version, long seqNo)
    {
        var doc = new Document
        {
            new StringField(IdField, id, Field.Store.YES),
            new StoredField(SourceField, json),
            new StoredField(VersionField, version),
            new StoredField(SeqNoField, seqNo),
        };
        var sortable = new SortValues();
        var pending = new Dictionary<string, FieldMapping>(StringComparer.Ordinal);
        AddFields(doc, mapping, id, source, string.Empty, sortable, pending);
        sortable.AddMultiValued(doc);
        mapping.Commit(pending); // the dynamic update, once the whole document parsed
        return doc;
    }

    // node: the value at path (null for JSON null); container and key: the object or array that holds it, and its name
    // there (for a null's place, and for the place of a value in an array of a new field).
    private static void AddFields(Document doc, IndexMapping mappings, string id, JsonNode? node, string path, SortValues sortable, Dictionary<string, FieldMapping> pending,
        JsonNode? container = null, string key = "")
    {
        switch (node)
        {
            case null:
                if (path.Length > 0 && mappings.ObjectAt(path) is not { Enabled: false })
                {
                    mappings.CheckNew(path, () => NewFieldAt(node, container, key)); // a null for an unmapped field is a new field under "strict"
                }

                return;
            case JsonObject obj:
                if (path.Length > 0)
                {
                    if (mappings.ObjectAt(path) is { Enabled: false })
                    {
                        return; // "enabled": false: kept in _source, never indexed
                    }

                    if (mappings.FieldAt(path, pending) is { } leaf)
                    {
                        // FieldMapper.parse: a text, keyword, number, date or boolean field has no object value (its parser
                        // asks the START_OBJECT for text or a number); the document is refused, its preview the object as
                        // Java's HashMap writes it.
                        throw ParseFailure(path, leaf, id, obj, ObjectCause(leaf, obj));
                    }

                    mappings.CheckNew(path, () => NewFieldAt(obj, container, key)); // a new object, empty or not, under "strict"
                }

                foreach (var (name, child) in obj)
                {
                    AddFields(doc, mappings, id, child, path.Length == 0 ? name : $"{path}.{name}", sortable, pending, obj, name);
                }

                return;
            case JsonArray arr:
                foreach (var item in arr)
                {
                    AddFields(doc, mappings, id, item, path, sortable, pending, arr, key);
                }

                return;
            case JsonValue value:
                switch (mappings.ObjectAt(path))
                {
                    case { Enabled: false }:
                        return; // a disabled object takes any JSON
                    case not null:
                        // DocumentParser.throwOnConcreteValue, at the value's token.
                        throw DocumentParsing(JsonLocations.Of(Placed(value)),
                            $"object mapping for [{path}] tried to parse field [{path[(path.LastIndexOf('.') + 1)..]}] as object, but found a concrete value");
                }

                if ((mappings.Get(path) ?? mappings.GetOrAddDynamic(path, value, pending, () => NewFieldAt(value, container, key))) is not { } mapping)
                {
                    return; // "dynamic": false: kept in _source, not indexed
                }

                AddValue(doc, id, path, mapping, value, sortable);
                foreach (var (sub, subMapping) in mapping.SubFields)
                {
                    AddValue(doc, id, $"{path}.{sub}", subMapping, value, sortable);
                }

                return;
        }
    }

    private static void AddValue(Document doc, string id, string path, FieldMapping mapping, JsonValue value, SortValues sortable)
    {
        switch (mapping.Kind)
        {
            case FieldKind.Text:
                doc.Add(new TextField(path, AsString(value), Field.Store.NO));
                break;
            case FieldKind.Keyword:
            {
                var s = AsString(value);
                if (mapping.IgnoreAbove is { } max && s.Length > max)
                {
                    break;
                }

                doc.Add(new StringField(path, s, Field.Store.NO));
                if (sortable.Add(path, s))
                {
                    doc.Add(new SortedDocValuesField(path, new BytesRef(s)));
                }

                break;
            }

            case FieldKind.Boolean:
            {
                var b = value.GetValueKind() switch
                {
                    // AbstractXContentParser.booleanValue (RequestJson.BooleanValue): Booleans.parseBoolean on a string
                    // (empty or blank is false), Jackson's getBooleanValue() on a number.
                    JsonValueKind.True or JsonValueKind.False or JsonValueKind.String or JsonValueKind.Number => BooleanValue(path, mapping, id, value) ? "true" : "false",
                    _ => throw ParseFailure(path, mapping, id, value, null),
                };
                doc.Add(new StringField(path, b, Field.Store.NO));
                break;
            }

            case FieldKind.Date:
            {
                if (!IndexMapping.TryParseDate(value, out var ms))
                {
                    throw ParseFailure(path, mapping, id, value, DateCause(AsString(value)));
                }

                doc.Add(new Int64Field(path, ms, Field.Store.NO));
                if (sortable.Add(path, ms))
                {
                    doc.Add(new NumericDocValuesField(path, ms));
                }

                break;
            }

            case FieldKind.Long or FieldKind.Integer:
            {
                // NumberFieldMapper.value: an empty string is the null value (coerce, on by default); the number is read
                // as parser.longValue(coerce)/intValue(coerce) read it (a fraction is truncated).
                if (ReadWhole(path, mapping, id, value) is not { } l)
                {
                    break;
                }

                doc.Add(new Int64Field(path, l, Field.Store.NO));
                if (sortable.Add(path, l))
                {
                    doc.Add(new NumericDocValuesField(path, l));
                }

                break;
            }

            default:
            {
                if (ReadFloatingPoint(path, mapping, id, value) is not { } d)
                {
                    break;
                }

                doc.Add(new DoubleField(path, d, Field.Store.NO));
                if (sortable.Add(path, d))
                {
                    doc.Add(new DoubleDocValuesField(path, d));
                }

                break;
            }
        }
    }

    // NumberFieldMapper's LONG and INTEGER: parser.longValue(coerce)/intValue(coerce). A JSON number is Jackson's
    // getLongValue()/getIntValue() (a fraction truncated, past the type's range its InputCoercionException); a string is
    // AbstractXContentParser.toLong (Long.parseLong, then BigDecimal, truncated) or intValue's Double.parseDouble; a
    // boolean is Jackson's "not numeric". Null for an empty string (the field's null value: nothing indexed).
    private static long? ReadWhole(string path, FieldMapping mapping, string id, JsonValue value)
    {
        var isLong = mapping.Kind == FieldKind.Long;
        switch (value.GetValueKind())
        {
            case JsonValueKind.Number:
            {
                var literal = value.ToJsonString();
                var read = isLong ? XContentInt.LongInRange(literal) : XContentInt.NumberInRange(literal);
                return read ?? throw ParseFailure(path, mapping, id, value, JacksonAccessor(value,
                    isLong ? XContentInt.OutOfRangeOfLong(literal) : XContentInt.OutOfRangeOfInt(literal), "input_coercion_exception"));
            }

            case JsonValueKind.String:
            {
                var text = value.GetValue<string>();
                if (text.Length == 0)
                {
                    return null;
                }

                try
                {
                    return isLong ? JavaToLong(text) : XContentInt.FromString(text);
                }
                catch (EsException cause)
                {
                    // Java's NumberFormatException or IllegalArgumentException: not Elasticsearch's, so the root cause
                    // guessed is the document_parsing_exception above it.
                    throw ParseFailure(path, mapping, id, value, EsException.Foreign(cause.Status, cause.Type, cause.Message));
                }
            }

            default:
                throw ParseFailure(path, mapping, id, value, JacksonAccessor(value, XContentInt.NotNumeric(value)));
        }
    }

    // NumberFieldMapper's DOUBLE and FLOAT: parser.doubleValue(coerce)/floatValue(coerce), then the finite check. A string
    // is Double.parseDouble/Float.parseFloat (an empty one the null value: null).
    private static double? ReadFloatingPoint(string path, FieldMapping mapping, string id, JsonValue value)
    {
        double d;
        switch (value.GetValueKind())
        {
            case JsonValueKind.Number:
                // Jackson's getDoubleValue(): a literal past a double's range is an infinity (refused below).
                d = value.TryGetValue<double>(out var read) ? read : value.ToJsonString().StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
                break;
            case JsonValueKind.String:
                var text = value.GetValue<string>();
                if (text.Length == 0)
                {
                    return null;
                }

                try
                {
                    d = XContentInt.ParseJavaDouble(text);
                }
                catch (EsException cause)
                {
                    // Java's NumberFormatException or IllegalArgumentException: not Elasticsearch's, so the root cause
                    // guessed is the document_parsing_exception above it.
                    throw ParseFailure(path, mapping, id, value, EsException.Foreign(cause.Status, cause.Type, cause.Message));
                }

                break;
            default:
                throw ParseFailure(path, mapping, id, value, JacksonAccessor(value, XContentInt.NotNumeric(value)));
        }

        // The finite check on the value as the type reads it (a float past 3.4e38 is an infinity); the value is indexed
        // as a double, as queries read it.
        var asTyped = mapping.Kind == FieldKind.Float ? (float)d : d;
        return double.IsFinite(asTyped) ? d
            : throw ParseFailure(path, mapping, id, value, EsException.IllegalArgument($"[{mapping.TypeName}] supports only finite values, but got [{(double.IsNaN(asTyped) ? "NaN" : asTyped > 0 ? "Infinity" : "-Infinity")}]"));
    }

    // AbstractXContentParser.toLong(text, coerce: true): Long.parseLong, else Java's BigDecimal truncated toward zero
    // (its scale past 19 either way, however many digits: out of range, or zero, so "1e-25" is 0 and "0e25" out of
    // range); not a BigDecimal is "For input string".
    private static long JavaToLong(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var direct))
        {
            return direct; // Long.parseLong: a sign and ASCII digits, as AllowLeadingSign takes them (no blanks)
        }

        var m = JavaBigDecimal().Match(text);
        if (!m.Success)
        {
            throw EsException.IllegalArgument($"For input string: \"{text}\"");
        }

        var outOfRange = EsException.IllegalArgument($"Value [{text}] is out of range for a long");
        var digits = m.Groups["int"].Value + m.Groups["frac"].Value;

        // BigDecimal.parseExp: more than 10 digits once leading zeros are dropped is "Too many nonzero exponent digits.",
        // and adjustScale a scale past an int "Scale out of range." (NumberFormatExceptions, so "For input string").
        var exponentDigits = m.Groups["exp"].Value.TrimStart('+', '-').TrimStart('0');
        var scale = m.Groups["frac"].Length - (exponentDigits.Length is > 0 and <= 10
            ? (m.Groups["exp"].Value.StartsWith('-') ? -1 : 1) * long.Parse(exponentDigits, NumberStyles.None, CultureInfo.InvariantCulture)
            : 0);
        if (exponentDigits.Length > 10 || scale is < int.MinValue or > int.MaxValue)
        {
            throw EsException.IllegalArgument($"For input string: \"{text}\"");
        }

        if (scale < -19)
        {
            throw outOfRange;
        }

        if (scale > 19)
        {
            return 0;
        }

        var unscaled = BigInteger.Parse("0" + digits, NumberStyles.None, CultureInfo.InvariantCulture);
        var whole = scale >= 0 ? unscaled / BigInteger.Pow(10, (int)scale) : unscaled * BigInteger.Pow(10, (int)-scale);
        whole = m.Groups["sign"].Value == "-" ? -whole : whole;
        return whole >= long.MinValue && whole <= long.MaxValue ? (long)whole : throw outOfRange;
    }

    // java.math.BigDecimal(String): an optional sign, digits with an optional point (at least one digit), an optional
    // exponent.
    [System.Text.RegularExpressions.GeneratedRegex("^(?<sign>[+-]?)(?:(?<int>[0-9]+)(?:\\.(?<frac>[0-9]*))?|\\.(?<frac>[0-9]+))(?:[eE](?<exp>[+-]?[0-9]+))?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex JavaBigDecimal();

    private static bool BooleanValue(string path, FieldMapping mapping, string id, JsonValue value)
    {
        try
        {
            return RequestJson.BooleanValue(Placed(value))!.Value;
        }
        catch (EsException e)
        {
            throw ParseFailure(path, mapping, id, value, e);
        }
    }

    // What a field's parser throws on an object (FieldMapper.parse's cause): a number's "Cannot parse object as number"
    // (NumberFieldMapper.value), a boolean's Jackson getBooleanValue(), and for text, keyword and date the parser's text()
    // (JsonXContentParser.throwOnNoText, naming the object's START_OBJECT).
    private static EsException ObjectCause(FieldMapping mapping, JsonObject obj) => mapping.Kind switch
    {
        FieldKind.Long or FieldKind.Integer or FieldKind.Float or FieldKind.Double => EsException.IllegalArgument("Cannot parse object as number"),
        FieldKind.Boolean => JacksonAccessor(obj, "Current token (START_OBJECT) not of boolean type"),
        _ => EsException.Foreign(500, "illegal_state_exception",
            $"Can't get text on a START_OBJECT at {(JsonLocations.Of(Placed(obj)) is { } at ? $"{at.Line}:{at.Column}" : "null")}"),
    };

    // DateFieldMapper with the default format: JavaDateFormatter.parse's IllegalArgumentException, caused by java.time's
    // DateTimeParseException after both of its parsers.
    internal static EsException DateCause(string text) => EsException.Foreign(400, "illegal_argument_exception",
        $"failed to parse date field [{text}] with format [strict_date_optional_time||epoch_millis]",
        EsException.Foreign(500, "date_time_parse_exception", "Failed to parse with all enclosed parsers"));

    // A Jackson value accessor's error (getLongValue() on a boolean, getBooleanValue() on a number), in the document's text.
    private static EsException JacksonAccessor(JsonNode node, string message, string type = "json_parse_exception") =>
        JacksonSyntax.AccessorFailure(Placed(node), message, type);

    // Jackson's token for a JSON number (XContentInt.NumberToken).
    internal static string JacksonNumberToken(JsonValue value) => XContentInt.NumberToken(value.ToJsonString());

    // Where DocumentParser refuses a field new to a "strict" object (ensureNotStrict): at the token it stands on, the
    // field's value; for a value in an array, the array's START_ARRAY (parseArrayDynamic refuses before the elements).
    private static Location? NewFieldAt(JsonNode? node, JsonNode? container, string key)
    {
        while (container is JsonArray array)
        {
            node = array;
            container = array.Parent;
        }

        return node is not null ? JsonLocations.Of(Placed(node))
            : container is JsonObject parent ? JsonLocations.OfValue((JsonObject)Placed(parent), key) : null;
    }

    // The node, its document's text remembered: the text the request sent (the endpoints remember it), else the document
    // as Elasticsearch writes it again before it parses it (an update's merged document, an upsert: UpdateHelper's
    // compact JSON), written only now, for an error.
    private static JsonNode Placed(JsonNode node)
    {
        if (!JsonLocations.Knows(node.Root))
        {
            var text = new System.Text.StringBuilder();
            JacksonWriter.Write(node.Root, text);
            JsonLocations.Remember(node.Root, System.Text.Encoding.UTF8.GetBytes(text.ToString()));
        }

        return node;
    }

    // A DocumentParsingException: its reason after the place it was raised at, when known.
    private static EsException DocumentParsing(Location? at, string reason, EsException? cause = null) =>
        new(400, "document_parsing_exception", at is { } l ? $"{l} {reason}" : reason, null, cause);

    private static string AsString(JsonValue value) => value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();

    /// <summary>A JSON number, or a string holding one (as Elasticsearch coerces it).</summary>
    public static bool TryNumber(JsonNode value, out double d)
    {
        d = 0;
        return value.GetValueKind() switch
        {
            JsonValueKind.Number => value.AsValue().TryGetValue(out d),
            JsonValueKind.String => double.TryParse(value.GetValue<string>(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out d),
            _ => false,
        };
    }

    // FieldMapper.rethrowAsDocumentParsingException: the document described as ProvidedIdFieldMapper.documentDescription
    // describes one with its id, at the parser's token once the preview has read the value (an object's closing brace),
    // caused by what the field's parser threw.
    private static EsException ParseFailure(string path, FieldMapping mapping, string id, JsonNode value, EsException? cause) =>
        DocumentParsing(JsonLocations.OfLast(Placed(value)),
            $"failed to parse field [{path}] of type [{mapping.TypeName}] in document with id '{id}'. Preview of field's value: '{JavaObjects.Text(value)}'", cause);
}
