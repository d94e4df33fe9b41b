namespace Rank1.Inference;

/// <summary>One (query, passage) pair to judge.</summary>
/// <param name="Query">The query text.</param>
/// <param name="Text">The passage text.</param>
/// <param name="Title">Optional title, joined before the text with one space.</param>
/// <param name="Instructions">Optional instructions, appended to the query with one space.</param>
public sealed record Rank1Input(string Query, string Text, string? Title = null, string? Instructions = null);

/// <summary>Per-call limits.</summary>
public sealed record JudgeSettings
{
    /// <summary>Most reasoning tokens before the reasoning is cut and <c>&lt;/think&gt;</c> is forced. Null: the engine's default.</summary>
    public int? MaxThinkTokens { get; init; }

    /// <summary>When reached, unfinished reasoning is cut and scored at once (anytime scoring). Null: no deadline.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Most query tokens (query with instructions) the model sees. Null: the engine's <see cref="Rank1EngineOptions.MaxQueryTokens"/>, which also caps it.</summary>
    public int? MaxQueryTokens { get; init; }

    /// <summary>Most passage tokens (title and text) the model sees. Null: the engine's <see cref="Rank1EngineOptions.MaxPassageTokens"/>, which also caps it.</summary>
    public int? MaxPassageTokens { get; init; }

    /// <summary>
    /// Cut a query or passage over its token limit (<see cref="MaxQueryTokens"/>, <see cref="MaxPassageTokens"/>) to
    /// it, and mark the judgement truncated. False: such an input is not judged but fails
    /// (<see cref="Rank1InputException"/>, in the words of Hugging Face TEI's answer to <c>"truncate": false</c>, the
    /// protocol this serves).
    /// </summary>
    /// <value>Default true.</value>
    public bool Truncate { get; init; } = true;

    /// <summary>
    /// With <see cref="Truncate"/>, cut an over-long passage at its start, keeping its end (its last
    /// <see cref="MaxPassageTokens"/> tokens: Hugging Face's truncation direction <c>Left</c>, TEI's
    /// <c>"truncation_direction": "left"</c>). The query is still cut at its end.
    /// </summary>
    /// <value>Default false: the end is cut.</value>
    public bool TruncateStart { get; init; }

    /// <summary>
    /// A dataset prompt wrapping the query, as the reference's per-dataset BEIR/BRIGHT prompts: every
    /// <c>FILL_QUERY_HERE</c> is replaced by the query text (query and instructions joined). Null: the query as is.
    /// </summary>
    public string? PromptTemplate { get; init; }

    /// <summary>
    /// Who the call is for, compared by reference: calls with the same caller share one sub-queue of the engine's
    /// continuous batch and one <see cref="Rank1EngineOptions.MaxQueuedPassagesPerCaller"/> (the proxy passes one
    /// object per request, so the items of an <c>_msearch</c> share). Null: the call is a caller of its own.
    /// </summary>
    public object? Caller { get; init; }

    /// <summary>
    /// The prompts <see cref="Rank1Engine.CheckInputs"/> encoded for this window: a passage found there (same query,
    /// instructions, title, text, token limits and prompt template, same engine) is not encoded again. Null: each passage is encoded when judged.
    /// </summary>
    public CheckedInputs? Checked { get; init; }
}

/// <summary>
/// The prompts <see cref="Rank1Engine.CheckInputs"/> encoded, kept for the judging of the same window
/// (<see cref="JudgeSettings.Checked"/>), so that a window checked first has each prompt encoded once (TEI's <c>"truncate": false</c>).
/// </summary>
public sealed class CheckedInputs
{
    private readonly Made _made;
    private readonly Dictionary<(string? Title, string Text), (int[] Ids, bool Truncated)> _prompts;

    internal CheckedInputs(object encoder, string query, string? instructions, JudgeSettings? settings, Dictionary<(string? Title, string Text), (int[] Ids, bool Truncated)> prompts)
        : this(Made.Of(encoder, query, instructions, settings), prompts)
    {
    }

    private CheckedInputs(Made made, Dictionary<(string? Title, string Text), (int[] Ids, bool Truncated)> prompts)
    {
        _made = made;
        _prompts = prompts;
    }

    /// <summary>Passages whose prompts are kept.</summary>
    public int Count => _prompts.Count;

