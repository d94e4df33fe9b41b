namespace Rank1.Inference;

/// <summary>
/// A passage's place after reranking: its index in the input and its judgement, or, for a passage the model failed to
/// judge (a NaN score: <see cref="PassageResult.Judged"/>), no judgement and why (<paramref name="Error"/>).
/// </summary>
public sealed record RankedPassage(int Index, Rank1Judgement? Judgement, string? Error = null);

/// <summary>Reranking a list of passages for one query with the engine.</summary>
public static class PassageRanking
{
    /// <summary>
    /// Judges every passage together (<see cref="Rank1Engine.JudgeAllAsync"/>, sharing the prompt prefix) and ranks them
    /// (<see cref="Rank"/>). <paramref name="progress"/> is told once, at the end.
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
        return Rank(all);
    }

    /// <summary>
    /// The judged passages by score, highest first, equal scores in their input order (so the first-stage ranking breaks
    /// ties); then, in input order, those the model failed to judge (a NaN score, as <see cref="PassageResult.Judged"/> reads
    /// it), with why: as the proxy keeps a failed hit after the judged ones.
    /// </summary>
    public static IReadOnlyList<RankedPassage> Rank(IReadOnlyList<Rank1Judgement> judgements)
    {
        ArgumentNullException.ThrowIfNull(judgements);
        var results = judgements.Select((j, i) => (Index: i, Result: PassageResult.Judged(j))).ToArray();
        return results.Where(r => r.Result.Judgement is not null).OrderByDescending(r => r.Result.Judgement!.Score).ThenBy(r => r.Index)
            .Select(r => new RankedPassage(r.Index, r.Result.Judgement))
            .Concat(results.Where(r => r.Result.Judgement is null).Select(r => new RankedPassage(r.Index, null, r.Result.Error)))
            .ToArray();
    }
}
