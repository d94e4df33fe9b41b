using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>The rerank protocol a request arrived in: it decides field names, defaults, the answer and the error shape.</summary>
internal enum RerankProtocol
{
    /// <summary><c>POST /v1/rerank</c>: Cohere v1 (and Jina, which shares the path and the shape).</summary>
    CohereV1,

    /// <summary><c>POST /v2/rerank</c>: Cohere v2 (documents are strings).</summary>
    CohereV2,

    /// <summary>
    /// <c>POST /rerank</c> (and <c>/reranking</c>): Hugging Face Text Embeddings Inference (<c>texts</c>, <c>raw_scores</c>)
    /// when the body has a <c>texts</c> key; a body without one is <see cref="CohereV1"/> (llama.cpp's rule, <see cref="RerankRequest.AnsweredIn"/>).
    /// </summary>
    Tei,
}

/// <summary>A bad request, answered in the protocol's own error shape with <see cref="Status"/>.</summary>
internal sealed class RerankRequestException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>The <c>Retry-After</c> of a 429 or 503 when not the default (<see cref="Http.RetryAfter.Soon"/>).</summary>
    public string? RetryAfter { get; init; }

    /// <summary>
    /// No <c>Retry-After</c>, whatever the status: the same call fails the same way again (a NaN score), so the answer
    /// names no time at which it would not. TEI's router sends none on any error.
    /// </summary>
    public bool SameAgain { get; init; }

    /// <summary>TEI's <c>error_type</c> when not the one of <see cref="Status"/> (a 415 for an unknown encoding, Validation).</summary>
    public string? ErrorType { get; init; }

    /// <summary>Answered as plain text, not in the protocol's JSON shape (an axum extractor's rejection in front of TEI's handler).</summary>
    public bool PlainText { get; init; }
}

/// <summary>One document to rerank: the text judged, and what goes back when documents are returned.</summary>
internal sealed record RerankDocument(string Text, JsonNode Returned);

