using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>The field types the embedded backend indexes.</summary>
internal enum FieldKind
{
    Text,
    Keyword,
    Long,
    Integer,
    Float,
    Double,
    Date,
    Boolean,
}

/// <summary>One mapped field (a leaf, addressed by its dotted path) with its multi-fields.</summary>
internal sealed record FieldMapping(FieldKind Kind, IReadOnlyDictionary<string, FieldMapping> SubFields, int? IgnoreAbove = null)
{
    public static readonly IReadOnlyDictionary<string, FieldMapping> NoSubFields = new Dictionary<string, FieldMapping>();

    public bool IsNumeric => Kind is FieldKind.Long or FieldKind.Integer or FieldKind.Float or FieldKind.Double or FieldKind.Date;

    public bool IsFloatingPoint => Kind is FieldKind.Float or FieldKind.Double;

    public string TypeName => Kind.ToString().ToLowerInvariant();
}

/// <summary>
/// An index's mapping: dotted field path -> <see cref="FieldMapping"/>. Fields not in the mapping are added on first
/// sight as Elasticsearch's dynamic mapping does (string: text with a <c>.keyword</c> multi-field; whole number:
/// long; other number: float; true/false: boolean). Thread-safe.
/// </summary>
internal sealed class IndexMapping
{
    private static readonly Dictionary<string, FieldKind> Kinds = new(StringComparer.Ordinal)
    {
        ["text"] = FieldKind.Text, ["keyword"] = FieldKind.Keyword, ["long"] = FieldKind.Long, ["integer"] = FieldKind.Integer,
        ["short"] = FieldKind.Integer, ["byte"] = FieldKind.Integer, ["float"] = FieldKind.Float, ["half_float"] = FieldKind.Float,
        ["double"] = FieldKind.Double, ["date"] = FieldKind.Date, ["boolean"] = FieldKind.Boolean,
    };

    private readonly Dictionary<string, FieldMapping> _fields = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Raised after a dynamic addition, so the store can persist the mapping.</summary>
    public event Action? Changed;

    public FieldMapping? Get(string path)
    {
        lock (_lock)
        {
            if (_fields.TryGetValue(path, out var f))
            {
                return f;
            }

            // A multi-field such as "title.keyword".
            var dot = path.LastIndexOf('.');
            if (dot > 0 && _fields.TryGetValue(path[..dot], out var parent) && parent.SubFields.TryGetValue(path[(dot + 1)..], out var sub))
            {
                return sub;
            }

            return null;
        }
    }

    /// <summary>The path in the source document that feeds <paramref name="path"/>: itself, or the parent of a multi-field.</summary>
    public string? SourcePath(string path)
    {
        lock (_lock)
        {
            if (_fields.ContainsKey(path))
            {
                return path;
            }

            var dot = path.LastIndexOf('.');
            return dot > 0 && _fields.TryGetValue(path[..dot], out var parent) && parent.SubFields.ContainsKey(path[(dot + 1)..]) ? path[..dot] : null;
        }
    }

    /// <summary>Every indexed path (fields and multi-fields) with its mapping.</summary>
    public IReadOnlyList<KeyValuePair<string, FieldMapping>> AllPaths()
    {
        lock (_lock)
        {
            var list = new List<KeyValuePair<string, FieldMapping>>();
            foreach (var (path, f) in _fields)
            {
                list.Add(new(path, f));
                list.AddRange(f.SubFields.Select(s => new KeyValuePair<string, FieldMapping>($"{path}.{s.Key}", s.Value)));
            }

            return list;
        }
    }

    public static IndexMapping Parse(JsonNode? mappings)
    {
        var mapping = new IndexMapping();
        if (mappings is null)
        {
            return mapping;
        }

        if (mappings is not JsonObject obj)
        {
            throw new EsException(400, "mapper_parsing_exception", "Failed to parse mapping: [mappings] must be an object");
        }

        foreach (var (key, _) in obj)
        {
            if (key is not ("properties" or "dynamic" or "_source" or "_meta" or "dynamic_templates"))
            {
                throw new EsException(400, "mapper_parsing_exception", $"Root mapping definition has unsupported parameters:  [{key}]");
            }
        }

        if (obj["properties"] is JsonObject props)
        {
            mapping.AddProperties(props, prefix: string.Empty);
        }

        return mapping;
    }

