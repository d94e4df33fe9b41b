using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// A cluster's answer read for a command that talks to it directly (<c>eval</c>, <c>seed</c>): a gateway in front of the cluster
/// may answer anything (an HTML 502, an empty body), which is the cluster's failure to report in one line, never a
/// JSON exception.
/// </summary>
internal static class ClusterAnswer
{
    /// <summary>The answer's body as text, and as a JSON object when it is one (else null).</summary>
    public static async Task<(JsonObject? Json, string Text)> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return Read(text);
    }

    /// <summary>An answer's body (as the backend client returns it) as text, and as a JSON object when it is one (else null).</summary>
    public static (JsonObject? Json, string Text) Read(byte[] body) => Read(Encoding.UTF8.GetString(body));

    private static (JsonObject? Json, string Text) Read(string text)
    {
        try
        {
            return (JsonNode.Parse(text) as JsonObject, text);
        }
        catch (JsonException)
        {
            return (null, text);
        }
    }

    /// <summary>An error answer's reason: Elasticsearch's <c>error.reason</c> (or an older cluster's string <c>error</c>), else the start of its body.</summary>
    public static string Reason(JsonObject? json, string text) =>
        (json?["error"] is JsonObject error ? error["reason"] : json?["error"])?.ToString() ?? Excerpt(text);

    /// <summary>The start of an answer's body, for an error: its first 200 characters, or "(an empty body)".</summary>
    public static string Excerpt(string body) =>
        body.Trim() is { Length: > 0 } t ? (t.Length > 200 ? t[..200] + "..." : t) : "(an empty body)";
}
