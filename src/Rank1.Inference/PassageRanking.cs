namespace Rank1.Inference;

/// <summary>A passage's place after reranking: its index in the input and its judgement.</summary>
public sealed record RankedPassage(int Index, Rank1Judgement Judgement);

/// <summary>Reranking a list of passages for one query with the engine.</summary>
public static class PassageRanking
{
    /// <summary>
    /// Judges every passage together (<see cref="Rank1Engine.JudgeAllAsync"/>, sharing the prompt prefix) and orders them
    /// by score, highest first; equal scores keep their input order (so the first-stage ranking breaks ties).
    /// <paramref name="progress"/> is told once, at the end.
    /// </summary>
    public static async Task<IReadOnlyList<RankedPassage>> RerankAsync(
        this Rank1Engine engine,
        string query,
        IReadOnlyList<(string? Title, string Text)> passages,
        string? instructions = null,
        JudgeSettings? settings = null,
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(passages);
        var all = await engine.JudgeAllAsync(query, instructions, passages, settings, cancellationToken).ConfigureAwait(false);
        progress?.Report(all.Count);
        return Order(all.Select((j, i) => new RankedPassage(i, j)));
    }

    /// <summary>Score descending, then input index ascending.</summary>
    public static IReadOnlyList<RankedPassage> Order(IEnumerable<RankedPassage> results) =>
        results.OrderByDescending(r => r.Judgement.Score).ThenBy(r => r.Index).ToArray();
}
