using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.Inference.Prompt;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>What to do with one search: whether to rerank, and with which settings (config merged with <c>ext.rank1</c>).</summary>
internal sealed record RerankPlan
{
    public required bool Enabled { get; init; }

    /// <summary>
    /// The operator's rule for the index that <see cref="From"/> merged with <c>ext.rank1</c>, resolved once per search:
    /// what a precompute job for the search takes (<see cref="HotQueryPublisher"/>), never the caller's settings.
    /// </summary>
    public required RerankRule Rule { get; init; }

    /// <summary>Why a search is not reranked (for logs and the <c>X-Rank1-Reason</c> header).</summary>
    public string? SkipReason { get; init; }

    /// <summary>True when the request itself asked for a rerank (ext.rank1 present and not disabled).</summary>
    public bool RequestedByClient { get; init; }

    public required int Window { get; init; }

    public required IReadOnlyList<string> Fields { get; init; }

    public string? TitleField { get; init; }

    public string? QueryText { get; init; }

    public string? Instructions { get; init; }

    public required int MaxThinkTokens { get; init; }

    /// <summary>The search's time budget (<c>ext.rank1.deadline_ms</c>, else the rule's).</summary>
    public required TimeSpan Deadline { get; init; }

    /// <summary>Query token limit asked for (null: the model's cap, which also bounds it).</summary>
    public int? MaxQueryTokens { get; init; }

    /// <summary>Passage token limit asked for (null: the model's cap, which also bounds it).</summary>
    public int? MaxPassageTokens { get; init; }

    /// <summary>A dataset prompt template wrapping the query (<c>FILL_QUERY_HERE</c>), or null.</summary>
    public string? PromptTemplate { get; init; }

    public required bool IncludeReasoning { get; init; }

    /// <summary>
    /// Judged hits scoring below this are dropped from the answer (as the Elasticsearch reranking retriever's
    /// <c>min_score</c> does), or null for none. Only Rank1 scores are compared: hits not judged are kept.
    /// </summary>
    public double? MinScore { get; init; }

    private static readonly HashSet<string> Keys = ["enabled", "window", "fields", "title_field", "query", "instructions", "max_think_tokens", "deadline_ms", "include_reasoning", "max_query_tokens", "max_passage_tokens", "prompt_template", "min_score"];

    /// <summary>
    /// Merges the rule for <paramref name="rule"/> with the request's <c>ext.rank1</c> (removed from
    /// <paramref name="body"/>, since Elasticsearch rejects unknown <c>ext</c> keys). Bad values, and values above the
    /// operator's <paramref name="caps"/>, are a 400 naming the field.
    /// </summary>
    public static RerankPlan From(JsonObject? body, RerankRule rule, RerankCaps? caps = null)
    {
        caps ??= new RerankCaps();
        JsonObject? ext = null;
        if (body?["ext"] is JsonObject extSection && extSection.TryGetPropertyValue("rank1", out var rank1Node))
        {
            // A null one (a client's serializer writing an unset settings object) is no settings, as a null setting in
            // it is; removed all the same, since the backend would refuse it as an unknown ext.
            ext = rank1Node is null ? null : rank1Node as JsonObject ?? throw EsException.IllegalArgument("[ext.rank1] must be an object");
            extSection.Remove("rank1");
            if (extSection.Count == 0)
            {
                body.Remove("ext");
            }
        }

        if (ext is not null)
        {
            foreach (var (key, _) in ext)
            {
                if (!Keys.Contains(key))
                {
                    throw EsException.IllegalArgument($"[ext.rank1.{key}] is not a known setting (known: {string.Join(", ", Keys.Order())})");
                }
            }
        }

        var enabled = Bool(ext, "enabled") ?? rule.Enabled;
        var fields = ext?["fields"] is { } f
            ? (f as JsonArray)?.Select(x => x?.GetValueKind() == JsonValueKind.String && !Blank(x.GetValue<string>()) ? x.GetValue<string>() : throw EsException.IllegalArgument("[ext.rank1.fields] must be a non-empty array of field names")).ToArray()
                ?? (f.GetValueKind() == JsonValueKind.String && !Blank(f.GetValue<string>()) ? [f.GetValue<string>()] : throw EsException.IllegalArgument("[ext.rank1.fields] must be a non-empty array of field names"))
            : rule.EffectiveFields.ToArray();
        if (fields.Length == 0)
        {
            throw EsException.IllegalArgument("[ext.rank1.fields] must be a non-empty array of field names");
        }

        return new RerankPlan
        {
            Enabled = enabled,
            Rule = rule,
            RequestedByClient = ext is not null && enabled,
            Window = Int(ext, "window", 1, caps.Window) ?? rule.Window,
            Fields = fields,
            TitleField = Str(ext, "title_field") ?? rule.TitleField,
            QueryText = Str(ext, "query"),
            Instructions = InstructionsOf(ext, rule.Instructions),
            MaxThinkTokens = Int(ext, "max_think_tokens", 0, caps.MaxThinkTokens) ?? rule.MaxThinkTokens,
            Deadline = Int(ext, "deadline_ms", 1, (int)caps.Deadline.TotalMilliseconds) is { } ms ? TimeSpan.FromMilliseconds(ms) : rule.Deadline,
            PromptTemplate = Template(ext) ?? rule.PromptTemplate,
            IncludeReasoning = Bool(ext, "include_reasoning") ?? rule.IncludeReasoning,
            MaxQueryTokens = Int(ext, "max_query_tokens", 1, 131_072) ?? rule.MaxQueryTokens,
            MaxPassageTokens = Int(ext, "max_passage_tokens", 1, 131_072) ?? rule.MaxPassageTokens,
            MinScore = Probability(ext, "min_score"),
        };
    }

