using Microsoft.Extensions.Time.Testing;
using Rank1.SearchBridge.Http.Search;

namespace Rank1.SearchBridge.Tests.Reranking;

/// <summary>
/// <see cref="SearchWindowRerank.EnterWithinAsync"/> (an <c>_msearch</c>'s share of the model, the rerank service's
/// measuring turns): only a real wait is told to <c>waiting</c> (<c>rank1.rerank.share_waiting</c>); a call whose
/// deadline has passed, or whose caller has gone, fails at once without counting and without taking a place.
/// </summary>
public sealed class EnterWithinTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    private SearchDeadline Deadline(TimeSpan budget) => new(_clock, _clock.GetTimestamp(), budget);

    [Fact]
    public async Task ADeadlineAlreadyPassed_IsFalseAtOnce_NotCountedAsWaiting_AndTakesNoPlace()
    {
        using var gate = new SemaphoreSlim(1, 1);
        var deadline = Deadline(TimeSpan.FromSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(2));
        var told = new List<int>();

        Assert.False(await SearchWindowRerank.EnterWithinAsync(gate, deadline, CancellationToken.None, told.Add));

        Assert.Empty(told);
        Assert.Equal(1, gate.CurrentCount);
    }

    [Fact]
    public async Task ACallerAlreadyGone_Throws_NotCountedAsWaiting_AndTakesNoPlace()
    {
        using var gate = new SemaphoreSlim(1, 1);
        var told = new List<int>();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            SearchWindowRerank.EnterWithinAsync(gate, Deadline(TimeSpan.FromSeconds(1)), new CancellationToken(canceled: true), told.Add));

        Assert.Empty(told);
        Assert.Equal(1, gate.CurrentCount);
    }

    [Fact]
    public async Task AFreePlace_IsTakenAtOnce_NotCountedAsWaiting()
    {
        using var gate = new SemaphoreSlim(1, 1);
        var told = new List<int>();

        Assert.True(await SearchWindowRerank.EnterWithinAsync(gate, Deadline(TimeSpan.FromSeconds(1)), CancellationToken.None, told.Add));

        Assert.Empty(told);
        Assert.Equal(0, gate.CurrentCount);
    }

    [Fact]
    public async Task ARealWait_IsCountedInThenOut_AndTakesThePlaceGivenBack()
    {
        using var gate = new SemaphoreSlim(0, 1);
        var told = new List<int>();

        var entering = SearchWindowRerank.EnterWithinAsync(gate, Deadline(TimeSpan.FromSeconds(1)), CancellationToken.None, told.Add);
        Assert.Equal([1], told); // told before the wait, which has not ended
        Assert.False(entering.IsCompleted);
        gate.Release();

        Assert.True(await entering.WaitAsync(TimeSpan.FromMinutes(1))); // a bound on a hang only
        Assert.Equal([1, -1], told);
        Assert.Equal(0, gate.CurrentCount);
    }
}
