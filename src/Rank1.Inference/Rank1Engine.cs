using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
    private readonly PromptEncoder _prompts;
    private readonly SingleRowJudge _single;
    private readonly TimeProvider _time;
    private readonly int _maxBatch;

    private readonly int _maxQueued;
    private readonly int _maxQueuedPerCaller;
    private readonly int _maxBatchCacheMiB;
    private readonly Lock _schedulerGate = new();
    private BatchScheduler? _scheduler;
    private bool _disposed;

    internal Rank1Engine(CausalLm lm, ModelTokenizer tokenizer, Rank1TokenIds ids, int defaultBudget, TimeProvider time, int maxBatch = 1, int maxQueued = 256,
        int maxQueryTokens = 512, int maxPassageTokens = 2048, int maxQueuedPerCaller = 64, int maxBatchCacheMiB = Rank1EngineOptions.BatchCacheDefaultMiB)
    {
        _maxBatchCacheMiB = maxBatchCacheMiB;
        // A graph whose batch layout the load could not establish decodes one row at a time.
        _maxBatch = lm.BatchLayout is null ? 1 : maxBatch;
        _maxQueued = maxQueued;
        _maxQueuedPerCaller = maxQueuedPerCaller;
        _lm = lm;
        _scorer = new Rank1Scorer(tokenizer, ids, time);
        _prompts = new PromptEncoder(tokenizer, ids, lm.ContextLength, maxQueryTokens, maxPassageTokens, defaultBudget);
        _single = new SingleRowJudge(lm, _scorer, time);
        _time = time;
    }

    /// <inheritdoc />
    public string ModelId => _lm.Folder.ModelId;

    /// <inheritdoc />
    public string ModelFingerprint => _lm.Folder.Fingerprint;

    /// <summary>True when the model is a generated random-weight test model (scores are meaningless).</summary>
    public bool IsRandomTestModel => _lm.Folder.IsRandomTestModel;

    /// <summary>The execution provider in use.</summary>
    public ExecutionProviderKind Provider => _lm.Provider;

    /// <summary>The provider asked for, the one in use, and why <c>Auto</c> fell back to the CPU (when it did).</summary>
    public ExecutionProviderChoice ProviderChoice => _lm.ProviderChoice;

    /// <summary>
    /// Reasoning tokens the model has generated since it was loaded, every judgement together, counted as each is
    /// decoded: the work of a row whose caller left before its judgement, or that was cut or failed, is in it.
    /// </summary>
    public long ReasoningTokensGenerated => _scorer.TokensTaken;

    internal ModelTokenizer Tokenizer => _scorer.Tokenizer;

    internal CausalLm Model => _lm;

    internal Rank1Scorer Scorer => _scorer;

    internal Rank1TokenIds TokenIds => _scorer.Ids;

    /// <summary>Most positions one prefix in the batch's prefix cache holds: the query token cap plus the prompt's own tokens.</summary>
    internal int SharedPrefixCap => _prompts.SharedPrefixCap;

    /// <summary>Tests: queries cut to their token limit so far (a window's passages share one cut).</summary>
    internal int QueryCuts => _prompts.QueryCuts;

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
        folder.ThrowIfUnreadable();
        var lm = CausalLm.Load(folder, options.ExecutionProvider, options.IntraOpThreads, options.DeviceId, logger, options.RequireAccelerator, options.ExactBatching);
        try
        {
            // Read now, once, so an unreadable file fails the load and no request pays for it.
            _ = folder.Fingerprint;
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
                options.MaxQueryTokens, options.MaxPassageTokens, options.MaxQueuedPassagesPerCaller, options.MaxBatchCacheMiB);
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
    public const int CharsPerToken = PromptEncoder.CharsPerToken;

    private const int PromptOverheadTokens = PromptEncoder.PromptOverheadTokens;

    private const int ContextReserve = PromptEncoder.ContextReserve;

    /// <summary>
    /// The prompt's token ids: the user text encoded with special tokens off, then the <c>&lt;think&gt;</c> id; the query
    /// text and the passage are first cut to the engine's token limits.
    /// </summary>
    public IReadOnlyList<int> EncodePrompt(Rank1Input input) => EncodePrompt(input, null, CancellationToken.None).Ids;

    /// <summary>
    /// Checks, before anything is judged, that each passage of a window can be judged as given under
    /// <paramref name="settings"/>: with <see cref="JudgeSettings.Truncate"/> false, the first passage (or the query) over
    /// its token limit throws <see cref="Rank1InputException"/>, in the words the judging would have used. As TEI
    /// validates every input of a call before any reaches the model (router/src/http/server.rs, <c>rerank</c>: each pair is
    /// tokenized and validated by core/src/tokenization.rs, <c>encode_input</c>, before its inference is queued).
    /// </summary>
    /// <param name="query">The query.</param>
    /// <param name="instructions">The instructions appended to the query, if any.</param>
    /// <param name="passages">The window's passages.</param>
    /// <param name="settings">The limits the window will be judged under.</param>
    /// <param name="cancellationToken">Stops the check, between passages and within one as the tokenizer goes.</param>
    /// <returns>The prompts encoded: given as <see cref="JudgeSettings.Checked"/> to the judging of the same window, its passages are not tokenized again.</returns>
    public CheckedInputs CheckInputs(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(passages);
        var prompts = new Dictionary<(string? Title, string Text), (int[] Ids, bool Truncated)>(passages.Count);
        foreach (var (title, text) in passages)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!prompts.ContainsKey((title, text)))
            {
                Encoding?.Invoke();
                prompts[(title, text)] = _prompts.Encode(new Rank1Input(query, text, title, instructions), settings, cancellationToken);
            }
        }

        return new CheckedInputs(_prompts, query, instructions, settings, prompts);
    }

    /// <summary>
    /// The prompt within the token limits of <paramref name="settings"/> (capped by the engine's): the query text and the
    /// passage are each cut to characters (<see cref="CharsPerToken"/>), then to tokens, before the prompt is encoded.
    /// Throws <see cref="Rank1InputException"/> when the prompt leaves no room for reasoning in the model's context.
    /// </summary>
    internal (int[] Ids, bool Truncated) EncodePrompt(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken) =>
        _prompts.Encode(input, settings, cancellationToken);

    /// <summary>
    /// Judges one pair. Honours <paramref name="cancellationToken"/> promptly, even inside a model step. Unlike a window,
    /// a pair is always judged: one not started by <see cref="JudgeSettings.Deadline"/> is scored from no reasoning.
    /// </summary>
    /// <remarks>With <see cref="Rank1EngineOptions.MaxBatch"/> above 1 the passage joins the engine's continuous batch, shared with concurrent calls.</remarks>
    public async ValueTask<Rank1Judgement> JudgeAsync(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        if (_maxBatch <= 1)
        {
            return await OffThreadPool(() => Judge(input, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        var prompt = await OffThreadPool(() => Encode(input, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        var row = new BatchRow(prompt.Ids, prompt.Budget, settings?.Deadline, skipIfLate: false, cancellationToken, prompt.Truncated);
        var traces = await Scheduler.ScheduleAsync(settings?.Caller, [row], cancellationToken).ConfigureAwait(false);
        return traces[0]!.Judgement;
    }

    /// <summary>Judges one pair on the calling thread.</summary>
    public Rank1Judgement Judge(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        JudgeTraced(input, settings, cancellationToken).Judgement;

    internal JudgeTrace JudgeTraced(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _single.Judge(Encode(input, settings, cancellationToken), settings?.Deadline, cancellationToken);
    }

    private EncodedPrompt Encode(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        // A window checked first (CheckInputs, TEI's "truncate": false) is not tokenized a second time.
        if (settings?.Checked is not { } known || !known.TryGet(_prompts, input, settings, out var encoded))
        {
            Encoding?.Invoke();
            encoded = EncodePrompt(input, settings, cancellationToken);
        }

        return new EncodedPrompt(encoded.Ids, encoded.Truncated, _prompts.Budget(settings, encoded.Ids.Length));
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
            return await OffThreadPool(() => JudgeAll(query, instructions, passages, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        var rows = await OffThreadPool(() => Rows(query, instructions, passages, settings, cancellationToken), cancellationToken).ConfigureAwait(false);
        var traces = await Scheduler.ScheduleAsync(settings?.Caller, rows, cancellationToken).ConfigureAwait(false);
        return traces.Select(t => t!.Judgement).ToArray();
    }

    /// <summary>
    /// Runs the CPU work of an async call (tokenizing, and without the batch the whole judging) on a thread of its own,
    /// off the thread pool; the call awaits it. Tokenizing a window at the token caps is up to a second of CPU on a busy
    /// machine (1 MB inputs cut to 32,768 and 8,192 characters), and two windows doing it on pool threads held back
    /// every other work item of the proxy (request reads, response writes, timers) by up to 0.7 s, until the pool added
    /// a thread (#18, docs/reliability.md). On its own thread the operating system shares the cores between it and the
    /// pool instead. A call cancelled before its work starts is cancelled, as with <see cref="Task.Run(Action, CancellationToken)"/>.
    /// </summary>
    private static Task<T> OffThreadPool<T>(Func<T> work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Tests: called on the thread that encodes a prompt, before it does.</summary>
    internal Action? Encoding { get; set; }

    /// <inheritdoc />
    /// <remarks>
    /// With <see cref="Rank1EngineOptions.MaxBatch"/> above 1, a window the engine's queue cannot take throws
    /// <see cref="Rank1OverloadedException"/> before any passage is tokenized or judged (the whole window is reserved
    /// first), even one whose passages would all fail on their input: callers that want input errors first check the
    /// passages with <see cref="CheckInputs"/> (the rerank service's TEI route does, under <c>"truncate": false</c>).
    /// Only input errors are a passage's own result (<see cref="PassageResult.Failed"/>), as one passage at a time
    /// (<see cref="PassageJudge.JudgeEachAsync"/>): any other failure, a row's ending that throws included, fails the
    /// window with that exception. In the batch it fails its row alone, so the window throws it once its other rows have
    /// been judged (their batch rows are not given up early).
    /// </remarks>
    public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passages);
        if (_maxBatch > 1)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (passages.Count == 0 || settings?.Deadline <= _time.GetUtcNow())
            {
                // Nothing to queue: none of a late window's passages is started, and it takes no place in the queue.
                return passages.Select(_ => PassageResult.NotStarted).ToArray();
            }

            // The window is admitted whole before any passage is tokenized (its rows not yet queued count against the
            // queue's bounds), then its rows are queued as they are tokenized, so the first are judged while the rest are.
            using var feed = Scheduler.Open(settings?.Caller ?? new object(), passages.Count, settings?.Deadline, cancellationToken);
            (BatchRow? Row, PassageResult? Known)[] encoded;
            try
            {
                // Not cancelled before it starts: WindowRows answers a late window's passages itself.
                encoded = await OffThreadPool(() => WindowRows(query, instructions, passages, settings, feed, cancellationToken), CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                // Cancelled, or an unexpected failure while tokenizing: nobody waits for the rows queued already.
                feed.Abandon();
                throw;
            }

            var traces = await feed.Completion().ConfigureAwait(false);
            var next = 0;
            return encoded.Select(e => e.Row is null ? e.Known! : traces[next++] is { } t ? PassageResult.Judged(t.Judgement) : PassageResult.NotStarted).ToArray();
        }

        // One passage at a time, each judged on a thread of its own (the judging is seconds of CPU).
        return await PassageJudge.JudgeEachAsync(query, instructions, passages, settings,
            async (input, ct) => await OffThreadPool(() => Judge(input, settings, ct), ct).ConfigureAwait(false), _time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Most time the rows of a window wait, tokenized, for the rest of it before they are queued: a window tokenized within
    /// it is queued at once, in one part; a longer one (thousands of passages on a busy CPU take seconds) has its first
    /// rows judged while the rest are tokenized, so a deadline that passes during tokenizing still finds passages judged.
    /// </summary>
    internal static readonly TimeSpan QueueEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The window's passages, each encoded within the deadline and queued to <paramref name="feed"/> as it is (what is
    /// ready every <see cref="QueueEvery"/>, and the rest at the end; the feed is then closed): a batch row, or a result
    /// already known (failed because of its input, or not started when the deadline passed during tokenizing).
    /// </summary>
    private (BatchRow? Row, PassageResult? Known)[] WindowRows(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        BatchScheduler.Feed feed, CancellationToken cancellationToken)
    {
        using var deadline = settings?.Deadline is { } d ? new CancellationTokenSource(Max(d - _time.GetUtcNow(), TimeSpan.Zero), _time) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked?.Token ?? cancellationToken;
        var results = new (BatchRow? Row, PassageResult? Known)[passages.Count];
        var pending = new List<BatchRow>();
        var queued = _time.GetTimestamp();
        for (var i = 0; i < passages.Count; i++)
        {
            try
            {
                var prompt = Encode(new Rank1Input(query, passages[i].Text, passages[i].Title, instructions), settings, token);
                var row = new BatchRow(prompt.Ids, prompt.Budget, settings?.Deadline, skipIfLate: true, cancellationToken, prompt.Truncated);
                results[i] = (row, null);
                pending.Add(row);
            }
            catch (Rank1InputException ex)
            {
                results[i] = (null, PassageResult.Failed(ex.Message));
                feed.GiveUpOne(); // only the passages the model will judge count against the queue's bounds
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The deadline passed while tokenizing: this passage and the rest are not started.
                results.AsSpan(i).Fill((null, PassageResult.NotStarted));
                break;
            }

            if (pending.Count > 0 && _time.GetElapsedTime(queued) >= QueueEvery)
            {
                feed.Add(pending);
                pending = [];
                queued = _time.GetTimestamp();
            }
        }

        feed.Add(pending);
        feed.Close();
        return results;
    }

    internal (IReadOnlyList<JudgeTrace> Traces, int SharedTokens) JudgeAllTraced(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(passages);
        cancellationToken.ThrowIfCancellationRequested();
        var encoded = passages.Select(p => Encode(new Rank1Input(query, p.Text, p.Title, instructions), settings, cancellationToken)).ToArray();
        return _single.JudgeAll(encoded, settings?.Deadline, cancellationToken);
    }

    /// <summary>
    /// Judges the passages in one continuous batch of at most <paramref name="maxBatch"/> rows (default: all of them),
    /// <see cref="BatchRun.JudgeAll"/>. Each result equals judging that passage alone (<see cref="Judge"/>) up to float rounding.
    /// </summary>
    internal IReadOnlyList<JudgeTrace> JudgeBatchTraced(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        CancellationToken cancellationToken, int? maxBatch = null)
    {
        ArgumentNullException.ThrowIfNull(passages);
        cancellationToken.ThrowIfCancellationRequested();
        return BatchRun.JudgeAll(_lm, _scorer, _time, Rows(query, instructions, passages, settings, cancellationToken), Math.Max(1, maxBatch ?? passages.Count), _prompts.SharedPrefixCap, cancellationToken);
    }

    /// <summary>Every passage as a batch row (a passage that cannot be judged fails the call: all of them are wanted).</summary>
    private BatchRow[] Rows(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        CancellationToken cancellationToken) =>
        passages.Select(p =>
        {
            var prompt = Encode(new Rank1Input(query, p.Text, p.Title, instructions), settings, cancellationToken);
            return new BatchRow(prompt.Ids, prompt.Budget, settings?.Deadline, skipIfLate: false, cancellationToken, prompt.Truncated);
        }).ToArray();

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    internal BatchScheduler Scheduler
    {
        get
        {
            lock (_schedulerGate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _scheduler ??= new BatchScheduler(_lm, _scorer, _time, _maxBatch, _maxQueued, _maxQueuedPerCaller, _maxBatchCacheMiB * (1L << 20), _prompts.SharedPrefixCap);
            }
        }
    }

    /// <summary>Most rows one step of the cross-request batch has fed since the engine started (0 before any async call).</summary>
    public int PeakBatchRows => _scheduler?.PeakStepRows ?? 0;

    /// <summary>Bench: time the cross-request batch's thread has spent on rows' endings (<see cref="BatchRun.EndingTimeSpent"/>).</summary>
    internal TimeSpan BatchEndingTime => _scheduler?.EndingTime ?? TimeSpan.Zero;

    /// <summary>Passages waiting for a slot in the cross-request batch, those of a window still being tokenized included (0 when the async calls do not batch).</summary>
    public int QueuedPassages => _scheduler?.Queued ?? 0;

    /// <summary>Callers (<see cref="JudgeSettings.Caller"/>; by default each call) with passages waiting for a slot.</summary>
    public int WaitingCallers => _scheduler?.WaitingCallers ?? 0;

    /// <summary>Most passages one caller has waiting (bounded by <see cref="Rank1EngineOptions.MaxQueuedPassagesPerCaller"/> once others wait).</summary>
    public int MostQueuedForOneCaller => _scheduler?.MostWaitingForOneCaller ?? 0;

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
