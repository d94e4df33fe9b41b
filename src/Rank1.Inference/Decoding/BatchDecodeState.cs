using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rank1.Inference.Decoding;

/// <summary>
/// Several sequences decoded together, one token per row per step, so that each step reads the weights once for all
/// rows (decoding is memory-bandwidth bound). Rows join (<see cref="Admit"/>) and leave (<see cref="Remove"/>) between
/// steps, so sequences of different requests share steps (continuous batching). The rows sit in the cache as the
/// graph's <see cref="KvLayout"/> wants: right-aligned and padded on the left, the mask hiding the padding and every
/// row fed its own positions (Optimum graphs), or left-aligned and padded on the right, every row's length given by
/// its mask's count (GroupQueryAttention graphs). Either way each row computes what it would alone. The cache is as
/// wide as the longest row: it grows by one column per step and is re-packed, narrower, when rows leave. Left-aligned,
/// it holds up to <see cref="Headroom"/> columns more, and a step writes its new column into it in place instead of
/// copying the whole cache into a new one (see <see cref="Step"/>).
/// </summary>
internal sealed class BatchDecodeState : IDisposable
{
    private readonly CausalLm _lm;
    private readonly RunOptions _runOptions;
    private readonly OrtIoBinding _binding;
    private readonly PrefixCache _prefixCache;
    private readonly KvLayout _layout;
    private readonly List<int> _length = [];          // tokens in each row's cache
    private readonly List<long> _nextPosition = [];
    private readonly List<float[]> _logits = [];
    private readonly Stack<float[]> _spareLogits = new(); // rows' logits buffers kept for the next rows (see RentLogits)
    private readonly List<int> _greedy = [];
    private readonly List<int> _next = [];             // a step's tokens, read by its token callback
    private long[] _inputs = [];                        // a run's ids, positions and mask (see Inputs)
    private int[] _inputsInt32 = [];                    // the same, for graphs that take them as int32
    private int[] _stepGreedy = [];
    private OrtValue[]? _past;                         // [rows, kvHeads, Capacity, headSize] per layer and K/V; null with no rows

    /// <param name="lm">The model.</param>
    /// <param name="runOptions">Options of every model run (cancellation).</param>
    /// <param name="prefixPositions">Most positions one prefix kept in the prefix cache holds (<see cref="Prompt.PromptEncoder.SharedPrefixCap"/>).</param>
    public BatchDecodeState(CausalLm lm, RunOptions runOptions, int prefixPositions)
    {
        _lm = lm;
        _runOptions = runOptions;
        _binding = lm.Session.CreateIoBinding();
        _prefixCache = new PrefixCache(lm.Signature, prefixPositions);
        _layout = lm.BatchLayout ?? throw new InvalidOperationException($"{lm.Folder.GraphPath}: this graph decodes one row at a time (no batch layout).");
    }

    public int Rows => _length.Count;

    /// <summary>Columns of the cache (the longest row; shorter rows are padded).</summary>
    public int Width { get; private set; }

    /// <summary>
    /// Columns a left-aligned cache is allocated beyond its width, so that the next steps write in place: it is copied
    /// into a wider one once per this many steps instead of at every step.
    /// </summary>
    internal const int Headroom = 32;

    /// <summary>Columns allocated: <see cref="Width"/>, plus up to <see cref="Headroom"/> when left-aligned.</summary>
    internal int Capacity => _past is null ? 0 : KvTensors.Width(_past);

    /// <summary>
    /// Per row, the logits of its last position after the latest admission or step; after a step that keeps them for
    /// some rows only (<see cref="Step"/>), the others' are stale. The arrays are the batch's: a row's array is reused
    /// by a later row once it leaves (<see cref="Remove"/>, then <see cref="Admit"/> or <see cref="Join"/>), so read a
    /// row's logits before the next admission.
    /// </summary>
    public IReadOnlyList<float[]> Logits => _logits;

