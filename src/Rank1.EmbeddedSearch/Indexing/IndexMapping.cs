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
/// A mapped object (<c>"type": "object"</c>, or a property with <c>properties</c> or no <c>type</c>): whether its
/// content is indexed at all (<c>enabled</c>) and how fields new to it are met (<c>dynamic</c>: <c>true</c>,
/// <c>false</c>, <c>strict</c> or <c>runtime</c>; null inherits its parent's).
/// </summary>
internal sealed record ObjectMapping(bool Enabled, string? Dynamic);

/// <summary>
/// An index's mapping: dotted field path -> <see cref="FieldMapping"/>, and the objects it maps. Fields not in the
/// mapping are added on first sight as Elasticsearch's dynamic mapping does (string: text with a <c>.keyword</c>
/// multi-field; whole number: long; other number: float; true/false: boolean), unless the nearest mapped object (or
/// the root) says <c>"dynamic": false</c> (the value stays in <c>_source</c>, unindexed) or <c>"strict"</c> (the
/// document is refused). An object mapped <c>"enabled": false</c> is kept in <c>_source</c> and never indexed.
/// Thread-safe.
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
    private readonly Dictionary<string, ObjectMapping> _objects = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private string? _rootDynamic;

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

        mapping._rootDynamic = ReadDynamic(obj["dynamic"]);
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

            // ObjectMapper.TypeParser: a property with properties, no type, or "type": "object" maps an object.
            var type = def["type"] is JsonValue t && t.TryGetValue<string>(out var named) ? named : null;
            if (def["properties"] is JsonObject || type is null or "object")
            {
                var enabled = def["enabled"] is { } e ? MappingBool(e) ?? throw CouldNotConvert("enabled") : true;
                if (DepthExceeded(path + ".x") is { } tooDeep)
                {
                    throw EsException.IllegalArgument(tooDeep); // MapperService.merge: MappingLookup.checkObjectDepthLimit
                }

                _objects[path] = new ObjectMapping(enabled, ReadDynamic(def["dynamic"]));
                if (def["properties"] is JsonObject nested)
                {
                    AddProperties(nested, path + ".");
                }

                continue;
            }

            _fields[path] = ParseField(path, def);
        }
    }

    // ObjectMapper.TypeParser: "strict" and "runtime" in any case, else XContentMapValues.nodeBooleanValue(node,
    // "dynamic.dynamic"): true or false exactly (Booleans.parseBoolean of its text).
    private static string? ReadDynamic(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.TryGetValue<string>(out var text) && (text.Equals("strict", StringComparison.OrdinalIgnoreCase) || text.Equals("runtime", StringComparison.OrdinalIgnoreCase)))
        {
            return text.ToLowerInvariant();
        }

        return (MappingBool(node) ?? throw CouldNotConvert("dynamic")) ? "true" : "false";
    }

    // XContentMapValues.nodeBooleanValue: the node's text, "true" or "false" exactly; null for anything else.
    private static bool? MappingBool(JsonNode node) => node is not JsonValue v ? null : v.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => v.GetValue<string>() switch { "true" => true, "false" => false, _ => null },
        _ => null,
    };

    // The mapping's error for a setting that is no boolean: nodeBooleanValue(node, name + "." + name)'s words, under
    // MapperService's "Failed to parse mapping: ".
    private static EsException CouldNotConvert(string name) =>
        new(400, "mapper_parsing_exception", $"Failed to parse mapping: Could not convert [{name}.{name}] to boolean");

    /// <summary>
    /// The object mapped at <paramref name="path"/>, or null when none is: one <c>"enabled": false</c> is never indexed
    /// and takes any JSON; where one that is enabled is mapped, a concrete value is not one it can hold.
    /// </summary>
    public ObjectMapping? ObjectAt(string path)
    {
        lock (_lock)
        {
            return _objects.GetValueOrDefault(path);
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

    /// <summary>
    /// Maps <paramref name="path"/> from a first value, as Elasticsearch's dynamic mapping does; returns the mapping in
    /// force, or null when the nearest mapped object (or the root) is <c>"dynamic": false</c> (the value is not indexed).
    /// A field new to the mapping goes into <paramref name="pending"/>, the document's own dynamic update, which
    /// <see cref="Commit"/> adds once the whole document has parsed (DocumentParser merges it only then), so a document
    /// refused leaves the mapping as it was. Under <c>"dynamic": "strict"</c> the document is refused:
    /// <c>strict_dynamic_mapping_exception</c>, naming the first field new to that object.
    /// </summary>
    public FieldMapping? GetOrAddDynamic(string path, JsonValue value, Dictionary<string, FieldMapping> pending, Func<Location?>? at = null)
    {
        if (pending.TryGetValue(path, out var earlier))
        {
            return earlier;
        }

        lock (_lock)
        {
            if (_fields.TryGetValue(path, out var existing))
            {
                return existing;
            }

            switch (Rule(path, out var parent))
            {
                case "false":
                    return null;
                case "strict":
                    throw Strict(path, parent, at);
            }

            if (DepthExceeded(path) is { } tooDeep)
            {
                // DocumentParser wraps what the dynamic update breaks: the document is refused, the mapping left as it was.
                throw new EsException(400, "document_parsing_exception", "failed to parse: " + tooDeep, null, EsException.IllegalArgument(tooDeep));
            }
        }

        var added = value.GetValueKind() switch
        {
            JsonValueKind.True or JsonValueKind.False => new FieldMapping(FieldKind.Boolean, FieldMapping.NoSubFields),
            // DynamicFieldsBuilder.createDynamicFieldFromValue: by the parser's numberType(), INT, LONG or BIG_INTEGER (a
            // VALUE_NUMBER_INT, however long: a long then refuses one past its range) is long, a VALUE_NUMBER_FLOAT (1e2,
            // 1.0) float.
            JsonValueKind.Number => DocumentFields.JacksonNumberToken(value) == "VALUE_NUMBER_INT" ? new FieldMapping(FieldKind.Long, FieldMapping.NoSubFields) : new FieldMapping(FieldKind.Float, FieldMapping.NoSubFields),
            _ => new FieldMapping(FieldKind.Text, new Dictionary<string, FieldMapping> { ["keyword"] = new(FieldKind.Keyword, FieldMapping.NoSubFields, 256) }),
        };
        pending[path] = added;
        return added;
    }

    /// <summary>The field mapped at exactly <paramref name="path"/> (no multi-field), or the document's own new one there.</summary>
    public FieldMapping? FieldAt(string path, Dictionary<string, FieldMapping> pending)
    {
        lock (_lock)
        {
            return _fields.GetValueOrDefault(path) ?? pending.GetValueOrDefault(path);
        }
    }

    /// <summary>Adds a parsed document's dynamic update (<see cref="GetOrAddDynamic"/>) to the mapping.</summary>
    public void Commit(Dictionary<string, FieldMapping> pending)
    {
        if (pending.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var (path, field) in pending)
            {
                _fields.TryAdd(path, field);
            }
        }

        Changed?.Invoke();
    }

    /// <summary>
    /// Refuses <paramref name="path"/>, a null value or an object the mapping does not hold, when the object it would be
    /// new to is <c>"dynamic": "strict"</c> (Elasticsearch's <c>DocumentParser</c> refuses a new object or a null for an
    /// unmapped field there as it refuses a new value); otherwise does nothing (they add no field).
    /// </summary>
    public void CheckNew(string path, Func<Location?>? at = null)
    {
        lock (_lock)
        {
            if (!_fields.ContainsKey(path) && !_objects.ContainsKey(path) && Rule(path, out var parent) == "strict"
                && !_fields.Keys.Any(f => f.StartsWith(path + ".", StringComparison.Ordinal)))
            {
                throw Strict(path, parent, at);
            }
        }
    }

    // The rule, under _lock, for a path new to the mapping: that of the nearest mapped object above it (its parent;
    // unmapped objects between were added under its rule), which it has or inherits.
    private string Rule(string path, out string parent)
    {
        parent = Parent(path);
        while (parent.Length > 0 && !_objects.ContainsKey(parent))
        {
            parent = Parent(parent);
        }

        string? dynamic = null;
        for (var holder = parent; dynamic is null; holder = Parent(holder))
        {
            dynamic = holder.Length == 0 ? _rootDynamic ?? "true" : _objects.TryGetValue(holder, out var o) ? o.Dynamic : null;
        }

        return dynamic;
    }

    // DocumentParser's refusal under "strict", naming the first name below the mapped object the path is new to: a
    // StrictDynamicMappingException, a DocumentParsingException whose reason starts with the place of the token the parser
    // stood on (the new field's value), when known.
    private static EsException Strict(string path, string parent, Func<Location?>? at)
    {
        var rest = parent.Length == 0 ? path : path[(parent.Length + 1)..];
        var name = rest.IndexOf('.') is var cut and > 0 ? rest[..cut] : rest;
        var place = at?.Invoke() is { } l ? $"{l} " : string.Empty;
        return new EsException(400, "strict_dynamic_mapping_exception",
            $"{place}mapping set to strict, dynamic introduction of [{name}] within [{(parent.Length == 0 ? "_doc" : parent)}] is not allowed");
    }

    /// <summary>
    /// Elasticsearch's <c>index.mapping.depth.limit</c> (20): an object's depth is its dots plus 2
    /// (<c>MappingLookup.checkObjectDepthLimit</c>), so a field may sit under at most 19 objects. The reason when the
    /// objects above <paramref name="fieldPath"/> pass it, naming the shallowest that does; null when they do not.
    /// Mappings that deep also stay within what the index's saved mapping file is read with.
    /// </summary>
    private static string? DepthExceeded(string fieldPath)
    {
        var dots = 0;
        for (var i = 0; i < fieldPath.Length; i++)
        {
            if (fieldPath[i] == '.' && ++dots == MaxDepth)
            {
                return $"Limit of mapping depth [{MaxDepth}] has been exceeded due to object field [{fieldPath[..i]}]";
            }
        }

        return null;
    }

    private const int MaxDepth = 20;

    private static string Parent(string path) => path.LastIndexOf('.') is var dot and > 0 ? path[..dot] : string.Empty;

    /// <summary>
    /// The mapping as <c>{"properties":{..}}</c> with dotted paths nested back into objects, as
    /// <c>ObjectMapper.toXContent</c> writes them: <c>"type": "object"</c> only on an object with no properties,
    /// <c>dynamic</c> and <c>enabled</c> where the mapping set them.
    /// </summary>
    public JsonObject ToJson()
    {
        var root = new JsonObject();
        lock (_lock)
        {
            var entries = _fields.Select(f => (f.Key, (JsonObject?)FieldJson(f.Value)))
                .Concat(_objects.Select(o => (o.Key, (JsonObject?)null)))
                .OrderBy(e => e.Key, StringComparer.Ordinal);
            foreach (var (path, field) in entries)
            {
                var parts = path.Split('.');
                var props = root;
                for (var i = 0; i < parts.Length - 1; i++)
                {
                    props = Properties(ObjectJson(props, parts[..(i + 1)], parts[i]));
                }

                if (field is not null)
                {
                    props[parts[^1]] = field;
                }
                else
                {
                    ObjectJson(props, parts, parts[^1]);
                }
            }

            foreach (var o in root.Select(p => p.Value).OfType<JsonObject>().SelectMany(Objects).Where(o => !o.ContainsKey("properties")))
            {
                o.Insert(0, "type", "object");
            }

            var mapping = new JsonObject();
            if (_rootDynamic is { } dynamic)
            {
                mapping["dynamic"] = dynamic;
            }

            mapping["properties"] = root;
            return mapping;
        }

        // The object at parts in props, made when first met, with its settings.
        JsonObject ObjectJson(JsonObject props, string[] parts, string name)
        {
            if (props[name] is JsonObject existing)
            {
                return existing;
            }

            var made = new JsonObject();
            if (_objects.TryGetValue(string.Join('.', parts), out var settings))
            {
                if (settings.Dynamic is { } d)
                {
                    made["dynamic"] = d;
                }

                if (!settings.Enabled)
                {
                    made["enabled"] = false;
                }
            }

            props[name] = made;
            return made;
        }

        static JsonObject Properties(JsonObject o) => o["properties"] as JsonObject ?? (JsonObject)(o["properties"] = new JsonObject());

        // Every object below (and including) o: an object is a mapping node that is not a field (fields have a type).
        static IEnumerable<JsonObject> Objects(JsonObject o) => o.ContainsKey("type") && !o.ContainsKey("properties")
            ? []
            : [o, .. (o["properties"] as JsonObject ?? []).Select(p => p.Value).OfType<JsonObject>().SelectMany(Objects)];
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

    /// <summary>
    /// Parses a date as Elasticsearch's default format, <c>strict_date_optional_time||epoch_millis</c>, does: the value's
    /// text (a JSON number's too, as <c>DateFieldMapper</c> reads <c>textOrNull</c>) as a strict ISO date first
    /// (<c>yyyy</c>, <c>yyyy-MM</c>, <c>yyyy-MM-dd</c>, then <c>THH</c>, <c>:mm</c>, <c>:ss</c>, a fraction of up to 9
    /// digits and a zone, <c>Z</c>, <c>±HH</c>, <c>±HHmm</c> or <c>±HH:mm</c>; UTC without one), else as epoch
    /// milliseconds. So <c>"2019"</c> is the year 2019, not 2019 ms after 1970; <c>"12/05/2019"</c> is no date.
    /// </summary>
    public static bool TryParseDate(JsonNode node, out long epochMillis)
    {
        epochMillis = 0;
        var text = node.GetValueKind() switch
        {
            JsonValueKind.String => node.GetValue<string>(),
            JsonValueKind.Number => node.ToJsonString(),
            _ => null,
        };
        if (text is null)
        {
            return false;
        }

        if (StrictDateOptionalTime(text) is { } date)
        {
            epochMillis = date;
            return true;
        }

        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out epochMillis);
    }

    /// <summary>Whether <paramref name="text"/> is read as epoch milliseconds by <see cref="TryParseDate"/> (not as a strict ISO date).</summary>
    public static bool IsEpochMillis(string text) =>
        StrictDateOptionalTime(text) is null && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);

    private static readonly System.Text.RegularExpressions.Regex StrictDate = new(
        @"^(?<y>\d{4})(?:-(?<M>\d{2})(?:-(?<d>\d{2})(?:T(?<H>\d{2})(?::(?<m>\d{2})(?::(?<s>\d{2})(?:[.,](?<f>\d{1,9}))?)?)?(?<z>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.ExplicitCapture);

    private static long? StrictDateOptionalTime(string text)
    {
        var m = StrictDate.Match(text);
        if (!m.Success)
        {
            return null;
        }

        int Part(string name, int absent) => m.Groups[name].Success ? int.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture) : absent;
        var zone = m.Groups["z"].Value;
        var offset = zone is "" or "Z" ? TimeSpan.Zero : TimeSpan.FromMinutes(
            (zone[0] == '-' ? -1 : 1) * ((int.Parse(zone.AsSpan(1, 2), CultureInfo.InvariantCulture) * 60) + (zone.Length > 3 ? int.Parse(zone.AsSpan(zone.Length - 2), CultureInfo.InvariantCulture) : 0)));
        try
        {
            var at = new DateTimeOffset(Part("y", 0), Part("M", 1), Part("d", 1), Part("H", 0), Part("m", 0), Part("s", 0), offset);
            var fraction = m.Groups["f"].Value;
            return at.ToUnixTimeMilliseconds() + (fraction.Length == 0 ? 0 : int.Parse(fraction.PadRight(9, '0'), CultureInfo.InvariantCulture) / 1_000_000);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null; // a month 13, a day 31 in a 30-day month, an hour 24: not a date
        }
    }
}
