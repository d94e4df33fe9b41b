namespace Rank1.Elastic;

/// <summary>
/// The names Elasticsearch suggests for a misspelt one ("did you mean [..]?": BaseRestHandler.unrecognized for URL
/// parameters, SuggestingErrorOnUnknown for body fields): those whose Lucene Levenshtein similarity to it is over 0.5,
/// best first, then by name.
/// </summary>
internal static class Suggestions
{
    /// <summary>The <paramref name="candidates"/> close to <paramref name="invalid"/>, best first.</summary>
    public static string[] Near(string invalid, IEnumerable<string> candidates) =>
        candidates.Select(c => (Score: Similarity(invalid, c), Name: c)).Where(c => c.Score > 0.5f)
            .OrderByDescending(c => c.Score).ThenBy(c => c.Name, StringComparer.Ordinal).Select(c => c.Name).ToArray();

    /// <summary>
    /// <c>SuggestingErrorOnUnknown.suggest</c>'s words for an unknown body field: " did you mean [must]?", " did you
    /// mean any of [a, b]?" (<see cref="Near"/>), or nothing.
    /// </summary>
    /// <param name="unknown">The field's name.</param>
    /// <param name="candidates">The names its parser declares.</param>
    public static string DidYouMean(string unknown, IEnumerable<string> candidates) => Near(unknown, candidates) switch
    {
        [] => "",
        [var one] => $" did you mean [{one}]?",
        var close => $" did you mean any of [{string.Join(", ", close)}]?",
    };

    // Lucene's LevenshteinDistance.getDistance: 1 - edits / the longer length.
    private static float Similarity(string target, string other)
    {
        if (target.Length == 0 || other.Length == 0)
        {
            return target.Length == other.Length ? 1 : 0;
        }

        var previous = Enumerable.Range(0, target.Length + 1).ToArray();
        var current = new int[target.Length + 1];
        for (var j = 1; j <= other.Length; j++)
        {
            current[0] = j;
            for (var i = 1; i <= target.Length; i++)
            {
                var cost = target[i - 1] == other[j - 1] ? 0 : 1;
                current[i] = Math.Min(Math.Min(current[i - 1] + 1, previous[i] + 1), previous[i - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return 1.0f - ((float)previous[target.Length] / Math.Max(other.Length, target.Length));
    }
}
