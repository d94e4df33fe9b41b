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
        AddFields(doc, mapping, source, string.Empty, sortable);
        return doc;
    }

    private static void AddFields(Document doc, IndexMapping mappings, JsonNode? node, string path, HashSet<string> sortable)
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

                    mappings.CheckNew(path); // a new object, empty or not, under "strict"
                }

                foreach (var (key, child) in obj)
                {
                    AddFields(doc, mappings, child, path.Length == 0 ? key : $"{path}.{key}", sortable);
                }

                return;
            case JsonArray arr:
                foreach (var item in arr)
                {
                    AddFields(doc, mappings, item, path, sortable);
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

                if ((mappings.Get(path) ?? mappings.GetOrAddDynamic(path, value)) is not { } mapping)
                {
                    return; // "dynamic": false: kept in _source, not indexed
                }

                AddValue(doc, path, mapping, value, sortable);
                foreach (var (sub, subMapping) in mapping.SubFields)
                {
                    AddValue(doc, $"{path}.{sub}", subMapping, value, sortable);
                }

                return;
        }
    }

    private static void AddValue(Document doc, string path, FieldMapping mapping, JsonValue value, HashSet<string> sortable)
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
                    _ => throw ParseFailure(path, mapping, value),
                };
                doc.Add(new StringField(path, b, Field.Store.NO));
                break;
            }

            case FieldKind.Date:
            {
                if (!IndexMapping.TryParseDate(value, out var ms))
                {
                    throw ParseFailure(path, mapping, value);
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
                    throw ParseFailure(path, mapping, value);
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
                    throw ParseFailure(path, mapping, value);
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

    private static EsException ParseFailure(string path, FieldMapping mapping, JsonValue value) =>
        new(400, "document_parsing_exception", $"failed to parse field [{path}] of type [{mapping.TypeName}] in document. Preview of field's value: '{AsString(value)}'");
}
