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
internal static class DocumentFields
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
        var sortable = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Dictionary<string, FieldMapping>(StringComparer.Ordinal);
        AddFields(doc, mapping, id, source, string.Empty, sortable, pending);
        mapping.Commit(pending); // the dynamic update, once the whole document parsed
        return doc;
    }

    private static void AddFields(Document doc, IndexMapping mappings, string id, JsonNode? node, string path, HashSet<string> sortable, Dictionary<string, FieldMapping> pending)
    {
        switch (node)
        {
            case null:
                if (path.Length > 0 && mappings.ObjectAt(path) is not { Enabled: false })
                {
                    mappings.CheckNew(path); // a null for an unmapped field is a new field under "strict"
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
                        throw ParseFailure(path, leaf, id, JavaPreview(obj));
                    }

                    mappings.CheckNew(path); // a new object, empty or not, under "strict"
                }

                foreach (var (key, child) in obj)
                {
                    AddFields(doc, mappings, id, child, path.Length == 0 ? key : $"{path}.{key}", sortable, pending);
                }

                return;
            case JsonArray arr:
                foreach (var item in arr)
                {
                    AddFields(doc, mappings, id, item, path, sortable, pending);
                }

                return;
            case JsonValue value:
                switch (mappings.ObjectAt(path))
                {
                    case { Enabled: false }:
                        return; // a disabled object takes any JSON
                    case not null:
                        throw new EsException(400, "document_parsing_exception",
                            $"object mapping for [{path}] tried to parse field [{path[(path.LastIndexOf('.') + 1)..]}] as object, but found a concrete value");
                }

                if ((mappings.Get(path) ?? mappings.GetOrAddDynamic(path, value, pending)) is not { } mapping)
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

    private static void AddValue(Document doc, string id, string path, FieldMapping mapping, JsonValue value, HashSet<string> sortable)
    {
        var firstValue = sortable.Add(path); // doc values hold one value per field: the first one sorts
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
                if (firstValue)
                {
                    doc.Add(new SortedDocValuesField(path, new BytesRef(s)));
                }

                break;
            }

            case FieldKind.Boolean:
            {
                var b = value.GetValueKind() switch
                {
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    JsonValueKind.String when value.GetValue<string>() is "true" or "false" => value.GetValue<string>(),
                    _ => throw ParseFailure(path, mapping, id, AsString(value)),
                };
                doc.Add(new StringField(path, b, Field.Store.NO));
                break;
            }

            case FieldKind.Date:
            {
                if (!IndexMapping.TryParseDate(value, out var ms))
                {
                    throw ParseFailure(path, mapping, id, AsString(value));
                }

                doc.Add(new Int64Field(path, ms, Field.Store.NO));
                if (firstValue)
                {
                    doc.Add(new NumericDocValuesField(path, ms));
                }

                break;
            }

            case FieldKind.Long or FieldKind.Integer:
            {
                if (!TryNumber(value, out var d) || d != Math.Truncate(d))
                {
                    throw ParseFailure(path, mapping, id, AsString(value));
                }

                var l = (long)d;
                doc.Add(new Int64Field(path, l, Field.Store.NO));
                if (firstValue)
                {
                    doc.Add(new NumericDocValuesField(path, l));
                }

                break;
            }

            default:
            {
                if (!TryNumber(value, out var d))
                {
                    throw ParseFailure(path, mapping, id, AsString(value));
                }

                doc.Add(new DoubleField(path, d, Field.Store.NO));
                if (firstValue)
                {
                    doc.Add(new DoubleDocValuesField(path, d));
                }

                break;
            }
        }
    }

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

    // FieldMapper.rethrowAsDocumentParsingException, the document described as ProvidedIdFieldMapper.documentDescription
    // describes one with its id.
    private static EsException ParseFailure(string path, FieldMapping mapping, string id, string preview) =>
        new(400, "document_parsing_exception", $"failed to parse field [{path}] of type [{mapping.TypeName}] in document with id '{id}'. Preview of field's value: '{preview}'");

    /// <summary>
    /// A value as <c>FieldMapper</c> previews it: read back by <c>AbstractXContentParser.readValue</c> into Java maps
    /// (<c>HashMap</c>, iterated in its bucket order), lists and scalars, and written with their <c>toString</c>:
    /// <c>{x=1, y=[a, b]}</c>.
    /// </summary>
    internal static string JavaPreview(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject o => "{" + string.Join(", ", JavaHashMapOrder(o.Select(p => p.Key).ToList()).Select(k => k + "=" + JavaPreview(o[k]))) + "}",
        JsonArray a => "[" + string.Join(", ", a.Select(JavaPreview)) + "]",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && !v.TryGetValue<long>(out _) && v.TryGetValue<double>(out var d) && !IsIntegerLiteral(v) => JavaDouble(d),
        _ => AsString(node.AsValue()),
    };

    private static bool IsIntegerLiteral(JsonValue v) => v.ToJsonString().All(c => c is '-' || char.IsAsciiDigit(c));

    // Double.toString: shortest digits, decimal for 1e-3 <= |d| < 1e7 (with a ".0" when whole), else d.dddE[-]n.
    private static string JavaDouble(double d)
    {
        var abs = Math.Abs(d);
        if (abs is >= 1e-3 and < 1e7 || d == 0)
        {
            var s = d.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            return s.Contains('.', StringComparison.Ordinal) || s.Contains('E', StringComparison.Ordinal) ? s : s + ".0";
        }

        var r = abs.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        var cut = r.IndexOf('E', StringComparison.Ordinal);
        var mantissa = cut < 0 ? r : r[..cut];
        var point = mantissa.IndexOf('.', StringComparison.Ordinal) is var p and >= 0 ? p : mantissa.Length;
        var digits = mantissa.Replace(".", string.Empty, StringComparison.Ordinal);
        point += cut < 0 ? 0 : int.Parse(r[(cut + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        return (d < 0 ? "-" : string.Empty) + digits[0] + "." + (digits.Length > 1 ? digits[1..] : "0") + "E"
            + (point - lead - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    // The order a java.util.HashMap filled with these keys in turn iterates them: by bucket (String.hashCode spread by
    // h ^ h >>> 16, masked by the table size, 16 doubled whenever the size passes three quarters of it), and in a
    // bucket by insertion.
    private static IEnumerable<string> JavaHashMapOrder(List<string> keys)
    {
        var table = 16;
        while (keys.Count > table * 3 / 4)
        {
            table *= 2;
        }

        return keys.Select((k, i) => (k, i, bucket: Spread(k) & (table - 1))).OrderBy(e => e.bucket).ThenBy(e => e.i).Select(e => e.k);

        static int Spread(string s)
        {
            var h = 0;
            foreach (var c in s)
            {
                h = unchecked((31 * h) + c);
            }

            return h ^ (int)((uint)h >> 16);
        }
    }
}
