using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Rank1.Inference.Decoding;

/// <summary>One passage in a batch: its prompt, its limits, how far its reasoning got, and where its result goes.</summary>
internal sealed class BatchRow(int[] prompt, int budget, DateTimeOffset? deadline, bool skipIfLate, CancellationToken cancellationToken, bool truncated = false)
{
    private readonly TaskCompletionSource<JudgeTrace?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _phase; // 0 waiting, 1 started, 2 expired before it started

    public int[] Prompt { get; } = prompt;

    public int Budget { get; } = budget;

    /// <summary>The most positions its cache can reach: the prompt, the reasoning budget and &lt;/think&gt;.</summary>
    public int MaxLength => Prompt.Length + Budget + 1;

    /// <summary>The query or the passage was cut to its token limit.</summary>
    public bool Truncated { get; } = truncated;

    public DateTimeOffset? Deadline { get; } = deadline;

    /// <summary>Not started when the deadline passed: complete with null (the caller keeps it in its old place) instead of scoring an empty reasoning.</summary>
    public bool SkipIfLate { get; } = skipIfLate;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    public List<int> Generated { get; } = [];

    public ReasoningEnd? End { get; set; }

    /// <summary>Fed &lt;/think&gt; in the latest step: its next logits give the score.</summary>
    public bool Scoring { get; set; }

    /// <summary>
    /// Its reasoning's text and the tokens that close it for the score (<see cref="Rank1Scorer.Ending"/>), queued to
    /// the thread pool when the reasoning is known to end (or, at its budget, to end unless its next token is
    /// &lt;/think&gt;) and read when the row is scored, a step later, by the batch thread, which computes it itself if
    /// the pool has not started it (<see cref="RowEnding"/>); null until then.
    /// </summary>
    public RowEnding? Ending { get; set; }

    public TimeSpan Prefill { get; set; }

    public long DecodeStarted { get; set; }

    /// <summary>The trace, or null for a row skipped as late.</summary>
    public Task<JudgeTrace?> Completion => _done.Task;

    /// <summary>Completed, failed or cancelled (by its caller): no more work is done for it.</summary>
    public bool IsDone => _done.Task.IsCompleted;

    public void Complete(JudgeTrace? trace) => _done.TrySetResult(trace);

    /// <summary>Marks the row as taken into a batch; false when it expired (or was taken) first.</summary>
    public bool TryStart() => Interlocked.CompareExchange(ref _phase, 1, 0) == 0;

    /// <summary>A late row that never started: answered with null. False when it had started.</summary>
    public bool TryExpire()
    {
        if (Interlocked.CompareExchange(ref _phase, 2, 0) != 0)
        {
            return false;
        }

        Complete(null);
        return true;
    }

    /// <summary>
    /// Nothing is left to do for it before it starts: completed or cancelled, or late (<see cref="SkipIfLate"/> and past
    /// its deadline at <paramref name="now"/>: then answered with null here). Such a row leaves the queue without joining a batch.
    /// </summary>
    public bool IsDeadAt(DateTimeOffset now) => IsDone || (SkipIfLate && Deadline is { } d && now >= d && (TryExpire() || IsDone));

    /// <summary>
    /// A window row (<see cref="SkipIfLate"/>) whose prompt is still being prefilled when its deadline passed at
    /// <paramref name="now"/>: answered with null as a row that never started (it has read no reasoning, so its score
    /// would be the prompt's alone, and the rest of a 2,048-token prefill can take seconds on a busy CPU). False otherwise.
    /// </summary>
    public bool TryAbandonLate(DateTimeOffset now)
    {
        if (!SkipIfLate || Deadline is not { } d || now < d)
        {
            return false;
        }

        Complete(null);
        return true;
    }

    public void Fail(Exception exception) => _done.TrySetException(exception);

    public void Cancel() => _done.TrySetCanceled(CancellationToken);
}

