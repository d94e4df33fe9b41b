using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.Elastic;

/// <summary>
/// The Elasticsearch <c>_source</c> option: false, true, a pattern, a list of patterns, or <c>{includes, excludes}</c>.
/// Used by both the embedded backend (which filters hits) and the proxy (which asks the
/// backend for the whole source when it needs passage fields, then applies the client's own filter).
/// </summary>
internal sealed class SourceFilter
{
    private readonly Regex[] _includes;
    private readonly Regex[] _excludes;

    private SourceFilter(bool enabled, string[] includes, string[] excludes)
    {
        Enabled = enabled;
        _includes = includes.Select(Glob).ToArray();
        _excludes = excludes.Select(Glob).ToArray();
    }

    public static SourceFilter All { get; } = new(true, [], []);

    public bool Enabled { get; }

    /// <summary>True when the filter keeps the whole source.</summary>
    public bool KeepsEverything => Enabled && _includes.Length == 0 && _excludes.Length == 0;

    public static SourceFilter Parse(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return All;
            case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                return v.GetValueKind() == JsonValueKind.True ? All : new SourceFilter(false, [], []);
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return new SourceFilter(true, [v.GetValue<string>()], []);
            case JsonArray a:
                return new SourceFilter(true, Strings(a), []);
            case JsonObject o:
                return new SourceFilter(true, Strings(o["includes"] ?? o["include"]), Strings(o["excludes"] ?? o["exclude"]));
            default:
                throw new FormatException("[_source] must be a boolean, a string, an array of strings or an object with includes/excludes");
        }
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

    private static string[] Strings(JsonNode? node) => node switch
    {
        null => [],
        JsonArray a => a.Select(x => x!.GetValue<string>()).ToArray(),
        _ => [node.GetValue<string>()],
    };

    public JsonNode? Apply(string sourceJson) => Apply(JsonNode.Parse(sourceJson));

    public JsonNode? Apply(JsonNode? source)
    {
        if (_includes.Length == 0 && _excludes.Length == 0)
        {
            return source;
        }

        return source is JsonObject o ? Filter(o, string.Empty) : source;
    }

    // A pattern matches a path and everything below it ("a" keeps "a.b"); objects are kept when something in them is.
    private JsonObject Filter(JsonObject obj, string prefix)
    {
        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            var path = prefix + key;
            if (_excludes.Any(e => e.IsMatch(path)))
            {
                continue;
            }

            var included = _includes.Length == 0 || _includes.Any(i => i.IsMatch(path));
            if (value is JsonObject child)
            {
                var filtered = Filter(child, path + ".");
                if (included || filtered.Count > 0)
                {
                    result[key] = filtered;
                }
            }
            else if (included)
            {
                result[key] = value?.DeepClone();
            }
        }

        return result;
    }

    private static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "(\\..*)?$", RegexOptions.CultureInvariant);
}
