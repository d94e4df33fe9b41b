using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Inference.Prompt;
using Rank1.Inference.Tokenization;

namespace Rank1.Inference;

/// <summary>
/// The Rank1 reranker: builds the prompt, decodes the reasoning greedily with a KV cache until the model writes
/// <c>&lt;/think&gt;</c> (or the budget, the deadline or an end-of-text stops it, and <c>&lt;/think&gt;</c> is forced
/// after the reasoning cut to its last sentence), then scores sigmoid(logit(" true") - logit(" false")).
/// Thread-safe. The synchronous calls each get their own decode state. With
/// <see cref="Rank1EngineOptions.MaxBatch"/> above 1 the async calls share one continuous batch run by a background
/// thread: their passages join and leave it between decode steps, behind a bounded queue shared fairly between
/// callers (<see cref="Rank1OverloadedException"/> when full, or when one caller's share is).
/// </summary>
public sealed class Rank1Engine : IPassageJudge, IDisposable
{
    private readonly CausalLm _lm;
    private readonly Rank1Scorer _scorer;
    private readonly TimeProvider _time;
    private readonly int _defaultBudget;
    private readonly int _maxBatch;

    private readonly int _maxQueued;
    private readonly int _maxQueuedPerCaller;
    private readonly int _maxQueryTokens;
    private readonly int _maxPassageTokens;
    private readonly Lock _schedulerGate = new();
    private BatchScheduler? _scheduler;
    private bool _disposed;

    internal Rank1Engine(CausalLm lm, ModelTokenizer tokenizer, Rank1TokenIds ids, int defaultBudget, TimeProvider time, int maxBatch = 1, int maxQueued = 256,
        int maxQueryTokens = 512, int maxPassageTokens = 2048, int maxQueuedPerCaller = 64)
    {
        _maxQueryTokens = maxQueryTokens;
        _maxPassageTokens = maxPassageTokens;
        // Padded batches need a graph that takes position ids: graphs that derive positions from the mask (the
        // onnxruntime-genai builder's GroupQueryAttention) assume no left padding, so they decode one row at a time.
        _maxBatch = lm.Signature.PositionIds is null ? 1 : maxBatch;
        _maxQueued = maxQueued;
        _maxQueuedPerCaller = maxQueuedPerCaller;
        _lm = lm;
        _scorer = new Rank1Scorer(tokenizer, ids, time);
        _defaultBudget = defaultBudget;
        _time = time;
    }

    /// <inheritdoc />
    public string ModelId => _lm.Folder.ModelId;

    /// <summary>True when the model is a generated random-weight test model (scores are meaningless).</summary>
    public bool IsRandomTestModel => _lm.Folder.IsRandomTestModel;

    /// <summary>The execution provider in use.</summary>
    public ExecutionProviderKind Provider => _lm.Provider;

    /// <summary>The provider asked for, the one in use, and why <c>Auto</c> fell back to the CPU (when it did).</summary>
    public ExecutionProviderChoice ProviderChoice => _lm.ProviderChoice;

    internal ModelTokenizer Tokenizer => _scorer.Tokenizer;

    internal CausalLm Model => _lm;

    internal Rank1Scorer Scorer => _scorer;

    internal Rank1TokenIds TokenIds => _scorer.Ids;

