using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Reranking;

namespace Rank1.SearchBridge.Search;

/// <summary>The answer to one search, ready to write.</summary>
internal sealed record SearchAnswer(int Status, IReadOnlyList<KeyValuePair<string, string[]>> Headers, byte[] Body, RerankStatus Rerank, string? Reason);

/// <summary>
/// The HTTP side of a search: reading (and decoding) the client's body, the headers passed on to the backend,
/// decoding the backend's answer, and writing the final answer with its rerank-status headers.
/// </summary>
internal static class SearchHttp
{
    /// <summary>Compact JSON with non-ASCII text kept as it is (like Elasticsearch's own answers).</summary>
    public static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Request headers that describe the body we may have rewritten or decompressed: set anew, never copied.
    private static readonly HashSet<string> BodyHeaders = new(StringComparer.OrdinalIgnoreCase) { "Content-Length", "Content-Encoding" };

    /// <summary>The client's body, with its Content-Encoding undone (a body that does not decode is a 400).</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false);
        var raw = buffer.ToArray();
        var encoding = request.Headers.ContentEncoding.ToString();
        if (string.IsNullOrEmpty(encoding) || raw.Length == 0)
        {
            return raw;
        }

        try
        {
            return Decode(raw, encoding);
        }
        catch (InvalidDataException e)
        {
            throw EsError.BadRequest($"the request body is not valid {encoding}: {e.Message}");
        }
    }

    /// <summary>The client's headers to pass on to the backend, less those describing the body.</summary>
    public static IReadOnlyList<KeyValuePair<string, string[]>> RequestHeaders(HttpRequest request) =>
        request.Headers.Where(h => !BodyHeaders.Contains(h.Key)).Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!)).ToList();

    /// <summary>Writes an answer with the rerank status of each search in it.</summary>
    public static async Task WriteAsync(HttpContext context, SearchAnswer answer, string[] statuses)
    {
        var response = context.Response;
        response.StatusCode = answer.Status;
        foreach (var (name, values) in answer.Headers)
        {
            if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                response.Headers[name] = values;
            }
        }

        response.Headers[RerankStatusNames.Header] = string.Join(", ", statuses);
        if (answer.Reason is not null && statuses.Length == 1)
        {
            response.Headers[RerankStatusNames.ReasonHeader] = answer.Reason;
        }

        response.ContentLength = answer.Body.Length;
        await response.Body.WriteAsync(answer.Body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The answer's body with any Content-Encoding undone.</summary>
    public static byte[] Decoded(BackendResponse response) =>
        response.Headers.FirstOrDefault(h => h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault() is { } encoding
            ? Decode(response.Body, encoding)
            : response.Body;

    /// <summary>Parses a JSON answer, decoding gzip/deflate/br first. The rewritten answer goes out plain, with Content-Encoding dropped.</summary>
    public static (JsonObject Json, IReadOnlyList<KeyValuePair<string, string[]>> Headers) DecodeJson(BackendResponse response)
    {
        var json = JsonNode.Parse(Decoded(response)) as JsonObject ?? throw new EsError(502, "rank1_backend_response_exception", "the backend's search answer is not a JSON object");
        var headers = response.Headers.Where(h => !h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).ToList();
        return (json, headers);
    }

    public static byte[] Decode(byte[] body, string encoding)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = encoding.Trim().ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => new GZipStream(input, CompressionMode.Decompress),
            "deflate" => new ZLibStream(input, CompressionMode.Decompress),
            "br" => new BrotliStream(input, CompressionMode.Decompress),
            "identity" => input,
            var other => throw new EsError(502, "rank1_backend_response_exception", $"the backend answered with an unsupported Content-Encoding [{other}]"),
        };
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>A search body: a JSON object, or a 400 in Elasticsearch's shape.</summary>
    public static JsonObject ParseObject(byte[] raw)
    {
        try
        {
            return JsonNode.Parse(raw) as JsonObject ?? throw EsError.Parsing("request body or source parameter is required to be a JSON object");
        }
        catch (JsonException e)
        {
            throw EsError.Parsing($"request body is not valid JSON: {e.Message}");
        }
    }

    public static string ToQueryString(IEnumerable<KeyValuePair<string, StringValues>> query) => QueryString.Create(query).ToUriComponent();
}
