using Microsoft.ML.OnnxRuntime;

namespace Rank1.Inference.Decoding;

/// <summary>
/// Continuous batching across calls: the engine's async calls put their passages in a bounded <see cref="FairQueue"/>
/// (one sub-queue per caller, free rows shared between callers by the prompt tokens each has in the batch, each
/// admission bounded by <see cref="PrefillBudget"/> prefill positions and the KV cache by <see cref="MaxCachePositions"/>), and one thread runs a single
/// <see cref="BatchRun"/> of up to <c>maxBatch</c> rows. Between steps, finished rows leave and waiting rows join, so
/// concurrent requests share decode steps instead of queueing one behind another. A window's rows are queued as they
/// are tokenized (<see cref="Open"/>, <see cref="Feed"/>), the window admitted whole before the first. A full queue, or a
/// caller's full share of it, refuses at once (<see cref="Rank1OverloadedException"/>); a caller that cancels gets its cancellation at
/// once and its rows leave the batch at the next step; a model failure fails the rows in the batch and the thread
/// starts afresh.
/// </summary>
internal sealed class BatchScheduler : IDisposable
{
    /// <summary>
    /// Most prefill positions (rows times the longest prompt) one admission between two steps feeds, past its first row:
    /// rows already decoding wait for at most this much prefill before their next token, and one chunk of a longer prompt
    /// (<see cref="AsidePrefill"/>; into an empty batch, where nothing waits, one longer prompt is prefilled whole).
    /// </summary>
    internal const int PrefillBudget = 8 * CausalLm.PrefillChunk;

    private readonly CausalLm _lm;
    private readonly Rank1Scorer _scorer;
    private readonly TimeProvider _time;
    private readonly int _maxBatch;
    private readonly int _prefixPositions;
    private readonly Lock _gate = new();
    private readonly FairQueue _queue;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly ManualResetEventSlim _resumed = new(true);
    private readonly ManualResetEventSlim _parked = new(false);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private bool _stopped;
    private long _endingTicks; // EndingTime: added by the batch thread, read by the bench

    public BatchScheduler(CausalLm lm, Rank1Scorer scorer, TimeProvider time, int maxBatch, int capacity, int perCaller, long cacheBytes, int prefixPositions)
    {
        _prefixPositions = prefixPositions;
        _lm = lm;
        _scorer = scorer;
        _time = time;
        _maxBatch = maxBatch;
        MaxCachePositions = BatchCache.MaxPositionsFor(lm.Signature, lm.ContextLength, maxBatch, cacheBytes);
        _queue = new FairQueue(capacity, perCaller, time);
        _thread = new Thread(Loop) { IsBackground = true, Name = "rank1-batch" };
        _thread.Start();
    }

    /// <summary>Steps the batch has run (each: a decode step and, with a row prefilled apart, one chunk of it), written by the batch thread only.</summary>
    internal long Steps { get; private set; }

    /// <summary>
    /// Time the batch thread has spent on rows' endings (<see cref="BatchRun.EndingTimeSpent"/>): added inside the step
    /// before the row completes, so a window's caller that has its results reads its rows' endings counted.
    /// </summary>
    internal TimeSpan EndingTime => TimeSpan.FromTicks(Interlocked.Read(ref _endingTicks));

    /// <summary>Most rows one model step has fed (written by the batch thread only).</summary>
    public int PeakStepRows { get; private set; }

    /// <summary>
    /// The ceiling on the batch's KV cache, in positions (rows × width; <see cref="BatchCache.MaxPositionsFor"/>).
    /// Tests lower it (before any call) to make it bind on the tiny model.
    /// </summary>
    internal long MaxCachePositions { get; set; }

    /// <summary>Most positions the batch's KV cache has held after an admission or a step (written by the batch thread only).</summary>
    public long PeakCachePositions { get; private set; }

    /// <summary>Passages waiting for a slot.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Callers with passages waiting.</summary>
    public int WaitingCallers
    {
        get
        {
            lock (_gate)
            {
                return _queue.WaitingCallers;
            }
        }
    }

    /// <summary>Most passages one caller has waiting.</summary>
    public int MostWaitingForOneCaller
    {
        get
        {
            lock (_gate)
            {
                return _queue.MostWaitingForOneCaller;
            }
        }
    }

    /// <summary>Tests: called on the batch thread after each step, with <see cref="Steps"/>; what it queues is seen by the next admission.</summary>
    internal Action<long>? Stepped { get; set; }

    /// <summary>Tests: called with the caller of each call whose rows were queued, once they are (a window's: once for each part, <see cref="Feed.Add"/>).</summary>
    internal Action<object>? Enqueued { get; set; }

    /// <summary>Tests: called with the caller of each call once it has queued all it will (<see cref="Feed.Close"/>; once per call, a window's after its last part).</summary>
    internal Action<object>? Closed { get; set; }

    /// <summary>Tests: called on the batch thread with each row as it joins the batch, and its caller.</summary>
    internal Action<object, BatchRow>? Admitted { get; set; }

