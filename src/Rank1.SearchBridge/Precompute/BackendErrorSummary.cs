using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.Precompute;

/// <summary>
/// What a job's fault says of a backend's error answer: its error <c>type</c> and those of its <c>root_cause</c>s, never
/// a <c>reason</c>. Elasticsearch's reasons quote the search (<c>failed to create query: For input string: "..."</c>,
/// <c>Failed to parse query [...]</c>), so the query's text, which the worker names only by fingerprint and length at
/// Information and above, reached the fault headers of the error queue and MassTransit's fault log; the whole answer is
/// logged at Debug, with the query's fingerprint (as the query's text is).
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

        if ((json as JsonObject)?["error"] is not JsonObject error || Type(error) is not { } type)
        {
            return $"an answer without an error type ({body.Length} bytes)";
        }

        var causes = (error["root_cause"] as JsonArray ?? []).OfType<JsonObject>().Select(Type).OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
        return causes.Length == 0 ? type : $"{type} (root cause: {string.Join(", ", causes)})";
    }

    private static string? Type(JsonObject error) => error["type"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
}
