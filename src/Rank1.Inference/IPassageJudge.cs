namespace Rank1.Inference;

/// <summary>
/// Judges (query, passage) pairs: the one judging API. The engine implements it; callers such as the proxy, the rerank
/// service and the precompute worker depend on this, whatever the judge can batch. Judge one pair with the
/// <see cref="PassageJudge.JudgeAsync"/> extension; implement a judge that takes one pair at a time with
/// <see cref="PassageJudge.JudgeEachAsync"/>.
/// </summary>
public interface IPassageJudge
{
    /// <summary>A short id of the model, for people: logs, health and the stored judgements' <c>model_id</c>.</summary>
    string ModelId { get; }

    /// <summary>
    /// The model's identity by content (<see cref="Model.ModelFingerprint"/>), which the reasoning store keys judgements
    /// on with <see cref="ModelId"/>: a different model under the same id never reuses another's judgements. Empty for
    /// a judge that loads no model files (a test double); a judge that wraps another passes the other's on.
    /// </summary>
    string ModelFingerprint => string.Empty;

    /// <summary>
    /// Judges the passages of one search window, each exactly as if judged alone up to float rounding, under
    /// <see cref="JudgeSettings.Deadline"/>: passages already started when it passes are scored from their reasoning so
    /// far (<see cref="ReasoningEnd.Deadline"/>); passages not yet started (tokenizing included) are
    /// <see cref="PassageResult.NotStarted"/>, for the caller to keep in their first-stage order. A passage that cannot be
    /// judged because of its input (<see cref="Rank1InputException"/>) is <see cref="PassageResult.Failed"/> without
    /// stopping the others. Results in input order. Honours <paramref name="cancellationToken"/> promptly, even inside a
    /// model step.
    /// </summary>
    ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default);
}

/// <summary>Judging one pair with any <see cref="IPassageJudge"/>, and windows for judges that take one pair at a time.</summary>
public static class PassageJudge
{
    /// <summary>
    /// Judges one pair as a window of one. Throws <see cref="Rank1InputException"/> when the pair cannot be judged
    /// because of its input, and <see cref="TimeoutException"/> when <see cref="JudgeSettings.Deadline"/> passed before
    /// the judge started it.
    /// </summary>
    public static async ValueTask<Rank1Judgement> JudgeAsync(this IPassageJudge judge, Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(input);
        var results = await judge.JudgeWindowAsync(input.Query, input.Instructions, [(input.Title, input.Text)], settings, cancellationToken).ConfigureAwait(false);
        return results[0] switch
        {
            { Judgement: { } judgement } => judgement,
            { Error: { } error } => throw new Rank1InputException(error),
            _ => throw new TimeoutException("The deadline passed before the passage was started."),
        };
    }

    /// <summary>
    /// A window judged one passage after another with <paramref name="judgeOne"/>, with the semantics of
    /// <see cref="IPassageJudge.JudgeWindowAsync"/>: no passage is started once <see cref="JudgeSettings.Deadline"/> has
    /// passed on <paramref name="time"/> (the rest are <see cref="PassageResult.NotStarted"/>), and a passage whose input
    /// cannot be judged (<see cref="Rank1InputException"/>) is <see cref="PassageResult.Failed"/> while the others go on.
    /// </summary>
    public static async ValueTask<IReadOnlyList<PassageResult>> JudgeEachAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings, Func<Rank1Input, CancellationToken, ValueTask<Rank1Judgement>> judgeOne, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(passages);
        ArgumentNullException.ThrowIfNull(judgeOne);
        ArgumentNullException.ThrowIfNull(time);
        var results = new PassageResult[passages.Count];
        Array.Fill(results, PassageResult.NotStarted);
        for (var i = 0; i < passages.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (settings?.Deadline is { } d && time.GetUtcNow() >= d)
            {
                break;
            }

            try
            {
                results[i] = PassageResult.Judged(await judgeOne(new Rank1Input(query, passages[i].Text, passages[i].Title, instructions), cancellationToken).ConfigureAwait(false));
            }
            catch (Rank1InputException ex)
            {
                results[i] = PassageResult.Failed(ex.Message);
            }
        }

        return results;
    }
}

/// <summary>What became of one passage of a window: judged, not started by the deadline, or failed (its input, or a NaN score).</summary>
public sealed record PassageResult
{
    /// <summary>
    /// Why a passage the model scored NaN is not judged (TEI's words for it: router/src/http/server.rs, rerank, "score is NaN").
    /// </summary>
    public const string ScoreIsNaN = "the model's score is NaN (not a number)";

    private PassageResult(Rank1Judgement? judgement, string? error, bool notANumber = false)
    {
        Judgement = judgement;
        Error = error;
        NotANumber = notANumber;
    }

    /// <summary>Not started when the deadline passed.</summary>
    public static PassageResult NotStarted { get; } = new(null, null);

    /// <summary>The judgement, when the passage was judged.</summary>
    public Rank1Judgement? Judgement { get; }

    /// <summary>
    /// Why the passage could not be judged, when it failed: an input error, or <see cref="ScoreIsNaN"/> (<see cref="NotANumber"/>);
    /// never a model fault that throws.
    /// </summary>
    public string? Error { get; }

    /// <summary>The model scored the passage NaN: it failed with <see cref="ScoreIsNaN"/> (<see cref="Judged"/>).</summary>
    public bool NotANumber { get; }

    /// <summary>
    /// A judged passage; or, when the model scored it NaN, a failed one (<see cref="ScoreIsNaN"/>, <see cref="NotANumber"/>):
    /// the one place a NaN score becomes "not judged", for every judge and every caller (the proxy, the service, the worker
    /// through <c>RerankExecutor</c>; the CLI's <c>rerank</c> through <see cref="PassageRanking"/>). A NaN logit (an fp16 export
    /// overflowing, say) says nothing of the passage, orders nothing (every comparison is false) and cannot be written as
    /// JSON. No score is infinite: sigmoid of an infinite gap is 0 or 1 (<c>Rank1Scorer.Sigmoid</c>).
    /// </summary>
    public static PassageResult Judged(Rank1Judgement judgement)
    {
        ArgumentNullException.ThrowIfNull(judgement);
        return double.IsNaN(judgement.Score) ? new(null, ScoreIsNaN, notANumber: true) : new(judgement, null);
    }

    /// <summary>A passage that cannot be judged, and why.</summary>
    public static PassageResult Failed(string error) => new(null, error ?? throw new ArgumentNullException(nameof(error)));
}