    /// <summary>
    /// Per row, its greedy next token after the latest admission or step: <see cref="Rank1Scorer.Next"/> of its last
    /// position's logits, which <see cref="Logits"/> holds only where the step kept them.
    /// </summary>
    public IReadOnlyList<int> Greedy => _greedy;

    /// <summary>KV bytes held now: rows × <see cref="Capacity"/> × <see cref="BatchCache.BytesPerPosition"/>.</summary>
    public long CacheBytes => (long)Rows * Capacity * BatchCache.BytesPerPosition(_lm.Signature);

    /// <summary>Prefixes shorter than this are not worth computing apart or keeping.</summary>
    public const int MinPrefix = PrefixCache.MinPrefix;

    /// <summary>Tokens of the prefix the latest admission computed once for all its rows (0: none).</summary>
    public int LastPrefix { get; private set; }

    /// <summary>Tokens of that prefix taken from the prefix cache of an earlier admission (0: none).</summary>
    public int LastReusedPrefix { get; private set; }

    /// <summary>
    /// Adds rows for <paramref name="prompts"/> and prefills them; their logits follow the existing rows'.
    /// <paramref name="sharedPrefix"/> is how many tokens every prompt starts with (less than each prompt's length).
    /// When several rows share at least <see cref="MinPrefix"/> of them, those tokens are computed once, kept in the
    /// prefix cache, and copied to every new row before the rest of each prompt is fed. Whatever part of them an
    /// earlier admission computed (the instruction and the query of an earlier window, for example) is taken from
    /// the cache instead of being computed again.
    /// </summary>
    public void Admit(IReadOnlyList<int[]> prompts, int sharedPrefix)
    {
        var n = prompts.Count;
        if (n == 0)
        {
            return;
        }

        if (sharedPrefix < 0 || sharedPrefix >= prompts.Min(p => p.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(sharedPrefix), sharedPrefix, "The shared prefix must leave at least one token of every prompt to feed.");
        }

        var longest = prompts.Max(p => p.Length);
        if (Math.Max(Width, longest) > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The batch would reach {Math.Max(Width, longest)} positions, past the model's context length of {_lm.ContextLength}.");
        }

        var logits = Enumerable.Range(0, n).Select(_ => RentLogits()).ToArray();
        var greedy = new int[n];
        var (cached, reuse) = _prefixCache.Find(prompts[0].AsSpan(0, sharedPrefix));
        var compute = n >= 2 && sharedPrefix >= MinPrefix;
        sharedPrefix = compute ? sharedPrefix : reuse;
        LastPrefix = sharedPrefix;
        LastReusedPrefix = reuse;
        var mergedWidth = Math.Max(Width, longest);
        OrtValue[]? merged = null;
        OrtValue[]? prefix = null;
        try
        {
            prefix = sharedPrefix > 0 ? Prefix(prompts[0], sharedPrefix, cached, reuse) : null;
            if (_layout == KvLayout.RightAligned)
            {
                // The new rows are prefilled before the merged cache is allocated, and the prefix expanded to them is let go
                // after the first chunk: the admission holds the batch's cache with the new rows' prefill, then with the
                // merged cache and that prefill, never the four together.
                var (presents, pads) = PrefillPadded(prompts, prefix, sharedPrefix, logits, greedy);
                try
                {
                    Dispose(prefix);
                    prefix = null;
                    merged = Widen(Rows + n, mergedWidth);
                    for (var r = 0; r < n; r++)
                    {
                        var at = mergedWidth - prompts[r].Length;
                        CopyColumns(presents, r, 0, merged, Rows + r, at, sharedPrefix);
                        CopyColumns(presents, r, sharedPrefix + pads[r], merged, Rows + r, at + sharedPrefix, prompts[r].Length - sharedPrefix);
                    }
                }
                finally
                {
                    Dispose(presents);
                }
            }
            else
            {
                // One row's prefill at a time, each copied into the merged cache as it ends.
                merged = Widen(Rows + n, mergedWidth);
                for (var r = 0; r < n; r++)
                {
                    greedy[r] = PrefillAlone(prompts[r], prefix, sharedPrefix, merged, Rows + r, logits[r]);
                }
            }

            Dispose(_past);
            _past = merged;
            merged = null;
            Width = mergedWidth;
            for (var r = 0; r < n; r++)
            {
                _length.Add(prompts[r].Length);
                _nextPosition.Add(prompts[r].Length);
                _logits.Add(logits[r]);
                _greedy.Add(greedy[r]);
            }

            logits = [];
        }
        finally
        {
            Dispose(prefix);
            Dispose(merged);
            ReturnLogits(logits); // not admitted (a failure or cancellation): kept for the next rows
        }
    }

