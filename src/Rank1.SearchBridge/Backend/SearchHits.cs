using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Backend;

/// <summary>What the product reads of a backend's search answer: its hits and each hit's passage (proxy and worker alike).</summary>
internal static class SearchHits
{
    /// <summary>
    /// What is wrong with <paramref name="response"/>, a backend's 200 to a search, where it lacks the structure the
    /// product reads, as Elasticsearch and OpenSearch write it (<c>SearchHits.toXContent</c>, <c>SearchHit.toInnerXContent</c>):
    /// <c>hits</c> an object, its <c>hits</c> an array of objects, and in each hit <c>_index</c> and <c>_id</c> strings,
    /// <c>_source</c> and <c>fields</c> objects, where they are present (<c>[hits.hits] is an object, not an array</c>);
    /// null when it has it. The proxy answers such an answer as the backend's 502, the worker fails the job with it.
    /// </summary>
    public static string? Malformation(JsonObject response)
    {
        if (response["hits"] is not { } hits)
        {
            return null;
        }

        if (hits is not JsonObject)
        {
            return Malformed("hits", hits, "an object");
        }

        if (hits["hits"] is not { } list)
        {
            return null;
        }

        if (list is not JsonArray array)
        {
            return Malformed("hits.hits", list, "an array");
        }

        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject hit)
            {
                return Malformed($"hits.hits[{i}]", array[i], "an object");
            }

            foreach (var (key, expected) in HitMembers)
            {
                if (hit[key] is { } member && member.GetValueKind() != expected)
                {
                    return Malformed($"hits.hits[{i}].{key}", member, expected == JsonValueKind.String ? "a string" : "an object");
                }
            }
        }

        return null;
    }

    // What is read of a hit, where the hit has it: the store's key (_index, _id) and the passage (_source, fields).
    private static readonly (string Key, JsonValueKind Kind)[] HitMembers =
        [("_index", JsonValueKind.String), ("_id", JsonValueKind.String), ("_source", JsonValueKind.Object), ("fields", JsonValueKind.Object)];

    private static string Malformed(string path, JsonNode? found, string expected) => $"[{path}] is {Kind(found)}, not {expected}";

    private static string Kind(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

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
