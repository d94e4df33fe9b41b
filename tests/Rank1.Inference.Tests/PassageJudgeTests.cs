using Microsoft.Extensions.Time.Testing;

namespace Rank1.Inference.Tests;

/// <summary>The one judging API's helpers: one pair as a window of one, and windows judged one pair at a time.</summary>
public sealed class PassageJudgeTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static Rank1Judgement Judgement(double score) => new(score, score >= 0.5, "because", 2, ReasoningEnd.Finished, 5, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>A judge that answers every window with <paramref name="answer"/> and notes what it was asked.</summary>
    private sealed class WindowJudge(PassageResult answer) : IPassageJudge
    {
        public List<(string Query, string? Instructions, (string? Title, string Text)[] Passages, JudgeSettings? Settings)> Asked { get; } = [];

        public string ModelId => "window";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            Asked.Add((query, instructions, passages.ToArray(), settings));
            return ValueTask.FromResult<IReadOnlyList<PassageResult>>([answer]);
        }
    }

    /// <summary>
    /// A NaN score is a passage the model failed to judge, in the one place every judge's verdict is made, so that no
    /// caller (the executor, the CLI's rerank) orders or writes a NaN; before, it was a judgement like any other.
    /// </summary>
    [Fact]
    public void Judged_ANaNScore_IsAFailure_WithItsReason()
    {
        var nan = PassageResult.Judged(Judgement(double.NaN));
        Assert.Equal(((Rank1Judgement?)null, "the model's score is NaN (not a number)"), (nan.Judgement, nan.Error));
        var scored = PassageResult.Judged(Judgement(0.0));
        Assert.Equal((0.0, (string?)null), (scored.Judgement!.Score, scored.Error));
    }

    [Fact]
    public async Task JudgeAsync_OnePair_IsAWindowOfOne_AndReturnsItsJudgement()
    {
        var judge = new WindowJudge(PassageResult.Judged(Judgement(0.8)));
        var settings = new JudgeSettings { MaxThinkTokens = 7 };

        var judgement = await judge.JudgeAsync(new Rank1Input("q", "text", "title", "inst"), settings);

        Assert.Equal(0.8, judgement.Score);
        var asked = Assert.Single(judge.Asked);
        Assert.Equal(("q", "inst"), (asked.Query, asked.Instructions));
        Assert.Equal(new[] { ((string?)"title", "text") }, asked.Passages);
        Assert.Same(settings, asked.Settings);
    }

    [Fact]
    public async Task JudgeAsync_InputError_ThrowsRank1InputExceptionWithItsReason()
    {
        var judge = new WindowJudge(PassageResult.Failed("too long"));

        var ex = await Assert.ThrowsAsync<Rank1InputException>(() => judge.JudgeAsync(new Rank1Input("q", "text")).AsTask());

        Assert.Equal("too long", ex.Message);
    }

    [Fact]
    public async Task JudgeAsync_NotStartedByTheDeadline_ThrowsTimeout()
    {
        var judge = new WindowJudge(PassageResult.NotStarted);

        await Assert.ThrowsAsync<TimeoutException>(() => judge.JudgeAsync(new Rank1Input("q", "text")).AsTask());
    }

    [Fact]
    public async Task JudgeEachAsync_StopsStartingAtTheDeadline_InputErrorsFailOnlyTheirPassage()
    {
        var time = new FakeTimeProvider(Start);
        var seen = new List<string>();
        (string?, string)[] window = [(null, "0.3"), (null, "bad"), (null, "0.9"), (null, "0.6"), (null, "0.1")];

        // Each pair takes 40 ms: pairs start at 0, 40, 80 ms; at 120 ms the 100 ms deadline has passed.
        var results = await PassageJudge.JudgeEachAsync("q", null, window, new JudgeSettings { Deadline = Start + TimeSpan.FromMilliseconds(100) }, (input, _) =>
        {
            seen.Add(input.Text);
            time.Advance(TimeSpan.FromMilliseconds(40));
            return input.Text == "bad"
                ? throw new Rank1InputException("unreadable")
                : ValueTask.FromResult(Judgement(double.Parse(input.Text, System.Globalization.CultureInfo.InvariantCulture)));
        }, time, CancellationToken.None);

        Assert.Equal(["0.3", "bad", "0.9"], seen);
        Assert.Equal(0.3, results[0].Judgement!.Score);
        Assert.Equal("unreadable", results[1].Error);
        Assert.Equal(0.9, results[2].Judgement!.Score);
        Assert.Same(PassageResult.NotStarted, results[3]);
        Assert.Same(PassageResult.NotStarted, results[4]);
    }

    [Fact]
    public async Task JudgeEachAsync_CancelledBetweenPassages_StartsNoFurtherPassage()
    {
        using var cancel = new CancellationTokenSource();
        var seen = new List<string>();
        (string?, string)[] window = [(null, "0.3"), (null, "0.9"), (null, "0.6")];

        // The judge ignores the token (as a non-cancellable step would): the loop itself must stop after the first pair.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PassageJudge.JudgeEachAsync("q", null, window, null, (input, _) =>
        {
            seen.Add(input.Text);
            cancel.Cancel();
            return ValueTask.FromResult(Judgement(0.5));
        }, TimeProvider.System, cancel.Token).AsTask());

        Assert.Equal(["0.3"], seen);
    }
}
