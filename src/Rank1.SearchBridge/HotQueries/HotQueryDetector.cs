using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.HotQueries;

/// <summary>Hot-query detection (configuration section <c>Rank1:HotQueries</c>).</summary>
public sealed class HotQueryOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:HotQueries";

    /// <summary>Detect hot queries and ask the workers to precompute them.</summary>
    /// <value>Default true (requests are dropped when no broker is configured).</value>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Query fingerprints tracked at once, and fingerprints remembered as sent (memory is bounded by this): past it,
    /// the least counted query is forgotten, and so is the longest-ago sent one (which may then be sent again within
    /// its dedup window).
    /// </summary>
    /// <value>Default 10000.</value>
    [Range(1, 10_000_000)]
    public int Capacity { get; set; } = 10_000;

    /// <summary>Half-life of a query's count.</summary>
    /// <value>Default 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan HalfLife { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Guaranteed decayed count (the sketch's estimate less its error: the searches counted since the query was last
    /// tracked) at which a query with unstored hits is sent for precomputation.
    /// </summary>
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
/// Counts query fingerprints (<see cref="DecayingSpaceSaving"/>). A fingerprint whose guaranteed decayed count (the
/// sketch's estimate less its error) reaches the threshold while some of its window is not yet stored is reported once
/// per dedup window. The reported fingerprints are remembered in publish order, at most <c>Capacity</c> of them: past
/// that the oldest is forgotten (and may be reported again within its window). The table never scans: each operation on it
/// is O(1). Thread-safe.
/// </summary>
internal sealed class HotQueryDetector
{
    private readonly HotQueryOptions _options;
    private readonly TimeProvider _time;
    private readonly DecayingSpaceSaving _sketch;

    // The dedup table: publish order (oldest first) with an index by fingerprint, so expiry and eviction take the
    // oldest in O(1) instead of scanning the table under the lock.
    private readonly LinkedList<(string Fingerprint, DateTimeOffset At)> _publishOrder = new();
    private readonly Dictionary<string, LinkedListNode<(string Fingerprint, DateTimeOffset At)>> _published = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    // Passages the model could not judge because of their input (a prompt past the context), by reasoning-store key,
    // least recently seen first, at most Capacity of them. They are never stored, so they must not count as unstored: a
    // job could store nothing more for them, and their query would be sent again every DedupWindow, forever.
    private readonly LinkedList<JudgementKey> _unreadableOrder = new();
    private readonly Dictionary<JudgementKey, LinkedListNode<JudgementKey>> _unreadable = [];

    public HotQueryDetector(IOptions<HotQueryOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _sketch = new DecayingSpaceSaving(_options.Capacity, _options.HalfLife, time);
    }

    /// <summary>Fingerprints remembered as reported (at most <c>Capacity</c>).</summary>
    internal int PublishedCount
    {
        get
        {
            lock (_lock)
            {
                return _published.Count;
            }
        }
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
            // The guaranteed count, not the estimate: once the sketch's smallest count nears the threshold, a query's first
            // search inherits it as its estimate, and every one-off query would be hot.
            if (_sketch.Observe(fingerprint) < _options.Threshold || !hasUnstoredHits)
            {
                return false;
            }

            var now = _time.GetUtcNow();
            if (_published.TryGetValue(fingerprint, out var node) && now - node.Value.At < _options.DedupWindow)
            {
                return false;
            }

            // The entry just found (its window passed) is handed on, not looked up again.
            Remember(fingerprint, now, node);
            return true;
        }
    }

    /// <summary>
    /// The request for <paramref name="fingerprint"/> was sent later than its query turned hot (by the publisher's retry
    /// after a back-off): remembered as sent now, so its searches within the dedup window do not send it again.
    /// </summary>
    public void Published(string fingerprint)
    {
        lock (_lock)
        {
            Remember(fingerprint, _time.GetUtcNow(), _published.GetValueOrDefault(fingerprint));
        }
    }

    /// <summary>
    /// Remembers <paramref name="fingerprint"/> as sent at <paramref name="now"/> (under the lock); <paramref name="seen"/>
    /// is its entry when the table holds one, which moves to the end of the publish order with its new time (no lookup
    /// and no remove and add again: the dictionary keeps the node).
    /// </summary>
    private void Remember(string fingerprint, DateTimeOffset now, LinkedListNode<(string Fingerprint, DateTimeOffset At)>? seen)
    {
        if (seen is not null)
        {
            _publishOrder.Remove(seen);
        }

        // Entries whose window has passed go first (oldest first: O(1) each, each entry leaves once); then the
        // oldest beyond Capacity, so the table never holds more than Capacity fingerprints (a fingerprint already held
        // takes no new place).
        while (_publishOrder.First is { } oldest && (now - oldest.Value.At >= _options.DedupWindow || (seen is null && _published.Count >= _options.Capacity)))
        {
            Forget(oldest);
        }

        if (seen is null)
        {
            _published.Add(fingerprint, _publishOrder.AddLast((fingerprint, now)));
        }
        else
        {
            seen.Value = (fingerprint, now);
            _publishOrder.AddLast(seen);
        }
    }

    /// <summary>
    /// Remembers that the passage stored under <paramref name="key"/> cannot be judged because of its input (the same
    /// model, query fingerprint and passage text fail the same way every time): <see cref="IsUnreadable"/> is then true.
    /// </summary>
    /// <param name="key">The passage's reasoning-store key.</param>
    public void Unreadable(JudgementKey key)
    {
        lock (_lock)
        {
            if (_unreadable.Remove(key, out var seen))
            {
                _unreadableOrder.Remove(seen);
            }
            else if (_unreadable.Count >= _options.Capacity && _unreadableOrder.First is { } oldest)
            {
                _unreadableOrder.RemoveFirst();
                _unreadable.Remove(oldest.Value);
            }

            _unreadable[key] = _unreadableOrder.AddLast(key);
        }
    }

    /// <summary>Whether the passage stored under <paramref name="key"/> is remembered as one the model cannot read (<see cref="Unreadable"/>).</summary>
    /// <param name="key">The passage's reasoning-store key.</param>
    public bool IsUnreadable(JudgementKey key)
    {
        lock (_lock)
        {
            return _unreadable.ContainsKey(key);
        }
    }

    /// <summary>The request for <paramref name="fingerprint"/> could not be sent: the next search may send it again.</summary>
    public void PublishFailed(string fingerprint)
    {
        lock (_lock)
        {
            if (_published.TryGetValue(fingerprint, out var node))
            {
                Forget(node);
            }
        }
    }

    private void Forget(LinkedListNode<(string Fingerprint, DateTimeOffset At)> node)
    {
        _publishOrder.Remove(node);
        _published.Remove(node.Value.Fingerprint);
    }
}
