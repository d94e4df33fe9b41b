using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Rank1.SearchBridge.HotQueries;

namespace Rank1.SearchBridge.Tests;

public sealed class DecayingSpaceSavingTests
{
    [Fact]
    public void UnderCapacity_CountsAreExact()
    {
        var sketch = new DecayingSpaceSaving(10, TimeSpan.FromHours(1), new FakeTimeProvider());
        for (var i = 0; i < 7; i++)
        {
            sketch.Observe("a");
        }

        sketch.Observe("b");
        Assert.Equal((7.0, 0.0), sketch.Estimate("a"));
        Assert.Equal((1.0, 0.0), sketch.Estimate("b"));
        Assert.Null(sketch.Estimate("c"));
    }

    [Fact]
    public void Counts_HalveEveryHalfLife()
    {
        var time = new FakeTimeProvider();
        var sketch = new DecayingSpaceSaving(10, TimeSpan.FromMinutes(10), time);
        for (var i = 0; i < 8; i++)
        {
            sketch.Observe("a");
        }

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(4.0, sketch.Estimate("a")!.Value.Estimate, 9);
        time.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(1.0, sketch.Estimate("a")!.Value.Estimate, 9);
        Assert.Equal(1.0, sketch.TotalWeight, 9);
        Assert.Equal(2.0, sketch.Observe("a"), 9);
    }

    [Fact]
    public void HeavyHitter_SurvivesAFloodOfRareKeys_WithinTheErrorBound()
    {
        var sketch = new DecayingSpaceSaving(10, TimeSpan.FromDays(1), new FakeTimeProvider());
        var trueCounts = new Dictionary<string, int>();
        for (var i = 0; i < 1000; i++)
        {
            var key = i % 5 == 0 ? "hot" : $"rare-{i}"; // 200 of 1000: above W/k = 100, so it must be tracked
            trueCounts[key] = trueCounts.GetValueOrDefault(key) + 1;
            sketch.Observe(key);
        }

        Assert.Equal(10, sketch.Count); // memory stays bounded
        var (estimate, error) = sketch.Estimate("hot")!.Value;
        var bound = sketch.TotalWeight / 10;
        Assert.True(estimate >= trueCounts["hot"], $"estimate {estimate} below the true count {trueCounts["hot"]}");
        Assert.True(estimate - trueCounts["hot"] <= bound + 1e-9, $"over-estimate {estimate - trueCounts["hot"]} beyond W/k = {bound}");
        Assert.True(error <= bound + 1e-9);
    }

    [Fact]
    public void Observe_FullSketch_ReplacesTheSmallestDecayedCount()
    {
        var time = new FakeTimeProvider();
        var sketch = new DecayingSpaceSaving(3, TimeSpan.FromMinutes(10), time);
        for (var i = 0; i < 8; i++)
        {
            sketch.Observe("old"); // 8, then 1 after three half-lives
        }

        time.Advance(TimeSpan.FromMinutes(30));
        sketch.Observe("a");
        sketch.Observe("a");
        sketch.Observe("b");
        sketch.Observe("b");
        sketch.Observe("b");
        sketch.Observe("new"); // the smallest is old (1), though its count was the largest when last touched
        Assert.Null(sketch.Estimate("old"));
        Assert.Equal((2.0, 1.0), sketch.Estimate("new"));
        Assert.Equal((2.0, 0.0), sketch.Estimate("a"));
    }

    [Fact]
    public void Observe_OverThousandsOfHalfLives_StillReplacesTheSmallest()
    {
        var time = new FakeTimeProvider();
        var sketch = new DecayingSpaceSaving(2, TimeSpan.FromSeconds(1), time);
        for (var i = 0; i < 3000; i++) // 2^3000 would overflow a double: the sketch must rescale what it keeps
        {
            time.Advance(TimeSpan.FromSeconds(1));
            sketch.Observe($"k{i % 3}");
        }

        sketch.Observe("a");
        sketch.Observe("a");
        var (estimate, error) = sketch.Estimate("a")!.Value;
        Assert.True(double.IsFinite(estimate) && double.IsFinite(error) && double.IsFinite(sketch.TotalWeight), $"{estimate} {error} {sketch.TotalWeight}");
        Assert.InRange(sketch.TotalWeight, 3.99, 4.01); // 2 + (1 + 1/2 + 1/4 + ...)
        time.Advance(TimeSpan.FromSeconds(1));
        sketch.Observe("b"); // replaces k2, now the smallest, never a
        Assert.NotNull(sketch.Estimate("a"));
        Assert.Null(sketch.Estimate("k2"));
        Assert.Equal(2, sketch.Count);
    }

