namespace Rank1.Inference;

/// <summary>A passage's place after reranking: its index in the input and its judgement.</summary>
public sealed record RankedPassage(int Index, Rank1Judgement Judgement);

/// <summary>Reranking a list of passages for one query with any <see cref="IPassageJudge"/>.</summary>
public static class PassageRanking
{
    /// <summary>
    /// Judges every passage and orders them by score, highest first; equal scores keep their input order (so the
    /// first-stage ranking breaks ties). A <see cref="IPassageBatchJudge"/> (the engine) judges them together, sharing
    /// the prompt prefix; <paramref name="progress"/> is then told once at the end, else after each passage.
    /// </summary>
    public static async Task<IReadOnlyList<RankedPassage>> RerankAsync(
        this IPassageJudge judge,
        string query,
        IReadOnlyList<(string? Title, string Text)> passages,
        string? instructions = null,
        JudgeSettings? settings = null,
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(passages);
        if (judge is IPassageBatchJudge batch)
        {
            var all = await batch.JudgeAllAsync(query, instructions, passages, settings, cancellationToken).ConfigureAwait(false);
            progress?.Report(all.Count);
            return Order(all.Select((j, i) => new RankedPassage(i, j)));
        }

        var results = new List<RankedPassage>(passages.Count);
        for (var i = 0; i < passages.Count; i++)
        {
            var (title, text) = passages[i];
            var judgement = await judge.JudgeAsync(new Rank1Input(query, text, title, instructions), settings, cancellationToken).ConfigureAwait(false);
            results.Add(new RankedPassage(i, judgement));
            progress?.Report(i + 1);
        }

        return Order(results);
    }

    /// <summary>Score descending, then input index ascending.</summary>
    public static IReadOnlyList<RankedPassage> Order(IEnumerable<RankedPassage> results) =>
        results.OrderByDescending(r => r.Judgement.Score).ThenBy(r => r.Index).ToArray();
}
