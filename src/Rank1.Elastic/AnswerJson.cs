using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// How a JSON document that Elasticsearch may hand back is read and written again: a search answer (its hits'
/// <c>_source</c>) by the proxy, a stored <c>_source</c> by the embedded backend. Elasticsearch stores and returns a
/// document as deep as its JSON parser reads (Jackson's <c>StreamReadConstraints</c> default of 1000 levels; its
/// <c>index.mapping.depth.limit</c> of 20 bounds mapped objects only, not those under <c>dynamic: false</c> or
/// <c>enabled: false</c>), so one deep document must not make an answer unreadable (System.Text.Json's default is 64).
/// </summary>
internal static class AnswerJson
{
    /// <summary>The deepest document Elasticsearch takes: Jackson's default <c>maxNestingDepth</c>, which it keeps.</summary>
    public const int MaxDocumentDepth = 1000;

    /// <summary>
    /// The levels an answer holds a document under, at most: an msearch item's hit's <c>_source</c> sits 6 levels down
    /// (the answer, <c>responses</c>, the item, <c>hits</c>, its array, the hit), an <c>inner_hits</c> or a <c>top_hits</c>
    /// aggregation's deeper. Elasticsearch writes a stored <c>_source</c> into its answer as it holds it, not bounded by
    /// its parser's depth, so a document <see cref="MaxDocumentDepth"/> deep comes back deeper than that.
    /// </summary>
    public const int MaxEnvelopeDepth = 64;

    /// <summary>
    /// The deepest nesting read or written: a document as deep as Elasticsearch takes (<see cref="MaxDocumentDepth"/>)
    /// in an answer's levels (<see cref="MaxEnvelopeDepth"/>).
    /// </summary>
    public const int MaxDepth = MaxDocumentDepth + MaxEnvelopeDepth;

    /// <summary>Reading options: as deep as <see cref="MaxDepth"/>.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    /// <summary>A stored document or an answer, read as deep as <see cref="MaxDepth"/>.</summary>
    /// <param name="json">The JSON text.</param>
    public static JsonNode? Parse(string json) => JsonNode.Parse(json, documentOptions: DocumentOptions);

    /// <summary>A stored document or an answer, read as deep as <see cref="MaxDepth"/>.</summary>
    /// <param name="json">The UTF-8 JSON text.</param>
    public static JsonNode? Parse(ReadOnlySpan<byte> json) => JsonNode.Parse(json, documentOptions: DocumentOptions);

    // The same, refusing a key given twice in an object (what System.Text.Json's JsonObject throws on when it is read).
    private static readonly JsonDocumentOptions KeysOnceOptions = DocumentOptions with { AllowDuplicateProperties = false };

    /// <summary>
    /// A backend's answer, read as deep as <see cref="MaxDepth"/>, with a key that an object holds twice (a <c>_source</c>
    /// from a backend or gateway that is not Elasticsearch, whose parser refuses such a document) read as Jackson's tree
    /// model (<c>ObjectNode</c>, a <c>LinkedHashMap</c>'s <c>put</c>) and the clients' JSON readers read it: its last value,
    /// at its first place. System.Text.Json's <c>JsonObject</c> threw on it where it was read (an ArgumentException: the
    /// search's 500).
    /// </summary>
    /// <param name="json">The UTF-8 JSON text.</param>
    public static JsonNode? ParseKeysOnce(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: KeysOnceOptions);
        }
        catch (JsonException)
        {
            // Malformed: the parser's own error, as without the check. Else a key given twice, read again with each once.
            using var document = JsonDocument.Parse(json.ToArray(), DocumentOptions);
            return LastValues(document.RootElement.Clone());
        }
    }

    // The element as a node holding each key of an object once: its last value, at its first place (JsonObject's indexer
    // replaces a value where it stands).
    private static JsonNode? LastValues(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var o = new JsonObject();
                foreach (var property in element.EnumerateObject())
                {
                    o[property.Name] = LastValues(property.Value);
                }

                return o;
            case JsonValueKind.Array:
                return new JsonArray([.. element.EnumerateArray().Select(LastValues)]);
            default:
                return JsonValue.Create(element);
        }
    }
}
