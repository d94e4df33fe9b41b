using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rank1.Inference.Decoding;

/// <summary>
/// Several sequences decoded together, one token per row per step, so that each step reads the weights once for all
/// rows (decoding is memory-bandwidth bound). Prompts are padded on the left; the attention mask hides the padding
/// and every row keeps its own positions, so each row computes what it would alone. Rows that are finished are fed
/// a placeholder token whose results are ignored.
/// </summary>
internal sealed class BatchDecodeState : IDisposable
{
    private readonly CausalLm _lm;
    private readonly RunOptions _runOptions;
    private readonly OrtIoBinding _binding;
    private readonly List<bool>[] _mask;
    private readonly long[] _nextPosition;
    private OrtValue[] _past;
    private OrtValue[]? _pinned;

    public BatchDecodeState(CausalLm lm, RunOptions runOptions, int rows)
    {
        _lm = lm;
        _runOptions = runOptions;
        _binding = lm.Session.CreateIoBinding();
        var sig = lm.Signature;
        _past = new OrtValue[sig.Layers * 2];
        long[] empty = [rows, sig.KvHeads, 0, sig.HeadSize];
        for (var i = 0; i < _past.Length; i++)
        {
            _past[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, sig.KvType, empty);
        }

        _mask = Enumerable.Range(0, rows).Select(_ => new List<bool>()).ToArray();
        _nextPosition = new long[rows];
        Logits = Enumerable.Range(0, rows).Select(_ => new float[sig.VocabularySize ?? 0]).ToArray();
    }

    public int Rows => _mask.Length;

    /// <summary>Positions in the cache (padding included), the same for every row.</summary>
    public int Width => _mask[0].Count;

    /// <summary>Per row, the logits of its last position after the latest step.</summary>
    public float[][] Logits { get; }

    /// <summary>Feeds the prompts, left-padded to the longest.</summary>
    public void Prefill(IReadOnlyList<int[]> prompts)
    {
        var width = prompts.Max(p => p.Length);
        var tokens = new int[Rows, width];
        for (var r = 0; r < Rows; r++)
        {
            var pad = width - prompts[r].Length;
            for (var j = 0; j < width; j++)
            {
                tokens[r, j] = j < pad ? 0 : prompts[r][j - pad];
                _mask[r].Add(j >= pad);
            }
        }

        Run(tokens, width, prompts.Select(p => p.Length).ToArray());
    }

    /// <summary>Feeds one token per row.</summary>
    public void Step(ReadOnlySpan<int> next)
    {
        var tokens = new int[Rows, 1];
        for (var r = 0; r < Rows; r++)
        {
            tokens[r, 0] = next[r];
            _mask[r].Add(true);
        }

        Run(tokens, 1, null);
    }

    /// <summary>Keeps the current cache alive (for <see cref="ExtractPinnedRow"/> later).</summary>
    public void Pin() => _pinned = _past;

    /// <summary>
    /// A copy of one row's pinned cache without its left padding, as the past of a single-sequence decode:
    /// <paramref name="length"/> positions ending at the pinned cache's end.
    /// </summary>
    public OrtValue[] ExtractPinnedRow(int row, int length)
    {
        var source = _pinned ?? throw new InvalidOperationException("Nothing is pinned.");
        var sig = _lm.Signature;
        var element = sig.KvType == TensorElementType.Float16 ? 2 : 4;
        var result = new OrtValue[source.Length];
        for (var i = 0; i < source.Length; i++)
        {
            var shape = source[i].GetTensorTypeAndShape().Shape; // [rows, heads, width, headSize]
            long heads = shape[1], width = shape[2], headSize = shape[3];
            result[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, sig.KvType, [1, heads, length, headSize]);
            var from = source[i].GetTensorMutableRawData();
            var to = result[i].GetTensorMutableRawData();
            var block = (int)(length * headSize * element);
            for (var h = 0; h < heads; h++)
            {
                var start = (int)((((row * heads) + h) * width + (width - length)) * headSize * element);
                from.Slice(start, block).CopyTo(to.Slice((int)(h * length * headSize * element), block));
            }
        }

        return result;
    }

    private void Run(int[,] tokens, int n, int[]? promptLengths)
    {
        var sig = _lm.Signature;
        var total = Width;
        if (total > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The batch would reach {total} positions, past the model's context length of {_lm.ContextLength}.");
        }

        var owned = new List<OrtValue>(5);
        try
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            long[] shape = [Rows, n];
            var ids64 = new long[Rows * n];
            for (var r = 0; r < Rows; r++)
            {
                for (var j = 0; j < n; j++)
                {
                    ids64[(r * n) + j] = tokens[r, j];
                }
            }

            owned.Add(sig.InputIdsType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(ids64, shape)
                : OrtValue.CreateTensorValueFromMemory(ids64.Select(x => (int)x).ToArray(), shape));
            _binding.BindInput(sig.InputIds, owned[^1]);

            if (sig.AttentionMask is not null)
            {
                var mask = new long[Rows * total];
                for (var r = 0; r < Rows; r++)
                {
                    for (var j = 0; j < total; j++)
                    {
                        mask[(r * total) + j] = _mask[r][j] ? 1 : 0;
                    }
                }

                owned.Add(sig.AttentionMaskType == TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(mask, [Rows, total])
                    : OrtValue.CreateTensorValueFromMemory(mask.Select(x => (int)x).ToArray(), [Rows, total]));
                _binding.BindInput(sig.AttentionMask, owned[^1]);
            }

            // Each row's positions count its own tokens only; padding gets position 0 (it is masked anyway).
            var positions = new long[Rows * n];
            for (var r = 0; r < Rows; r++)
            {
                var pad = promptLengths is null ? 0 : n - promptLengths[r];
                for (var j = 0; j < n; j++)
                {
                    positions[(r * n) + j] = j < pad ? 0 : _nextPosition[r]++;
                }
            }

            if (sig.PositionIds is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(positions, shape));
                _binding.BindInput(sig.PositionIds, owned[^1]);
            }

            if (sig.UseCacheBranch is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new[] { promptLengths is null }, [1]));
                _binding.BindInput(sig.UseCacheBranch, owned[^1]);
            }

            var next = _lm.RunStep(_binding, _runOptions, _past, logits => ReadLastRows(logits, n));
            ReleasePast();
            _past = next;
        }
        finally
        {
            foreach (var v in owned)
            {
                v.Dispose();
            }
        }
    }

    private void ReadLastRows(OrtValue logits, int n)
    {
        var vocab = (int)logits.GetTensorTypeAndShape().Shape[^1];
        for (var r = 0; r < Rows; r++)
        {
            _lm.CopyLogitsRow(logits, ((r * n) + (n - 1)) * vocab, vocab, Logits[r]);
        }
    }

    private void ReleasePast()
    {
        if (ReferenceEquals(_past, _pinned))
        {
            return;
        }

        foreach (var v in _past)
        {
            v.Dispose();
        }
    }

    public void Dispose()
    {
        ReleasePast();
        if (_pinned is not null)
        {
            foreach (var v in _pinned)
            {
                v.Dispose();
            }
        }

        _binding.Dispose();
    }
}