/// <summary>A validated rerank call in any protocol.</summary>
internal sealed record RerankRequest(
    RerankProtocol Protocol,
    string? Model,
    string Query,
    IReadOnlyList<RerankDocument> Documents,
    int TopN,
    bool ReturnDocuments,
    bool RawScores,
    bool ReturnReasoning,
    string? Instructions,
    int MaxThinkTokens,
    TimeSpan Deadline,
    string? PromptTemplate,
    int? MaxPassageTokens = null,
    bool Truncate = true,
    bool TruncateStart = false)
{
    /// <summary>Reads and checks a request body in one protocol (<see cref="Unmarked"/>, <see cref="Read"/>, then <see cref="Parse(RerankProtocol, JsonObject, RerankServiceOptions)"/>).</summary>
    public static RerankRequest Parse(RerankProtocol protocol, ReadOnlySpan<byte> body, RerankServiceOptions options) =>
        Parse(protocol, Read(protocol, Unmarked(body)), options);

    /// <summary>
    /// The body without its UTF-8 byte order mark, if it has one: a file saved by Windows PowerShell 5.1 or Notepad, sent as
    /// is, is read as RFC 8259 section 8.1 allows and Elasticsearch (Jackson), llama.cpp (nlohmann::json) and vLLM (Python's
    /// json) read it (TEI's serde_json refuses it; <see cref="TeiJsonExtractor"/> is given the body without it). The one
    /// place the mark is skipped: the service skips it once, before any reading.
    /// </summary>
    public static ReadOnlySpan<byte> Unmarked(ReadOnlySpan<byte> body) =>
        body.StartsWith(Encoding.UTF8.Preamble) ? body[Encoding.UTF8.Preamble.Length..] : body;

    /// <summary>
    /// The body (<see cref="Unmarked"/>) as a JSON object; not UTF-8, not JSON (a duplicate key included) or not an object is a
    /// <see cref="RerankRequestException"/> with the <paramref name="protocol"/>'s validation status.
    /// </summary>
    public static JsonObject Read(RerankProtocol protocol, ReadOnlySpan<byte> body)
    {
        if (!Utf8.IsValid(body))
        {
            // JsonNode decodes a string (a key included) only when it is first read: invalid UTF-8 in a key surfaced as an
            // InvalidOperationException (a 500), in a value as a lone surrogate, and in a returned document's unread field
            // as U+FFFD. The whole body is refused instead, as Elasticsearch's Jackson and TEI's serde_json refuse it.
            throw new RerankRequestException(InvalidStatus(protocol), $"invalid request: the body is not valid UTF-8 ({InvalidUtf8(body)})");
        }

        if (Rank1.Elastic.LoneSurrogates.Replaced(body) is not null && UnpairedSurrogateIn(body) is { } where)
        {
            // JsonNode makes a string of a key or value only when it is read: a lone surrogate escape in a key (its
            // duplicate check included), or in a returned document's other fields, was a 500 "internal error" (which
            // Cohere's SDK retries). Refused wherever it is, as a read string holding one is, and as invalid UTF-8 is above.
            throw new RerankRequestException(InvalidStatus(protocol), $"invalid request: {where} is not valid text: {UnpairedSurrogateReason}");
        }

        try
        {
            // Duplicate keys are refused while parsing: JsonObject would otherwise throw on its first lookup (an ArgumentException, a 500).
            return JsonNode.Parse(body, documentOptions: StrictJson) as JsonObject
                ?? throw new RerankRequestException(InvalidStatus(protocol), "invalid request: the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new RerankRequestException(InvalidStatus(protocol), $"invalid request: the body is not valid JSON: {e.Message}");
        }
    }

    // Where the body first holds a key or string with a lone surrogate escape, or null (also when it is no JSON: the
    // strict parse says why).
    private static string? UnpairedSurrogateIn(ReadOnlySpan<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = MaxDepth });
            return UnpairedSurrogate(document.RootElement, null);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private const string UnpairedSurrogateReason = "it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)";

    // Where the first key or string under element (at path; null for the body) holds a lone surrogate escape, or null.
    private static string? UnpairedSurrogate(JsonElement element, string? path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Readable(element.GetString) ? null : path;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (UnpairedSurrogate(item, $"{path}[{i++}]") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!Readable(() => property.Name))
                    {
                        return path is null ? "a key of the body" : $"a key in {path}";
                    }

                    if (UnpairedSurrogate(property.Value, path is null ? property.Name : $"{path}.{property.Name}") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            default:
                return null;
        }

        static bool Readable(Func<string?> read)
        {
            try
            {
                read();
                return true;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// The protocol a <paramref name="body"/> sent to the <paramref name="endpoint"/> is read and answered in. On
    /// <c>/rerank</c> llama.cpp's rule (<c>tools/server/server-context.cpp</c>, <c>post_rerank</c>: <c>is_tei_format =
    /// body.contains("texts")</c>): a <c>texts</c> key, whatever its value, is TEI; without one the body is Jina's (here
    /// Cohere v1's, the same shape), as llama.cpp and vLLM serve it on that path.
    /// </summary>
    public static RerankProtocol AnsweredIn(RerankProtocol endpoint, JsonObject body) =>
        endpoint == RerankProtocol.Tei && !body.ContainsKey("texts") ? RerankProtocol.CohereV1 : endpoint;

    /// <summary>
    /// Checks a request body. Every problem is a <see cref="RerankRequestException"/> whose message names the field,
    /// with status 400 (Cohere) or 422 (TEI, as TEI answers validation errors).
    /// </summary>
    public static RerankRequest Parse(RerankProtocol protocol, JsonObject json, RerankServiceOptions options)
    {
        var invalid = InvalidStatus(protocol);
        RerankRequestException Bad(string message) => new(invalid, "invalid request: " + message);

        var query = json["query"] switch
        {
            null => throw Bad("query is required"),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => Text(v, "query", Bad),
            _ => throw Bad("query must be a string"),
        };
        // TEI takes any query string, an empty one included (router/src/http/server.rs, rerank, validates texts only):
        // each (query, text) pair is refused only when both are empty (below). Elsewhere a query that asks nothing (white
        // space, control and invisible format characters only) is refused by the one test, as the proxy's query text is.
        if (protocol != RerankProtocol.Tei && PrecomputeReasoning.IsBlankQuery(query))
        {
            throw Bad("query must not be blank");
        }

        var documentsField = protocol == RerankProtocol.Tei ? "texts" : "documents";
        if (json[documentsField] is not JsonArray items)
        {
            throw Bad(json[documentsField] is null ? $"{documentsField} is required" : $"{documentsField} must be a list");
        }

        void CheckCount()
        {
            if (items.Count == 0)
            {
                // TEI answers an empty batch with its own status and type (400, "Empty"), not as a validation error.
                throw protocol == RerankProtocol.Tei ? new RerankRequestException(400, "`texts` cannot be empty") : Bad($"list of {documentsField} must not be empty");
            }

            if (items.Count > options.MaxDocuments)
            {
                // TEI refuses more texts than its max_client_batch_size as a Validation error, 422 (router/src/http/server.rs,
                // rerank; Validation was 413 before TEI 1.9.0, PR #818), in words its handler writes (no "Input validation error").
                throw protocol == RerankProtocol.Tei
                    ? new RerankRequestException(422, $"batch size {items.Count} > maximum allowed batch size {options.MaxDocuments} (Rank1:Service:MaxDocuments)")
                    : Bad($"too many {documentsField}: {items.Count} (at most {options.MaxDocuments} in one call, Rank1:Service:MaxDocuments)");
            }
        }

        if (protocol != RerankProtocol.Tei)
        {
            CheckCount();
        }

        var rankFields = protocol == RerankProtocol.CohereV1 ? StringList(json, "rank_fields", Bad) : null;
        var documents = new RerankDocument[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            documents[i] = Document(items[i], i, documentsField, protocol != RerankProtocol.Tei, rankFields, Bad);
        }

        // An absent top_n is all the documents (none in an empty batch, refused below as such).
        var topN = Int(json, "top_n", Bad) ?? Math.Max(1, documents.Length);
        if (topN < 1)
        {
            throw Bad($"top_n must be at least 1 (got {topN})");
        }

        var request = new RerankRequest(
            protocol,
            Str(json, "model", Bad),
            query,
            documents,
            (int)Math.Min(topN, documents.Length),
            protocol == RerankProtocol.Tei ? Bool(json, "return_text", Bad) ?? false : Bool(json, "return_documents", Bad) ?? false,
            protocol == RerankProtocol.Tei && (Bool(json, "raw_scores", Bad) ?? false),
            Bool(json, "return_reasoning", Bad) ?? false,
            // "" is the call's "no instructions": the bare query is judged, under the key of a call without instructions,
            // whatever Rank1:Service:Instructions says (as the worker takes a job's "", PrecomputeService.Validate, and
            // precompute a query line's, QueryFile.ParseJson). Other instructions that ask nothing (white space, control and
            // invisible format characters only) are refused as the proxy's ext.rank1.instructions are, by the one test
            // (PrecomputeReasoning.IsBlankQuery), and in the words of a blank query; before, "\u0001" was appended to the
            // query and keyed its own stored reasoning (PrecomputeReasoning.TryInstructionsOrNone). Null or absent: the
            // configured instructions.
            Str(json, "instructions", Bad) switch
            {
                null => options.Instructions,
                var given => PrecomputeReasoning.TryInstructionsOrNone(given, out var instructions) ? instructions : throw Bad("instructions must not be blank"),
            },
            IntIn(json, "max_think_tokens", 0, Rank1EngineOptions.MaxThinkTokensLimit, Bad) ?? options.MaxThinkTokens,
            IntIn(json, "deadline_ms", 1, 600_000, Bad) is { } ms ? TimeSpan.FromMilliseconds(ms) : options.Deadline,
            Str(json, "prompt_template", Bad) is { } template
                ? Inference.Prompt.Rank1Prompt.IsValidTemplate(template) ? template : throw Bad($"prompt_template: {Inference.Prompt.Rank1Prompt.TemplateProblem}")
                : null,
            // Cohere v2's per-document token limit; the engine caps it at Rank1:Model:MaxPassageTokens.
            protocol == RerankProtocol.CohereV2 ? IntIn(json, "max_tokens_per_doc", 1, int.MaxValue, Bad) : null,
            // TEI's truncate (its default, auto-truncate, cuts): false refuses an over-long input instead.
            protocol != RerankProtocol.Tei || (Bool(json, "truncate", Bad) ?? true),
            // TEI's truncation_direction (router/src/http/types.rs, TruncationDirection: Left or Right, with their lowercase
            // aliases; another value is refused as serde refuses it, TeiJsonExtractor): left keeps a text's end.
            protocol == RerankProtocol.Tei && Str(json, "truncation_direction", Bad) is "Left" or "left");
        if (protocol == RerankProtocol.Tei)
        {
            // TEI's handler sees the body only once axum's Json extractor has read all of it into its request (serde): a field
            // of the wrong type is refused before an empty or too large batch (router/src/http/server.rs, rerank). An empty
            // (query, text) pair is refused when the pairs are checked in order (RerankService, TeiPairsChecked).
            CheckCount();
        }

        if (!request.Truncate && request.PromptTemplate is { } used && Inference.Prompt.Rank1Prompt.TemplatedLength(Inference.Prompt.Rank1Prompt.QueryText(query, request.Instructions), used) is var (count, length)
            && length > options.MaxBodyBytes)
        {
            // The query goes into each placeholder (the reference's prompt.replace): 40,000 of them around a 60,000-character
            // query, a body of 700 KB, make a string .NET cannot hold. Cut, the encoder makes only the start it keeps; refused
            // rather than cut (TEI's truncate: false), it counts the whole text, so that text is bounded here.
            throw Bad($"prompt_template: with the query in each of its {count} {Inference.Prompt.Rank1Prompt.QueryPlaceholder}, the query text would be {length} characters, "
                + $"more than a body may hold ({options.MaxBodyBytes} bytes, Rank1:Service:MaxBodyBytes)");
        }

        return request;
    }

    /// <summary>Where <paramref name="body"/>, not valid UTF-8, first goes wrong: the byte and its offset.</summary>
    private static string InvalidUtf8(ReadOnlySpan<byte> body)
    {
        var at = 0;
        while (Rune.DecodeFromUtf8(body[at..], out _, out var consumed) == OperationStatus.Done)
        {
            at += consumed;
        }

        return $"byte 0x{body[at]:X2} at offset {at}";
    }

    /// <summary>
    /// TEI's words for an error of its tokenizer (Validation or Empty): <c>TextEmbeddingsError</c> displays both as
    /// <c>Input validation error: {0}</c> (core/src/lib.rs), and the router answers that text (router/src/lib.rs).
    /// </summary>
    internal static string TeiInputError(string reason) => $"Input validation error: {reason}";

    /// <summary>The status of a request the <paramref name="protocol"/> cannot read: 400, or TEI's 422.</summary>
    internal static int InvalidStatus(RerankProtocol protocol) => protocol == RerankProtocol.Tei ? 422 : 400;

    private static RerankDocument Document(JsonNode? item, int i, string field, bool objectsAllowed, IReadOnlyList<string>? rankFields, Func<string, RerankRequestException> bad)
    {
        if (item is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            var text = Text(v, $"{field}[{i}]", bad);
            return new RerankDocument(text, new JsonObject { ["text"] = text });
        }

        if (objectsAllowed && item is JsonObject o)
        {
            var fields = rankFields ?? ["text"];
            var parts = new List<string>(fields.Count);
            foreach (var name in fields)
            {
                parts.Add(o[name] switch
                {
                    JsonValue s when s.GetValueKind() == JsonValueKind.String => Text(s, $"{field}[{i}].{name}", bad),
                    null => throw bad($"{field}[{i}] has no \"{name}\" field"),
                    _ => throw bad($"{field}[{i}].{name} must be a string"),
                });
            }

            return new RerankDocument(string.Join('\n', parts), o.DeepClone());
        }

        throw bad(objectsAllowed ? $"{field}[{i}] must be a string or an object with a \"text\" string" : $"{field}[{i}] must be a string");
    }

    /// <summary>
    /// How deeply a body may nest (System.Text.Json's default, said here so that the answer's writer can take one level
    /// more: <see cref="HttpJson"/>, since <c>return_documents</c> puts a document one level deeper than the request had it).
    /// </summary>
    internal const int MaxDepth = 64;

    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = MaxDepth };

    /// <summary>
    /// The one way a string field is read: JSON may escape a lone UTF-16 surrogate (<c>"\ud83d"</c>), which .NET cannot
    /// turn into a string (InvalidOperationException), so it is the caller's error, named by <paramref name="field"/>.
    /// </summary>
    private static string Text(JsonValue value, string field, Func<string, RerankRequestException> bad)
    {
        try
        {
            return value.GetValue<string>();
        }
        catch (InvalidOperationException)
        {
            throw bad($"{field} is not valid text: {UnpairedSurrogateReason}");
        }
    }

    private static string? Str(JsonObject json, string name, Func<string, RerankRequestException> bad) => json[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Text(v, name, bad),
        _ => throw bad($"{name} must be a string"),
    };

    private static bool? Bool(JsonObject json, string name, Func<string, RerankRequestException> bad) => json[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw bad($"{name} must be true or false"),
    };

    /// <summary>
    /// An integer field, however large: one past <see cref="long"/> (<c>1e300</c>, or <c>1e400</c>, past double) stands at its end, for the range check
    /// to name (a <c>top_n</c> of Python's <c>sys.maxsize</c> means all, as vLLM reads it; before, it was "not an integer").
    /// </summary>
    private static long? Int(JsonObject json, string name, Func<string, RerankRequestException> bad) => json[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var i) => i,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && double.IsFinite(d) && d == Math.Floor(d) =>
            d >= LongEnd ? long.MaxValue : d <= -LongEnd ? long.MinValue : (long)d,

        // Past double's range (1e400): a whole number too, standing at long's end as 1e300 does (before, "not an integer").
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && !(v.TryGetValue<double>(out var f) && double.IsFinite(f)) => v.ToJsonString().StartsWith('-') ? long.MinValue : long.MaxValue,
        _ => throw bad($"{name} must be an integer"),
    };

    // 2^63, the first double past long.MaxValue.
    private const double LongEnd = 9_223_372_036_854_775_808d;

    private static IReadOnlyList<string>? StringList(JsonObject json, string name, Func<string, RerankRequestException> bad) => json[name] switch
    {
        null => null,
        JsonArray a when a.Count > 0 && a.All(x => x is JsonValue s && s.GetValueKind() == JsonValueKind.String) => a.Select((x, i) => Text(x!.AsValue(), $"{name}[{i}]", bad)).ToArray(),
        _ => throw bad($"{name} must be a non-empty list of strings"),
    };

    // An integer field within [min, max]; out of it, an error naming the value as the client wrote it (1e300, not the long it stands at).
    private static int? IntIn(JsonObject json, string name, int min, int max, Func<string, RerankRequestException> bad) => Int(json, name, bad) switch
    {
        null => null,
        { } value when value >= min && value <= max => (int)value,
        _ => throw bad($"{name} must be between {min} and {max} (got {json[name]!.ToJsonString()})"),
    };
}
