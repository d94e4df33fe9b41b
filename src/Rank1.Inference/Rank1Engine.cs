using System.Numerics.Tensors;
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
/// Thread-safe: concurrent calls each get their own decode state.
/// </summary>
public sealed class Rank1Engine : IPassageBatchJudge, IDisposable
{
    private readonly CausalLm _lm;
    private readonly Rank1TokenIds _ids;
    private readonly TimeProvider _time;
    private readonly int _defaultBudget;
    private readonly int _maxBatch;

    internal Rank1Engine(CausalLm lm, ModelTokenizer tokenizer, Rank1TokenIds ids, int defaultBudget, TimeProvider time, int maxBatch = 1)
    {
        _maxBatch = maxBatch;
        _lm = lm;
        Tokenizer = tokenizer;
        _ids = ids;
        _defaultBudget = defaultBudget;
        _time = time;
    }

    /// <inheritdoc />
    public string ModelId => _lm.Folder.ModelId;

    /// <summary>True when the model is a generated random-weight test model (scores are meaningless).</summary>
    public bool IsRandomTestModel => _lm.Folder.IsRandomTestModel;

    /// <summary>The execution provider in use.</summary>
    public ExecutionProviderKind Provider => _lm.Provider;

    /// <summary>The model's tokenizer.</summary>
    public ModelTokenizer Tokenizer { get; }

    internal CausalLm Model => _lm;

