using System.Runtime.ExceptionServices;

namespace Rank1.Inference.Decoding;

/// <summary>
/// A row's ending (<see cref="Rank1Scorer.Ending"/>), computed once by whichever claims it first: the thread-pool item
/// queued when the reasoning is known to end, or the batch thread when it scores the row (<see cref="Result"/>). The batch
/// thread never waits for the pool to get round to the item (its queue can be long under load, or capped by the host):
/// if the item has not started, the batch thread computes the ending itself; if the item is computing it, the batch
/// thread waits for that one bounded computation. A row that leaves unscored claims it (<see cref="Abandon"/>), so a
/// pool item that starts later does nothing. No task is created: a failure is kept here and thrown only to the batch
/// thread that reads it, never left unobserved.
/// </summary>
internal sealed class RowEnding
{
    private readonly Func<(string Reasoning, int[] Scored)> _compute;
    private readonly Lock _gate = new(); // held while the ending is claimed and computed: a reader that finds it claimed waits here for it
    private int _claimed; // 1: claimed by the pool item, the batch thread, or the row leaving
    private (string Reasoning, int[] Scored) _result;
    private ExceptionDispatchInfo? _failure;
    private bool _computed; // under _gate: the ending was computed (or failed); false when the row's leaving claimed it

    private RowEnding(Func<(string Reasoning, int[] Scored)> compute) => _compute = compute;

    /// <summary>
    /// The ending of <paramref name="compute"/>, its computation queued with <paramref name="queue"/> (null: the thread
    /// pool's global queue, so that it does not sit in the local queue of a pool thread that runs the batch).
    /// </summary>
    public static RowEnding Start(Func<(string Reasoning, int[] Scored)> compute, Action<Action>? queue)
    {
        var ending = new RowEnding(compute);
        if (queue is null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static e => e.Run(), ending, preferLocal: false);
        }
        else
        {
            queue(ending.Run);
        }

        return ending;
    }

    /// <summary>
    /// The ending: computed here if nothing has claimed it yet, else as the claimant computed it (waiting for it to finish).
    /// Throws <see cref="InvalidOperationException"/> for an ending abandoned before anything computed it.
    /// </summary>
    public (string Reasoning, int[] Scored) Result()
    {
        lock (_gate)
        {
            if (TryClaim())
            {
                Compute();
            }

            _failure?.Throw();
            return _computed ? _result : throw new InvalidOperationException("The row's ending was abandoned before it was computed.");
        }
    }

    /// <summary>The row left unscored: a pool item not yet started does nothing (one computing it is not waited for).</summary>
    public void Abandon() => TryClaim();

    private void Run()
    {
        if (Volatile.Read(ref _claimed) != 0)
        {
            return; // claimed already: by the batch thread, or by the row leaving
        }

        lock (_gate)
        {
            if (TryClaim())
            {
                Compute();
            }
        }
    }

    /// <summary>True for the first claimant only; <see cref="Result"/> and the pool item claim under the lock and compute before leaving it.</summary>
    private bool TryClaim() => Interlocked.Exchange(ref _claimed, 1) == 0;

    private void Compute()
    {
        try
        {
            _result = _compute();
        }
        catch (Exception ex)
        {
            _failure = ExceptionDispatchInfo.Capture(ex);
        }

        _computed = true;
    }
}
