using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Rank1.SearchBridge.HotQueries;

/// <summary>Hot-query detection (configuration section <c>Rank1:HotQueries</c>).</summary>
public sealed class HotQueryOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:HotQueries";

    /// <summary>Detect hot queries and ask the workers to precompute them.</summary>
    /// <value>Default true (requests are dropped when no broker is configured).</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Query fingerprints tracked at once (memory is bounded by this).</summary>
    /// <value>Default 10000.</value>
    [Range(1, 10_000_000)]
    public int Capacity { get; set; } = 10_000;

    /// <summary>Half-life of a query's count.</summary>
    /// <value>Default 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan HalfLife { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Decayed count at which a query with unstored hits is sent for precomputation.</summary>
    /// <value>Default 5.</value>
    [Range(1.0, 1_000_000.0)]
    public double Threshold { get; set; } = 5;

    /// <summary>A query is sent at most once per this window.</summary>
    /// <value>Default 1 hour.</value>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan DedupWindow { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>The generated validator of <see cref="HotQueryOptions"/> (<c>Rank1:HotQueries</c>).</summary>
[OptionsValidator]
public sealed partial class HotQueryOptionsValidator : IValidateOptions<HotQueryOptions>;

/// <summary>
/// Counts query fingerprints (<see cref="DecayingSpaceSaving"/>). A fingerprint whose decayed count reaches the
/// threshold while some of its window is not yet stored is reported once per dedup window. Thread-safe.
/// </summary>
internal sealed class HotQueryDetector
{
    private readonly HotQueryOptions _options;
    private readonly TimeProvider _time;
    private readonly DecayingSpaceSaving _sketch;
    private readonly Dictionary<string, DateTimeOffset> _published = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public HotQueryDetector(IOptions<HotQueryOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _sketch = new DecayingSpaceSaving(_options.Capacity, _options.HalfLife, time);
    }

    /// <summary>Counts one search for <paramref name="fingerprint"/>; true when it should be precomputed now.</summary>
    public bool Observe(string fingerprint, bool hasUnstoredHits)
    {
        if (!_options.Enabled)
        {
            return false;
        }

        lock (_lock)
        {
            var estimate = _sketch.Observe(fingerprint);
            if (!hasUnstoredHits || estimate < _options.Threshold)
            {
                return false;
            }

            var now = _time.GetUtcNow();
            if (_published.TryGetValue(fingerprint, out var at) && now - at < _options.DedupWindow)
            {
                return false;
            }

            _published[fingerprint] = now;
            if (_published.Count > _options.Capacity)
            {
                // Keep the dedup table bounded too: forget entries whose window has passed.
                foreach (var old in _published.Where(p => now - p.Value >= _options.DedupWindow).Select(p => p.Key).ToList())
                {
                    _published.Remove(old);
                }
            }

            return true;
        }
    }

    /// <summary>The request for <paramref name="fingerprint"/> could not be sent: the next search may send it again.</summary>
    public void PublishFailed(string fingerprint)
    {
        lock (_lock)
        {
            _published.Remove(fingerprint);
        }
    }
}
