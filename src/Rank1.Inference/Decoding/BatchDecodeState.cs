using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rank1.Inference.Decoding;

/// <summary>
/// Several sequences decoded together, one token per row per step, so that each step reads the weights once for all
/// rows (decoding is memory-bandwidth bound). Rows join (<see cref="Admit"/>) and leave (<see cref="Remove"/>) between
/// steps, so sequences of different requests share steps (continuous batching). Every row's tokens sit right-aligned
/// in the cache, padded on the left; the attention mask hides the padding and every row keeps its own positions, so
/// each row computes what it would alone. The cache is as wide as the longest row: it grows by one column per step
/// and is re-packed, narrower, when rows leave.
/// </summary>
internal sealed class BatchDecodeState : IDisposable
{
    private readonly CausalLm _lm;
    private readonly RunOptions _runOptions;
    private readonly OrtIoBinding _binding;
    private readonly int _element;
    private readonly PrefixCache _prefixCache;
    private readonly List<int> _length = [];          // tokens in each row's cache
    private readonly List<long> _nextPosition = [];
    private readonly List<float[]> _logits = [];
    private OrtValue[]? _past;                         // [rows, kvHeads, Width, headSize] per layer and K/V; null with no rows

    public BatchDecodeState(CausalLm lm, RunOptions runOptions)
    {
        _lm = lm;
        _runOptions = runOptions;
        _binding = lm.Session.CreateIoBinding();
        _element = KvTensors.ElementSize(lm.Signature);
        _prefixCache = new PrefixCache(lm.Signature);
    }

    public int Rows => _length.Count;

    /// <summary>Columns of the cache (the longest row; shorter rows are padded on the left).</summary>
    public int Width { get; private set; }

    /// <summary>Per row, the logits of its last position after the latest step or admission.</summary>
    public IReadOnlyList<float[]> Logits => _logits;

    /// <summary>KV bytes held now: rows × width × layers × 2 × kv heads × head size × element size.</summary>
    public long CacheBytes => (long)Rows * Width * _lm.Signature.Layers * 2 * _lm.Signature.KvHeads * _lm.Signature.HeadSize * _element;

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