    /// <summary>
    /// Tests: returns once the batch thread has parked between steps; it admits nothing and runs no step until
    /// <see cref="Resume"/>, so what is queued meanwhile is admitted as if it came at once.
    /// </summary>
    internal void Hold()
    {
        _resumed.Reset();
        _wake.Release(); // an idle thread must come round to park
        _parked.Wait();
    }

    /// <summary>Tests: ends <see cref="Hold"/>.</summary>
    internal void Resume() => _resumed.Set();

    /// <summary>
    /// Queues rows in the sub-queue of <paramref name="caller"/> (null: this call's own), all or none, and waits for all of
    /// them: a call whose rows are all made before it is queued, put through one <see cref="Feed"/> in one part, so its
    /// deadline and cancellation are those of a window (<see cref="Open"/>). Throws <see cref="Rank1OverloadedException"/>
    /// when they do not fit.
    /// </summary>
    public async Task<JudgeTrace?[]> ScheduleAsync(object? caller, BatchRow[] rows, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (rows.Length == 0)
        {
            return [];
        }

        // Window rows (skipIfLate) still waiting at their deadline are answered then; a pair's or a JudgeAll's never are.
        using var feed = Open(caller ?? rows, rows.Length, rows[0] is { SkipIfLate: true, Deadline: { } deadline } ? deadline : null, cancellationToken);
        feed.Add(rows);
        feed.Close();
        return await feed.Completion().ConfigureAwait(false);
    }

    /// <summary>
    /// Admits a call of <paramref name="count"/> passages whose rows are queued as they are made (<see cref="Feed.Add"/>),
    /// so that a window's first rows are judged while the rest are still being tokenized. The call is admitted whole now,
    /// before any row is made (<see cref="FairQueue.Reserve"/>: the rows not yet queued count against both queue bounds;
    /// <see cref="Rank1OverloadedException"/> as for rows queued at once). Rows still waiting at <paramref name="deadline"/>
    /// (window rows: answered null, not started) are answered then, and the caller's cancellation cancels every row, those
    /// queued after it included. <see cref="Feed.GiveUpOne"/> gives up a row that will never be made (its passage failed on
    /// its input) at once, <see cref="Feed.Close"/> the rows never queued; <see cref="Feed.Abandon"/> cancels
    /// those queued too (the rest of the call failed: nobody waits for them).
    /// </summary>
    public Feed Open(object caller, int count, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            _queue.Reserve(caller, count);
        }

