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
    public const string Version = "rank1-prompt-v1";

    /// <summary>The query as the model sees it: instructions are appended after one space.</summary>
    public static string QueryText(string query, string? instructions) =>
        string.IsNullOrWhiteSpace(instructions) ? query : $"{query} {instructions}";

    /// <summary>The passage as the model sees it: a title is joined to the text by one space.</summary>
    public static string PassageText(string? title, string text) =>
        string.IsNullOrWhiteSpace(title) ? text : $"{title} {text}";

    /// <summary>
    /// The user-text part of the prompt: everything before the <c>&lt;think&gt;</c> marker. It is tokenized with
    /// special-token recognition off; the marker is appended as its token id.
    /// </summary>
    public static string TextBeforeThink(string queryText, string passageText) =>
        $"{Instruction}\nQuery: {queryText}\nPassage: {passageText}\n";

    /// <summary>The whole prompt as text (for display and logs): <see cref="TextBeforeThink"/> + <c>&lt;think&gt;</c>.</summary>
    public static string Render(string queryText, string passageText) => TextBeforeThink(queryText, passageText) + "<think>";

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
}