    /// <summary>
    /// Adds one row whose prompt was prefilled apart (<see cref="AsidePrefill"/>): <paramref name="kv"/> holds its
    /// <paramref name="length"/> positions from column 0, as a single-row decode leaves them, and <paramref name="logits"/>
    /// its last position's logits (taken over as the row's: a buffer from <see cref="RentLogits"/>, not copied),
    /// <paramref name="greedy"/> their greedy token. Its columns are copied into the cache where the layout puts a row of
    /// that length.
    /// </summary>
    public void Join(OrtValue[] kv, int length, float[] logits, int greedy)
    {
        if (Math.Max(Width, length) > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The batch would reach {Math.Max(Width, length)} positions, past the model's context length of {_lm.ContextLength}.");
        }

        var width = Math.Max(Width, length);
        var merged = Widen(Rows + 1, width);
        try
        {
            CopyColumns(kv, 0, 0, merged, Rows, Start(length, width), length);
            Dispose(_past);
            _past = merged;
            merged = null;
            Width = width;
            _length.Add(length);
            _nextPosition.Add(length);
            _logits.Add(logits);
            _greedy.Add(greedy);
        }
        finally
        {
            Dispose(merged);
        }
    }

    /// <summary>
    /// The cache a row prefilled apart starts from: the longest prefix of its prompt the prefix cache holds (leaving at
    /// least one token to feed), as one row from column 0, and its length (0: an empty cache).
    /// </summary>
    public (OrtValue[] Past, int Length) CachedPrefix(int[] prompt)
    {
        var (cached, reuse) = _prefixCache.Find(prompt.AsSpan(0, prompt.Length - 1));
        var past = Allocate(1, reuse);
        if (reuse > 0)
        {
            CopyColumns(cached!, 0, 0, past, 0, 0, reuse);
        }

        return (past, reuse);
    }

    /// <summary>A cache of <paramref name="rows"/> rows and <paramref name="width"/> columns holding the rows already here at their positions (the new ones follow them).</summary>
    private OrtValue[] Widen(int rows, int width)
    {
        var merged = AllocateCache(rows, width);
        for (var r = 0; r < Rows; r++)
        {
            CopyColumns(_past!, r, Start(_length[r], Width), merged, r, Start(_length[r], width), _length[r]);
        }

        return merged;
    }

    /// <summary>Column of a row's first position: right-aligned rows end at the last column, left-aligned ones start at 0.</summary>
    private int Start(int length, int width) => _layout == KvLayout.RightAligned ? width - length : 0;

    /// <summary>
    /// The cache of the first <paramref name="length"/> tokens of <paramref name="prompt"/> as one row: the cached part
    /// (<paramref name="reuse"/> tokens) copied, the rest computed and remembered in the prefix cache.
    /// </summary>
    private OrtValue[] Prefix(int[] prompt, int length, OrtValue[]? cached, int reuse)
    {
        var past = Allocate(1, reuse);
        if (reuse > 0)
        {
            CopyColumns(cached!, 0, 0, past, 0, 0, reuse);
        }

        if (length == reuse)
        {
            return past;
        }

        try
        {
            var once = RunModel(past, 1, length - reuse, (_, j) => prompt[reuse + j], (_, _) => true, (_, j) => reuse + j, null, null);
            _prefixCache.Remember(prompt[..length], once);
            return once;
        }
        finally
        {
            Dispose(past);
        }
    }

