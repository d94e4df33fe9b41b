using System.Text.Json;
using System.Text.Json.Serialization;
using Rank1.SearchBridge.Http.Service;

namespace Rank1.SearchBridge.Http;

/// <summary>
/// The library's one source-generated JSON context: the rerank service's answers. An answer holds a returned document
/// (<c>results[].document</c>) one level deeper than its request did (<c>documents[]</c>), so it may nest one level more than
/// a body may (<see cref="RerankRequest.MaxDepth"/>): at the default 64, a document as deep as the body allows was judged and
/// then answered 500.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = RerankRequest.MaxDepth + 1)]
[JsonSerializable(typeof(CohereAnswer))]
[JsonSerializable(typeof(TeiResult[]))]
[JsonSerializable(typeof(CohereError))]
[JsonSerializable(typeof(TeiError))]
internal sealed partial class HttpJson : JsonSerializerContext
{
    /// <summary>
    /// The answers as written: <see cref="Default"/>'s settings, with text as UTF-8 (only what JSON must escape is escaped,
    /// once <see cref="OutputJson.Utf8(byte[])"/> has written an emoji as itself), as TEI's serde_json writes it.
    /// The default HTML-safe encoder wrote every character past ASCII as <c>\uXXXX</c>: a returned Japanese document at twice its size.
    /// </summary>
    /// <remarks>Made on first use (a nested holder): a static initializer here could run before the generated <see cref="Default"/>'s.</remarks>
    public static HttpJson Answers => AnswersHolder.Value;

    // A nested type's static initializer runs on first use of Answers, after Default's; once, whoever comes first.
    private static class AnswersHolder
    {
        public static readonly HttpJson Value = new(new JsonSerializerOptions(Default.Options) { Encoder = OutputJson.Encoder });
    }
}
