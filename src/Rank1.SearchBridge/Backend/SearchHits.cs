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