/// <summary>
/// Drives a <see cref="BatchDecodeState"/>: rows are admitted between steps, each step decides every row's next token
/// by the same <see cref="Rank1Scorer"/> a single judgement uses (&lt;/think&gt;, end of text, budget, deadline, in that
/// order), rows that end leave the batch, and the rest go on. A row that wrote &lt;/think&gt; is scored from the batch's
/// next logits; a row cut short is scored alone from a copy of its prompt cache followed by its forced end, as a
/// single judgement is. A row's ending (its reasoning decoded, and a forced end's text encoded again) is queued to the
/// thread pool from the step that makes it certain, and computed by the batch thread when it scores the row if the pool
/// has not started it by then (<see cref="BatchRow.Ending"/>); a failed ending fails its row alone.
/// </summary>
internal sealed class BatchRun : IDisposable
{
    private readonly CausalLm _lm;
    private readonly Rank1Scorer _scorer;
    private readonly RunOptions _runOptions;
    private readonly BatchDecodeState _state;
    private readonly TimeProvider _time;
    private readonly List<BatchRow> _rows = [];
    private readonly List<AsidePrefill> _prefilling = [];
    private readonly Func<int, bool> _scoring; // the rows whose logits a step keeps: those that fed </think>
    private readonly List<int> _leaving = []; // a step's rows that leave, and the tokens of those that go on: kept from step to step
    private readonly List<int> _feed = [];
    private float[]? _cutLogits; // the logits of every forced end, one after another (594 KB a row of 151,936: not one per cut row)

    /// <summary>An empty batch; <paramref name="prefixPositions"/> caps each prefix its prefix cache keeps (<see cref="Prompt.PromptEncoder.SharedPrefixCap"/>).</summary>
    public BatchRun(CausalLm lm, Rank1Scorer scorer, RunOptions runOptions, TimeProvider time, int prefixPositions)
    {
        _lm = lm;
        _scorer = scorer;
        _runOptions = runOptions;
        _time = time;
        _state = new BatchDecodeState(lm, runOptions, prefixPositions);
        _scoring = r => _rows[r].Scoring;
    }

    /// <summary>Tests: the decode state the batch drives.</summary>
    internal BatchDecodeState State => _state;

    /// <summary>
    /// Bench: told the time the batch thread spent on each row's ending (computing one no pool thread had started,
    /// waiting for one under way, or computing a cut no step foresaw: an end of text before the budget, a deadline),
    /// inside the step, before the row completes, so a caller that has its row's result finds that time counted.
    /// </summary>
    internal Action<TimeSpan>? EndingTimeSpent { get; init; }

    /// <summary>Tests: queues a row's ending computation (<see cref="RowEnding.Start"/>); null: the thread pool.</summary>
    internal Action<Action>? QueueEnding { get; set; }

    /// <summary>
    /// Judges <paramref name="rows"/> in one continuous batch of at most <paramref name="maxBatch"/> rows on the calling
    /// thread: one padded prefill of the rows admitted together (their shared prefix computed once), then one decode
    /// step per reasoning token for all rows, so each step reads the weights once for every row. Rows leave when they
    /// end and waiting rows join. Returns the traces in order; a row whose ending failed throws its own exception (not an
    /// <see cref="AggregateException"/> around it), after the batch has run.
    /// </summary>
    public static IReadOnlyList<JudgeTrace> JudgeAll(CausalLm lm, Rank1Scorer scorer, TimeProvider time, BatchRow[] rows, int maxBatch, int prefixPositions, CancellationToken cancellationToken)
    {
        if (rows.Length == 0)
        {
            return [];
        }

        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var run = new BatchRun(lm, scorer, runOptions, time, prefixPositions);
        var next = 0;
        while (next < rows.Length || run.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var admit = rows.AsSpan(next, Math.Min(rows.Length - next, maxBatch - run.Count)).ToArray();
            run.Admit(admit, cancellationToken);
            next += admit.Length;
            run.Step(cancellationToken);
        }

        return rows.Select(r => r.Completion.GetAwaiter().GetResult() ?? throw new InvalidOperationException("A batch row ended without a result.")).ToArray();
    }

