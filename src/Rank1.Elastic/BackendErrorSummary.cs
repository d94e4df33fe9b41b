using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// What a job's fault, or a failed write of the reasoning index, says of a backend's error answer: its error <c>type</c>
/// and those of its <c>root_cause</c>s, never a <c>reason</c>. Elasticsearch's reasons quote the search (<c>failed to
/// create query: For input string: "..."</c>, <c>Failed to parse query [...]</c>) and the document written (a
/// <c>document_parsing_exception</c>'s <c>Preview of field's value: '...'</c>), so the query's text, which the worker and
/// the proxy name only by fingerprint and length at Information and above, reached the fault headers of the error queue,
/// MassTransit's fault log and the store's warning; the whole answer is logged at Debug (<see cref="Excerpt"/>).
/// </summary>
internal static class BackendErrorSummary
{
    /// <summary>The types of the error in <paramref name="body"/>, or what the answer was when it has none.</summary>
    public static string Describe(byte[] body)
    {
        JsonNode? json;
        try
        {
            json = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return $"an answer that is not JSON ({body.Length} bytes)";
        }

        return (json as JsonObject)?["error"] is JsonObject error && Describe(error) is { } types ? types : $"an answer without an error type ({body.Length} bytes)";
    }

    /// <summary>The types of one error object (a <c>_bulk</c> item's <c>error</c>), or null when it has no type.</summary>
    public static string? Describe(JsonObject error)
    {
        if (Type(error) is not { } type)
        {
            return null;
        }

        var causes = (error["root_cause"] as JsonArray ?? []).OfType<JsonObject>().Select(Type).OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
        return causes.Length == 0 ? type : $"{type} (root cause: {string.Join(", ", causes)})";
    }

    /// <summary>The start of an answer, as the Debug logs quote it.</summary>
    public static string Excerpt(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length <= 500 ? text : text[..500] + "...";
    }

    private static string? Type(JsonObject error) => error["type"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
}
