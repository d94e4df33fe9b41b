using System.Text.Json.Serialization;
using Rank1.SearchBridge.Http.Service;

namespace Rank1.SearchBridge.Http;

/// <summary>The library's one source-generated JSON context: the rerank service's answers.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CohereAnswer))]
[JsonSerializable(typeof(TeiResult[]))]
[JsonSerializable(typeof(CohereError))]
[JsonSerializable(typeof(TeiError))]
internal sealed partial class HttpJson : JsonSerializerContext;