    [Fact]
    public void Observe_NewcomerToAFullSketch_ReturnsOnlyItsOwnCount()
    {
        var time = new FakeTimeProvider();
        var sketch = new DecayingSpaceSaving(2, TimeSpan.FromMinutes(10), time);
        for (var i = 0; i < 4; i++)
        {
            sketch.Observe("a");
            sketch.Observe("b");
        }

        Assert.Equal(1.0, sketch.Observe("new")); // it replaced a counter of 4: estimate 5, error 4, guaranteed 1
        Assert.Equal((5.0, 4.0), sketch.Estimate("new"));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1.5, sketch.Observe("new"), 9); // estimate and error halve alike: 3.5 − 2, not 3.5
        Assert.Equal((3.5, 2.0), (Math.Round(sketch.Estimate("new")!.Value.Estimate, 9), Math.Round(sketch.Estimate("new")!.Value.Error, 9)));
    }
}

public sealed class HotQueryDetectorTests
{
    private static (HotQueryDetector Detector, FakeTimeProvider Time) Create(double threshold = 3, bool enabled = true, int capacity = 100)
    {
        var time = new FakeTimeProvider();
        var options = Options.Create(new HotQueryOptions { Enabled = enabled, Threshold = threshold, Capacity = capacity, HalfLife = TimeSpan.FromMinutes(10), DedupWindow = TimeSpan.FromHours(1) });
        return (new HotQueryDetector(options, time), time);
    }

    /// <summary>Unreadable passages are remembered by store key, at most Capacity of them, the least recently seen forgotten first.</summary>
    [Fact]
    public void UnreadablePassages_AreRememberedWithinCapacity_TheLeastRecentlySeenForgottenFirst()
    {
        var (d, _) = Create(capacity: 2);
        static Rank1.SearchBridge.Store.JudgementKey Key(string doc) => new("docs", doc, $"id-{doc}", "hash");

        d.Unreadable(Key("a"));
        d.Unreadable(Key("b"));
        d.Unreadable(Key("a")); // seen again: now b is the least recently seen
        d.Unreadable(Key("c"));

        Assert.Equal((true, false, true, false), (d.IsUnreadable(Key("a")), d.IsUnreadable(Key("b")), d.IsUnreadable(Key("c")), d.IsUnreadable(new("docs", "a", "id-a", "other"))));
    }

    [Fact]
    public void CrossingTheThreshold_WithUnstoredHits_ReportsOnce()
    {
        var (d, _) = Create();
        Assert.False(d.Observe("fp", true));
        Assert.False(d.Observe("fp", true));
        Assert.True(d.Observe("fp", true)); // the third search reaches 3
        Assert.False(d.Observe("fp", true)); // de-duplicated
        Assert.False(d.Observe("other", true));
    }

    [Fact]
    public void FullyStoredQuery_IsNotReported()
    {
        var (d, _) = Create(threshold: 1);
        Assert.False(d.Observe("fp", false));
        Assert.False(d.Observe("fp", false));
    }

    [Fact]
    public void AfterTheDedupWindow_ItMayBeReportedAgain()
    {
        var (d, time) = Create(threshold: 1);
        Assert.True(d.Observe("fp", true));
        time.Advance(TimeSpan.FromMinutes(59));
        Assert.False(d.Observe("fp", true));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.True(d.Observe("fp", true));
    }

    [Fact]
    public void DecayedBelowTheThreshold_IsNotHot()
    {
        var (d, time) = Create(threshold: 3);
        d.Observe("fp", true);
        d.Observe("fp", true);
        time.Advance(TimeSpan.FromMinutes(30)); // 2 -> 0.25
        Assert.False(d.Observe("fp", true));    // 1.25 < 3
    }

