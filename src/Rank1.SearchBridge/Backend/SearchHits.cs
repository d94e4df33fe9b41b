using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Backend;

/// <summary>What the product reads of a backend's search answer: its hits and each hit's passage (proxy and worker alike).</summary>
internal static class SearchHits
{
    /// <summary>The answer's <c>hits.hits</c>, in backend order.</summary>
    public static IReadOnlyList<JsonObject> Hits(JsonObject response) =>
        (response["hits"]?["hits"] as JsonArray)?.OfType<JsonObject>().ToArray() ?? [];

    /// <summary>The passage of a hit: the configured fields' values joined by a space, from _source (or fields).</summary>
    public static (string? Title, string Text) Passage(JsonObject hit, IReadOnlyList<string> fields, string? titleField)
    {
        var text = string.Join(' ', fields.SelectMany(f => Values(hit, f)));
        // A title that is present counts even when empty: the reference joins it ("{title} {text}") all the same.
        var title = titleField is null ? null : JsonPaths.Values(hit["_source"], titleField).FirstOrDefault() ?? Values(hit, titleField).FirstOrDefault();
        return (title, text);
    }

    /// <summary>
    /// Whether a passage has text for the model to judge: a hit whose fields are missing, null, empty, blank, empty arrays or
    /// objects has none, and is not judged (an empty passage's score says nothing of the hit).
    /// </summary>
    public static bool HasText(string text) => !string.IsNullOrWhiteSpace(text);

    /// <summary>
    /// Why <paramref name="hits"/> have no passage text in <paramref name="fields"/>: when one of those fields holds an object
    /// (which is no text: its own fields are, by their dotted path), the reason says so and names one of them.
    /// </summary>
    public static string NoText(IEnumerable<JsonObject> hits, IReadOnlyList<string> fields)
    {
        var reason = $"no passage text in fields [{string.Join(", ", fields)}]";
        foreach (var hit in hits)
        {
            foreach (var field in fields)
            {
                if (JsonPaths.Nodes(hit["_source"], field).OfType<JsonObject>().FirstOrDefault() is { } found)
                {
                    var inside = found.Select(p => p.Key).FirstOrDefault();
                    return $"{reason}: [{field}] holds an object, not text; name the text fields inside it" + (inside is null ? "" : $", such as [{field}.{inside}]");
                }
            }
        }

        return reason;
    }

    // The hit's _source values at the path, else its stored/docvalue "fields" of that name.
    private static IEnumerable<string> Values(JsonObject hit, string path)
    {
        var values = JsonPaths.Values(hit["_source"], path).ToList();
        if (values.Count == 0 && hit["fields"]?[path] is JsonArray stored)
        {
            values = stored.OfType<JsonValue>().Select(JsonPaths.Text).ToList();
        }

        return values.Where(s => s.Length > 0);
    }
}
