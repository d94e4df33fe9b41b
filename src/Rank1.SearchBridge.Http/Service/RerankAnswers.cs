using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>One ranked document of a Cohere/Jina answer; the Rank1 fields only with <c>return_reasoning</c>.</summary>
internal sealed record CohereResult(int Index, [property: JsonConverter(typeof(ScoreJsonConverter))] double RelevanceScore, JsonNode? Document, string? Reasoning, int? ReasoningTokens, string? Ended);

/// <summary>A Cohere <c>/v1/rerank</c> or <c>/v2/rerank</c> answer; <c>model</c> and <c>usage</c> are Jina's additions to the same shape.</summary>
internal sealed record CohereAnswer(string Id, IReadOnlyList<CohereResult> Results, CohereMeta Meta, string Model, CohereUsage Usage);

/// <summary>Cohere's <c>meta</c>.</summary>
internal sealed record CohereMeta(CohereApiVersion ApiVersion, CohereBilledUnits BilledUnits);

/// <summary>Cohere's <c>meta.api_version</c>.</summary>
internal sealed record CohereApiVersion(string Version);

/// <summary>Cohere's <c>meta.billed_units</c>: one search unit per call.</summary>
internal sealed record CohereBilledUnits(int SearchUnits);

/// <summary>Jina's <c>usage</c>: prompt and reasoning tokens the model processed for this call (0 when all came from the store).</summary>
internal sealed record CohereUsage(long TotalTokens);

/// <summary>One element of a TEI <c>/rerank</c> answer (a JSON array, best first); its score an f32, as TEI's.</summary>
internal sealed record TeiResult(int Index, [property: JsonConverter(typeof(TeiScoreJsonConverter))] float Score, string? Text, string? Reasoning, int? ReasoningTokens, string? Ended);

/// <summary>Cohere's error shape.</summary>
internal sealed record CohereError(string Message);

/// <summary>TEI's error shape (<c>error_type</c>: Validation, Empty, Overloaded, Backend, Unauthorized, PayloadTooLarge).</summary>
internal sealed record TeiError(string Error, string ErrorType);
