using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Reranking;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>The answer to one search, ready to write.</summary>
internal sealed record SearchAnswer(int Status, IReadOnlyList<KeyValuePair<string, string[]>> Headers, byte[] Body, RerankStatus Rerank, string? Reason)
{
    /// <summary>Whether the answer went to the client already, streamed as the backend wrote it (a search passed through whole).</summary>
    public bool Sent { get; init; }

    /// <summary>
    /// The Content-Encoding to write <see cref="Body"/> in (plain here): an answer the proxy wrote anew goes out in the
    /// encoding the backend chose for its own answer to the client's <c>Accept-Encoding</c>. Elasticsearch compresses
    /// whenever the client accepts it and <c>http.compression</c> is on (its default without TLS), so a reranked answer
    /// is compressed exactly when the cluster's would have been.
    /// </summary>
    public string? EncodeAs { get; init; }
}

/// <summary>
/// The HTTP side of a search: reading (and decoding) the client's body, the headers passed on to the backend,
/// decoding the backend's answer, and writing the final answer with its rerank-status headers.
/// </summary>
internal static class SearchHttp
{
    // Request headers that describe the body we may have rewritten or decompressed: set anew, never copied.
    private static readonly HashSet<string> BodyHeaders = new(StringComparer.OrdinalIgnoreCase) { "Content-Length", "Content-Encoding" };

