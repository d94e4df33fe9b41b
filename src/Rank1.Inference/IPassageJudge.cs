namespace Rank1.Inference;

/// <summary>Judges one (query, passage) pair. The engine implements it; callers such as the proxy depend on this.</summary>
public interface IPassageJudge
{
    /// <summary>A short id of the model (for logs and the reasoning store).</summary>
    string ModelId { get; }

    /// <summary>Judges one pair. Honours <paramref name="cancellationToken"/> promptly, even inside a model step.</summary>
    ValueTask<Rank1Judgement> JudgeAsync(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default);
}
