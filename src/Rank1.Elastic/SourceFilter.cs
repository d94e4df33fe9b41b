using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// The Elasticsearch <c>_source</c> option: false, true, a pattern, a list of patterns, or <c>{includes, excludes}</c>.
/// Used by both the embedded backend (which filters hits) and the proxy (which asks the
/// backend for the whole source when it needs passage fields, then applies the client's own filter).
/// </summary>
/// <remarks>
/// Filtering is Elasticsearch's <c>XContentMapValues.filter</c>: each pattern (<c>*</c> the only wildcard) also matches
/// everything below what it matches (<c>a</c> keeps <c>a.b</c>, whether <c>a.b</c> is an inner field or a field name
/// with a dot), and the patterns are run a character at a time along each path, so a field is only looked into while
/// some pattern can still match below it. Arrays are filtered element by element with the array's own path: objects
/// in them are filtered and kept when something is left, scalars are kept when the array's path itself is included.
/// An object or array left empty is kept when its own path is included, dropped otherwise.
/// </remarks>
internal sealed class SourceFilter
{
    private readonly string[] _includes;
    private readonly string[] _excludes;

    private SourceFilter(bool enabled, string[] includes, string[] excludes)
    {
        Enabled = enabled;
        _includes = includes;
        _excludes = excludes;
    }

    public static SourceFilter All { get; } = new(true, [], []);

    /// <summary><c>_source: false</c>: no source.</summary>
    public static SourceFilter None { get; } = new(false, [], []);

    /// <summary>The source filtered to <paramref name="includes"/> (none: all of it) less <paramref name="excludes"/>.</summary>
    /// <param name="includes">The patterns to keep.</param>
    /// <param name="excludes">The patterns to leave out.</param>
    public static SourceFilter Of(string[] includes, string[] excludes) => new(true, includes, excludes);

    public bool Enabled { get; }

    /// <summary>
    /// The body's <c>exclude_vectors</c> (Elasticsearch 9.1 on), null when not given: whether the vectors are left out of
    /// the source. Kept to be sent on to a backend (<see cref="WithFields"/>); the embedded backend has no vectors.
    /// </summary>
    public bool? ExcludeVectors { get; private init; }

    /// <summary>True when the filter keeps the whole source.</summary>
    public bool KeepsEverything => Enabled && _includes.Length == 0 && _excludes.Length == 0;

    /// <summary>
    /// The <c>_source</c> to ask the backend for when this client filter must be applied afterwards and
    /// <paramref name="needed"/> must come back too (a reranked search's passage fields): the client's includes and the
    /// needed fields (<c>_source: false</c>, the needed fields alone), so that a client asking for a field or none is not
    /// sent the window's whole documents, which may be megabytes each. Null, the whole source, when the client only
    /// excludes (what it keeps is not known by name).
    /// </summary>
    /// <param name="needed">The source fields the caller reads besides the client's.</param>
    public JsonObject? WithFields(IEnumerable<string> needed)
    {
        if (Enabled && (_includes.Length == 0 || _excludes.Length > 0))
        {
            return null;
        }

        var source = new JsonObject { ["includes"] = new JsonArray([.. _includes.Concat(needed).Distinct(StringComparer.Ordinal).Select(f => (JsonNode)f)]) };
        if (ExcludeVectors is { } excludeVectors)
        {
            // The client's choice goes on, so that the vectors it asked to see among its fields come back.
            source["exclude_vectors"] = excludeVectors;
        }

        return source;
    }

