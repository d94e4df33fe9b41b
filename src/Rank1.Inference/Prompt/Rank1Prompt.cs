using System.Text;

namespace Rank1.Inference.Prompt;

/// <summary>
/// The Rank1 prompt: raw completion text, no chat template, no system prompt. Lines joined by one newline, ending
/// with the <c>&lt;think&gt;</c> marker (no newline after it), where the model continues with its reasoning.
/// </summary>
public static class Rank1Prompt
{
    /// <summary>The instruction line, exactly as Rank1 was trained on it.</summary>
    public const string Instruction = "Determine if the following passage is relevant to the query. Answer only with 'true' or 'false'.";

    /// <summary>Changes whenever the prompt text or scoring changes, so stored reasoning is never reused across versions.</summary>
    /// <remarks>v2: the reference's instruction and title joins and its forced end after empty reasoning.</remarks>
    public const string Version = "rank1-prompt-v2";

    /// <summary>
    /// The query as the model sees it, as the reference builds it: with instructions, <c>f"{query} {instructions}".strip()</c>,
    /// except that instructions equal to the query are not repeated; without, the query as given.
    /// </summary>
    public static string QueryText(string query, string? instructions)
    {
        ArgumentNullException.ThrowIfNull(query);
        return instructions is null || instructions == query ? query : PythonStrip($"{query} {instructions}");
    }

    /// <summary>The placeholder a prompt template must contain, as the reference's dataset prompts spell it.</summary>
    public const string QueryPlaceholder = "FILL_QUERY_HERE";

    /// <summary>
    /// The query text wrapped in a dataset prompt template (every <see cref="QueryPlaceholder"/> replaced, as the
    /// reference's <c>prompt.replace("FILL_QUERY_HERE", query)</c>); no template, the query text as is.
    /// </summary>
    public static string ApplyTemplate(string queryText, string? template) =>
        template is null ? queryText
        : template.Contains(QueryPlaceholder, StringComparison.Ordinal) ? template.Replace(QueryPlaceholder, queryText, StringComparison.Ordinal)
        : throw new ArgumentException(TemplateProblem, nameof(template));

    /// <summary>
    /// <see cref="ApplyTemplate(string, string?)"/>'s text made no further than <paramref name="maxLength"/> characters and one
    /// more (so a caller cutting at <paramref name="maxLength"/> sees that it cut): its start is the same. A template that repeats
    /// the placeholder makes its text many times the request's size (40,000 of them around a 60,000-character query: 2.4
    /// billion characters, more than a string holds), where the encoder keeps only its start.
    /// </summary>
    internal static string ApplyTemplate(string queryText, string? template, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        if (template is null)
        {
            return queryText;
        }

        if (!IsValidTemplate(template))
        {
            throw new ArgumentException(TemplateProblem, nameof(template));
        }

        var limit = maxLength + 1L;
        var text = new StringBuilder((int)Math.Min(limit, template.Length + (long)queryText.Length));
        var from = 0;
        while (text.Length < limit)
        {
            var at = template.IndexOf(QueryPlaceholder, from, StringComparison.Ordinal);
            var literal = template.AsSpan(from, (at < 0 ? template.Length : at) - from);
            text.Append(literal[..(int)Math.Min(literal.Length, limit - text.Length)]);
            if (at < 0)
            {
                break;
            }

            text.Append(queryText.AsSpan(0, (int)Math.Min(queryText.Length, limit - text.Length)));
            from = at + QueryPlaceholder.Length;
        }

        return text.ToString();
    }

    /// <summary>
    /// How many <see cref="QueryPlaceholder"/>s <paramref name="template"/> holds, and the length of the text
    /// <see cref="ApplyTemplate(string, string?)"/> makes of it around <paramref name="queryText"/>, without making it (a
    /// template repeating the placeholder makes text many times its size).
    /// </summary>
    public static (int Count, long Length) TemplatedLength(string queryText, string template)
    {
        ArgumentNullException.ThrowIfNull(queryText);
        ArgumentNullException.ThrowIfNull(template);
        var count = 0;
        for (var at = template.IndexOf(QueryPlaceholder, StringComparison.Ordinal); at >= 0; at = template.IndexOf(QueryPlaceholder, at + QueryPlaceholder.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return (count, template.Length + ((long)count * (queryText.Length - QueryPlaceholder.Length)));
    }

    /// <summary>Why a template is refused: the one wording for options, requests and the command line.</summary>
    public const string TemplateProblem = "a prompt template must contain FILL_QUERY_HERE, where the query goes";

    /// <summary>True when <paramref name="template"/> can wrap a query.</summary>
    public static bool IsValidTemplate(string template) => template.Contains(QueryPlaceholder, StringComparison.Ordinal);

    /// <summary>
    /// The passage as the model sees it: a title that is present (even empty or blank) is joined to the text by one
    /// space, as the reference's <c>f"{title} {text}"</c> does; no title, the text alone.
    /// </summary>
    public static string PassageText(string? title, string text) =>
        title is null ? text : $"{title} {text}";

    /// <summary>
    /// The user-text part of the prompt: everything before the <c>&lt;think&gt;</c> marker. It is tokenized with
    /// special-token recognition off; the marker is appended as its token id.
    /// </summary>
    public static string TextBeforeThink(string queryText, string passageText) =>
        $"{Instruction}\nQuery: {queryText}\nPassage: {passageText}\n";

    /// <summary>The whole prompt as text (for display and logs): <see cref="TextBeforeThink"/> + <c>&lt;think&gt;</c>.</summary>
    public static string Render(string queryText, string passageText) => TextBeforeThink(queryText, passageText) + "<think>";

    /// <summary>
    /// The text fed between the reasoning and the forced <c>&lt;/think&gt;</c> marker, as the reference rebuilds the
    /// input (<c>prompt + "\n" + cut + "\n&lt;/think&gt;"</c>): with no reasoning at all that is <c>"\n\n"</c>.
    /// </summary>
    public static string ForcedEndText(string cutReasoning) => $"\n{cutReasoning}\n";

    /// <summary>
    /// Cuts reasoning back to its last sentence end (<c>.</c>, <c>!</c> or <c>?</c>), as the reference does when a
    /// budget or deadline stops the model. With no sentence end the whole reasoning is kept: there is nothing
    /// shorter that is a sentence, and dropping everything would discard all the model's work.
    /// </summary>
    public static string CutToLastSentence(string reasoning)
    {
        var end = reasoning.AsSpan().LastIndexOfAny('.', '!', '?');
        return end < 0 ? reasoning : reasoning[..(end + 1)];
    }

    /// <summary>Python's <c>str.strip()</c>: .NET's white space plus the separators U+001C to U+001F, which Python strips too.</summary>
    private static string PythonStrip(string text)
    {
        static bool Space(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';
        var start = 0;
        var end = text.Length;
        while (start < end && Space(text[start]))
        {
            start++;
        }

        while (end > start && Space(text[end - 1]))
        {
            end--;
        }

        return text[start..end];
    }
}
