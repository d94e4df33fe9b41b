using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Rank1.Inference;

namespace Rank1.SearchBridge.Store;

/// <summary>
/// The keys of the reasoning store, defined once here.
/// <list type="bullet">
/// <item><b>Query fingerprint</b>: SHA-256 of the normalised query text, the normalised instructions and the rerank
/// settings that change a judgement (reasoning budget, passage fields, title field). Normalisation: Unicode NFKC,
/// lower case (invariant), runs of white space collapsed to one space, trimmed. Window and deadline do not change
/// a passage's judgement and are not part of it.</item>
/// <item><b>Passage hash</b>: SHA-256 of the exact passage text the model judged (title and text as joined in the
/// prompt). A changed document has a new hash, so its stored reasoning is not reused.</item>
/// <item><b>Document id</b>: SHA-256 of (model id, model fingerprint, prompt version, target index, document id,
/// fingerprint, passage hash): writing the same judgement twice addresses the same document, and a changed document's new
/// judgement has an id of its own (the stale one is never read again) instead of colliding with the old one's. The model
/// fingerprint (<see cref="Inference.Model.ModelFingerprint"/>) is the model's content: another model under the same
/// model id (the same folder name) looks up other ids.</item>
/// </list>
/// </summary>
public static partial class ReasoningKeys
{
    // The token limits a judgement keys as none (Limits): the engine's defaults (Rank1EngineOptions) when keys began to
    // carry limits, written out so that the keys already stored stay the keys of such judgements whatever those defaults
    // become.
    private const int UnkeyedQueryTokens = 512;
    private const int UnkeyedPassageTokens = 2048;

    /// <summary>
    /// The fingerprint a precompute job's judgements are stored under: the proxy's fingerprint of the same search
    /// (<c>RerankPlan.Fingerprint</c>) with the job's settings, so what a worker stores is what the proxy looks up.
    /// </summary>
    /// <param name="job">The job.</param>
    /// <param name="model">The model's own token limits (a job's limit at or above them counts as none).</param>
    public static string JobFingerprint(Messages.PrecomputeReasoning job, ModelTokenLimits model) =>
        Fingerprint(job.Query, job.Instructions, job.MaxThinkTokens, job.Fields, job.TitleField, Limits(job.MaxQueryTokens, job.MaxPassageTokens, model), job.PromptTemplate);

    /// <summary>
    /// The fingerprint of a query and the settings that change its judgements. <paramref name="limits"/> (the token
    /// limits, when a rule or request sets them) is appended only when given, so fingerprints without it are unchanged.
    /// </summary>
    /// <remarks>A prompt template, when there is one, is part of it exactly as written (it changes what the model reads).</remarks>
    public static string Fingerprint(string query, string? instructions, int maxThinkTokens, IReadOnlyList<string> fields, string? titleField, string? limits = null, string? promptTemplate = null) =>
        Sha256(string.Join('\u001f', new[] { "fp-v1", Normalize(query), Normalize(instructions ?? string.Empty),
            maxThinkTokens.ToString(CultureInfo.InvariantCulture), string.Join(',', fields), titleField ?? string.Empty }
            .Concat(limits is null ? [] : [limits]).Concat(promptTemplate is null ? [] : ["template:" + promptTemplate])));

    /// <summary>
    /// The <c>limits</c> part of a <see cref="Fingerprint"/>: the token limits the model is given for a judgement, and
    /// whether over-long input is refused rather than cut; null when they are the engine's defaults
    /// (<see cref="Rank1EngineOptions.MaxQueryTokens"/> 512 and <see cref="Rank1EngineOptions.MaxPassageTokens"/> 2048),
    /// so those keys are unchanged. The limit in effect is what a rule, request or precompute job sets, capped at the
    /// model's own (<paramref name="model"/>, <c>Rank1:Model:MaxQueryTokens</c> and <c>MaxPassageTokens</c>), else the
    /// model's own: a limit at or above the model's own is judged exactly as none and counts as none, so the proxy, the
    /// rerank service and the worker share one key for it. The model's own limits count too: a proxy or worker whose
    /// <c>Rank1:Model:MaxPassageTokens</c> is 256 cuts every passage there, and must not share its judgements with one that
    /// reads 2048 tokens of each (they shared one key when only the rule's limits were keyed).
    /// </summary>
    /// <param name="maxQueryTokens">The query token limit the rule, request or job sets; null: none.</param>
    /// <param name="maxPassageTokens">The passage token limit the rule, request or job sets; null: none.</param>
    /// <param name="model">The model's own token limits (the host's <c>Rank1:Model</c> section).</param>
    /// <param name="truncate">Whether over-long input is cut (true) or refused.</param>
    /// <param name="truncateStart">Whether an over-long passage is cut at its start (TEI's <c>truncation_direction</c> left), not its end.</param>
    public static string? Limits(int? maxQueryTokens, int? maxPassageTokens, ModelTokenLimits model, bool truncate = true, bool truncateStart = false)
    {
        var query = Math.Min(maxQueryTokens ?? model.MaxQueryTokens, model.MaxQueryTokens);
        var passage = Math.Min(maxPassageTokens ?? model.MaxPassageTokens, model.MaxPassageTokens);
        int? keyedQuery = query == UnkeyedQueryTokens ? null : query;
        int? keyedPassage = passage == UnkeyedPassageTokens ? null : passage;
        // A passage cut at its start is judged on other text than one cut at its end (refused rather than cut, neither is).
        var cut = !truncate ? "!cut" : truncateStart ? "<cut" : string.Empty;
        return keyedQuery is null && keyedPassage is null && cut.Length == 0 ? null : $"q{keyedQuery}p{keyedPassage}{cut}";
    }

    /// <summary>The hash of the passage text exactly as judged.</summary>
    public static string PassageHash(string passageText) => Sha256(passageText);

    /// <summary>The <c>_id</c> of a stored judgement of the passage whose <see cref="PassageHash"/> is <paramref name="passageHash"/>.</summary>
    /// <param name="modelId">The model's id for people (<see cref="Inference.IPassageJudge.ModelId"/>).</param>
    /// <param name="modelFingerprint">The model's content (<see cref="Inference.IPassageJudge.ModelFingerprint"/>).</param>
    /// <param name="promptVersion">The prompt's version.</param>
    /// <param name="targetIndex">The index the document is in.</param>
    /// <param name="docId">The document's id.</param>
    /// <param name="fingerprint">The query fingerprint (<see cref="Fingerprint"/>).</param>
    /// <param name="passageHash">The <see cref="PassageHash"/> of the passage as judged.</param>
    public static string DocumentId(string modelId, string modelFingerprint, string promptVersion, string targetIndex, string docId, string fingerprint, string passageHash) =>
        Sha256(string.Join('\u001f', modelId, modelFingerprint, promptVersion, targetIndex, docId, fingerprint, passageHash));

    /// <summary>NFKC, lower case, white space collapsed, trimmed.</summary>
    public static string Normalize(string text) =>
        Whitespace().Replace(Inference.Tokenization.UnicodeNormalization.Normalize(text, NormalizationForm.FormKC).ToLowerInvariant(), " ").Trim();

    private static string Sha256(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