    /// <summary>
    /// The body's <c>_source</c>, read as Elasticsearch's <c>FetchSourceContext.fromXContent</c> reads it: anything
    /// else is a <see cref="FormatException"/> with its words, for the caller's 400 <c>parsing_exception</c>. An object
    /// may hold <c>exclude_vectors</c> (Elasticsearch 9.1 on: a boolean, or its exact text, as <c>booleanValue()</c> reads
    /// one), which OpenSearch's has not ("Unknown key for a VALUE_BOOLEAN in [exclude_vectors].").
    /// </summary>
    /// <param name="node">The <c>_source</c> value.</param>
    /// <param name="readsExcludeVectors">
    /// Whether <c>exclude_vectors</c> is read: Elasticsearch's parser; not OpenSearch's, nor a parser of its own such as
    /// <c>_mget</c>'s.
    /// </param>
    public static SourceFilter Parse(JsonNode? node, bool readsExcludeVectors = true)
    {
        switch (node)
        {
            case null:
                return All;
            case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                return v.GetValueKind() == JsonValueKind.True ? All : None;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return new SourceFilter(true, [v.GetValue<string>()], []);
            case JsonArray a:
                // Elasticsearch takes the text of each value here, numbers included; only a structure has none.
                return new SourceFilter(true, a.Select(x => x is JsonValue xv ? JsonPaths.Text(xv) : throw UnknownKey(x, "_source")).ToArray(), []);
            case JsonObject o:
                string[] includes = [], excludes = [];
                bool? excludeVectors = null;
                foreach (var (key, value) in o)
                {
                    switch (key)
                    {
                        case "exclude_vectors" when readsExcludeVectors && value is JsonValue ev && ev.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                            excludeVectors = ev.GetValueKind() == JsonValueKind.True;
                            break;
                        case "exclude_vectors" when readsExcludeVectors && value is JsonValue ev && ev.GetValueKind() == JsonValueKind.String:
                            excludeVectors = RequestJson.ParseBoolean(ev.GetValue<string>());
                            break;
                        case "includes" or "include":
                            includes = Strings(value, key);
                            break;
                        case "excludes" or "exclude":
                            excludes = Strings(value, key);
                            break;
                        default:
                            throw UnknownKey(value, key);
                    }
                }

                return new SourceFilter(true, includes, excludes) { ExcludeVectors = excludeVectors };
            default:
                throw new FormatException($"Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found [{RequestJson.TokenName(node)}]");
        }
    }

    /// <summary>
    /// A write's fetch of the source from the URL, as <c>FetchSourceContext.parseFromRestRequest</c> reads it for
    /// <c>_update</c> and <c>_bulk</c>: <see cref="FromQuery"/>'s, or, with none of those given, one that fetches the
    /// whole source when <c>_source_exclude_vectors</c> is (Elasticsearch 9.1 on: <c>paramAsBoolean(key, null)</c>, so
    /// empty is not given, and anything but <c>true</c> or <c>false</c> its 400), for the context it makes asks for the
    /// source: an update answers its <c>get</c>. Null when none is given.
    /// </summary>
    /// <param name="param">The URL parameters.</param>
    /// <param name="readsExcludeVectors">Whether <c>_source_exclude_vectors</c> is read (Elasticsearch's, not OpenSearch's).</param>
    public static SourceFilter? FromRestRequest(Func<string, string?> param, bool readsExcludeVectors)
    {
        var filter = FromQuery(param("_source"), param("_source_includes"), param("_source_excludes"));
        var excludeVectors = readsExcludeVectors ? RequestJson.ParamAsNullableBoolean(param("_source_exclude_vectors")) : null;
        return filter ?? (excludeVectors is null ? null : All);
    }

    /// <summary>From the URL: <c>_source=false</c>, <c>_source=a,b</c>, <c>_source_includes</c>, <c>_source_excludes</c>.</summary>
    public static SourceFilter? FromQuery(string? source, string? includes, string? excludes)
    {
        if (source is null && includes is null && excludes is null)
        {
            return null;
        }

        if (source is "false")
        {
            return new SourceFilter(false, [], []);
        }

        var inc = (source is null or "true" ? includes : source)?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [];
        return new SourceFilter(true, inc, excludes?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? []);
    }