    /// <summary>What the model is asked per passage (the executor adds the deadline); the engine caps the token limits.</summary>
    public JudgeSettings JudgeSettings() => new() { MaxThinkTokens = MaxThinkTokens, MaxQueryTokens = MaxQueryTokens, MaxPassageTokens = MaxPassageTokens, PromptTemplate = PromptTemplate };

    /// <summary>
    /// The reasoning store's fingerprint of this plan for <paramref name="queryText"/>: token limits are part of it only
    /// when set below the model's own (<paramref name="model"/>), so judgements stored under the model's defaults keep their keys.
    /// </summary>
    public string Fingerprint(string queryText, ModelTokenLimits model) => ReasoningKeys.Fingerprint(queryText, Instructions, MaxThinkTokens, Fields, TitleField,
        ReasoningKeys.Limits(MaxQueryTokens, MaxPassageTokens, model), PromptTemplate);

    public RerankPlan Skip(string reason) => this with { Enabled = false, SkipReason = reason };

    private static string? Template(JsonObject? ext) => Str(ext, "prompt_template") is { } t
        ? (Rank1Prompt.IsValidTemplate(t) ? t : throw EsException.IllegalArgument($"[ext.rank1.prompt_template]: {Rank1Prompt.TemplateProblem}"))
        : null;

    private static bool? Bool(JsonObject? ext, string key) => ext?[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        var other => throw EsException.IllegalArgument($"[ext.rank1.{key}] must be true or false (got {other.ToJsonString()})"),
    };

    private static int? Int(JsonObject? ext, string key, int min, int max) => ext?[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) && i >= min && i <= max => i,
        var other => throw EsException.IllegalArgument($"[ext.rank1.{key}] must be a whole number from {min} to {max} (got {other.ToJsonString()})"),
    };

    private static double? Probability(JsonObject? ext, string key) => ext?[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && d >= 0 && d <= 1 => d,
        var other => throw EsException.IllegalArgument($"[ext.rank1.{key}] must be a number from 0 to 1 (got {other.ToJsonString()})"),
    };

    // A text setting (query, instructions, prompt_template) or a field name (title_field, fields) of only white space,
    // control and invisible format characters says nothing and names no field: refused as an empty one, by the one test
    // of a text that asks nothing. Before, only query was held to it: "\u0001" instructions were appended to every
    // query (and keyed its stored reasoning), a "\u200B" title_field named no field, and a "\u200B" prompt_template was
    // refused as lacking its placeholder rather than as empty.
    private static bool Blank(string text) => PrecomputeReasoning.IsBlankQuery(text);

    // "" is this search's "no instructions": the bare query is judged, under the key of a search without instructions,
    // whatever the rule's Instructions say, as the rerank service takes a call's "" (RerankRequest), the worker a job's
    // (PrecomputeService.Validate) and precompute a query line's (QueryFile.ParseJson). Absent or null: the rule's. Other
    // instructions that ask nothing (" ", "\u0001") are refused as before (PrecomputeReasoning.TryInstructionsOrNone; Str
    // refuses them and any other value). Before, "" was refused too, so a search could not opt out of its rule's Instructions.
    private static string? InstructionsOf(JsonObject? ext, string? rules) =>
        ext?["instructions"] is JsonValue v && v.GetValueKind() == JsonValueKind.String && PrecomputeReasoning.TryInstructionsOrNone(v.GetValue<string>(), out var instructions)
            ? instructions
            : Str(ext, "instructions") ?? rules;

    private static string? Str(JsonObject? ext, string key) => ext?[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String && !Blank(v.GetValue<string>()) => v.GetValue<string>(),
        var other => throw EsException.IllegalArgument($"[ext.rank1.{key}] must be a non-empty string (got {other.ToJsonString()})"),
    };
}
