using System.Text.Json.Serialization;
using Rank1.SearchBridge.Service;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge;

/// <summary>
/// The library's one source-generated JSON context: the rerank service's answers and the reasoning store's
/// <c>_mget</c> request, answer and stored judgement documents.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CohereAnswer))]
[JsonSerializable(typeof(TeiResult[]))]
[JsonSerializable(typeof(CohereError))]
[JsonSerializable(typeof(TeiError))]
[JsonSerializable(typeof(MgetRequest))]
[JsonSerializable(typeof(MgetAnswer))]
[JsonSerializable(typeof(StoredJudgementDocument))]
internal sealed partial class BridgeJson : JsonSerializerContext;