    // includes/excludes: one string or an array of strings, nothing else.
    private static string[] Strings(JsonNode? node, string key) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        JsonArray a => a.Select(x => x is JsonValue xv && xv.GetValueKind() == JsonValueKind.String ? xv.GetValue<string>() : throw UnknownKey(x, key)).ToArray(),
        _ => throw UnknownKey(node, key),
    };

    private static FormatException UnknownKey(JsonNode? value, string key) => new($"Unknown key for a {RequestJson.TokenName(value)} in [{key}].");

    public JsonNode? Apply(string sourceJson) => Apply(AnswerJson.Parse(sourceJson));

    public JsonNode? Apply(JsonNode? source)
    {
        if (_includes.Length == 0 && _excludes.Length == 0)
        {
            return source;
        }

        // No includes: everything is included; no excludes: nothing is excluded.
        var include = _includes.Length == 0 ? PatternState.Everything : PatternState.Start(_includes);
        var exclude = PatternState.Start(_excludes);
        return source is JsonObject o ? Filter(o, include, exclude) : source;
    }

    private static JsonObject Filter(JsonObject obj, PatternState include, PatternState exclude)
    {
        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            var keyInclude = include.Step(key);
            if (keyInclude.IsDead)
            {
                continue;
            }

            var keyExclude = exclude.Step(key);
            if (keyExclude.Accepts)
            {
                continue;
            }

            var innerInclude = keyInclude;
            if (keyInclude.Accepts)
            {
                if (keyExclude.Step('.').IsDead)
                {
                    // No exclude can match below: the whole value is kept.
                    result[key] = value?.DeepClone();
                    continue;
                }

                // Included as a whole: only the excludes matter below.
                innerInclude = PatternState.Everything;
            }

            switch (value)
            {
                case JsonObject child:
                    var childInclude = innerInclude.Step('.');
                    if (childInclude.IsDead)
                    {
                        continue;
                    }

                    var filtered = Filter(child, childInclude, keyExclude.Step('.'));
                    if (keyInclude.Accepts || filtered.Count > 0)
                    {
                        result[key] = filtered;
                    }

                    break;
                case JsonArray array:
                    var items = Filter(array, innerInclude, keyExclude);
                    if (keyInclude.Accepts || items.Count > 0)
                    {
                        result[key] = items;
                    }

                    break;
                default:
                    if (keyInclude.Accepts)
                    {
                        result[key] = value?.DeepClone();
                    }

                    break;
            }
        }

        return result;
    }

    // The elements of an array share its path: objects go one level down, nested arrays stay at it.
    private static JsonArray Filter(JsonArray array, PatternState include, PatternState exclude)
    {
        var result = new JsonArray();
        foreach (var value in array)
        {
            switch (value)
            {
                case JsonObject child:
                    if (Filter(child, include.Step('.'), exclude.Step('.')) is { Count: > 0 } filtered)
                    {
                        result.Add(filtered);
                    }

                    break;
                case JsonArray inner:
                    if (Filter(inner, include, exclude) is { Count: > 0 } items)
                    {
                        result.Add(items);
                    }

                    break;
                default:
                    if (include.Accepts)
                    {
                        result.Add(value?.DeepClone());
                    }

                    break;
            }
        }

        return result;
    }

    /// <summary>
    /// Where a set of patterns stands after some characters of a path: Elasticsearch's automaton of the patterns, each
    /// followed by an optional <c>.</c> and anything (<c>makeMatchDotsInFieldNames</c>), as the set of places reached.
    /// No place left: no pattern can match this path or anything below it.
    /// </summary>
    private sealed class PatternState
    {
        // A place past a whole pattern and a '.': anything may follow.
        private const int AnyTail = -1;

        private readonly string[] _patterns;
        private readonly HashSet<(int Pattern, int At)> _places;

        // Whether a place is past a whole pattern and a '.': every step keeps it, so the state accepts whatever follows.
        private readonly bool _anyTail;

        private PatternState(string[] patterns, HashSet<(int Pattern, int At)> places)
        {
            _patterns = patterns;
            _places = places;
            _anyTail = places.Any(p => p.At == AnyTail);
        }

        /// <summary>The state that accepts every path (no includes, or an object included as a whole).</summary>
        public static PatternState Everything { get; } = new([], [(0, AnyTail)]);

        public static PatternState Start(string[] patterns) =>
            new(patterns, Closed(patterns, Enumerable.Range(0, patterns.Length).Select(p => (p, 0))));

        public bool IsDead => _places.Count == 0;

        public bool Accepts => _places.Any(p => p.At == AnyTail || p.At == _patterns[p.Pattern].Length);

        public PatternState Step(string text)
        {
            var state = this;
            foreach (var c in text)
            {
                if (state.IsDead)
                {
                    break;
                }

                state = state.Step(c);
            }

            return state;
        }

        public PatternState Step(char c)
        {
            // Dead stays dead; with a place past a whole pattern and a '.', every path from here is accepted (all that
            // is asked of a state), so the step allocates nothing: an exclude-only filter walks every key this way.
            if (IsDead || _anyTail)
            {
                return this;
            }

            var next = new List<(int, int)>();
            foreach (var (p, at) in _places)
            {
                if (at == AnyTail)
                {
                    next.Add((p, AnyTail));
                }
                else if (at == _patterns[p].Length)
                {
                    if (c == '.')
                    {
                        next.Add((p, AnyTail));
                    }
                }
                else if (_patterns[p][at] == '*')
                {
                    next.Add((p, at));
                }
                else if (_patterns[p][at] == c)
                {
                    next.Add((p, at + 1));
                }
            }

            return new PatternState(_patterns, Closed(_patterns, next));
        }

        // A '*' may also match nothing: every place before one reaches the place after it too.
        private static HashSet<(int, int)> Closed(string[] patterns, IEnumerable<(int Pattern, int At)> places)
        {
            var closed = new HashSet<(int, int)>();
            foreach (var (p, at) in places)
            {
                var i = at;
                closed.Add((p, i));
                while (i != AnyTail && i < patterns[p].Length && patterns[p][i] == '*')
                {
                    closed.Add((p, ++i));
                }
            }

            return closed;
        }
    }
}
