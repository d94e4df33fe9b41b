using Rank1.Inference;

namespace Rank1.SearchBridge.Tests.Reranking;

/// <summary>
/// An in-memory judge that takes one pair at a time, each running <paramref name="judge"/> (a window: one after
/// another until the deadline on <paramref name="time"/>); it counts the calls that reached it.
/// </summary>
internal sealed class ScriptedJudge(TimeProvider time, Func<Rank1Input, JudgeSettings, CancellationToken, Task<Rank1Judgement>> judge) : IPassageJudge
{
    private int _calls;

    /// <summary>Model calls that reached the judge (a call the circuit refused never does).</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>The settings of the latest call.</summary>
    public JudgeSettings? LastSettings { get; private set; }

    public string ModelId => "fake-model";

    /// <summary>The content the judge stands for: two judges of one <see cref="ModelId"/> may be different models.</summary>
    public string ModelFingerprint { get; init; } = string.Empty;

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default) =>
        PassageJudge.JudgeEachAsync(query, instructions, passages, settings, async (input, ct) =>
        {
            Interlocked.Increment(ref _calls);
            LastSettings = settings;
            return await judge(input, settings!, ct);
        }, time, cancellationToken);

    /// <summary>A judgement as the engine gives it; the score is read from the passage text ("0.7" scores 0.7).</summary>
    public static Rank1Judgement Judgement(double score, ReasoningEnd end = ReasoningEnd.Finished) =>
        new(score, score >= 0.5, "because", 3, end, 4, TimeSpan.Zero, TimeSpan.Zero);

    public static Task<Rank1Judgement> ByText(Rank1Input input) =>
        Task.FromResult(Judgement(double.Parse(input.Text, System.Globalization.CultureInfo.InvariantCulture)));
}

/// <summary>An in-memory batch judge answering each window with <paramref name="window"/>.</summary>
internal sealed class ScriptedBatchJudge(Func<IReadOnlyList<(string? Title, string Text)>, JudgeSettings, IReadOnlyList<PassageResult>> window) : IPassageJudge
{
    public int WindowCalls { get; private set; }

    public string ModelId => "fake-batch-model";

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default)
    {
        WindowCalls++;
        return ValueTask.FromResult(window(passages, settings!));
    }
}