    /// <summary>Rows in the batch, including those still prefilled apart (<see cref="AsidePrefill"/>).</summary>
    public int Count => _rows.Count + _prefilling.Count;

    /// <summary>
    /// Rows with a prompt longer than one chunk the next admission may take: while rows decode, such a row is prefilled
    /// apart, one chunk per step and one row at a time (<see cref="Admit"/>), so one at a time is let in (none while one
    /// is still prefilling); the others wait in the fair queue instead of holding batch rows, and a caller arriving
    /// meanwhile finds free rows. With nothing decoding, rows are prefilled as they are admitted.
    /// </summary>
    public int LongRowsAdmissible => _rows.Count > 0 ? (_prefilling.Count == 0 ? 1 : 0) : int.MaxValue;

    /// <summary>Rows still prefilled apart, waiting to join the decode steps.</summary>
    public int Prefilling => _prefilling.Count;

    /// <summary>Prompt positions the first row prefilled apart has in its cache so far (0: none is).</summary>
    public int PrefillingFed => _prefilling.Count == 0 ? 0 : _prefilling[0].Fed;

    /// <summary>The shared prefix the latest admission prefilled once for all its rows (0: none).</summary>
    public int LastSharedPrefix { get; private set; }

    /// <summary>How much of it came from an earlier admission's prefix cache (0: none).</summary>
    public int LastReusedPrefix { get; private set; }

    /// <summary>Rows fed in the latest model step.</summary>
    public int LastStepRows { get; private set; }

    /// <summary>Positions its KV cache holds now (rows × width).</summary>
    public long CachePositions => (long)_state.Rows * _state.Width;

    /// <summary>The cache as admission sees it: the rows in the batch and the longest length any of them can reach.</summary>
    public BatchCache Cache(long maxPositions)
    {
        var rows = _rows.Concat(_prefilling.Select(p => p.Row)).ToArray();
        return new(rows.Length, rows.Length == 0 ? 0 : rows.Max(r => r.MaxLength), maxPositions);
    }

    /// <summary>
    /// Prefills <paramref name="rows"/> and adds them; on failure they fail too (nothing is left unanswered). While rows
    /// are decoding, a row whose prompt is longer than <see cref="CausalLm.PrefillChunk"/> is prefilled apart instead,
    /// one chunk per <see cref="Step"/> (<see cref="AsidePrefill"/>), and joins when its prompt is in.
    /// </summary>
    public void Admit(IReadOnlyList<BatchRow> rows, CancellationToken cancellationToken)
    {
        try
        {
            AdmitRows(rows, cancellationToken);
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            // The rows this run does not hold fail here; those it holds fail with the batch (FailAll). Stopped (the engine
            // disposed mid-admission), they are the scheduler's to fail, as disposed, with every other row it still holds.
            foreach (var row in rows.Where(r => !_rows.Contains(r) && !_prefilling.Exists(p => p.Row == r)))
            {
                row.Fail(ex);
            }

            throw;
        }
    }

    /// <summary>Tests: called with each row about to be prefilled apart, before its prefill starts.</summary>
    internal Action<BatchRow>? PrefillingApart { get; set; }

    private void AdmitRows(IReadOnlyList<BatchRow> rows, CancellationToken cancellationToken)
    {
        var aside = _rows.Count > 0 ? rows.Where(r => r.Prompt.Length > CausalLm.PrefillChunk).ToArray() : [];
        foreach (var row in aside)
        {
            row.Prefill = TimeSpan.Zero;
            PrefillingApart?.Invoke(row);
            _prefilling.Add(AsidePrefill.Start(_lm, _runOptions, _state, row));
        }

        rows = aside.Length == 0 ? rows : rows.Except(aside).ToArray();
        if (rows.Count == 0)
        {
            return;
        }

        var prompts = rows.Select(r => r.Prompt).ToArray();
        var started = _time.GetTimestamp();
        Guard(() => _state.Admit(prompts, SharedPrefix.Length(prompts)), cancellationToken);
        LastSharedPrefix = _state.LastPrefix;
        LastReusedPrefix = _state.LastReusedPrefix;
        var prefill = _time.GetElapsedTime(started) / rows.Count;
        var now = _time.GetTimestamp();
        foreach (var row in rows)
        {
            row.Prefill = prefill;
            row.DecodeStarted = now;
            _rows.Add(row);
        }
    }

