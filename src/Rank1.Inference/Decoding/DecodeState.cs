using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rank1.Inference.Decoding;

/// <summary>
/// One sequence being decoded: its KV cache as ONNX Runtime-owned <see cref="OrtValue"/>s and the logits of its
/// last position. Each <see cref="Step"/> binds the previous step's present tensors as this step's past through IO
/// binding, so the cache never passes through managed arrays; only the last logits row is read. On graphs whose
/// attention writes at the mask's count (<see cref="KvLayout.LeftAligned"/>: GroupQueryAttention), the cache holds up
/// to <see cref="BatchDecodeState.Headroom"/> columns more than its length and a step writes into it in place (as
/// <see cref="BatchDecodeState.Step"/> does), copying it into a wider one only when it is full.
/// </summary>
internal sealed class DecodeState : IDisposable
{
    private readonly CausalLm _lm;
    private readonly RunOptions _runOptions;
    private readonly OrtIoBinding _binding;
    private readonly List<KvSnapshot> _pins = [];
    private readonly Action<OrtValue> _readLastRow; // one delegate for every step, not one per step
    private OrtValue[] _past;
    private bool _keepLogits;

    /// <param name="lm">The model.</param>
    /// <param name="runOptions">Options of every model run (cancellation).</param>
    /// <param name="logits">
    /// The buffer <see cref="Logits"/> is written into, when the caller keeps one for decodes that follow each other
    /// (<see cref="BatchRun"/>'s forced ends); else a new one. Replaced by a new one if not as long as the vocabulary.
    /// </param>
    internal DecodeState(CausalLm lm, RunOptions runOptions, float[]? logits = null)
        : this(lm, runOptions, KvTensors.Allocate(lm.Signature, 1, 0), 0, logits)
    {
    }

    /// <summary>A decode that continues from <paramref name="past"/> (taken over: disposed with this state), <paramref name="length"/> tokens long.</summary>
    internal DecodeState(CausalLm lm, RunOptions runOptions, OrtValue[] past, int length, float[]? logits = null)
    {
        _lm = lm;
        _runOptions = runOptions;
        _binding = lm.Session.CreateIoBinding();
        _past = past;
        Length = length;
        Logits = logits ?? new float[lm.Signature.VocabularySize ?? 0];
        _readLastRow = ReadLastRow;
    }

    /// <summary>The KV cache now (owned by this state): one row, <see cref="Length"/> columns from column 0 (and, on left-aligned graphs, free columns after them).</summary>
    internal OrtValue[] Cache => _past;

    /// <summary>Columns the KV cache is allocated with: <see cref="Length"/>, or more on left-aligned graphs.</summary>
    internal int Capacity => KvTensors.Width(_past);

    /// <summary>Tokens in the KV cache.</summary>
    public int Length { get; private set; }

    /// <summary>
    /// Logits of the last position after the latest <see cref="Step"/> that kept them (length: vocabulary size); a step
    /// that does not leaves them stale.
    /// </summary>
    public float[] Logits { get; private set; }

    /// <summary>The greedy next token after the latest <see cref="Step"/>: <see cref="Rank1Scorer.Next"/> of its last position's logits.</summary>
    public int Greedy { get; private set; }

    /// <summary>
    /// Feeds <paramref name="tokens"/> (a prompt or one generated token) and updates <see cref="Logits"/>. A long prompt
    /// is fed <see cref="CausalLm.PrefillChunk"/> tokens per model call: the graph returns logits for every position it
    /// is fed, so feeding it whole would take memory in proportion to the prompt (positions × vocabulary floats).
    /// Without <paramref name="keepLogits"/> only <see cref="Greedy"/> is updated, read in ONNX Runtime's output in place
    /// (fp32 logits; fp16 ones are converted into <see cref="Logits"/> first), as a batch step reads the rows it does not
    /// score: a reasoning step needs its greedy token only, and copying the row (594 KB of 151,936 logits) at every
    /// step was work for nothing (docs/benchmarks.md, "Allocations of a window").
    /// </summary>
    public void Step(ReadOnlySpan<int> tokens, bool keepLogits = true)
    {
        _keepLogits = keepLogits;
        if (tokens.IsEmpty)
        {
            throw new ArgumentException("At least one token is needed.", nameof(tokens));
        }

        if (Length + tokens.Length > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The sequence would reach {Length + tokens.Length} tokens, past the model's context length of {_lm.ContextLength}.");
        }

        while (tokens.Length > CausalLm.PrefillChunk)
        {
            StepOnce(tokens[..CausalLm.PrefillChunk]);
            tokens = tokens[CausalLm.PrefillChunk..];
        }

        StepOnce(tokens);
    }

