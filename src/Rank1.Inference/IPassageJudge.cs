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
    /// started (tokenizing included) are <see cref="PassageResult.NotStarted"/>, for the caller to keep in their
    /// first-stage order. A passage that cannot be judged because of its input (<see cref="Rank1InputException"/>) is
    /// <see cref="PassageResult.Failed"/> without stopping the others. Results in input order.
    /// </summary>
    ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default);
}

/// <summary>What became of one passage of a window: judged, not started by the deadline, or failed because of its input.</summary>
public sealed record PassageResult
{
    private PassageResult(Rank1Judgement? judgement, string? error)
    {
        Judgement = judgement;
        Error = error;
    }

    /// <summary>Not started when the deadline passed.</summary>
    public static PassageResult NotStarted { get; } = new(null, null);

    /// <summary>The judgement, when the passage was judged.</summary>
    public Rank1Judgement? Judgement { get; }

    /// <summary>Why the passage could not be judged (an input error, never a model fault), when it failed.</summary>
    public string? Error { get; }

    /// <summary>A judged passage.</summary>
    public static PassageResult Judged(Rank1Judgement judgement) => new(judgement ?? throw new ArgumentNullException(nameof(judgement)), null);

    /// <summary>A passage that cannot be judged, and why.</summary>
    public static PassageResult Failed(string error) => new(null, error ?? throw new ArgumentNullException(nameof(error)));
}