    /// <summary>
    /// The prompts of <paramref name="passages"/> only (those still to judge, e.g. a window's store misses), so that the
    /// others' token ids are not held through the wait for the model and the judging.
    /// </summary>
    public CheckedInputs Keeping(IEnumerable<(string? Title, string Text)> passages)
    {
        ArgumentNullException.ThrowIfNull(passages);
        var kept = new Dictionary<(string? Title, string Text), (int[] Ids, bool Truncated)>();
        foreach (var passage in passages)
        {
            if (_prompts.TryGetValue(passage, out var prompt))
            {
                kept[passage] = prompt;
            }
        }

        return new CheckedInputs(_made, kept);
    }

    /// <summary>The prompt kept for <paramref name="input"/>, when it was encoded by <paramref name="encoder"/> for the same query under the same limits.</summary>
    internal bool TryGet(object encoder, Rank1Input input, JudgeSettings? settings, out (int[] Ids, bool Truncated) prompt)
    {
        prompt = default;
        return _made == Made.Of(encoder, input.Query, input.Instructions, settings) && _prompts.TryGetValue((input.Title, input.Text), out prompt);
    }

    // What a prompt's encoding depends on besides its passage (PromptEncoder.Encode); the encoder compared by reference.
    private sealed record Made(object Encoder, string Query, string? Instructions, int? MaxQueryTokens, int? MaxPassageTokens, bool Truncate, bool TruncateStart, string? PromptTemplate)
    {
        public static Made Of(object encoder, string query, string? instructions, JudgeSettings? settings) =>
            new(encoder, query, instructions, settings?.MaxQueryTokens, settings?.MaxPassageTokens, settings?.Truncate ?? true, settings?.TruncateStart ?? false, settings?.PromptTemplate);
    }
}

/// <summary>How the reasoning ended.</summary>
public enum ReasoningEnd
{
    /// <summary>The model wrote <c>&lt;/think&gt;</c> itself.</summary>
    Finished,

    /// <summary>The token budget ran out: reasoning cut to its last sentence and <c>&lt;/think&gt;</c> forced.</summary>
    Budget,

    /// <summary>The deadline passed: reasoning cut to its last sentence and <c>&lt;/think&gt;</c> forced.</summary>
    Deadline,

    /// <summary>The model ended the text (an end-of-sequence token) without <c>&lt;/think&gt;</c>: forced as for the budget.</summary>
    EndOfText,
}

/// <summary>The one spelling of <see cref="ReasoningEnd"/> outside the engine: CLI output, hit fields, the reasoning store, metrics.</summary>
public static class ReasoningEnds
{
    /// <summary>"finished", "budget", "deadline" or "eos".</summary>
    public static string Name(ReasoningEnd end) => end switch
    {
        ReasoningEnd.Finished => "finished",
        ReasoningEnd.Budget => "budget",
        ReasoningEnd.Deadline => "deadline",
        _ => "eos",
    };

    /// <summary>Reads a name written by <see cref="Name"/> (the enum's own names are accepted too).</summary>
    public static bool TryParse(string? name, out ReasoningEnd end)
    {
        if (name == "eos")
        {
            end = ReasoningEnd.EndOfText;
            return true;
        }

        return Enum.TryParse(name, ignoreCase: true, out end) && Enum.IsDefined(end);
    }
}

/// <summary>The verdict on one pair.</summary>
/// <param name="Score">P(true) / (P(true) + P(false)) at the position after <c>&lt;/think&gt;</c>.</param>
/// <param name="Relevant">Score &gt;= 0.5.</param>
/// <param name="Reasoning">The reasoning the score was computed from (cut, when the end was forced).</param>
/// <param name="ReasoningTokens">Tokens the model generated (before any cut).</param>
/// <param name="End">How the reasoning ended.</param>
/// <param name="PromptTokens">Tokens in the prompt.</param>
/// <param name="PrefillTime">Time to encode the prompt.</param>
/// <param name="DecodeTime">Time to generate and score.</param>
/// <param name="Truncated">The query or the passage was cut to its token limit before judging.</param>
public sealed record Rank1Judgement(
    double Score,
    bool Relevant,
    string Reasoning,
    int ReasoningTokens,
    ReasoningEnd End,
    int PromptTokens,
    TimeSpan PrefillTime,
    TimeSpan DecodeTime,
    bool Truncated = false);
