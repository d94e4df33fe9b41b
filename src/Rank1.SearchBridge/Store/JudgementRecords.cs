using System.Globalization;
using System.Text.Json.Nodes;
using Rank1.Inference;
using Rank1.Inference.Prompt;

namespace Rank1.SearchBridge.Store;

/// <summary>Where one hit's judgement lives in the reasoning store.</summary>
/// <param name="TargetIndex">The index the hit came from (its <c>_index</c>).</param>
/// <param name="DocId">The hit's <c>_id</c>.</param>
/// <param name="Id">The stored judgement's <c>_id</c>.</param>
/// <param name="PassageHash">Hash of the passage text exactly as judged.</param>
internal sealed record JudgementKey(string TargetIndex, string DocId, string Id, string PassageHash);

/// <summary>The model judgements are stored under: its id for people, and its content, which the store keys on.</summary>
/// <param name="Id">The model id (<see cref="IPassageJudge.ModelId"/>), stored as <c>model_id</c>.</param>
/// <param name="Fingerprint">The model's content (<see cref="IPassageJudge.ModelFingerprint"/>), part of every stored judgement's <c>_id</c>.</param>
internal sealed record JudgingModel(string Id, string Fingerprint)
{
    /// <summary>The model of <paramref name="judge"/>.</summary>
    public static JudgingModel Of(IPassageJudge judge) => new(judge.ModelId, judge.ModelFingerprint);
}

/// <summary>The one definition of stored judgement keys and documents, shared by the proxy and the worker so each finds what the other wrote.</summary>
internal static class JudgementRecords
{
    /// <summary>The key of a hit's judgement: under the index the hit came from, so reasoning never crosses indices.</summary>
    public static JudgementKey Key(JsonObject hit, string? searchedIndex, JudgingModel model, string fingerprint, string? title, string text)
    {
        var targetIndex = hit["_index"]?.GetValue<string>() ?? searchedIndex ?? "_all";
        var docId = hit["_id"]?.GetValue<string>() ?? string.Empty;
        return Key(targetIndex, docId, model, fingerprint, title, text);
    }

    /// <summary>
    /// The key of a judgement of document <paramref name="docId"/> of <paramref name="targetIndex"/> as it reads now: the
    /// passage hash is part of the id, so a changed document is looked up (and its new judgement stored) under a new id;
    /// so is the model's fingerprint, so another model's judgements are never looked up.
    /// </summary>
    public static JudgementKey Key(string targetIndex, string docId, JudgingModel model, string fingerprint, string? title, string text)
    {
        var passageHash = ReasoningKeys.PassageHash(Rank1Prompt.PassageText(title, text));
        return new(targetIndex, docId, ReasoningKeys.DocumentId(model.Id, model.Fingerprint, Rank1Prompt.Version, targetIndex, docId, fingerprint, passageHash), passageHash);
    }

    /// <summary>
    /// The key of a rerank-service document, which has no index or id of its own: it is addressed by its text, under
    /// the pseudo-index <see cref="ServiceIndex"/>, so the same text for the same query is judged once.
    /// </summary>
    public static JudgementKey ServiceKey(JudgingModel model, string fingerprint, string text) =>
        Key(ServiceIndex, ReasoningKeys.PassageHash(Rank1Prompt.PassageText(null, text)), model, fingerprint, null, text);

    /// <summary>The <c>target_index</c> of judgements made by the rerank service.</summary>
    public const string ServiceIndex = "_rank1_service";

    /// <summary>
    /// A stored judgement is reused only for the same model and the same passage text. Both are part of its id already
    /// (the model by its content, which no stored field repeats); the check stays for a document whose fields do not say
    /// what its id promises.
    /// </summary>
    public static bool Matches(StoredJudgement stored, JudgementKey key, JudgingModel model) =>
        stored.Readable && stored.PassageHash == key.PassageHash && stored.ModelId == model.Id;

    /// <summary>The stored document (fields of <c>mappings/reasoning-index.mapping.json</c>).</summary>
    public static JudgementToStore Document(JudgementKey key, JudgingModel model, string fingerprint, string query, string? instructions, Rank1Judgement judgement, DateTimeOffset now) =>
        new(key.Id, new JsonObject
        {
            ["model_id"] = model.Id,
            ["prompt_version"] = Rank1Prompt.Version,
            ["target_index"] = key.TargetIndex,
            ["doc_id"] = key.DocId,
            ["fingerprint"] = fingerprint,
            ["query"] = query,
            ["instructions"] = instructions,
            ["passage_hash"] = key.PassageHash,
            ["score"] = judgement.Score,
            ["relevant"] = judgement.Relevant,
            ["reasoning"] = judgement.Reasoning,
            ["reasoning_tokens"] = judgement.ReasoningTokens,
            ["ended"] = ReasoningEnds.Name(judgement.End),
            ["created"] = now.ToString("O", CultureInfo.InvariantCulture),
            ["compute_ms"] = (long)(judgement.PrefillTime + judgement.DecodeTime).TotalMilliseconds,
        });
}
