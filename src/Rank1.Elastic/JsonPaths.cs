using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.Elastic;

/// <summary>
/// Reading Elasticsearch-style documents: the values at a dotted field path (objects and arrays walked, arrays
/// flattened, dotted keys read as the paths they spell), and wildcard patterns. Used by the embedded backend and the proxy.
/// </summary>
internal static class JsonPaths
{
    /// <summary>The scalar values at <paramref name="path"/> ("a.b.c") of a source document, as strings (JSON text for non-strings).</summary>
    public static IEnumerable<string> Values(JsonNode? source, string path) => Nodes(source, path).OfType<JsonValue>().Select(Text);

    /// <summary>
    /// The nodes at <paramref name="path"/> ("a.b.c") of a source document: scalars, and objects where the path ends at one.
    /// As Elasticsearch reads a source (<c>XContentMapValues.extractValue</c>), arrays are walked element by element at any
    /// depth, and a key may hold dots itself: <c>{"a.b": 1}</c> and <c>{"a": {"b": 1}}</c> both hold <c>a.b</c>.
    /// </summary>
    public static IEnumerable<JsonNode> Nodes(JsonNode? source, string path)
    {
        var found = new List<JsonNode>();
        Walk(source, path.Split('.'), 0, found);
        return found;
    }

    private static void Walk(JsonNode? node, string[] parts, int index, List<JsonNode> found)
    {
        if (node is JsonArray array)
        {
            foreach (var item in array)
            {
                Walk(item, parts, index, found);
            }
        }
        else if (node is not null && index == parts.Length)
        {
            found.Add(node);
        }
        else if (node is JsonObject o)
        {
            var key = parts[index];
            for (var next = index + 1; ; next++)
            {
                if (o.TryGetPropertyValue(key, out var value))
                {
                    Walk(value, parts, next, found);
                }

                if (next == parts.Length)
                {
                    break;
                }

                key += "." + parts[next];
            }
        }
    }

    /// <summary>A JSON scalar as text: strings as they are, everything else as its JSON.</summary>
    public static string Text(JsonValue value) => value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();

    /// <summary>An Elasticsearch wildcard pattern (<c>*</c> only) as an anchored regular expression.</summary>
    public static Regex Wildcard(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant);
}
