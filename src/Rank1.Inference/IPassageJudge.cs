namespace Rank1.Inference;

/// <summary>Judges one (query, passage) pair. The engine implements it; callers such as the proxy depend on this.</summary>
public interface IPassageJudge
{
    /// <summary>A short id of the model (for logs and the reasoning store).</summary>
    string ModelId { get; }

    /// <summary>Judges one pair. Honours <paramref name="cancellationToken"/> promptly, even inside a model step.</summary>
    ValueTask<Rank1Judgement> JudgeAsync(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default);
}

/// <summary>A judge that can judge several passages for one query together, sharing work between them.</summary>
public interface IPassageBatchJudge : IPassageJudge
{
    /// <summary>Judges every passage (results in input order), each exactly as <see cref="IPassageJudge.JudgeAsync"/> would up to float rounding.</summary>
    ValueTask<IReadOnlyList<Rank1Judgement>> JudgeAllAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Judges the passages of one search window under <see cref="JudgeSettings.Deadline"/>: passages already started
    /// when it passes are scored from their reasoning so far (<see cref="ReasoningEnd.Deadline"/>); passages not yet
    /// started are null, for the caller to keep in their first-stage order. Results in input order.
    /// </summary>
    ValueTask<IReadOnlyList<Rank1Judgement?>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default);
}