    internal Rank1TokenIds TokenIds => _ids;

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
        var lm = CausalLm.Load(folder, options.ExecutionProvider, options.IntraOpThreads, options.DeviceId, logger);
        try
        {
            var ids = Rank1TokenIds.From(tokenizer, folder, lm.Signature);
            if (folder.IsRandomTestModel)
            {
                Log.RandomTestModel(logger, folder.ModelId);
            }

            return new Rank1Engine(lm, tokenizer, ids, options.MaxThinkTokens, timeProvider ?? TimeProvider.System, options.MaxBatch);
        }
        catch
        {
            lm.Dispose();
            throw;
        }
    }

    /// <summary>The prompt's token ids: the user text encoded with special tokens off, then the <c>&lt;think&gt;</c> id.</summary>
    public IReadOnlyList<int> EncodePrompt(Rank1Input input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var text = Rank1Prompt.TextBeforeThink(Rank1Prompt.QueryText(input.Query, input.Instructions), Rank1Prompt.PassageText(input.Title, input.Text));
        var ids = new List<int>(Tokenizer.EncodeText(text)) { _ids.ThinkStart };
        return ids;
    }

    /// <inheritdoc />
    public ValueTask<Rank1Judgement> JudgeAsync(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        new(Task.Run(() => Judge(input, settings, cancellationToken), cancellationToken));

    /// <summary>Judges one pair on the calling thread.</summary>
    public Rank1Judgement Judge(Rank1Input input, JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        JudgeTraced(input, settings, cancellationToken).Judgement;

    internal JudgeTrace JudgeTraced(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var prompt = EncodePrompt(input);
        var budget = Budget(settings);
        using var runOptions = new RunOptions();
        // Terminate stops a step that is already running inside ONNX Runtime, not just the next one.
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var state = _lm.Begin(runOptions);

        var started = _time.GetTimestamp();
        Run(state, prompt.ToArray(), cancellationToken);
        return Reason(state, prompt, _time.GetElapsedTime(started), budget, settings?.Deadline, cancellationToken);
    }

    /// <summary>
    /// Judges several passages for one query; each result equals judging that passage alone (<see cref="Judge"/>) up
    /// to float rounding. With <see cref="Rank1EngineOptions.MaxBatch"/> above 1 the passages are decoded in batches of
    /// that size (<see cref="JudgeBatchTraced"/>); with 1, one at a time after prefilling the prompt tokens they all
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

        return passages.Chunk(_maxBatch).SelectMany(chunk => JudgeBatchTraced(query, instructions, chunk, settings, cancellationToken)).Select(t => t.Judgement).ToArray();
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Rank1Judgement>> JudgeAllAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings = null,
        CancellationToken cancellationToken = default) =>
        new(Task.Run(() => JudgeAll(query, instructions, passages, settings, cancellationToken), cancellationToken));

    /// <summary>Shared prefixes shorter than this are not worth a pinned cache: each passage is judged alone.</summary>
    internal const int MinSharedPrefix = 8;

    internal (IReadOnlyList<JudgeTrace> Traces, int SharedTokens) JudgeAllTraced(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(passages);
        cancellationToken.ThrowIfCancellationRequested();
        var prompts = passages.Select(p => EncodePrompt(new Rank1Input(query, p.Text, p.Title, instructions)).ToArray()).ToArray();
        var shared = SharedPrefixLength(prompts);
        if (prompts.Length < 2 || shared < MinSharedPrefix)
        {
            return (passages.Select(p => JudgeTraced(new Rank1Input(query, p.Text, p.Title, instructions), settings, cancellationToken)).ToArray(), 0);
        }

        var budget = Budget(settings);
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
            foreach (var prompt in prompts)
            {
                cancellationToken.ThrowIfCancellationRequested();
                state.Restore(prefix);
                var started = _time.GetTimestamp();
                Run(state, prompt[shared..], cancellationToken);
                traces.Add(Reason(state, prompt, _time.GetElapsedTime(started) + sharedPrefill, budget, settings?.Deadline, cancellationToken));
            }
        }
        finally
        {
            state.Unpin(prefix);
        }

        return (traces, shared);
    }

    /// <summary>
    /// Judges the passages as one batch: one padded prefill, then one decode step per reasoning token for all rows
    /// together, so each step reads the weights once for every row. A row whose reasoning ends with
    /// <c>&lt;/think&gt;</c> is scored in the batch; a row cut by the budget, the deadline or an end of text continues
    /// alone from a copy of its prompt cache with the cut reasoning, as <see cref="Judge"/> does.
    /// </summary>
    internal IReadOnlyList<JudgeTrace> JudgeBatchTraced(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages, JudgeSettings? settings,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(passages);
        cancellationToken.ThrowIfCancellationRequested();
        if (passages.Count == 0)
        {
            return [];
        }

        var prompts = passages.Select(p => EncodePrompt(new Rank1Input(query, p.Text, p.Title, instructions)).ToArray()).ToArray();
        var budget = Budget(settings);
        var deadline = settings?.Deadline;
        var rows = prompts.Length;
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var batch = new BatchDecodeState(_lm, runOptions, rows);

        var started = _time.GetTimestamp();
        RunBatch(() => batch.Prefill(prompts), cancellationToken);
        var prefill = _time.GetElapsedTime(started) / rows;
        batch.Pin();
        var decodeStarted = _time.GetTimestamp();

        var generated = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var end = new ReasoningEnd?[rows];
        var scoring = new bool[rows];        // fed </think> in the latest step: its logits give the score
        var scores = new (float True, float False)?[rows];
        var next = new int[rows];
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var feeding = false;
            for (var r = 0; r < rows; r++)
            {
                next[r] = 0;
                if (scoring[r])
                {
                    scores[r] = (batch.Logits[r][_ids.True], batch.Logits[r][_ids.False]);
                    scoring[r] = false;
                    continue;
                }

                if (end[r] is not null)
                {
                    continue;
                }

                var token = TensorPrimitives.IndexOfMax<float>(batch.Logits[r]);
                if (token == _ids.ThinkEnd)
                {
                    end[r] = ReasoningEnd.Finished;
                    scoring[r] = true;
                }
                else if (_ids.EndOfText.Contains(token))
                {
                    end[r] = ReasoningEnd.EndOfText;
                    continue;
                }
                else if (generated[r].Count >= budget)
                {
                    end[r] = ReasoningEnd.Budget;
                    continue;
                }
                else if (deadline is { } d && _time.GetUtcNow() >= d)
                {
                    end[r] = ReasoningEnd.Deadline;
                    continue;
                }
                else
                {
                    generated[r].Add(token);
                }

                next[r] = token;
                feeding = true;
            }

            if (!feeding)
            {
                break;
            }

            RunBatch(() => batch.Step(next), cancellationToken);
        }

        var decode = _time.GetElapsedTime(decodeStarted) / rows;
        var traces = new JudgeTrace[rows];
        for (var r = 0; r < rows; r++)
        {
            string reasoning;
            int[] scored;
            float logitTrue, logitFalse;
            if (end[r] == ReasoningEnd.Finished)
            {
                reasoning = Tokenizer.Decode(generated[r]);
                scored = [_ids.ThinkEnd];
                (logitTrue, logitFalse) = scores[r]!.Value;
            }
            else
            {
                reasoning = Rank1Prompt.CutToLastSentence(Tokenizer.Decode(generated[r])).Trim();
                var suffix = reasoning.Length == 0 ? "\n" : $"\n{reasoning}\n";
                scored = [.. Tokenizer.EncodeText(suffix), _ids.ThinkEnd];
                using var alone = new DecodeState(_lm, runOptions, batch.ExtractPinnedRow(r, prompts[r].Length), prompts[r].Length);
                Run(alone, scored, cancellationToken);
                (logitTrue, logitFalse) = (alone.Logits[_ids.True], alone.Logits[_ids.False]);
            }

            var score = Sigmoid((double)logitTrue - logitFalse);
            traces[r] = new JudgeTrace(new Rank1Judgement(score, score >= 0.5, reasoning, generated[r].Count, end[r]!.Value, prompts[r].Length, prefill, decode),
                prompts[r], generated[r], scored, logitTrue, logitFalse);
        }

        return traces;
    }

    private static void RunBatch(Action step, CancellationToken cancellationToken)
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

    /// <summary>Tokens that every prompt starts with, leaving at least one token of each to feed (its logits come from its own last token).</summary>
    internal static int SharedPrefixLength(IReadOnlyList<int[]> prompts)
    {
        if (prompts.Count == 0)
        {
            return 0;
        }

        var shared = prompts.Min(p => p.Length) - 1;
        foreach (var p in prompts.Skip(1))
        {
            var i = 0;
            while (i < shared && p[i] == prompts[0][i])
            {
                i++;
            }

            shared = i;
        }

        return Math.Max(shared, 0);
    }

    private int Budget(JudgeSettings? settings)
    {
        var budget = settings?.MaxThinkTokens ?? _defaultBudget;
        return budget >= 0 ? budget : throw new ArgumentOutOfRangeException(nameof(settings), budget, "MaxThinkTokens must be 0 or more.");
    }

    /// <summary>From a fed prompt: reason greedily until &lt;/think&gt;, end of text, the budget or the deadline, then score.</summary>
    private JudgeTrace Reason(DecodeState state, IReadOnlyList<int> prompt, TimeSpan prefill, int budget, DateTimeOffset? deadline, CancellationToken cancellationToken)
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
                var next = TensorPrimitives.IndexOfMax<float>(state.Logits);
                if (next == _ids.ThinkEnd)
                {
                    end = ReasoningEnd.Finished;
                    break;
                }

                if (_ids.EndOfText.Contains(next))
                {
                    end = ReasoningEnd.EndOfText;
                    break;
                }

                if (generated.Count >= budget)
                {
                    end = ReasoningEnd.Budget;
                    break;
                }

                if (deadline is { } d && _time.GetUtcNow() >= d)
                {
                    end = ReasoningEnd.Deadline;
                    break;
                }

                generated.Add(next);
                Run(state, [next], cancellationToken);
            }

            string reasoning;
            int[] scored;
            if (end == ReasoningEnd.Finished)
            {
                reasoning = Tokenizer.Decode(generated);
                scored = [_ids.ThinkEnd];
            }
            else
            {
                // As the reference: prompt + "\n" + reasoning cut to its last sentence + "\n" + </think>. We continue from
                // the pinned prompt cache rather than re-encoding the prompt.
                reasoning = Rank1Prompt.CutToLastSentence(Tokenizer.Decode(generated)).Trim();
                var suffix = reasoning.Length == 0 ? "\n" : $"\n{reasoning}\n";
                scored = [.. Tokenizer.EncodeText(suffix), _ids.ThinkEnd];
                state.Restore(afterPrompt);
            }

            Run(state, scored, cancellationToken);
            var logitTrue = state.Logits[_ids.True];
            var logitFalse = state.Logits[_ids.False];
            var score = Sigmoid((double)logitTrue - logitFalse);
            var judgement = new Rank1Judgement(score, score >= 0.5, reasoning, generated.Count, end, prompt.Count, prefill, _time.GetElapsedTime(decodeStarted));
            return new JudgeTrace(judgement, prompt, generated, scored, logitTrue, logitFalse);
        }
        finally
        {
            state.Unpin(afterPrompt);
        }
    }

    /// <summary>P(true) / (P(true) + P(false)) = sigmoid(lt - lf), computed without overflow for any logit gap.</summary>
    internal static double Sigmoid(double x)
    {
        if (x >= 0)
        {
            return 1.0 / (1.0 + Math.Exp(-x));
        }

        var e = Math.Exp(x);
        return e / (1.0 + e);
    }

    private static void Run(DecodeState state, int[] tokens, CancellationToken cancellationToken)
    {
        try
        {
            state.Step(tokens);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The judgement was cancelled during a model step.", cancellationToken);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _lm.Dispose();
}

/// <summary>What one judgement fed the model, for tests and diagnostics.</summary>
internal sealed record JudgeTrace(Rank1Judgement Judgement, IReadOnlyList<int> Prompt, IReadOnlyList<int> Generated, IReadOnlyList<int> Scored, float LogitTrue, float LogitFalse);

/// <summary>The token ids Rank1 needs, read from the model folder (never hard-coded).</summary>
internal sealed record Rank1TokenIds(int ThinkStart, int ThinkEnd, int True, int False, IReadOnlySet<int> EndOfText)
{
    public static Rank1TokenIds From(ModelTokenizer tokenizer, ModelFolder folder, ModelSignature signature)
    {
        var file = folder.TokenizerPath;
        var thinkStart = tokenizer.FindAddedToken("<think>")
            ?? throw new ModelLoadException($"{file}: no added token \"<think>\" (a Rank1 checkpoint adds <think> and </think> to the tokenizer).");
        var thinkEnd = tokenizer.FindAddedToken("</think>")
            ?? throw new ModelLoadException($"{file}: no added token \"</think>\" (a Rank1 checkpoint adds <think> and </think> to the tokenizer).");
        var yes = tokenizer.FindSingleToken(" true") ?? throw new ModelLoadException($"{file}: \" true\" is not a single token (Rank1 scores the single tokens \" true\" and \" false\").");
        var no = tokenizer.FindSingleToken(" false") ?? throw new ModelLoadException($"{file}: \" false\" is not a single token (Rank1 scores the single tokens \" true\" and \" false\").");
        var eos = new HashSet<int>(folder.EosTokenIds);
        foreach (var t in new[] { "<|endoftext|>", "<|im_end|>" })
        {
            if (tokenizer.FindAddedToken(t) is { } id)
            {
                eos.Add(id);
            }
        }

        if (signature.VocabularySize is { } v && tokenizer.VocabularySize > v)
        {
            throw new ModelLoadException($"{file}: the tokenizer has ids up to {tokenizer.VocabularySize - 1} but the model's logits have {v} entries: tokenizer and graph do not belong together.");
        }

        eos.ExceptWith([thinkStart, thinkEnd, yes, no]);
        return new Rank1TokenIds(thinkStart, thinkEnd, yes, no, eos);
    }
}
