using Rank1.Inference.Tokenization;

namespace Rank1.Inference.Prompt;

/// <summary>
/// A pair's prompt as token ids within the engine's limits: the query text and the passage each cut to characters,
/// then to tokens, the prompt encoded, and what is left of the model's context for the reasoning.
/// </summary>
internal sealed class PromptEncoder(ModelTokenizer tokenizer, Rank1TokenIds ids, int contextLength, int maxQueryTokens, int maxPassageTokens, int defaultBudget)
{
    /// <summary>Characters per token kept before tokenizing (see <see cref="Rank1Engine.CharsPerToken"/>).</summary>
    public const int CharsPerToken = 16;

    /// <summary>Tokens of the prompt besides the query and the passage (instruction line, labels, newlines, &lt;think&gt;), rounded up.</summary>
    public const int PromptOverheadTokens = 48;

    /// <summary>Context kept free after the prompt: at least this much reasoning, plus the forced end's re-encoding and &lt;/think&gt;.</summary>
    public const int ContextReserve = 16;

    /// <summary>
    /// Most prompt tokens the rows of one window share, as far as the prefix cache keeps them
    /// (<see cref="Decoding.PrefixCache"/>): the tokenizer's start, the query cap and the prompt's own tokens (the instruction line, the labels,
    /// the newlines and &lt;think&gt;, as this tokenizer encodes them with an empty query and passage). A window's rows
    /// share the instruction and the query; a longer common start (identical passage text) is not kept past this.
    /// </summary>
    public int SharedPrefixCap { get; } = tokenizer.PromptStart.Count + maxQueryTokens + tokenizer.EncodeText(Rank1Prompt.TextBeforeThink(string.Empty, string.Empty)).Count + 1;

    /// <summary>
    /// The prompt within the token limits of <paramref name="settings"/> (capped by the engine's): the query text and the
    /// passage are each cut to characters (<see cref="CharsPerToken"/>), then to tokens, before the prompt is encoded.
    /// Throws <see cref="Rank1InputException"/> when the prompt leaves no room for reasoning in the model's context.
    /// </summary>
    public (int[] Ids, bool Truncated) Encode(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var queryLimit = Cap(settings?.MaxQueryTokens, maxQueryTokens);
        var refuse = settings is { Truncate: false };
        // Cut, only the start the character pre-cut keeps is made of a template (one that repeats the placeholder makes
        // text many times the request's size); refused rather than cut, the whole text is counted (see Refused).
        var plainQuery = Rank1Prompt.QueryText(input.Query, input.Instructions);
        var queryText = refuse
            ? Rank1Prompt.ApplyTemplate(plainQuery, settings?.PromptTemplate)
            : Rank1Prompt.ApplyTemplate(plainQuery, settings?.PromptTemplate, CharLimit(queryLimit));
        var (query, queryCut) = Refused(LimitQuery(queryText, queryLimit, cancellationToken), queryText, queryLimit, refuse, cancellationToken);
        var passageText = Rank1Prompt.PassageText(input.Title, input.Text);
        var passageLimit = Cap(settings?.MaxPassageTokens, maxPassageTokens);
        var (passage, passageCut) = Refused(Limit(passageText, passageLimit, cancellationToken, fromStart: settings is { TruncateStart: true }), passageText, passageLimit, refuse, cancellationToken);

        // As the reference's encode(prompt): the tokenizer's own start (Llama 3's <|begin_of_text|>, Mistral's <s>) first.
        int[] prompt = [.. tokenizer.PromptStart, .. tokenizer.EncodeText(Rank1Prompt.TextBeforeThink(query, passage), cancellationToken), ids.ThinkStart];
        if (prompt.Length + ContextReserve > contextLength)
        {
            throw new Rank1InputException($"The prompt has {prompt.Length} tokens, which leaves less than {ContextReserve} of the model's context of {contextLength} for reasoning.");
        }

        return (prompt, queryCut || passageCut);
    }