    /// <summary>
    /// The client's body, with its Content-Encoding undone: a body that does not decode is a 400, one that decodes to more
    /// than <paramref name="maxContentLength"/> bytes a 413 (Elasticsearch applies <c>http.max_content_length</c> to the
    /// decompressed content too). Every byte read, and every byte decoded as it inflates, is taken from
    /// <paramref name="held"/>: a body that would take the bytes in flight past the budget stops there, a 429
    /// <c>circuit_breaking_exception</c> (<see cref="InFlightBudget"/>).
    /// </summary>
    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, long maxContentLength, InFlightBudget.Lease held)
    {
        using var buffer = new MemoryStream();
        var piece = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(piece, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
        {
            held.Take(read, InFlightBudget.RequestLabel);
            buffer.Write(piece, 0, read);
        }

        var raw = buffer.ToArray();
        var encoding = request.Headers.ContentEncoding.ToString();
        if (string.IsNullOrEmpty(encoding))
        {
            return raw;
        }

        try
        {
            return ContentCoding.DecodeRequest(raw, encoding, maxContentLength, inflated => held.Take(inflated, InFlightBudget.RequestLabel));
        }
        catch (DecodedTooLongException e)
        {
            throw TooLarge(null, e.Limit, decompressed: true);
        }
        catch (InvalidDataException e)
        {
            throw EsException.IllegalArgument($"the request body is not valid {encoding}: {e.Message}");
        }
    }

    /// <summary>The 413 for a request body over <c>Rank1:Proxy:MaxContentLength</c>, as it arrived or once decompressed.</summary>
    public static EsException TooLarge(long? length, long limit, bool decompressed = false) =>
        new(413, "content_too_long_exception",
            $"request body is too large{(length is { } l ? $" ({l} bytes)" : "")}{(decompressed ? " once decompressed" : "")}: the limit (http.max_content_length, Rank1:Proxy:MaxContentLength) is {limit} bytes");

    /// <summary>
    /// The client's headers to pass on to the backend, less those describing the body; with <paramref name="contentType"/>
    /// (the media type of a body given in the URL, <see cref="BodyOrSource"/>) as the <c>Content-Type</c>.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string[]>> RequestHeaders(HttpRequest request, string? contentType = null)
    {
        var replaced = contentType is not null && contentType != request.ContentType;
        var headers = request.Headers.Where(h => !BodyHeaders.Contains(h.Key) && !(replaced && h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
            .Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!)).ToList();
        if (replaced)
        {
            headers.Add(new("Content-Type", [contentType!]));
        }

        return headers;
    }

    /// <summary>
    /// The body of a search or msearch, its URL parameters, and the body's media type. A request sent without a body may
    /// give it in the URL, as <c>source</c> with its media type in <c>source_content_type</c>: Elasticsearch reads that as
    /// the body (<c>RestRequest.contentOrSourceParam</c>, which consumes both parameters), so the proxy does too, and
    /// passes neither on. A request with a body keeps its parameters as they are (Elasticsearch then refuses a
    /// <c>source</c> as a parameter it does not know).
    /// </summary>
    /// <param name="request">The client's request.</param>
    /// <param name="raw">Its body, decoded (<see cref="ReadBodyAsync"/>).</param>
    public static (byte[] Body, IQueryCollection Query, string? ContentType) BodyOrSource(HttpRequest request, byte[] raw)
    {
        var query = request.Query;
        if (raw.Length > 0 || !query.TryGetValue(SourceParameter, out var source) || string.IsNullOrEmpty(source.ToString())
            || !query.TryGetValue(SourceContentTypeParameter, out var type))
        {
            return (raw, query, request.ContentType);
        }

        var rest = query.Where(p => p.Key is not (SourceParameter or SourceContentTypeParameter)).ToDictionary(p => p.Key, p => p.Value);
        return (System.Text.Encoding.UTF8.GetBytes(source.ToString()), new QueryCollection(rest), type.ToString());
    }

    private const string SourceParameter = "source";
    private const string SourceContentTypeParameter = "source_content_type";

    /// <summary>
    /// Writes an answer with its rerank status (and why, when there is a reason) in the response headers. With
    /// <paramref name="held"/>, the request's bytes of the in-flight budget are given back once the answer is encoded,
    /// before its bytes go out: a client that has read the whole answer finds them back already.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, SearchAnswer answer, string status, string? reason, InFlightBudget.Lease? held = null)
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

        SetRerankHeaders(response, status, reason);
        var body = answer.Body;
        if (answer.EncodeAs is { } encoding && body.Length > 0)
        {
            body = ContentCoding.Encode(body, encoding);
            response.Headers.ContentEncoding = encoding;
        }

        response.ContentLength = body.Length;
        held?.Dispose();
        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The rerank status (<c>X-Rank1-Rerank</c>) and why (<c>X-Rank1-Reason</c>, when there is a reason) of an answer.</summary>
    public static void SetRerankHeaders(HttpResponse response, string status, string? reason)
    {
        response.Headers[RerankStatusNames.Header] = status;
        if (reason is not null)
        {
            response.Headers[RerankStatusNames.ReasonHeader] = HeaderSafe(reason);
        }
    }

    /// <summary>
    /// Parses a JSON answer, decoding gzip/deflate/br first. The headers come back without Content-Encoding, and the
    /// encoding apart: the rewritten answer goes out in it again (<see cref="SearchAnswer.EncodeAs"/>). An answer that
    /// does not decode or is not a JSON object is the backend's fault: a 502. One that decodes
    /// to more than <paramref name="maxLength"/> bytes is <see cref="DecodedTooLongException"/>, found before it is parsed.
    /// </summary>
    public static (JsonObject Json, IReadOnlyList<KeyValuePair<string, string[]>> Headers, string? Encoding) DecodeJson(BackendResponse response, long maxLength = long.MaxValue)
    {
        JsonObject? json;
        try
        {
            json = LoneSurrogates.ParseAnswer(ContentCoding.Decoded(response, maxLength)) as JsonObject;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw BadBackendAnswer($"is not a JSON object: {e.Message}");
        }

        var headers = response.Headers.Where(h => !h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).ToList();
        return (json ?? throw BadBackendAnswer("is JSON, but not a JSON object"), headers, ContentCoding.CompressionOf(response.Headers));
    }

    /// <summary>
    /// Throws unless <paramref name="answer"/>, a backend's 200 to a search, has the structure the proxy reads
    /// (<see cref="SearchHits.Malformation"/>): any other is the backend's fault, a 502 naming what is wrong, never the
    /// proxy's own 500 (a hits array) nor a 200 that drops what it could not read (a hits.hits object answered as no hits,
    /// a hit that is no object left out).
    /// </summary>
    public static void CheckSearchAnswer(JsonObject answer)
    {
        if (SearchHits.Malformation(answer) is { } problem)
        {
            throw BadBackendAnswer($"is not a search answer: {problem}");
        }
    }

    private static EsException BadBackendAnswer(string what) => new(502, "rank1_backend_response_exception", $"the backend's search answer {what}");

    /// <summary>
    /// A text that Kestrel accepts as a header value and that stays small: printable ASCII only (anything else,
    /// CR/LF included, becomes <c>?</c>), at most <see cref="MaxHeaderText"/> characters.
    /// </summary>
    public static string HeaderSafe(string text)
    {
        var length = Math.Min(text.Length, MaxHeaderText);
        return string.Create(length + (text.Length > MaxHeaderText ? 3 : 0), text, static (span, t) =>
        {
            for (var i = 0; i < Math.Min(t.Length, MaxHeaderText); i++)
            {
                span[i] = t[i] is >= ' ' and <= '~' ? t[i] : '?';
            }

            if (t.Length > MaxHeaderText)
            {
                span[^3..].Fill('.');
            }
        });
    }

    /// <summary>Longest reason put into a response header.</summary>
    public const int MaxHeaderText = 256;

    public static string ToQueryString(IEnumerable<KeyValuePair<string, StringValues>> query) => QueryString.Create(query).ToUriComponent();
}
