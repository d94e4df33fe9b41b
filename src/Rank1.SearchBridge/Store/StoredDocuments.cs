using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rank1.SearchBridge.Store;

/// <summary>The body of an <c>_mget</c> by ids.</summary>
internal sealed record MgetRequest(IReadOnlyList<string> Ids);

/// <summary>An <c>_mget</c> answer; each document's <c>_source</c> is read on its own, so one malformed document is one miss.</summary>
internal sealed record MgetAnswer(IReadOnlyList<MgetDocument>? Docs);

/// <summary>One document of an <c>_mget</c> answer.</summary>
internal sealed record MgetDocument(
    [property: JsonPropertyName("_id")] string? Id,
    bool Found,
    [property: JsonPropertyName("_source")] JsonElement? Source,
    [property: JsonPropertyName("_seq_no")] long? SeqNo = null,
    [property: JsonPropertyName("_primary_term")] long? PrimaryTerm = null);

/// <summary>The fields of a stored judgement document that a read uses (the full document: docs/reasoning-store.md).</summary>
internal sealed record StoredJudgementDocument(
    [property: JsonRequired] string ModelId,
    [property: JsonRequired] string PassageHash,
    [property: JsonRequired] double Score,
    [property: JsonRequired] bool Relevant,
    string? Reasoning,
    int? ReasoningTokens,
    string? Ended);