    /// <summary>The reasoning budget for a prompt: the caller's (or the default), clamped so prompt + reasoning + the forced end fit the model's context.</summary>
    public int Budget(JudgeSettings? settings, int promptLength)
    {
        var budget = settings?.MaxThinkTokens ?? defaultBudget;
        return budget >= 0
            ? Math.Min(budget, contextLength - promptLength - ContextReserve)
            : throw new ArgumentOutOfRangeException(nameof(settings), budget, "MaxThinkTokens must be 0 or more.");
    }

    /// <summary>
    /// With <paramref name="refuse"/> (<see cref="JudgeSettings.Truncate"/> false), a text <see cref="Limit"/> cut is decided
    /// on its whole token count: over <paramref name="maxTokens"/> it is refused in TEI's words, otherwise (cut only by the
    /// character pre-cut) it fits and is kept whole. Counted whole only here, where the caller asked to be told rather than
    /// cut (bounded by its request size).
    /// </summary>
    private (string Text, bool Truncated) Refused((string Text, bool Truncated) limited, string text, int maxTokens, bool refuse, CancellationToken cancellationToken)
    {
        if (!refuse || !limited.Truncated)
        {
            return limited;
        }

        var count = tokenizer.EncodeText(text, cancellationToken).Count;
        return count > maxTokens
            ? throw new Rank1InputException($"`inputs` must have less than {maxTokens} tokens. Given: {count}")
            : (text, false);
    }

    private static int Cap(int? requested, int cap) => requested switch
    {
        null => cap,
        < 1 => throw new ArgumentOutOfRangeException(nameof(requested), requested, "Token limits must be at least 1."),
        { } r => Math.Min(r, cap),
    };

    /// <summary>Queries cut to their limit (<see cref="Limit"/>) rather than taken from the last one: the tests count them.</summary>
    internal int QueryCuts => Volatile.Read(ref _queryCuts);

    private int _queryCuts;

    // The last query cut, with its limit: every passage of a window carries the same query, so it is cut once per window
    // rather than once per passage (up to 8,192 characters through the tokenizer each time).
    private CutQuery? _lastQuery;

    private sealed record CutQuery(string Text, int MaxTokens, string Kept, bool Truncated);

    private (string Text, bool Truncated) LimitQuery(string text, int maxTokens, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _lastQuery) is { } last && last.MaxTokens == maxTokens && string.Equals(last.Text, text, StringComparison.Ordinal))
        {
            return (last.Kept, last.Truncated);
        }

        Interlocked.Increment(ref _queryCuts);
        var (kept, truncated) = Limit(text, maxTokens, cancellationToken);
        Volatile.Write(ref _lastQuery, new CutQuery(text, maxTokens, kept, truncated));
        return (kept, truncated);
    }

    /// <summary>
    /// The characters a text is pre-cut to before it is tokenized to <paramref name="maxTokens"/>: below the longest string
    /// .NET makes (0x3FFFFFDF characters), so the cut and the character past it can be held.
    /// </summary>
    private static int CharLimit(int maxTokens) => (int)Math.Min((long)maxTokens * CharsPerToken, 0x3FFFFFDF - 1);

    // fromStart (JudgeSettings.TruncateStart): the end is kept, first its last characters, then its last tokens.
    private (string Text, bool Truncated) Limit(string text, int maxTokens, CancellationToken cancellationToken, bool fromStart = false)
    {
        var chars = CharLimit(maxTokens);
        var charCut = false;
        if (text.Length > chars)
        {
            // Never split a surrogate pair: the cut text must stay valid UTF-16.
            var from = text.Length - chars;
            text = fromStart ? text[(char.IsLowSurrogate(text[from]) ? from + 1 : from)..] : text[..(char.IsHighSurrogate(text[chars - 1]) ? chars - 1 : chars)];
            charCut = true;
        }

        var (kept, tokenCut) = fromStart ? tokenizer.TruncateStart(text, maxTokens, cancellationToken) : tokenizer.Truncate(text, maxTokens, cancellationToken);
        return (kept, charCut || tokenCut);
    }
}