    /// <summary>
    /// Right-aligned rows: the new rows' parts after the prefix fed in one padded run, each padded on the left to the
    /// longest ([prefix][padding][suffix], the mask hiding the padding). Returns their caches and each row's padding;
    /// the prefix expanded to the rows is released once the first chunk has run.
    /// </summary>
    private (OrtValue[] Presents, int[] Pads) PrefillPadded(IReadOnlyList<int[]> prompts, OrtValue[]? prefix, int sharedPrefix, float[][] logits, int[] greedy)
    {
        var n = prompts.Count;
        var past = prefix is null ? EmptyPast(n) : Expand(prefix, n);
        var width = prompts.Max(p => p.Length) - sharedPrefix;
        var pads = prompts.Select(p => width - (p.Length - sharedPrefix)).ToArray();
        var presents = RunModel(past, n, width,
            (r, j) => j < pads[r] ? 0 : prompts[r][sharedPrefix + j - pads[r]],
            (r, j) => j < sharedPrefix || j - sharedPrefix >= pads[r],
            (r, j) => j < pads[r] ? 0 : sharedPrefix + j - pads[r],
            logits, greedy, ownPast: true);
        return (presents, pads);
    }

    /// <summary>
    /// A left-aligned row: its part after the prefix fed alone, continuing from the prefix's cache, then copied into row
    /// <paramref name="row"/> of <paramref name="merged"/> from column 0. Alone because GroupQueryAttention takes several
    /// new tokens after a past only for a batch of one ("batch_size must be 1 when sequence_length > 1 and past context
    /// is given", ONNX Runtime's group_query_attention_helper.h): the rows share the decode steps, not the prefill.
    /// Returns the row's greedy next token.
    /// </summary>
    private int PrefillAlone(int[] prompt, OrtValue[]? prefix, int sharedPrefix, OrtValue[] merged, int row, float[] logits)
    {
        var past = prefix ?? EmptyPast(1);
        OrtValue[]? presents = null;
        try
        {
            var greedy = new int[1];
            presents = RunModel(past, 1, prompt.Length - sharedPrefix, (_, j) => prompt[sharedPrefix + j], (_, _) => true, (_, j) => sharedPrefix + j, [logits], greedy);
            CopyColumns(presents, 0, 0, merged, row, 0, prompt.Length);
            return greedy[0];
        }
        finally
        {
            Dispose(presents);
            if (!ReferenceEquals(past, prefix))
            {
                Dispose(past);
            }
        }
    }

    /// <summary>
    /// Feeds one token per row. With <paramref name="keepLogits"/>, only the rows it names (indices into the current rows)
    /// have their <see cref="Logits"/> written; every row's <see cref="Greedy"/> is.
    /// </summary>
    public void Step(ReadOnlySpan<int> next, Func<int, bool>? keepLogits = null)
    {
        if (next.Length != Rows || Rows == 0)
        {
            throw new ArgumentException($"One token per row is needed ({Rows} rows).", nameof(next));
        }

        if (Width + 1 > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The batch would reach {Width + 1} positions, past the model's context length of {_lm.ContextLength}.");
        }

        _next.Clear();
        _next.AddRange(next);
        if (_stepGreedy.Length < Rows)
        {
            _stepGreedy = new int[Rows];
        }

        var greedy = _stepGreedy;
        var width = Width + 1;
        if (_layout == KvLayout.RightAligned)
        {
            // The new token goes to the last column, after the padding: a new cache one column wider.
            var presents = RunModel(_past!, Rows, 1, (r, _) => _next[r], (r, j) => j >= width - 1 - _length[r], (r, _) => _nextPosition[r], _logits, greedy, keepLogits: keepLogits);
            Dispose(_past);
            _past = presents;
        }
        else
        {
            // The graph writes it right after the row's own positions, at the mask's count (GroupQueryAttention's
            // seqlens_k + 1), whatever the columns: into this cache, in place, while it has a free column (the mask as
            // wide as the rows' positions, the cache wider); when it has none, first into one Headroom columns wider.
            if (width > Capacity)
            {
                var grown = Widen(Rows, width);
                Dispose(_past);
                _past = grown;
            }

            RunModelOnce(_past!, Rows, 1, (r, _) => _next[r], (r, j) => j <= _length[r], (r, _) => _nextPosition[r], _logits, greedy, keepLogits, width);
        }

        Width = width;
        for (var r = 0; r < Rows; r++)
        {
            _length[r]++;
            _nextPosition[r]++;
            _greedy[r] = greedy[r];
        }
    }