    [Fact]
    public void Disabled_NeverReports()
    {
        var (d, _) = Create(threshold: 1, enabled: false);
        Assert.False(d.Observe("fp", true));
    }

    [Fact]
    public void Observe_OneOffQueriesPastCapacity_AreNotHot_WhileARepeatedOneIs()
    {
        // Capacity 10: after 50 distinct queries the sketch's smallest count is 4, so a newcomer's estimate is 5. The
        // clock stands still, so that 5 searches count exactly 5 (with decay, a threshold of 5 takes a 6th search).
        var (d, _) = Create(threshold: 5, capacity: 10);
        var reported = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            var key = $"once-{i}";
            if (d.Observe(key, hasUnstoredHits: true))
            {
                reported.Add(key);
            }

            if (i is >= 50 and < 55 && d.Observe("repeated", hasUnstoredHits: true))
            {
                reported.Add($"repeated #{i - 49}");
            }
        }

        Assert.Equal(["repeated #5"], reported); // before the fix: about 50 one-off queries, and the repeated one on its 1st search
    }

    [Fact]
    public void Observe_MoreHotQueriesThanCapacityInOneDedupWindow_KeepsTheDedupTableAtCapacity()
    {
        var (d, time) = Create(threshold: 1, capacity: 10);
        for (var i = 0; i < 25; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(d.Observe($"hot-{i}", hasUnstoredHits: true));
            Assert.True(d.PublishedCount <= 10, $"{d.PublishedCount} fingerprints remembered after {i + 1} publishes"); // before the fix: 25
        }

        Assert.Equal(10, d.PublishedCount);
        Assert.False(d.Observe("hot-24", hasUnstoredHits: true)); // the 10 latest are still de-duplicated
        Assert.False(d.Observe("hot-15", hasUnstoredHits: true));
        Assert.True(d.Observe("hot-14", hasUnstoredHits: true));  // the oldest were forgotten to keep the bound
        Assert.Equal(10, d.PublishedCount);
    }

    // A query reported again once its window has passed keeps its one place in a full table: no other is forgotten for it.
    [Fact]
    public void Observe_ReportedAgainAfterItsWindow_InAFullTable_ForgetsNoOther()
    {
        var (d, time) = Create(threshold: 1, capacity: 3);
        Assert.True(d.Observe("a", true));
        time.Advance(TimeSpan.FromMinutes(30));
        Assert.True(d.Observe("b", true));
        Assert.True(d.Observe("c", true));
        time.Advance(TimeSpan.FromMinutes(31)); // a's window (1 h) has passed, b's and c's have not

        Assert.True(d.Observe("a", true));
        Assert.Equal(3, d.PublishedCount);
        Assert.Equal((false, false, false), (d.Observe("a", true), d.Observe("b", true), d.Observe("c", true)));
    }

    // A request sent late (the publisher's retry) restarts its query's window and makes it the newest entry: the table,
    // full, then forgets the oldest other one, not it.
    [Fact]
    public void Published_LateForAHeldQuery_RestartsItsWindow_AndMakesItTheNewest()
    {
        var (d, time) = Create(threshold: 1, capacity: 2);
        Assert.True(d.Observe("a", true));
        Assert.True(d.Observe("b", true));
        time.Advance(TimeSpan.FromMinutes(50));
        d.Published("a");
        Assert.Equal(2, d.PublishedCount);

        Assert.True(d.Observe("c", true)); // full: b, the oldest, is forgotten
        time.Advance(TimeSpan.FromMinutes(20)); // 70 min after a was first reported, 20 after it was sent
        Assert.Equal((false, false), (d.Observe("a", true), d.Observe("c", true)));
        Assert.True(d.Observe("b", true));
    }

    [Fact]
    public void PublishFailed_ForgetsThePublish_SoTheNextSearchReportsAgain()
    {
        var (d, _) = Create(threshold: 1, capacity: 10);
        Assert.True(d.Observe("fp", true));
        Assert.False(d.Observe("fp", true));
        d.PublishFailed("fp");
        Assert.Equal(0, d.PublishedCount);
        Assert.True(d.Observe("fp", true));
        Assert.Equal(1, d.PublishedCount);
    }
}