    private void StepOnce(ReadOnlySpan<int> tokens)
    {
        var sig = _lm.Signature;
        var n = tokens.Length;
        var total = Length + n;
        if (total > _lm.ContextLength)
        {
            throw new InvalidOperationException($"The sequence would reach {total} tokens, past the model's context length of {_lm.ContextLength}.");
        }

        // In place: the step writes only columns Length.. of the cache, which no pin of this cache may still need.
        var inPlace = _lm.BatchLayout == KvLayout.LeftAligned;
        if (inPlace && (total > KvTensors.Width(_past) || _pins.Exists(p => ReferenceEquals(p.Values, _past) && p.Length > Length)))
        {
            var grown = KvTensors.Allocate(sig, 1, Math.Min(total + BatchDecodeState.Headroom, _lm.ContextLength));
            KvTensors.CopyColumns(sig, _past, 0, 0, grown, 0, 0, Length);
            ReleasePast();
            _past = grown;
        }

        var owned = new List<OrtValue>(4);
        try
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            long[] shape = [1, n];
            if (sig.InputIdsType == TensorElementType.Int64)
            {
                var ids = new long[n];
                for (var i = 0; i < n; i++)
                {
                    ids[i] = tokens[i];
                }

                owned.Add(OrtValue.CreateTensorValueFromMemory(ids, shape));
            }
            else
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(tokens.ToArray(), shape));
            }

            _binding.BindInput(sig.InputIds, owned[^1]);
            if (sig.AttentionMask is not null)
            {
                owned.Add(_lm.AttentionMask(total));
                _binding.BindInput(sig.AttentionMask, owned[^1]);
            }

            if (sig.PositionIds is not null)
            {
                var pos = new long[n];
                for (var i = 0; i < n; i++)
                {
                    pos[i] = Length + i;
                }

                owned.Add(OrtValue.CreateTensorValueFromMemory(pos, shape));
                _binding.BindInput(sig.PositionIds, owned[^1]);
            }

            if (sig.UseCacheBranch is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new[] { Length > 0 }, [1]));
                _binding.BindInput(sig.UseCacheBranch, owned[^1]);
            }

            var next = _lm.RunStep(_binding, _runOptions, _past, _readLastRow, inPlace);
            if (!inPlace)
            {
                ReleasePast();
                _past = next;
            }

            Length = total;
        }
        finally
        {
            foreach (var v in owned)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>Keeps the current KV cache alive so that the decode can later continue from this point (several points may be pinned).</summary>
    public KvSnapshot Pin()
    {
        var pin = new KvSnapshot(_past, Length);
        _pins.Add(pin);
        return pin;
    }

    /// <summary>Releases a pinned point that is no longer needed (its cache lives on while it is the current one).</summary>
    public void Unpin(KvSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (_pins.Remove(snapshot) && !ReferenceEquals(_past, snapshot.Values) && !IsPinned(snapshot.Values))
        {
            snapshot.Dispose();
        }
    }

    /// <summary>Returns the decode to a pinned point: later steps continue from its KV cache.</summary>
    public void Restore(KvSnapshot snapshot)
    {
        ReleasePast();
        _past = snapshot.Values;
        Length = snapshot.Length;
    }

    private void ReadLastRow(OrtValue logits)
    {
        var shape = logits.GetTensorTypeAndShape().Shape;
        var vocab = (int)shape[^1];
        var rows = (int)(shape.Length == 3 ? shape[1] : 1);
        if (Logits.Length != vocab)
        {
            Logits = new float[vocab];
        }

        var offset = (rows - 1) * vocab;
        Greedy = _keepLogits ? _lm.CopyLogitsRow(logits, offset, vocab, Logits) : _lm.GreedyOfRow(logits, offset, vocab, Logits);
    }

    private bool IsPinned(OrtValue[] values) => _pins.Exists(p => ReferenceEquals(p.Values, values));

    private void ReleasePast()
    {
        if (IsPinned(_past))
        {
            return;
        }

        foreach (var v in _past)
        {
            v.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ReleasePast();
        foreach (var values in _pins.Select(p => p.Values).Distinct())
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }

        _pins.Clear();
        _binding.Dispose();
    }
}

/// <summary>A pinned KV cache (see <see cref="DecodeState.Pin"/>); released with the state that pinned it.</summary>
internal sealed class KvSnapshot : IDisposable
{
    internal KvSnapshot(OrtValue[] values, int length)
    {
        Values = values;
        Length = length;
    }

    internal OrtValue[] Values { get; }

    /// <summary>Tokens in the pinned cache.</summary>
    public int Length { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var v in Values)
        {
            v.Dispose();
        }
    }
}