    /// <summary>Removes rows (indices into the current rows); the cache is re-packed as wide as the longest remaining row.</summary>
    public void Remove(IReadOnlyCollection<int> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var keep = Enumerable.Range(0, Rows).Where(r => !rows.Contains(r)).ToArray();
        var width = keep.Length == 0 ? 0 : keep.Max(r => _length[r]);
        OrtValue[]? packed = null;
        if (keep.Length > 0)
        {
            packed = AllocateCache(keep.Length, width);
            for (var i = 0; i < keep.Length; i++)
            {
                CopyColumns(_past!, keep[i], Start(_length[keep[i]], Width), packed, i, Start(_length[keep[i]], width), _length[keep[i]]);
            }
        }

        Dispose(_past);
        _past = packed;
        Width = width;
        foreach (var r in rows.OrderDescending())
        {
            _length.RemoveAt(r);
            _nextPosition.RemoveAt(r);
            _spareLogits.Push(_logits[r]);
            _logits.RemoveAt(r);
            _greedy.RemoveAt(r);
        }
    }

    /// <summary>A copy of the first <paramref name="length"/> cached positions of one row, as the past of a single-sequence decode.</summary>
    public OrtValue[] ExtractRow(int row, int length)
    {
        if (length > _length[row])
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Row {row} holds {_length[row]} positions.");
        }

