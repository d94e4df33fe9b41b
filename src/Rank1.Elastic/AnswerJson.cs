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
}