    /// <summary>Decides every row's next token, completes the rows that end, and runs one step for the others.</summary>
    public void Step(CancellationToken cancellationToken)
    {
        var leaving = _leaving;
        var feed = _feed;
        leaving.Clear();
        feed.Clear();
        for (var r = 0; r < _rows.Count; r++)
        {
            var row = _rows[r];
            if (row.IsDone)
            {
                row.Ending?.Abandon();
                leaving.Add(r); // cancelled by its caller
                continue;
            }

            var logits = _state.Logits[r];
            if (row.Scoring)
            {
                if (EndingOf(row) is { } ending)
                {
                    row.Complete(Score(logits, row, ending.Reasoning, ending.Scored));
                }

                leaving.Add(r);
                continue;
            }

            var token = _state.Greedy[r];
            switch (_scorer.Stop(token, row.Generated.Count, row.Budget, row.Deadline))
            {
                case ReasoningEnd.Finished:
                    // </think> is fed with the batch's next step; its logits give the score.
                    row.End = ReasoningEnd.Finished;
                    row.Scoring = true;
                    row.Ending?.Abandon(); // its forced end, queued at its budget, is not needed
                    row.Ending = QueueEndingOf(row, ReasoningEnd.Finished);
                    feed.Add(token);
                    break;
                case { } cut:
                    row.End = cut;
                    if (EndingOf(row) is { } ending)
                    {
                        row.Complete(ScoreCut(r, row, ending, cancellationToken));
                    }

                    leaving.Add(r);
                    break;
                default:
                    _scorer.Take(row.Generated, token);
                    feed.Add(token);
                    if (row.Generated.Count == row.Budget)
                    {
                        // Its next token ends the reasoning: by the budget (or an end of text), forced, unless it is </think>.
                        row.Ending = QueueEndingOf(row, ReasoningEnd.Budget);
                    }

                    break;
            }
        }

        _state.Remove(leaving);
        for (var i = leaving.Count - 1; i >= 0; i--)
        {
            _rows.RemoveAt(leaving[i]);
        }

        if (_rows.Count > 0)
        {
            LastStepRows = _rows.Count;
            // Only the rows that fed </think> are scored from this step's logits: the others' need only their greedy token.
            Guard(() => _state.Step(CollectionsMarshal.AsSpan(_feed), _scoring), cancellationToken);
        }

        PrefillNextChunk(cancellationToken);
    }

    /// <summary>
    /// Feeds one chunk of the first row prefilled apart (rows cancelled meanwhile are dropped, and window rows whose
    /// deadline passed are answered as not started: <see cref="BatchRow.TryAbandonLate"/>); a row whose prompt is
    /// then in joins the batch, its first token decided by the next step. A failure fails that row and is thrown.
    /// </summary>
    private void PrefillNextChunk(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        for (var i = _prefilling.Count - 1; i >= 0; i--)
        {
            if (_prefilling[i].Row.IsDone || _prefilling[i].Row.TryAbandonLate(now))
            {
                _prefilling[i].Dispose();
                _prefilling.RemoveAt(i);
            }
        }

        if (_prefilling.Count == 0)
        {
            return;
        }

        var next = _prefilling[0];
        try
        {
            var started = _time.GetTimestamp();
            next.Next(cancellationToken);
            next.Row.Prefill += _time.GetElapsedTime(started);
            if (!next.Done)
            {
                return;
            }

            next.JoinInto(_state);
            next.Row.DecodeStarted = _time.GetTimestamp();
            _rows.Add(next.Row);
        }
        catch (Exception ex)
        {
            next.Row.Fail(ex);
            throw;
        }
        finally
        {
            if (next.Done || next.Row.IsDone)
            {
                next.Dispose();
                _prefilling.Remove(next);
            }
        }
    }

