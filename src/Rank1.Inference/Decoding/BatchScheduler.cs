using Microsoft.ML.OnnxRuntime;

namespace Rank1.Inference.Decoding;

/// <summary>
/// Continuous batching across calls: the engine's async calls put their passages in one bounded queue, and one
/// thread runs a single <see cref="BatchRun"/> of up to <c>maxBatch</c> rows. Between steps, finished rows leave and
/// waiting rows join, so concurrent requests share decode steps instead of queueing one behind another. A full queue
/// refuses at once (<see cref="Rank1OverloadedException"/>); a caller that cancels gets its cancellation at once and its
/// rows leave the batch at the next step; a model failure fails the rows in the batch and the thread starts afresh.
/// </summary>
internal sealed class BatchScheduler : IDisposable
{
    private readonly Rank1Engine _engine;
    private readonly TimeProvider _time;
    private readonly int _maxBatch;
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly Queue<BatchRow> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private bool _stopped;

    public BatchScheduler(Rank1Engine engine, TimeProvider time, int maxBatch, int capacity)
    {
        _engine = engine;
        _time = time;
        _maxBatch = maxBatch;
        _capacity = capacity;
        _thread = new Thread(Loop) { IsBackground = true, Name = "rank1-batch" };
        _thread.Start();
    }

    /// <summary>Most rows one model step has fed (written by the batch thread only).</summary>
    public int PeakStepRows { get; private set; }

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

    /// <summary>Queues rows together (all or none). Throws <see cref="Rank1OverloadedException"/> when they do not fit.</summary>
    public void Enqueue(IReadOnlyList<BatchRow> rows)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_queue.Count > 0 && _queue.Count + rows.Count > _capacity)
            {
                throw new Rank1OverloadedException(
                    $"The Rank1 engine's queue is full: {_queue.Count} passages wait and {rows.Count} more would pass Rank1:Model:MaxQueuedPassages ({_capacity}).");
            }

            foreach (var row in rows)
            {
                _queue.Enqueue(row);
            }
        }

        _wake.Release();
    }

    private void Loop()
    {
        using var runOptions = new RunOptions();
        using var registration = _stop.Token.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        BatchRun? run = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var admit = Take(_maxBatch - (run?.Count ?? 0));
                    if (admit.Count == 0 && (run is null || run.Count == 0))
                    {
                        _wake.Wait(_stop.Token);
                        continue;
                    }

                    if (admit.Count > 0)
                    {
                        run ??= new BatchRun(_engine, runOptions, _time);
                        run.Admit(admit, _stop.Token);
                    }

                    run!.Step(_stop.Token);
                    PeakStepRows = Math.Max(PeakStepRows, run.LastStepRows);
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
            var stopped = new ObjectDisposedException(nameof(Rank1Engine), "The Rank1 engine was disposed.");
            run?.FailAll(stopped);
            run?.Dispose();
            lock (_gate)
            {
                _stopped = true;
                while (_queue.TryDequeue(out var row))
                {
                    row.Fail(stopped);
                }
            }
        }
    }

    /// <summary>Up to <paramref name="max"/> waiting rows; cancelled ones are dropped and late ones answered with null.</summary>
    private List<BatchRow> Take(int max)
    {
        var taken = new List<BatchRow>();
        lock (_gate)
        {
            while (taken.Count < max && _queue.TryDequeue(out var row))
            {
                if (row.IsDone)
                {
                    continue;
                }

                if (row.SkipIfLate && row.Deadline is { } d && _time.GetUtcNow() >= d)
                {
                    row.TryExpire();
                    continue;
                }

                if (row.TryStart())
                {
                    taken.Add(row);
                }
            }
        }

        return taken;
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
    }
}
