namespace Rank1.Inference.Decoding;

/// <summary>The prompt tokens that passages judged together share (the instruction, the query, the start of the passage line), computed once.</summary>
internal static class SharedPrefix
{
    /// <summary>Shared prefixes shorter than this are not worth a pinned cache or computing apart: each passage is judged alone.</summary>
    public const int MinLength = 8;

    /// <summary>Tokens that every prompt starts with, leaving at least one token of each to feed (its logits come from its own last token).</summary>
    public static int Length(IReadOnlyList<int[]> prompts)
    {
        if (prompts.Count == 0)
        {
            return 0;
        }

        var shared = prompts.Min(p => p.Length) - 1;
        foreach (var p in prompts.Skip(1))
        {
            var i = 0;
            while (i < shared && p[i] == prompts[0][i])
            {
                i++;
            }

            shared = i;
        }

        return Math.Max(shared, 0);
    }
}
