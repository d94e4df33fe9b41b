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
internal sealed partial class HttpJson : JsonSerializerContext;
