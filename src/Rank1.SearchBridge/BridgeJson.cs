using System.Text.Json.Serialization;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge;

/// <summary>
/// The library's one source-generated JSON context: the reasoning store's <c>_mget</c> request, answer and stored
/// judgement documents (the rerank service's answers are <c>Rank1.SearchBridge.Http</c>'s <c>HttpJson</c>).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MgetRequest))]
[JsonSerializable(typeof(MgetAnswer))]
[JsonSerializable(typeof(StoredJudgementDocument))]
internal sealed partial class BridgeJson : JsonSerializerContext;
