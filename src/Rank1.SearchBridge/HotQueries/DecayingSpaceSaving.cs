namespace Rank1.SearchBridge.HotQueries;

/// <summary>
/// Heavy hitters in bounded memory: the Space-Saving algorithm (Metwally, Agrawal and El Abbadi, 2005) over
/// exponentially time-decayed counts. At most <c>capacity</c> keys are tracked. A key that is not tracked replaces
/// the tracked key with the smallest decayed count and inherits that count as its error.
/// </summary>
/// <remarks>
/// Error bound: with W the total decayed weight observed, every tracked key's estimate exceeds its true decayed
/// count by at most W / capacity (its recorded error), and never falls below it. Any key whose true decayed count
/// exceeds W / capacity is therefore always tracked. The estimate less the error (the guaranteed count) never exceeds
/// the true decayed count: it is what a threshold is compared with. Decay is lazy: a count is multiplied by
/// 2^(−Δt / half-life) when its key is touched. Because every count decays by the same factor over the same time,
/// their order does not change with time: the counters are kept ordered by their forward-decayed estimate (Cormode et
/// al., 2009: the estimate times 2^((t − landmark) / half-life), which only a touch changes), so the smallest is found
/// in O(log n) rather than by decaying and scanning every counter. Not thread-safe; callers serialise.
/// </remarks>
internal sealed class DecayingSpaceSaving
{
    private readonly int _capacity;
    private readonly double _halfLifeSeconds;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Counter> _counters;
    private readonly SortedSet<Counter> _byRank = new(Counter.ByRank);
    private DateTimeOffset _landmark;
    private double _total;
    private DateTimeOffset _totalAt;

    public DecayingSpaceSaving(int capacity, TimeSpan halfLife, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _halfLifeSeconds = halfLife.TotalSeconds;
        _time = time;
        _counters = new Dictionary<string, Counter>(capacity, StringComparer.Ordinal);
        _totalAt = _landmark = time.GetUtcNow();
    }

    public int Count => _counters.Count;

    /// <summary>Total decayed weight W of everything observed.</summary>
    public double TotalWeight => _total * Decay(_totalAt, _time.GetUtcNow());

    /// <summary>
    /// Counts one occurrence of <paramref name="key"/>; returns its guaranteed decayed count afterwards: the estimate
    /// less the error inherited on entry, a lower bound of its true decayed count (the occurrences counted since it was
    /// last tracked). Compare this, not the estimate, with a threshold: a newcomer to a full sketch inherits the
    /// smallest count, so its estimate may exceed the threshold on its first occurrence.
    /// </summary>
    public double Observe(string key)
    {
        var now = _time.GetUtcNow();
        _total = (_total * Decay(_totalAt, now)) + 1;
        _totalAt = now;
        if (_halfLifeSeconds > 0 && (now - _landmark).TotalSeconds / _halfLifeSeconds > RescaleAfterHalfLives)
        {
            Rescale(now);
        }

        if (_counters.TryGetValue(key, out var c))
        {
            // Estimate and error decay by the same factor, so the guaranteed count (their difference) does too.
            _byRank.Remove(c);
            var d = Decay(c.At, now);
            c.Guaranteed = (c.Guaranteed * d) + 1;
            c.Error *= d;
            c.At = now;
            // Already in _counters (the dictionary holds the counter itself): only its rank changes.
            Place(c);
            return c.Guaranteed;
        }

        var error = 0.0;
        if (_counters.Count >= _capacity)
        {
            // Replace the smallest (decayed) counter; the newcomer inherits its count as error.
            var min = _byRank.Min!;
            _byRank.Remove(min);
            _counters.Remove(min.Key);
            error = min.Estimate * Decay(min.At, now);
        }

        var added = new Counter(key) { Guaranteed = 1, Error = error, At = now };
        _counters.Add(key, added);
        Place(added);
        return 1;
    }

    /// <summary>The decayed estimate and its maximum over-estimate for a tracked key; null when not tracked.</summary>
    public (double Estimate, double Error)? Estimate(string key)
    {
        if (!_counters.TryGetValue(key, out var c))
        {
            return null;
        }

        var d = Decay(c.At, _time.GetUtcNow());
        return (c.Estimate * d, c.Error * d);
    }

    // A new rank doubles with every half-life since the landmark: moving the landmark every 64 half-lives keeps ranks below
    // 2^64 times a count (far from double's 2^1024), at the cost of re-ranking every counter that rarely.
    private const double RescaleAfterHalfLives = 64;

    // Ranks a counter that is not in _byRank (new, touched or rescaled) and places it there: a rank is only ever set with
    // the counter out of the set, whose order it decides.
    private void Place(Counter c)
    {
        c.Rank = c.Estimate * (_halfLifeSeconds <= 0 ? 1 : Math.Pow(2, (c.At - _landmark).TotalSeconds / _halfLifeSeconds));
        _byRank.Add(c);
    }

    private void Rescale(DateTimeOffset now)
    {
        _landmark = now;
        _byRank.Clear();
        foreach (var c in _counters.Values)
        {
            Place(c);
        }
    }

    private double Decay(DateTimeOffset from, DateTimeOffset to) =>
        _halfLifeSeconds <= 0 ? 1 : Math.Pow(2, -Math.Max(0, (to - from).TotalSeconds) / _halfLifeSeconds);

    // The guaranteed count and the error are kept apart (the estimate is their sum), so the guaranteed count is exact
    // when nothing decays: (min + 1) − min in floating point need not be 1, and 5 searches might then count 4.999….
    private sealed class Counter(string key)
    {
        /// <summary>Smallest estimate first; the key breaks ties, so that no two counters compare equal.</summary>
        public static readonly IComparer<Counter> ByRank = Comparer<Counter>.Create((a, b) =>
            a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : string.CompareOrdinal(a.Key, b.Key));

        public string Key { get; } = key;

        /// <summary>The estimate forward-decayed to the landmark: ordered as the estimates are now, whenever now is.</summary>
        public double Rank { get; set; }

        public double Guaranteed { get; set; }

        public double Error { get; set; }

        public double Estimate => Guaranteed + Error;

        public DateTimeOffset At { get; set; }
    }
}
