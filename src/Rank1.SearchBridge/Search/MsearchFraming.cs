using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Rank1.SearchBridge.Reranking;

namespace Rank1.SearchBridge.Search;

/// <summary>One search of an <c>_msearch</c>: its header line and its body line.</summary>
internal sealed record MsearchItem(string HeaderLine, byte[] Body);

/// <summary>
/// The <c>_msearch</c> wire format: the NDJSON request split into header/body pairs, an item's header turned into
/// the index and parameters of its search, and the item answers joined into one <c>responses</c> answer.
/// </summary>
internal static class MsearchFraming
{
    /// <summary>The header/body pairs of an msearch body (blank lines ignored).</summary>
    public static MsearchItem[] Split(byte[] raw)
    {
        var lines = Encoding.UTF8.GetString(raw).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0 || lines.Length % 2 != 0)
        {
            throw EsError.BadRequest("The msearch request must be terminated by a newline [\\n] and hold header/body pairs");
        }

        var items = new MsearchItem[lines.Length / 2];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = new MsearchItem(lines[2 * i], Encoding.UTF8.GetBytes(lines[(2 * i) + 1]));
        }

        return items;
    }

    /// <summary>The index and URL parameters of one item's search: the header's index (else the path's), and its per-search options.</summary>
    public static (string? Index, IQueryCollection Parameters) Target(string headerLine, string? pathIndex, IQueryCollection query)
    {
        var header = SearchHttp.ParseObject(Encoding.UTF8.GetBytes(headerLine));
        var index = header["index"] switch
        {
            JsonArray a => string.Join(',', a.Select(x => x!.GetValue<string>())),
            JsonNode n => n.GetValue<string>(),
            null => pathIndex,
        };
        // Per-search options of the msearch header become URL parameters of that search.
        var parameters = new Dictionary<string, StringValues>(StringComparer.Ordinal);
        foreach (var (k, v) in query)
        {
            parameters[k] = v;
        }

        foreach (var (k, v) in header)
        {
            if (k != "index" && v is JsonValue)
            {
                parameters[k] = v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString();
            }
        }

        return (index, new QueryCollection(parameters));
    }

    /// <summary>The msearch answer: every item's answer in order, each with its status.</summary>
    public static SearchAnswer Combine(IReadOnlyList<SearchAnswer> answers, TimeSpan took)
    {
        var responses = new JsonArray();
        foreach (var a in answers)
        {
            var node = a.Body.Length == 0 ? new JsonObject() : JsonNode.Parse(a.Body) as JsonObject ?? new JsonObject();
            node["status"] ??= a.Status;
            responses.Add(node);
        }

        var body = new JsonObject { ["took"] = (long)took.TotalMilliseconds, ["responses"] = responses };
        var contentType = answers.SelectMany(a => a.Headers).FirstOrDefault(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase));
        return new SearchAnswer(200, contentType.Key is null ? [] : [contentType], Encoding.UTF8.GetBytes(body.ToJsonString(SearchHttp.Compact)), RerankStatus.Applied, null);
    }
}
