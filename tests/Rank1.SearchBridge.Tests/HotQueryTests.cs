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
}

public sealed class HotQueryDetectorTests
{
    private static (HotQueryDetector Detector, FakeTimeProvider Time) Create(double threshold = 3, bool enabled = true)
    {
        var time = new FakeTimeProvider();
        var options = Options.Create(new HotQueryOptions { Enabled = enabled, Threshold = threshold, Capacity = 100, HalfLife = TimeSpan.FromMinutes(10), DedupWindow = TimeSpan.FromHours(1) });
        return (new HotQueryDetector(options, time), time);
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
}