        try
        {
            return new Feed(this, caller, count, deadline, cancellationToken);
        }
        catch
        {
            // No feed holds the places just reserved (a deadline past a timer's range): given back, or they stay taken.
            lock (_gate)
            {
                _queue.Release(caller, count);
            }

            throw;
        }
    }

    /// <summary>The rows of one call admitted by <see cref="Open"/>, queued in parts as they are made.</summary>
    internal sealed class Feed : IDisposable
    {
        private readonly BatchScheduler _scheduler;
        private readonly object _caller;
        private readonly Lock _gate = new();
        private readonly List<BatchRow> _rows = [];
        private readonly ITimer? _expiry;
        private readonly CancellationTokenRegistration _registration;
        private int _count;
        private int _filled;
        private bool _closed;
        private bool _expired;
        private bool _cancelled;

        internal Feed(BatchScheduler scheduler, object caller, int count, DateTimeOffset? deadline, CancellationToken cancellationToken)
        {
            _scheduler = scheduler;
            _caller = caller;
            _count = count;
            // The expiry timer is set before any row is queued: once queued (and Enqueued told), the clock may move, and a
            // timer whose due time was computed before a move but registered after it would wake a whole due time late.
            _expiry = deadline is { } d
                ? scheduler._time.CreateTimer(static o => ((Feed)o!).Expire(), this, TimeSpan.FromTicks(Math.Max((d - scheduler._time.GetUtcNow()).Ticks, 0)), Timeout.InfiniteTimeSpan)
                : null;
            _registration = cancellationToken.Register(static o => ((Feed)o!).Cancel(), this);
        }

        /// <summary>
        /// Queues the next rows of the call, in order, within its reservation. Throws <see cref="ObjectDisposedException"/>
        /// once the engine is disposed (the caller then abandons the feed).
        /// </summary>
        public void Add(IReadOnlyList<BatchRow> rows)
        {
            if (rows.Count == 0)
            {
                return;
            }

            lock (_gate)
            {
                if (_closed || _filled + rows.Count > _count)
                {
                    throw new InvalidOperationException("Rows queued past the call's reservation, or after it was closed.");
                }

                _filled += rows.Count;
                _rows.AddRange(rows);
                foreach (var row in rows)
                {
                    // The deadline or the cancellation came before these rows: they are answered as those queued before.
                    if (_cancelled)
                    {
                        row.Cancel();
                    }
                    else if (_expired)
                    {
                        row.TryExpire();
                    }
                }
            }

            lock (_scheduler._gate)
            {
                ObjectDisposedException.ThrowIf(_scheduler._stopped, _scheduler);
                _scheduler._queue.Fill(_caller, rows);
            }

            _scheduler.Enqueued?.Invoke(_caller);
            _scheduler._wake.Release();
        }

        /// <summary>
        /// Gives up one reserved row at once, before <see cref="Close"/>: a passage that failed on its input is never
        /// queued, so its place stops counting against the queue's bounds while the rest of the call is being made.
        /// </summary>
        public void GiveUpOne()
        {
            lock (_gate)
            {
                if (_closed || _filled == _count)
                {
                    throw new InvalidOperationException("A row given up past the call's reservation, or after it was closed.");
                }

                _count--;
            }

            lock (_scheduler._gate)
            {
                _scheduler._queue.Release(_caller, 1);
            }
        }

        /// <summary>Gives up the reserved rows never queued (the call made all it will make). Idempotent.</summary>
        public void Close()
        {
            int unfilled;
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                _closed = true;
                unfilled = _count - _filled;
            }

            lock (_scheduler._gate)
            {
                _scheduler._queue.Release(_caller, unfilled);
            }

            _scheduler.Closed?.Invoke(_caller);
        }

        /// <summary>
        /// The call failed while its rows were being made: the rows queued are cancelled (they leave the queue, and the
        /// batch at its next step) and those never queued are given up.
        /// </summary>
        public void Abandon()
        {
            Cancel();
            Close();
        }

        /// <summary>Every row queued, in the order queued, once all are answered (after <see cref="Close"/>).</summary>
        public Task<JudgeTrace?[]> Completion()
        {
            lock (_gate)
            {
                return Task.WhenAll(_rows.Select(r => r.Completion));
            }
        }

        private void Expire()
        {
            lock (_gate)
            {
                _expired = true;
                _rows.ForEach(row => row.TryExpire());
            }
        }

        private void Cancel()
        {
            lock (_gate)
            {
                _cancelled = true;
                _rows.ForEach(row => row.Cancel());
            }
        }

        public void Dispose()
        {
            _registration.Dispose();
            _expiry?.Dispose();
            Close();
        }
    }

    private void Loop()
    {
        using var runOptions = new RunOptions();
        using var registration = _stop.Token.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        BatchRun? run = null;
        List<BatchRow>? admitting = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    if (!_resumed.IsSet)
                    {
                        _parked.Set();
                        _resumed.Wait(_stop.Token);
                        _parked.Reset();
                    }
                    var admit = Take(_maxBatch - (run?.Count ?? 0), run?.Cache(MaxCachePositions) ?? new BatchCache(0, 0, MaxCachePositions), run?.LongRowsAdmissible ?? int.MaxValue);
                    if (admit.Count == 0 && (run is null || run.Count == 0))
                    {
                        _wake.Wait(_stop.Token);
                        continue;
                    }

                    if (admit.Count > 0)
                    {
                        run ??= new BatchRun(_lm, _scorer, runOptions, _time, _prefixPositions) { EndingTimeSpent = t => Interlocked.Add(ref _endingTicks, t.Ticks) };
                        admitting = admit;
                        run.Admit(admit, _stop.Token);
                        admitting = null;
                        PeakCachePositions = Math.Max(PeakCachePositions, run.CachePositions);
                    }

                    run!.Step(_stop.Token);
                    Steps++;
                    Stepped?.Invoke(Steps);
                    PeakStepRows = Math.Max(PeakStepRows, run.LastStepRows);
                    PeakCachePositions = Math.Max(PeakCachePositions, run.CachePositions);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // The model failed: the rows in the batch fail with it (their callers see the error); start afresh.
                    run?.FailAll(ex);
                    run?.Dispose();
                    run = null;
                }
            }
        }
        finally
        {
            var stopped = new ObjectDisposedException("Rank1Engine", "The Rank1 engine was disposed.");
            // Rows taken from the queue when the stop ended their admission: the run may not hold them (BatchRun.Admit
            // leaves them to this), and their callers were promised ObjectDisposedException, not the cancellation.
            admitting?.ForEach(row => row.Fail(stopped));
            run?.FailAll(stopped);
            run?.Dispose();
            lock (_gate)
            {
                _stopped = true;
                _queue.Clear(row => row.Fail(stopped));
            }
        }
    }

    /// <summary>
    /// Up to <paramref name="max"/> waiting rows, fairly across callers, while the batch's cache (<paramref name="cache"/>)
    /// fits its ceiling; cancelled ones are dropped and late ones answered with null.
    /// </summary>
    private List<BatchRow> Take(int max, BatchCache cache, int longRows)
    {
        lock (_gate)
        {
            return _queue.Take(max, PrefillBudget, cache, CausalLm.PrefillChunk, longRows, Start);
        }
    }

    private bool Start(object caller, BatchRow row)
    {
        if (row.IsDeadAt(_time.GetUtcNow()) || !row.TryStart())
        {
            return false;
        }

        Admitted?.Invoke(caller, row);
        return true;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopped && !_thread.IsAlive)
            {
                return;
            }
        }

        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(30));
        _stop.Dispose();
        _wake.Dispose();
        _resumed.Dispose();
        _parked.Dispose();
    }
}