        var logits = Enumerable.Range(0, n).Select(_ => new float[_lm.Signature.VocabularySize ?? 0]).ToArray();
        var (cached, reuse) = _prefixCache.Find(prompts[0].AsSpan(0, sharedPrefix));
        var compute = n >= 2 && sharedPrefix >= MinPrefix;
        sharedPrefix = compute ? sharedPrefix : reuse;
        LastPrefix = sharedPrefix;
        LastReusedPrefix = reuse;
        OrtValue[] past = EmptyPast(sharedPrefix > 0 ? 1 : n);
        try
        {
            if (sharedPrefix > 0)
            {
                if (reuse > 0)
                {
                    Dispose(past);
                    past = Allocate(1, reuse);
                    CopyColumns(cached!, 0, 0, past, 0, 0, reuse);
                }

                if (sharedPrefix > reuse)
                {
                    var prefix = prompts[0];
                    var once = RunModel(past, 1, sharedPrefix - reuse, (_, j) => prefix[reuse + j], (_, _) => true, (_, j) => reuse + j, null);
                    Dispose(past);
                    past = once;
                    _prefixCache.Remember(prompts[0][..sharedPrefix], past);
                }

                var one = past;
                past = Expand(one, n);
                Dispose(one);
            }

            // Each new row's part after the prefix, padded on the left to the longest: [prefix][padding][suffix].
            var width = longest - sharedPrefix;
            var pads = prompts.Select(p => width - (p.Length - sharedPrefix)).ToArray();
            var presents = RunModel(past, n, width,
                (r, j) => j < pads[r] ? 0 : prompts[r][sharedPrefix + j - pads[r]],
                (r, j) => j < sharedPrefix || j - sharedPrefix >= pads[r],
                (r, j) => j < pads[r] ? 0 : sharedPrefix + j - pads[r],
                logits);
            Dispose(past);
            past = presents;

            // Merge: every row right-aligned in a cache as wide as the longest row, new rows after the old ones.
            var merged = Allocate(Rows + n, Math.Max(Width, longest));
            var mergedWidth = Math.Max(Width, longest);
            for (var r = 0; r < Rows; r++)
            {
                CopyColumns(_past!, r, Width - _length[r], merged, r, mergedWidth - _length[r], _length[r]);
            }

            for (var r = 0; r < n; r++)
            {
                var at = mergedWidth - prompts[r].Length;
                CopyColumns(past, r, 0, merged, Rows + r, at, sharedPrefix);
                CopyColumns(past, r, sharedPrefix + pads[r], merged, Rows + r, at + sharedPrefix, prompts[r].Length - sharedPrefix);
            }

            Dispose(_past);
            _past = merged;
            Width = mergedWidth;
            foreach (var (p, l) in prompts.Zip(logits))
            {
                _length.Add(p.Length);
                _nextPosition.Add(p.Length);
                _logits.Add(l);
            }
        }
        finally
        {
            Dispose(past);
        }
    }

    /// <summary>Feeds one token per row.</summary>
    public void Step(ReadOnlySpan<int> next)
    {
        if (next.Length != Rows || Rows == 0)
        {
            throw new ArgumentException($"One token per row is needed ({Rows} rows).", nameof(next));
        }

        if (Width + 1 > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The batch would reach {Width + 1} positions, past the model's context length of {_lm.ContextLength}.");
        }

        var tokens = next.ToArray();
        var logits = _logits.ToArray();
        var width = Width + 1;
        var presents = RunModel(_past!, Rows, 1, (r, _) => tokens[r], (r, j) => j >= width - 1 - _length[r], (r, _) => _nextPosition[r], logits);
        Dispose(_past);
        _past = presents;
        Width = width;
        for (var r = 0; r < Rows; r++)
        {
            _length[r]++;
            _nextPosition[r]++;
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
            packed = Allocate(keep.Length, width);
            for (var i = 0; i < keep.Length; i++)
            {
                CopyColumns(_past!, keep[i], Width - _length[keep[i]], packed, i, width - _length[keep[i]], _length[keep[i]]);
            }
        }

        Dispose(_past);
        _past = packed;
        Width = width;
        foreach (var r in rows.OrderDescending())
        {
            _length.RemoveAt(r);
            _nextPosition.RemoveAt(r);
            _logits.RemoveAt(r);
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
        CopyColumns(_past!, row, Width - _length[row], result, 0, 0, length);
        return result;
    }

    /// <summary>
    /// Runs the model over <paramref name="past"/> ([rows, heads, pastWidth, headSize]) feeding n tokens per row; returns
    /// the presents. <paramref name="attend"/> takes absolute cache columns, <paramref name="token"/> and <paramref name="position"/>
    /// the index among the n fed tokens. Fed in chunks of <see cref="CausalLm.PrefillChunk"/> positions over all rows, so
    /// the logits the graph returns stay bounded whatever the prompts' length; only the last chunk's are read.
    /// </summary>
    private OrtValue[] RunModel(OrtValue[] past, int rows, int n, Func<int, int, int> token, Func<int, int, bool> attend, Func<int, int, long> position, float[][]? logits)
    {
        var chunk = Math.Max(1, CausalLm.PrefillChunk / rows);
        if (n <= chunk)
        {
            return RunModelOnce(past, rows, n, token, attend, position, logits);
        }

        var current = past;
        try
        {
            for (var offset = 0; offset < n; offset += chunk)
            {
                var from = offset;
                var length = Math.Min(chunk, n - offset);
                var presents = RunModelOnce(current, rows, length, (r, j) => token(r, from + j), attend, (r, j) => position(r, from + j), from + length == n ? logits : null);
                if (!ReferenceEquals(current, past))
                {
                    Dispose(current);
                }

                current = presents;
            }

            var result = current;
            current = past;
            return result;
        }
        finally
        {
            if (!ReferenceEquals(current, past))
            {
                Dispose(current);
            }
        }
    }

    private OrtValue[] RunModelOnce(OrtValue[] past, int rows, int n, Func<int, int, int> token, Func<int, int, bool> attend, Func<int, int, long> position, float[][]? logits)
    {
        var sig = _lm.Signature;
        var pastWidth = KvTensors.Width(past);
        var total = pastWidth + n;
        var owned = new List<OrtValue>(5);
        try
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            long[] shape = [rows, n];
            var ids = new long[rows * n];
            var positions = new long[rows * n];
            for (var r = 0; r < rows; r++)
            {
                for (var j = 0; j < n; j++)
                {
                    ids[(r * n) + j] = token(r, j);
                    positions[(r * n) + j] = position(r, j);
                }
            }

            owned.Add(sig.InputIdsType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(ids, shape)
                : OrtValue.CreateTensorValueFromMemory(ids.Select(x => (int)x).ToArray(), shape));
            _binding.BindInput(sig.InputIds, owned[^1]);

            if (sig.AttentionMask is not null)
            {
                var mask = new long[rows * total];
                for (var r = 0; r < rows; r++)
                {
                    for (var j = 0; j < total; j++)
                    {
                        mask[(r * total) + j] = attend(r, j) ? 1 : 0;
                    }
                }

                owned.Add(sig.AttentionMaskType == TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(mask, [rows, total])
                    : OrtValue.CreateTensorValueFromMemory(mask.Select(x => (int)x).ToArray(), [rows, total]));
                _binding.BindInput(sig.AttentionMask, owned[^1]);
            }

            if (sig.PositionIds is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(positions, shape));
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

                var vocab = (int)value.GetTensorTypeAndShape().Shape[^1];
                for (var r = 0; r < rows; r++)
                {
                    _lm.CopyLogitsRow(value, ((r * n) + (n - 1)) * vocab, vocab, logits[r]);
                }
            });
        }
        finally
        {
            foreach (var v in owned)
            {
                v.Dispose();
            }
        }
    }

    private OrtValue[] EmptyPast(int rows) => Allocate(rows, 0);

    private OrtValue[] Allocate(int rows, int width) => KvTensors.Allocate(_lm.Signature, rows, width);

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
