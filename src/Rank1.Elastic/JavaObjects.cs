using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// A JSON value as Elasticsearch holds it once its parser has read it into Java objects
/// (<c>AbstractXContentParser.readValue</c>, as <c>parser.map()</c> does: a <c>HashMap</c>, iterated in its bucket
/// order, lists, strings, booleans, integers and doubles), written with their <c>toString</c>: <c>{x=1, y=[a, b]}</c>.
/// What an error naming such a value shows (a field's preview, an msearch header's boolean).
/// </summary>
internal static class JavaObjects
{
    /// <summary>The value's Java <c>toString</c> (<c>null</c> for JSON null).</summary>
    /// <param name="node">The value.</param>
    public static string Text(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject o => "{" + string.Join(", ", HashMapOrder(o.Select(p => p.Key).ToList()).Select(k => k + "=" + Text(o[k]))) + "}",
        JsonArray a => "[" + string.Join(", ", a.Select(Text)) + "]",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && !v.TryGetValue<long>(out _) && v.TryGetValue<double>(out var d) && !XContentInt.IsIntegerLiteral(v.ToJsonString()) => XContentInt.JavaDoubleToString(d),
        _ => JsonPaths.Text(node.AsValue()),
    };

    /// <summary>
    /// The order a <c>java.util.HashMap</c> filled with <paramref name="keys"/> in turn iterates them: by bucket
    /// (<c>String.hashCode</c> spread by <c>h ^ h &gt;&gt;&gt; 16</c>, masked by the table size, 16 doubled whenever the
    /// size passes three quarters of it), and in a bucket by insertion.
    /// </summary>
    /// <param name="keys">The keys, in insertion order.</param>
    public static IEnumerable<string> HashMapOrder(IReadOnlyList<string> keys)
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
