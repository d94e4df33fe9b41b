namespace Rank1.SearchBridge.HotQueries;

/// <summary>
/// Heavy hitters in bounded memory: the Space-Saving algorithm (Metwally, Agrawal and El Abbadi, 2005) over
/// exponentially time-decayed counts. At most <c>capacity</c> keys are tracked. A key that is not tracked replaces
/// the tracked key with the smallest decayed count and inherits that count as its error.
/// </summary>
/// <remarks>
/// Error bound: with W the total decayed weight observed, every tracked key's estimate exceeds its true decayed
/// count by at most W / capacity (its recorded error), and never falls below it. Any key whose true decayed count
/// exceeds W / capacity is therefore always tracked. Decay is lazy: a count is multiplied by
/// 2^(−Δt / half-life) when its key is touched. Because every count decays by the same factor over the same time,
/// comparisons between counts stay exact. Not thread-safe; callers serialise.
/// </remarks>
internal sealed class DecayingSpaceSaving
{
    private readonly int _capacity;
    private readonly double _halfLifeSeconds;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Counter> _counters;
    private double _total;
    private DateTimeOffset _totalAt;

    public DecayingSpaceSaving(int capacity, TimeSpan halfLife, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _halfLifeSeconds = halfLife.TotalSeconds;
        _time = time;
        _counters = new Dictionary<string, Counter>(capacity, StringComparer.Ordinal);
        _totalAt = time.GetUtcNow();
    }

    public int Count => _counters.Count;

    /// <summary>Total decayed weight W of everything observed.</summary>
    public double TotalWeight => _total * Decay(_totalAt, _time.GetUtcNow());

    /// <summary>Counts one occurrence of <paramref name="key"/>; returns its decayed estimate afterwards.</summary>
    public double Observe(string key)
    {
        var now = _time.GetUtcNow();
        _total = (_total * Decay(_totalAt, now)) + 1;
        _totalAt = now;
        if (_counters.TryGetValue(key, out var c))
        {
            c.Count = (c.Count * Decay(c.At, now)) + 1;
            c.Error *= Decay(c.At, now);
            c.At = now;
            return c.Count;
        }

        if (_counters.Count < _capacity)
        {
            _counters[key] = new Counter { Count = 1, Error = 0, At = now };
            return 1;
        }

        // Replace the smallest (decayed) counter; the newcomer inherits its count as error.
        var (minKey, min) = (string.Empty, double.MaxValue);
        foreach (var (k, v) in _counters)
        {
            var decayed = v.Count * Decay(v.At, now);
            if (decayed < min)
            {
                (minKey, min) = (k, decayed);
            }
        }

        _counters.Remove(minKey);
        _counters[key] = new Counter { Count = min + 1, Error = min, At = now };
        return min + 1;
    }

    /// <summary>The decayed estimate and its maximum over-estimate for a tracked key; null when not tracked.</summary>
    public (double Estimate, double Error)? Estimate(string key)
    {
        if (!_counters.TryGetValue(key, out var c))
        {
            return null;
        }

        var d = Decay(c.At, _time.GetUtcNow());
        return (c.Count * d, c.Error * d);
    }

    private double Decay(DateTimeOffset from, DateTimeOffset to) =>
        _halfLifeSeconds <= 0 ? 1 : Math.Pow(2, -Math.Max(0, (to - from).TotalSeconds) / _halfLifeSeconds);

    private sealed class Counter
    {
        public double Count { get; set; }

        public double Error { get; set; }

        public DateTimeOffset At { get; set; }
    }
}