    private void AddProperties(JsonObject props, string prefix)
    {
        foreach (var (name, node) in props)
        {
            var path = prefix + name;
            if (node is not JsonObject def)
            {
                throw new EsException(400, "mapper_parsing_exception", $"Expected map for property [{name}] but got a {node?.GetValueKind().ToString().ToLowerInvariant() ?? "null"}");
            }

            if (def["properties"] is JsonObject nested)
            {
                AddProperties(nested, path + ".");
                continue;
            }

            _fields[path] = ParseField(path, def);
        }
    }

    private static FieldMapping ParseField(string path, JsonObject def)
    {
        var type = def["type"]?.GetValue<string>() ?? "object";
        if (!Kinds.TryGetValue(type, out var kind))
        {
            throw new EsException(400, "mapper_parsing_exception", $"No handler for type [{type}] declared on field [{path}]");
        }

        var subs = new Dictionary<string, FieldMapping>(StringComparer.Ordinal);
        if (def["fields"] is JsonObject fields)
        {
            foreach (var (subName, subDef) in fields)
            {
                subs[subName] = ParseField($"{path}.{subName}", subDef as JsonObject ?? throw new EsException(400, "mapper_parsing_exception", $"Expected map for multi-field [{subName}]"));
            }
        }

        int? ignoreAbove = def["ignore_above"] is JsonValue v && v.TryGetValue<int>(out var ia) ? ia : null;
        return new FieldMapping(kind, subs, ignoreAbove);
    }

    /// <summary>Maps <paramref name="path"/> from a first value, as Elasticsearch's dynamic mapping does; returns the mapping in force.</summary>
    public FieldMapping GetOrAddDynamic(string path, JsonValue value)
    {
        FieldMapping? added = null;
        lock (_lock)
        {
            if (!_fields.TryGetValue(path, out var existing))
            {
                existing = value.GetValueKind() switch
                {
                    JsonValueKind.True or JsonValueKind.False => new FieldMapping(FieldKind.Boolean, FieldMapping.NoSubFields),
                    JsonValueKind.Number => value.TryGetValue<long>(out _) || IsWhole(value) ? new FieldMapping(FieldKind.Long, FieldMapping.NoSubFields) : new FieldMapping(FieldKind.Float, FieldMapping.NoSubFields),
                    _ => new FieldMapping(FieldKind.Text, new Dictionary<string, FieldMapping> { ["keyword"] = new(FieldKind.Keyword, FieldMapping.NoSubFields, 256) }),
                };
                _fields[path] = existing;
                added = existing;
            }

            if (added is null)
            {
                return existing;
            }
        }

        Changed?.Invoke();
        return added;
    }

    private static bool IsWhole(JsonValue value) =>
        value.TryGetValue<decimal>(out var d) && decimal.Truncate(d) == d && !value.ToJsonString().Contains('.', StringComparison.Ordinal);

    /// <summary>The mapping as <c>{"properties":{..}}</c> with dotted paths nested back into objects.</summary>
    public JsonObject ToJson()
    {
        var root = new JsonObject();
        lock (_lock)
        {
            foreach (var (path, field) in _fields.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var parts = path.Split('.');
                var props = root;
                for (var i = 0; i < parts.Length - 1; i++)
                {
                    if (props[parts[i]] is not JsonObject o)
                    {
                        o = new JsonObject { ["properties"] = new JsonObject() };
                        props[parts[i]] = o;
                    }

                    props = (JsonObject)o["properties"]!;
                }

                props[parts[^1]] = FieldJson(field);
            }
        }

        return new JsonObject { ["properties"] = root };
    }

    private static JsonObject FieldJson(FieldMapping f)
    {
        var o = new JsonObject { ["type"] = f.TypeName };
        if (f.IgnoreAbove is { } ia)
        {
            o["ignore_above"] = ia;
        }

        if (f.SubFields.Count > 0)
        {
            var fields = new JsonObject();
            foreach (var (name, sub) in f.SubFields)
            {
                fields[name] = FieldJson(sub);
            }

            o["fields"] = fields;
        }

        return o;
    }

    /// <summary>Parses a date as Elasticsearch's default format does: ISO 8601 or epoch milliseconds.</summary>
    public static bool TryParseDate(JsonNode node, out long epochMillis)
    {
        epochMillis = 0;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var ms))
        {
            epochMillis = ms;
            return true;
        }

        var s = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;
        if (s is null)
        {
            return false;
        }

        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ms))
        {
            epochMillis = ms;
            return true;
        }

        if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
        {
            epochMillis = dto.ToUnixTimeMilliseconds();
            return true;
        }

        return false;
    }
}
