namespace Rank1.Inference.Decoding;

/// <summary>
/// The passages waiting for a slot in the continuous batch, one sub-queue per caller (<see cref="JudgeSettings.Caller"/>;
/// by default each call is its own caller). Free rows go to the waiting caller with the fewest prompt tokens in the
/// batch (its work, not its rows: a 2,048-token prompt weighs as much as ten short ones), ties to the one served
/// longest ago, so neither a big window admitted first nor a caller with long prompts can starve a small one behind
/// it. One admission takes rows while they fit <c>maxPositions</c> prefill positions (rows times the longest prompt,
/// as the batch pads them; at least one row), so a step is never held up by several long prefills at once and short
/// rows are not padded to a long one's length. While rows decode, the batch prefills a long prompt apart, one row at a
/// time, so one admission takes one such row at most and none while one is still prefilling: a window of long prompts
/// holds the row it decodes and the row being prefilled, its other rows wait here, and a caller arriving meanwhile finds
/// free rows at the next step. Admission is bounded twice: a caller that already has passages waiting may not pass
/// <c>perCaller</c> of them, and the queue as a whole holds <c>capacity</c> passages, each caller's counted up to
/// <c>perCaller</c> (so a big call weighs one share: it never shuts out another caller, <c>capacity / perCaller</c> big
/// calls are admitted side by side, and the passages waiting never pass <c>capacity</c> plus the excess of that many calls).
/// A window queued as it is tokenized (<see cref="BatchScheduler.Feed"/>) is admitted whole before any of it is
/// tokenized (<see cref="Reserve"/>): its rows not yet queued count as waiting for both bounds until they are queued
/// (<see cref="Fill"/>) or given up (<see cref="Release"/>).
/// Not thread-safe: <see cref="BatchScheduler"/> calls it under its lock. <paramref name="time"/> (default: the system
/// clock) says when a waiting row is late.
/// </summary>
internal sealed class FairQueue(int capacity, int perCaller, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<object, Caller> _callers = new(ReferenceEqualityComparer.Instance);
    private long _served;

    // Rows queued, and rows of admitted windows not yet queued (reserved).
    private int _queued;
    private int _reserved;

    /// <summary>Passages waiting: queued, and those of admitted windows still being tokenized.</summary>
    public int Count => _queued + _reserved;

    /// <summary>Callers with passages waiting.</summary>
    public int WaitingCallers => _callers.Values.Count(c => c.Pending > 0);

    /// <summary>Most passages one caller has waiting.</summary>
    public int MostWaitingForOneCaller => _callers.Values.Select(c => c.Pending).DefaultIfEmpty(0).Max();

    /// <summary>
    /// Queues a call's rows (all or none) for <paramref name="caller"/>; throws <see cref="Rank1OverloadedException"/> when
    /// they are refused. The scheduler queues through <see cref="Reserve"/> and <see cref="Fill"/> (a feed); this is the two
    /// at once, the same path, for the tests of the queue's order.
    /// </summary>
    public void Add(object caller, IReadOnlyList<BatchRow> rows)
    {
        Reserve(caller, rows.Count);
        Fill(caller, rows);
    }

    /// <summary>
    /// Admits a call of <paramref name="count"/> passages whose rows are queued later, as they are made (<see cref="Fill"/>):
    /// checked against both bounds as if all were queued now, and counted as waiting until they are queued or given up
    /// (<see cref="Release"/>). Throws <see cref="Rank1OverloadedException"/> when the call is refused (nothing is reserved).
    /// </summary>
    public void Reserve(object caller, int count)
    {
        var c = Admit(caller, count);
        c.Reserved += count;
        _reserved += count;
    }

    /// <summary>Queues rows reserved for <paramref name="caller"/> (<see cref="Reserve"/>), without a second check.</summary>
    public void Fill(object caller, IReadOnlyList<BatchRow> rows)
    {
        if (!_callers.TryGetValue(caller, out var c) || c.Reserved < rows.Count)
        {
            throw new InvalidOperationException("Rows queued past the caller's reservation.");
        }

        c.Reserved -= rows.Count;
        _reserved -= rows.Count;
        Enqueue(c, rows);
    }

    /// <summary>
    /// Gives up <paramref name="count"/> reserved rows of <paramref name="caller"/> that will not be queued (failed, late,
    /// abandoned). Throws <see cref="InvalidOperationException"/>, releasing nothing, when the caller holds fewer: a
    /// scheduler bug, which would otherwise hand back places of another call of this caller (an msearch's windows share one)
    /// and let the queue pass its bounds.
    /// </summary>
    public void Release(object caller, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0 || !_callers.TryGetValue(caller, out var c))
        {
            return; // cleared (the scheduler stopped): nothing is held; only a cleared queue forgets reservations
        }

        if (count > c.Reserved)
        {
            throw new InvalidOperationException($"Released {count} places of a caller holding {c.Reserved} reserved.");
        }

        c.Reserved -= count;
        _reserved -= count;
        Forget(c);
    }

    // The bounds of a call of count passages for caller, its rows reserved or queued counted alike; the caller, made if new.
    private Caller Admit(object caller, int count)
    {
        _callers.TryGetValue(caller, out var c);
        var waiting = c?.Pending ?? 0;
        if (waiting > 0 && waiting + count > perCaller)
        {
            throw new Rank1OverloadedException(
                $"This caller's share of the Rank1 engine's queue is full: {waiting} of its passages wait and {count} more would pass Rank1:Model:MaxQueuedPassagesPerCaller ({perCaller}).");
        }

        // Each caller counts its waiting passages up to its share, never beyond: a big call weighs one share, so a few
        // big calls at once (capacity / perCaller of them, as many as a front end with that many concurrent reranks sends)
        // are admitted side by side, and small callers fill the rest. Counting all but one big caller's excess refused a
        // second big call while the first still waited, though the rerank limiter in front had admitted both.
        var load = Math.Min(waiting + count, perCaller) + _callers.Values.Where(x => !ReferenceEquals(x, c)).Sum(x => Math.Min(x.Pending, perCaller));
        if (Count > 0 && load > capacity)
        {
            throw new Rank1OverloadedException(
                $"The Rank1 engine's queue is full: {Count} passages wait and {count} more would pass Rank1:Model:MaxQueuedPassages ({capacity}), each caller counted up to Rank1:Model:MaxQueuedPassagesPerCaller ({perCaller}).");
        }

        if (c is null)
        {
            c = new Caller(caller, ++_served);
            _callers.Add(caller, c);
        }

        return c;
    }

    private void Enqueue(Caller c, IReadOnlyList<BatchRow> rows)
    {
        foreach (var row in rows)
        {
            c.Waiting.Enqueue(row);
        }

        _queued += rows.Count;
    }

    // A caller with nothing waiting, reserved or in the batch is forgotten; one with rows still running keeps its place,
    // so its next call does not count as a newcomer's.
    private void Forget(Caller c)
    {
        if (c.Pending == 0 && c.Running.Count == 0)
        {
            _callers.Remove(c.Key);
        }
    }

    /// <summary>As <see cref="Take(int, int, BatchCache, int, int, Func{object, BatchRow, bool})"/> with no ceiling on the cache and no limit on long prompts.</summary>
    public List<BatchRow> Take(int max, int maxPositions, Func<object, BatchRow, bool> start) => Take(max, maxPositions, BatchCache.Unbounded, start);

    /// <summary>As <see cref="Take(int, int, BatchCache, int, int, Func{object, BatchRow, bool})"/> with no limit on long prompts.</summary>
    public List<BatchRow> Take(int max, int maxPositions, BatchCache cache, Func<object, BatchRow, bool> start) => Take(max, maxPositions, cache, int.MaxValue, int.MaxValue, start);

    /// <summary>
    /// Takes up to <paramref name="max"/> rows, fairly across callers, while their prefill (rows times the longest
    /// prompt) fits <paramref name="maxPositions"/> and the batch's KV cache, with them, fits its ceiling
    /// (<paramref name="cache"/>: the batch as it is); the first row is taken whatever its prompt's length, and any row
    /// into an empty batch. The next row in fair order that does not fit stops the admission: rows behind it wait with
    /// it until the batch narrows. A row that is done or late (<see cref="BatchRow.IsDeadAt"/>) is dropped before it is
    /// measured, so it holds up nobody. <paramref name="start"/> decides for each row taken off the queue (with its
    /// caller) whether it joins the batch (false: it is dropped). At most <paramref name="longRows"/> rows whose prompt is
    /// longer than <paramref name="longPrompt"/> are taken (the batch prefills such a row apart, one chunk per step, while
    /// its rows decode: <see cref="AsidePrefill"/>); a caller whose next row would be one more is passed over for this
    /// admission, so its long rows wait here, where a newcomer passes them, instead of holding batch rows they cannot use yet.
    /// </summary>
    public List<BatchRow> Take(int max, int maxPositions, BatchCache cache, int longPrompt, int longRows, Func<object, BatchRow, bool> start)
    {
        var now = _time.GetUtcNow();
        var longest = 0;
        var longTaken = 0;
        var taken = new List<BatchRow>();
        HashSet<Caller>? passedOver = null; // made when a caller is first passed over: Take runs at every step
        foreach (var c in _callers.Values)
        {
            c.Running.RemoveAll(r => r.IsDone);
            DropDead(c, now);
        }

        while (taken.Count < max && Next(passedOver) is { } c)
        {
            var next = c.Waiting.Peek();
            if (next.IsDeadAt(now))
            {
                c.Waiting.Dequeue();
                _queued--;
                continue;
            }

            var isLong = next.Prompt.Length > longPrompt;
            if (isLong && longTaken >= longRows)
            {
                (passedOver ??= []).Add(c);
                continue;
            }

            var length = Math.Max(longest, next.Prompt.Length);
            if ((taken.Count > 0 && (long)(taken.Count + 1) * length > maxPositions) || !cache.Fits(next.MaxLength))
            {
                break;
            }

            var row = c.Waiting.Dequeue();
            _queued--;
            if (start(c.Key, row))
            {
                longTaken += isLong ? 1 : 0;
                longest = length;
                cache = cache.With(row.MaxLength);
                c.Running.Add(row);
                c.LastServed = ++_served;
                taken.Add(row);
            }
        }

        foreach (var c in _callers.Values)
        {
            Forget(c); // removing the entry being enumerated is allowed (Dictionary, since .NET Core 3.0)
        }

        return taken;
    }

    // Rows answered while they waited (their deadline passed, their caller cancelled) leave the queue at each admission,
    // full batch or not: taken off only when a free batch row reached them, they held places while the batch was full,
    // and a newcomer was refused for them (the 429 of a full queue). Order is kept; nothing is allocated when none is dead.
    private void DropDead(Caller c, DateTimeOffset now)
    {
        var any = false;
        foreach (var row in c.Waiting)
        {
            if (row.IsDeadAt(now))
            {
                any = true;
                break;
            }
        }

        if (!any)
        {
            return;
        }

        for (var count = c.Waiting.Count; count > 0; count--)
        {
            var row = c.Waiting.Dequeue();
            if (row.IsDeadAt(now))
            {
                _queued--;
            }
            else
            {
                c.Waiting.Enqueue(row);
            }
        }
    }

    /// <summary>Empties the queue, handing every waiting row to <paramref name="drop"/>.</summary>
    public void Clear(Action<BatchRow> drop)
    {
        foreach (var row in _callers.Values.SelectMany(c => c.Waiting))
        {
            drop(row);
        }

        _callers.Clear();
        _queued = 0;
        _reserved = 0;
    }

    // The waiting caller with the fewest prompt tokens in the batch, not passed over in this admission; among those, the one served longest ago.
    private Caller? Next(HashSet<Caller>? passedOver)
    {
        Caller? best = null;
        foreach (var c in _callers.Values)
        {
            if (c.Waiting.Count > 0 && passedOver?.Contains(c) != true && (best is null || (c.RunningTokens, c.LastServed).CompareTo((best.RunningTokens, best.LastServed)) < 0))
            {
                best = c;
            }
        }

        return best;
    }

    private sealed class Caller(object key, long arrived)
    {
        public object Key { get; } = key;

        public Queue<BatchRow> Waiting { get; } = new();

        public List<BatchRow> Running { get; } = [];

        /// <summary>Rows of its admitted windows not queued yet (<see cref="Reserve"/>).</summary>
        public int Reserved { get; set; }

        /// <summary>Its passages waiting: queued and reserved.</summary>
        public int Pending => Waiting.Count + Reserved;

        public long RunningTokens => Running.Sum(r => (long)r.Prompt.Length);

        public long LastServed { get; set; } = arrived;
    }
}
