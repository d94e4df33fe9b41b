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
    /// <summary>The deepest nesting read or written: Jackson's default <c>maxNestingDepth</c>, which Elasticsearch keeps.</summary>
    public const int MaxDepth = 1000;

    /// <summary>Reading options: as deep as <see cref="MaxDepth"/>.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    /// <summary>A stored document or an answer, read as deep as <see cref="MaxDepth"/>.</summary>
    /// <param name="json">The JSON text.</param>
    public static JsonNode? Parse(string json) => JsonNode.Parse(json, documentOptions: DocumentOptions);

    /// <summary>A stored document or an answer, read as deep as <see cref="MaxDepth"/>.</summary>
    /// <param name="json">The UTF-8 JSON text.</param>
    public static JsonNode? Parse(ReadOnlySpan<byte> json) => JsonNode.Parse(json, documentOptions: DocumentOptions);
}