    /// <summary>Fails every row still in the batch (the model failed or the engine is stopping).</summary>
    public void FailAll(Exception exception)
    {
        foreach (var row in _rows.Concat(_prefilling.Select(p => p.Row)))
        {
            row.Ending?.Abandon();
            row.Fail(exception);
        }

        _rows.Clear();
        DisposePrefilling();
    }

    private void DisposePrefilling()
    {
        foreach (var p in _prefilling)
        {
            p.Dispose();
        }

        _prefilling.Clear();
    }

    /// <summary>Scores a row cut short (<see cref="Rank1Scorer.ForcedEnd"/>) alone, from a copy of the row's prompt cache.</summary>
    private JudgeTrace ScoreCut(int r, BatchRow row, (string Reasoning, int[] Scored) ending, CancellationToken cancellationToken)
    {
        var (reasoning, scored) = ending;
        using var alone = new DecodeState(_lm, _runOptions, _state.ExtractRow(r, row.Prompt.Length), row.Prompt.Length, _cutLogits);
        Guard(() => alone.Step(scored), cancellationToken);
        _cutLogits = alone.Logits;
        return Score(alone.Logits, row, reasoning, scored);
    }

    /// <summary>
    /// <see cref="Rank1Scorer.Ending"/> of <paramref name="row"/>, queued to the thread pool to run while the batch's
    /// next step runs (<see cref="RowEnding"/>). A forced end decodes the reasoning, cuts it to its last sentence and
    /// encodes that text again with BPE (9% of the batch thread on the tiny model, a window of 16-token reasonings); the
    /// generated ids closed by the ids of "\n" and &lt;/think&gt; are not the same tokens: the cut and the trim change the
    /// text, ".\n" and other merges cross the reasoning's end, a partial UTF-8 character decodes to U+FFFD, and the
    /// model's tokens need not be the ones BPE gives its text.
    /// </summary>
    private RowEnding QueueEndingOf(BatchRow row, ReasoningEnd end)
    {
        var generated = row.Generated; // no token is taken after this point: the reasoning ends at the next step at the latest
        var room = Room(row);
        return RowEnding.Start(() => _scorer.Ending(end, generated, room), QueueEnding);
    }

    /// <summary>
    /// The ending of a row being scored: the one queued at its budget or at its &lt;/think&gt; (computed here if the pool
    /// has not started it; at the budget it is the forced end of any cut, which does not depend on why), else (an end of
    /// text before the budget, a deadline: no step saw them coming) computed here. Null when it failed: the row fails
    /// alone, and the batch goes on.
    /// </summary>
    private (string Reasoning, int[] Scored)? EndingOf(BatchRow row)
    {
        var started = _time.GetTimestamp();
        try
        {
            return row.Ending is { } queued ? queued.Result() : _scorer.Ending(row.End!.Value, row.Generated, Room(row));
        }
        catch (Exception ex)
        {
            row.Fail(ex);
            return null;
        }
        finally
        {
            EndingTimeSpent?.Invoke(_time.GetElapsedTime(started));
        }
    }

    private int Room(BatchRow row) => _lm.ContextLength - row.Prompt.Length;

    private JudgeTrace Score(float[] logits, BatchRow row, string reasoning, int[] scored) =>
        _scorer.Score(logits, row.Prompt, row.Generated, row.End!.Value, reasoning, scored, row.Prefill, row.DecodeStarted, row.Truncated);

    /// <summary>A step that ONNX Runtime terminated because of cancellation surfaces as cancellation.</summary>
    internal static void Guard(Action step, CancellationToken cancellationToken)
    {
        try
        {
            step();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The judgement was cancelled during a model step.", cancellationToken);
        }
    }

    public void Dispose()
    {
        foreach (var row in _rows)
        {
            row.Ending?.Abandon();
        }

        DisposePrefilling();
        _state.Dispose();
    }
}