        var result = Allocate(1, length);
        CopyColumns(_past!, row, Start(_length[row], Width), result, 0, 0, length);
        return result;
    }

    /// <summary>
    /// Runs the model over <paramref name="past"/> ([rows, heads, pastWidth, headSize]) feeding n tokens per row; returns
    /// the presents. <paramref name="attend"/> takes absolute cache columns, <paramref name="token"/> and <paramref name="position"/>
    /// the index among the n fed tokens. Fed in chunks of <see cref="CausalLm.PrefillChunk"/> positions over all rows, so
    /// the logits the graph returns stay bounded whatever the prompts' length; only the last chunk's are read.
    /// </summary>
    /// <remarks>With <paramref name="ownPast"/> it disposes <paramref name="past"/> as soon as the first chunk has run (or on failure).</remarks>
    private OrtValue[] RunModel(OrtValue[] past, int rows, int n, Func<int, int, int> token, Func<int, int, bool> attend, Func<int, int, long> position, IReadOnlyList<float[]>? logits,
        int[]? greedy, bool ownPast = false, Func<int, bool>? keepLogits = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var chunk = Math.Max(1, CausalLm.PrefillChunk / rows);
        var current = past;
        var owned = ownPast; // current is ours to dispose
        try
        {
            for (var offset = 0; offset < n; offset += chunk)
            {
                var from = offset;
                var length = Math.Min(chunk, n - offset);
                var last = from + length == n;
                var presents = RunModelOnce(current, rows, length, (r, j) => token(r, from + j), attend, (r, j) => position(r, from + j), last ? logits : null, last ? greedy : null, keepLogits);
                if (owned)
                {
                    Dispose(current);
                }

                current = presents;
                owned = true;
            }

            owned = false;
            return current;
        }
        finally
        {
            if (owned)
            {
                Dispose(current);
            }
        }
    }

    /// <summary>
    /// One run of <see cref="RunModel"/>. With <paramref name="inPlaceWidth"/>, the presents are written into
    /// <paramref name="past"/> itself (<see cref="CausalLm.RunStep"/>), which is returned, and the mask is that many
    /// columns wide (the positions in use after the run, at most the past's width) instead of the past's width + n.
    /// With <paramref name="keepLogits"/>, only the rows it names have their logits copied (the others' greedy token is
    /// read from ONNX Runtime's output in place).
    /// </summary>
    private OrtValue[] RunModelOnce(OrtValue[] past, int rows, int n, Func<int, int, int> token, Func<int, int, bool> attend, Func<int, int, long> position, IReadOnlyList<float[]>? logits,
        int[]? greedy, Func<int, bool>? keepLogits = null, int? inPlaceWidth = null)
    {
        var sig = _lm.Signature;
        var pastWidth = KvTensors.Width(past);
        var total = inPlaceWidth ?? pastWidth + n;
        var owned = new List<OrtValue>(5);
        try
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            long[] shape = [rows, n];
            var count = rows * n;
            var maskCount = sig.AttentionMask is null ? 0 : rows * total;
            var (ids, positions, mask) = Inputs(count, maskCount);
            var idSpan = ids.Span;
            var positionSpan = positions.Span;
            for (var r = 0; r < rows; r++)
            {
                for (var j = 0; j < n; j++)
                {
                    idSpan[(r * n) + j] = token(r, j);
                    positionSpan[(r * n) + j] = position(r, j);
                }
            }

            owned.Add(sig.InputIdsType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ids, shape)
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, Int32Copy(ids, 0), shape));
            _binding.BindInput(sig.InputIds, owned[^1]);

            if (sig.AttentionMask is not null)
            {
                var maskSpan = mask.Span;
                for (var r = 0; r < rows; r++)
                {
                    for (var j = 0; j < total; j++)
                    {
                        maskSpan[(r * total) + j] = attend(r, j) ? 1 : 0;
                    }
                }

                owned.Add(sig.AttentionMaskType == TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mask, [rows, total])
                    : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, Int32Copy(mask, sig.InputIdsType == TensorElementType.Int64 ? 0 : count), [rows, total]));
                _binding.BindInput(sig.AttentionMask, owned[^1]);
            }

            if (sig.PositionIds is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, positions, shape));
                _binding.BindInput(sig.PositionIds, owned[^1]);
            }

            if (sig.UseCacheBranch is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new[] { pastWidth > 0 }, [1]));
                _binding.BindInput(sig.UseCacheBranch, owned[^1]);
            }

            return _lm.RunStep(_binding, _runOptions, past, value =>
            {
                if (logits is null)
                {
                    return;
                }

                // Positions per row: n as exported, 1 where the output layer runs on the last position only.
                var shape = value.GetTensorTypeAndShape().Shape;
                int vocab = (int)shape[^1], fed = shape.Length == 3 ? (int)shape[1] : 1;
                for (var r = 0; r < rows; r++)
                {
                    var offset = ((r * fed) + (fed - 1)) * vocab;
                    var next = keepLogits is null || keepLogits(r) ? _lm.CopyLogitsRow(value, offset, vocab, logits[r]) : _lm.GreedyOfRow(value, offset, vocab, logits[r]);
                    if (greedy is not null)
                    {
                        greedy[r] = next;
                    }
                }
            }, inPlaceWidth is not null);
        }
        finally
        {
            foreach (var v in owned)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>
    /// A run's inputs: ids and positions (<paramref name="count"/> each) and the mask (<paramref name="maskCount"/>),
    /// slices of one array the batch keeps for its lifetime and grows by half again what is asked (a step asks for a
    /// column more per row than the one before), so that a step allocates none: a new
    /// mask of rows × width longs per step was a third of what a window of 100 passages allocated beside its logits
    /// (docs/benchmarks.md, "Allocations of a window"), and on the large-object heap from 85 KB (8 rows of 1,300
    /// positions). ONNX Runtime reads them during the run only, and the values made over them are disposed before the
    /// next run.
    /// </summary>
    private (Memory<long> Ids, Memory<long> Positions, Memory<long> Mask) Inputs(int count, int maskCount)
    {
        var need = (2 * count) + maskCount;
        if (_inputs.Length < need)
        {
            _inputs = new long[need + (need / 2)];
        }

        var sig = _lm.Signature;
        var needInt32 = (sig.InputIdsType == TensorElementType.Int64 ? 0 : count) + (sig.AttentionMaskType == TensorElementType.Int64 ? 0 : maskCount);
        if (_inputsInt32.Length < needInt32)
        {
            _inputsInt32 = new int[needInt32 + (needInt32 / 2)];
        }

        return (_inputs.AsMemory(0, count), _inputs.AsMemory(count, count), _inputs.AsMemory(2 * count, maskCount));
    }

    /// <summary><paramref name="values"/> as int32, for graphs that take them so, at <paramref name="at"/> in the batch's int32 inputs (sized by <see cref="Inputs"/>).</summary>
    private Memory<int> Int32Copy(Memory<long> values, int at)
    {
        var into = _inputsInt32.AsMemory(at, values.Length);
        var from = values.Span;
        var to = into.Span;
        for (var i = 0; i < from.Length; i++)
        {
            to[i] = (int)from[i];
        }

        return into;
    }

    /// <summary>
    /// A logits buffer for a new row (admitted, or prefilled apart to join): one a row that left gave back, else a new
    /// one. A row of 151,936 logits is 594 KB, on the large-object heap: one new buffer per admitted row was most of a
    /// window's allocations (119 MiB a window of 100 passages on the tiny model, two full collections;
    /// docs/benchmarks.md, "Allocations of a window"). The batch keeps as many as it has held rows at once, for its
    /// lifetime; nothing is returned to a pool shared with other batches. The engine's batch (<see cref="BatchScheduler"/>)
    /// lives as long as the engine, a new one after a failed step, and holds up to <see cref="Rank1EngineOptions.MaxBatch"/>
    /// rows, so with <see cref="BatchRun"/>'s forced-end buffer it keeps MaxBatch + 1 rows of logits: 5.3 MB at the
    /// default 8 on a vocabulary of 151,936.
    /// </summary>
    internal float[] RentLogits()
    {
        var vocab = _lm.Signature.VocabularySize ?? 0;
        return _spareLogits.TryPop(out var spare) && spare.Length == vocab ? spare : new float[vocab];
    }

    private void ReturnLogits(float[][] buffers)
    {
        foreach (var b in buffers)
        {
            _spareLogits.Push(b);
        }
    }

    private OrtValue[] EmptyPast(int rows) => Allocate(rows, 0);

    private OrtValue[] Allocate(int rows, int width) => KvTensors.Allocate(_lm.Signature, rows, width);

    /// <summary>The batch's own cache for rows of up to <paramref name="width"/> positions: left-aligned, with <see cref="Headroom"/> free columns (within the context length).</summary>
    private OrtValue[] AllocateCache(int rows, int width) =>
        Allocate(rows, _layout == KvLayout.LeftAligned ? Math.Min(width + Headroom, _lm.ContextLength) : width);

    private OrtValue[] Expand(OrtValue[] one, int rows) => KvTensors.Expand(_lm.Signature, one, rows);

    private void CopyColumns(OrtValue[] from, int fromRow, int fromColumn, OrtValue[] to, int toRow, int toColumn, int count) =>
        KvTensors.CopyColumns(_lm.Signature, from, fromRow, fromColumn, to, toRow, toColumn, count);

    private static void Dispose(OrtValue[]? values) => KvTensors.Dispose(values);

    public void Dispose()
    {
        Dispose(_past);
        _past = null;
        _prefixCache.Dispose();
        _binding.Dispose();
    }
}