    /// <summary>Loads the model folder named by <paramref name="options"/>. Throws <see cref="ModelLoadException"/> naming what is wrong.</summary>
    public static Rank1Engine Load(Rank1EngineOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var folder = ModelFolder.Open(options.Path);
        if (folder.TokenizerPath is null)
        {
            throw new ModelLoadException($"{System.IO.Path.Combine(folder.FolderPath, "tokenizer.json")}: file not found (Rank1 needs the model's Hugging Face tokenizer.json).");
        }

        var tokenizer = ModelTokenizer.Load(folder.TokenizerPath);
        var lm = CausalLm.Load(folder, options.ExecutionProvider, options.IntraOpThreads, options.DeviceId, logger, options.RequireAccelerator);
        try
        {
            var ids = Rank1TokenIds.From(tokenizer, folder, lm.Signature);
            if (folder.IsRandomTestModel)
            {
                Log.RandomTestModel(logger, folder.ModelId);
            }

            // The caps must leave room for the instruction line and some reasoning: a setting that cannot work fails here, by name.
            if (options.MaxQueryTokens + options.MaxPassageTokens + PromptOverheadTokens + ContextReserve > lm.ContextLength)
            {
                throw new ModelLoadException($"Rank1:Model:MaxQueryTokens ({options.MaxQueryTokens}) + Rank1:Model:MaxPassageTokens ({options.MaxPassageTokens}) " +
                    $"+ {PromptOverheadTokens + ContextReserve} tokens of instruction and reasoning exceed the context of {lm.ContextLength} tokens of {folder.FolderPath}: lower them.");
            }

            return new Rank1Engine(lm, tokenizer, ids, options.MaxThinkTokens, timeProvider ?? TimeProvider.System, options.MaxBatch, options.MaxQueuedPassages,
                options.MaxQueryTokens, options.MaxPassageTokens, options.MaxQueuedPassagesPerCaller);
        }
        catch
        {
            lm.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Characters per token kept before tokenizing: a query or passage is first cut to its token limit times this
    /// (no cost grows with text beyond it), then to its token limit. English averages about 4 characters per token;
    /// only text whose tokens average more than 16 characters (long runs of one symbol) loses anything to this cut.
    /// </summary>
    public const int CharsPerToken = 16;

    /// <summary>Tokens of the prompt besides the query and the passage (instruction line, labels, newlines, &lt;think&gt;), rounded up.</summary>
    internal const int PromptOverheadTokens = 48;

    /// <summary>Context kept free after the prompt: at least this much reasoning, plus the forced end's re-encoding and &lt;/think&gt;.</summary>
    internal const int ContextReserve = 16;

    /// <summary>
    /// The prompt's token ids: the user text encoded with special tokens off, then the <c>&lt;think&gt;</c> id; the query
    /// text and the passage are first cut to the engine's token limits.
    /// </summary>
    public IReadOnlyList<int> EncodePrompt(Rank1Input input) => EncodePrompt(input, null, CancellationToken.None).Ids;

    /// <summary>
    /// The prompt within the token limits of <paramref name="settings"/> (capped by the engine's): the query text and the
    /// passage are each cut to characters (<see cref="CharsPerToken"/>), then to tokens, before the prompt is encoded.
    /// Throws <see cref="Rank1InputException"/> when the prompt leaves no room for reasoning in the model's context.
    /// </summary>
    internal (int[] Ids, bool Truncated) EncodePrompt(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (query, queryCut) = Limit(Rank1Prompt.ApplyTemplate(Rank1Prompt.QueryText(input.Query, input.Instructions), settings?.PromptTemplate), Cap(settings?.MaxQueryTokens, _maxQueryTokens), cancellationToken);
        var (passage, passageCut) = Limit(Rank1Prompt.PassageText(input.Title, input.Text), Cap(settings?.MaxPassageTokens, _maxPassageTokens), cancellationToken);
        int[] ids = [.. Tokenizer.EncodeText(Rank1Prompt.TextBeforeThink(query, passage), cancellationToken), TokenIds.ThinkStart];
        if (ids.Length + ContextReserve > _lm.ContextLength)
        {
            throw new Rank1InputException($"The prompt has {ids.Length} tokens, which leaves less than {ContextReserve} of the model's context of {_lm.ContextLength} for reasoning.");
        }

        return (ids, queryCut || passageCut);
    }

    private static int Cap(int? requested, int cap) => requested switch
    {
        null => cap,
        < 1 => throw new ArgumentOutOfRangeException(nameof(requested), requested, "Token limits must be at least 1."),
        { } r => Math.Min(r, cap),
    };

    private (string Text, bool Truncated) Limit(string text, int maxTokens, CancellationToken cancellationToken)
    {
        var chars = (long)maxTokens * CharsPerToken;
        var charCut = false;
        if (text.Length > chars)
        {
            // Never split a surrogate pair: the cut text must stay valid UTF-16.
            var at = (int)chars;
            text = text[..(char.IsHighSurrogate(text[at - 1]) ? at - 1 : at)];
            charCut = true;
        }

        var (kept, tokenCut) = Tokenizer.Truncate(text, maxTokens, cancellationToken);
        return (kept, charCut || tokenCut);
    }

    /// <summary>
    /// Judges one pair. Honours <paramref name="cancellationToken"/> promptly, even inside a model step. Unlike a window,
    /// a pair is always judged: one not started by <see cref="JudgeSettings.Deadline"/> is scored from no reasoning.
    /// </summary>
    /// <remarks>With <see cref="Rank1EngineOptions.MaxBatch"/> above 1 the passage joins the engine's continuous batch, shared with concurrent calls.</remarks>
    public async ValueTask<Rank1Judgement> JudgeAsync(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        if (_maxBatch <= 1)
        {
            return await Task.Run(() => Judge(input, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        var (prompt, truncated) = EncodePrompt(input, settings, cancellationToken);
        var row = new BatchRow(prompt, Budget(settings, prompt.Length), settings?.Deadline, skipIfLate: false, cancellationToken, truncated);
        var traces = await ScheduleAsync(settings?.Caller, [row], cancellationToken).ConfigureAwait(false);
        return traces[0]!.Judgement;
    }

    /// <summary>Judges one pair on the calling thread.</summary>
    public Rank1Judgement Judge(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        JudgeTraced(input, settings, cancellationToken).Judgement;

    internal JudgeTrace JudgeTraced(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (prompt, truncated) = EncodePrompt(input, settings, cancellationToken);
        var budget = Budget(settings, prompt.Length);
        using var runOptions = new RunOptions();
        // Terminate stops a step that is already running inside ONNX Runtime, not just the next one.
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var state = _lm.Begin(runOptions);

        var started = _time.GetTimestamp();
        Run(state, prompt, cancellationToken);
        return Reason(state, prompt, _time.GetElapsedTime(started), budget, settings?.Deadline, truncated, cancellationToken);
    }

    /// <summary>
    /// Judges several passages for one query; each result equals judging that passage alone (<see cref="Judge"/>) up
    /// to float rounding. With <see cref="Rank1EngineOptions.MaxBatch"/> above 1 the passages are decoded in a continuous
    /// batch of that many rows (<see cref="JudgeBatchTraced"/>); with 1, one at a time after prefilling the prompt tokens they all
    /// share (the instruction, the query and the start of the passage line) once.
    /// </summary>
    public IReadOnlyList<Rank1Judgement> JudgeAll(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passages);
        if (_maxBatch <= 1 || passages.Count < 2)
        {
            return JudgeAllTraced(query, instructions, passages, settings, cancellationToken).Traces.Select(t => t.Judgement).ToArray();
        }

        return JudgeBatchTraced(query, instructions, passages, settings, cancellationToken, _maxBatch).Select(t => t.Judgement).ToArray();
    }

    /// <summary>
    /// Judges every passage (results in input order), each exactly as <see cref="JudgeAsync"/> would up to float
    /// rounding; a passage that cannot be judged because of its input fails the call (<see cref="Rank1InputException"/>).
    /// </summary>
    /// <remarks>With <see cref="Rank1EngineOptions.MaxBatch"/> above 1 the passages join the engine's continuous batch, shared with concurrent calls.</remarks>
    public async ValueTask<IReadOnlyList<Rank1Judgement>> JudgeAllAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passages);
        if (_maxBatch <= 1)
        {
            return await Task.Run(() => JudgeAll(query, instructions, passages, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        var traces = await ScheduleAsync(settings?.Caller, Rows(query, instructions, passages, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        return traces.Select(t => t!.Judgement).ToArray();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passages);
        if (_maxBatch > 1)
        {
            var encoded = WindowRows(query, instructions, passages, settings, cancellationToken);
            var rows = encoded.Where(e => e.Row is not null).Select(e => e.Row!).ToArray();
            var traces = await ScheduleAsync(settings?.Caller, rows, cancellationToken).ConfigureAwait(false);
            var next = 0;
            return encoded.Select(e => e.Row is null ? e.Known! : traces[next++] is { } t ? PassageResult.Judged(t.Judgement) : PassageResult.NotStarted).ToArray();
        }

        return await Task.Run(async () => await PassageJudge.JudgeEachAsync(query, instructions, passages, settings,
            (input, ct) => ValueTask.FromResult(Judge(input, settings, ct)), _time, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The window's passages, each encoded within the deadline: a batch row to judge, or a result already known (failed
    /// because of its input, or not started when the deadline passed during tokenizing).
    /// </summary>
    private (BatchRow? Row, PassageResult? Known)[] WindowRows(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        CancellationToken cancellationToken)
    {
        using var deadline = settings?.Deadline is { } d ? new CancellationTokenSource(Max(d - _time.GetUtcNow(), TimeSpan.Zero), _time) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked?.Token ?? cancellationToken;
        var results = new (BatchRow? Row, PassageResult? Known)[passages.Count];
        for (var i = 0; i < passages.Count; i++)
        {
            try
            {
                var (prompt, truncated) = EncodePrompt(new Rank1Input(query, passages[i].Text, passages[i].Title, instructions), settings, token);
                results[i] = (new BatchRow(prompt, Budget(settings, prompt.Length), settings?.Deadline, skipIfLate: true, cancellationToken, truncated), null);
            }
            catch (Rank1InputException ex)
            {
                results[i] = (null, PassageResult.Failed(ex.Message));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The deadline passed while tokenizing: this passage and the rest are not started.
                results.AsSpan(i).Fill((null, PassageResult.NotStarted));
                break;
            }
        }

        return results;
    }

    internal (IReadOnlyList<JudgeTrace> Traces, int SharedTokens) JudgeAllTraced(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(passages);
        cancellationToken.ThrowIfCancellationRequested();
        var encoded = passages.Select(p => EncodePrompt(new Rank1Input(query, p.Text, p.Title, instructions), settings, cancellationToken)).ToArray();
        var prompts = encoded.Select(e => e.Ids).ToArray();
        var shared = SharedPrefix.Length(prompts);
        if (prompts.Length < 2 || shared < SharedPrefix.MinLength)
        {
            return (passages.Select(p => JudgeTraced(new Rank1Input(query, p.Text, p.Title, instructions), settings, cancellationToken)).ToArray(), 0);
        }

        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var state = _lm.Begin(runOptions);
        var sharedStarted = _time.GetTimestamp();
        Run(state, prompts[0][..shared], cancellationToken);
        var sharedPrefill = _time.GetElapsedTime(sharedStarted) / prompts.Length;
        var prefix = state.Pin();
        var traces = new List<JudgeTrace>(prompts.Length);
        try
        {
            foreach (var (prompt, truncated) in encoded)
            {
                cancellationToken.ThrowIfCancellationRequested();
                state.Restore(prefix);
                var started = _time.GetTimestamp();
                Run(state, prompt[shared..], cancellationToken);
                traces.Add(Reason(state, prompt, _time.GetElapsedTime(started) + sharedPrefill, Budget(settings, prompt.Length), settings?.Deadline, truncated, cancellationToken));
            }
        }
        finally
        {
            state.Unpin(prefix);
        }

        return (traces, shared);
    }

    /// <summary>
    /// Judges the passages in one continuous batch of at most <paramref name="maxBatch"/> rows (default: all of them):
    /// one padded prefill of the rows admitted together (their shared prefix computed once), then one decode step per
    /// reasoning token for all rows, so each step reads the weights once for every row. Rows leave when they end and
    /// waiting passages join. Each result equals judging that passage alone (<see cref="Judge"/>) up to float rounding.
    /// </summary>
    internal IReadOnlyList<JudgeTrace> JudgeBatchTraced(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        CancellationToken cancellationToken, int? maxBatch = null)
    {
        ArgumentNullException.ThrowIfNull(passages);
        cancellationToken.ThrowIfCancellationRequested();
        var rows = Rows(query, instructions, passages, settings, cancellationToken);
        if (rows.Length == 0)
        {
            return [];
        }

        var size = Math.Max(1, maxBatch ?? rows.Length);
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var run = new BatchRun(_lm, _scorer, runOptions, _time);
        var next = 0;
        while (next < rows.Length || run.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var admit = rows.AsSpan(next, Math.Min(rows.Length - next, size - run.Count)).ToArray();
            run.Admit(admit, cancellationToken);
            next += admit.Length;
            run.Step(cancellationToken);
        }

        return rows.Select(r => r.Completion.Result ?? throw new InvalidOperationException("A batch row ended without a result.")).ToArray();
    }

    /// <summary>Every passage as a batch row (a passage that cannot be judged fails the call: all of them are wanted).</summary>
    private BatchRow[] Rows(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        CancellationToken cancellationToken) =>
        passages.Select(p =>
        {
            var (prompt, truncated) = EncodePrompt(new Rank1Input(query, p.Text, p.Title, instructions), settings, cancellationToken);
            return new BatchRow(prompt, Budget(settings, prompt.Length), settings?.Deadline, skipIfLate: false, cancellationToken, truncated);
        }).ToArray();

    /// <summary>
    /// Queues rows with the cross-request scheduler, in the sub-queue of <paramref name="caller"/> (null: this call's
    /// own), and waits for all of them; the caller's cancellation returns at once.
    /// </summary>
    private async Task<JudgeTrace?[]> ScheduleAsync(object? caller, BatchRow[] rows, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (rows.Length == 0)
        {
            return [];
        }

        Scheduler.Enqueue(caller ?? rows, rows);
        using var registration = cancellationToken.Register(static o =>
        {
            foreach (var row in (BatchRow[])o!)
            {
                row.Cancel();
            }
        }, rows);

        // Window rows still waiting for a slot at their deadline are answered then (null: not started), not when a
        // slot frees up: a search must not wait past its deadline behind other searches.
        using var expiry = rows[0] is { SkipIfLate: true, Deadline: { } deadline }
            ? _time.CreateTimer(static o =>
            {
                foreach (var row in (BatchRow[])o!)
                {
                    row.TryExpire();
                }
            }, rows, Max(deadline - _time.GetUtcNow(), TimeSpan.Zero), Timeout.InfiniteTimeSpan)
            : null;
        return await Task.WhenAll(rows.Select(r => r.Completion)).ConfigureAwait(false);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    internal BatchScheduler Scheduler
    {
        get
        {
            lock (_schedulerGate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _scheduler ??= new BatchScheduler(_lm, _scorer, _time, _maxBatch, _maxQueued, _maxQueuedPerCaller);
            }
        }
    }

    /// <summary>Most rows one step of the cross-request batch has fed since the engine started (0 before any async call).</summary>
    public int PeakBatchRows => _scheduler?.PeakStepRows ?? 0;

    /// <summary>Passages waiting for a slot in the cross-request batch (0 when the async calls do not batch).</summary>
    public int QueuedPassages => _scheduler?.Queued ?? 0;

    /// <summary>Callers (<see cref="JudgeSettings.Caller"/>; by default each call) with passages waiting for a slot.</summary>
    public int WaitingCallers => _scheduler?.WaitingCallers ?? 0;

    /// <summary>Most passages one caller has waiting (bounded by <see cref="Rank1EngineOptions.MaxQueuedPassagesPerCaller"/> once others wait).</summary>
    public int MostQueuedForOneCaller => _scheduler?.MostWaitingForOneCaller ?? 0;

    /// <summary>The reasoning budget for a prompt: the caller's (or the default), clamped so prompt + reasoning + the forced end fit the model's context.</summary>
    private int Budget(JudgeSettings? settings, int promptLength)
    {
        var budget = settings?.MaxThinkTokens ?? _defaultBudget;
        return budget >= 0
            ? Math.Min(budget, _lm.ContextLength - promptLength - ContextReserve)
            : throw new ArgumentOutOfRangeException(nameof(settings), budget, "MaxThinkTokens must be 0 or more.");
    }

    /// <summary>From a fed prompt: reason greedily until the scorer's stopping rule ends it, then score.</summary>
    private JudgeTrace Reason(DecodeState state, IReadOnlyList<int> prompt, TimeSpan prefill, int budget, DateTimeOffset? deadline, bool truncated, CancellationToken cancellationToken)
    {
        var decodeStarted = _time.GetTimestamp();
        var afterPrompt = state.Pin();
        try
        {
            var generated = new List<int>();
            ReasoningEnd end;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = Rank1Scorer.Next(state.Logits);
                if (_scorer.Stop(next, generated.Count, budget, deadline) is { } stop)
                {
                    end = stop;
                    break;
                }

                generated.Add(next);
                Run(state, [next], cancellationToken);
            }

            var (reasoning, scored) = _scorer.Ending(end, generated);
            if (end != ReasoningEnd.Finished)
            {
                // A forced end follows the prompt: we continue from the pinned prompt cache rather than re-encoding the prompt.
                state.Restore(afterPrompt);
            }

            Run(state, scored, cancellationToken);
            return _scorer.Score(state.Logits, prompt, generated, end, reasoning, scored, prefill, decodeStarted, truncated);
        }
        finally
        {
            state.Unpin(afterPrompt);
        }
    }

    private static void Run(DecodeState state, int[] tokens, CancellationToken cancellationToken) => BatchRun.Guard(() => state.Step(tokens), cancellationToken);

    /// <summary>Rows decoded together (<see cref="Rank1EngineOptions.MaxBatch"/>; 1 for graphs that cannot take padded batches).</summary>
    public int MaxBatch => _maxBatch;

    /// <summary>Stops the batch thread (waiting calls fail with <see cref="ObjectDisposedException"/>) and releases the model.</summary>
    public void Dispose()
    {
        BatchScheduler? scheduler;
        lock (_schedulerGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            scheduler = _scheduler;
        }

        scheduler?.Dispose();
        _lm.Dispose();
    }
}
