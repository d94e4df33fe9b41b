using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.Elastic;

/// <summary>
/// Reading Elasticsearch-style documents: the values at a dotted field path (objects and arrays walked, arrays
/// flattened), and wildcard patterns. Used by the embedded backend and the proxy.
/// </summary>
internal static class JsonPaths
{
    /// <summary>The scalar values at <paramref name="path"/> ("a.b.c") of a source document, as strings (JSON text for non-strings).</summary>
    public static IEnumerable<string> Values(JsonNode? source, string path) => Nodes(source, path).OfType<JsonValue>().Select(Text);

    /// <summary>The nodes at <paramref name="path"/> ("a.b.c") of a source document, arrays flattened: scalars, and objects where the path ends at one.</summary>
    public static IEnumerable<JsonNode> Nodes(JsonNode? source, string path)
    {
        IEnumerable<JsonNode?> current = [source];
        foreach (var part in path.Split('.'))
        {
            current = current.SelectMany(n => n switch
            {
                JsonObject o => o[part] is JsonArray a ? a.ToArray() : [o[part]],
                JsonArray a => a.Select(x => (x as JsonObject)?[part]),
                _ => [],
            });
        }

        return current.SelectMany(n => n is JsonArray a ? a.ToArray() : [n]).OfType<JsonNode>();
    }

    /// <summary>A JSON scalar as text: strings as they are, everything else as its JSON.</summary>
    public static string Text(JsonValue value) => value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();

    /// <summary>An Elasticsearch wildcard pattern (<c>*</c> only) as an anchored regular expression.</summary>
    public static Regex Wildcard(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant);
}
