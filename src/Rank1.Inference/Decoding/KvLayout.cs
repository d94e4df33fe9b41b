using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rank1.Inference.Decoding;

/// <summary>How the rows of a batch sit in one KV cache, which is decided by where the graph writes a new token's keys and values.</summary>
internal enum KvLayout
{
    /// <summary>
    /// Graphs that append the new positions after the past (Optimum's <c>Concat</c> attention, with position ids): every
    /// row ends at the last column and is padded on the left, the attention mask hides the padding, positions are fed.
    /// </summary>
    RightAligned,

    /// <summary>
    /// Graphs whose attention writes each row's new positions right after that row's own past, at the length the mask
    /// gives it (<c>GroupQueryAttention</c>: its <c>seqlens_k</c> is the mask's row sum minus one, its
    /// <c>total_sequence_length</c> the mask's width): every row starts at column 0 and is padded on the right.
    /// </summary>
    LeftAligned,
}

/// <summary>
/// Finds a graph's <see cref="KvLayout"/> by running it once: one token after a past of two columns with the mask
/// [1, 0, 1]. A graph that appends writes the token's keys at column 2 and leaves column 1 as the past had it (zero);
/// one that writes at the mask's count (GroupQueryAttention) writes them at column 1 and leaves column 2 zero. Reading
/// the behaviour instead of the operator names holds for any graph ONNX Runtime can run.
/// </summary>
internal static class KvLayoutProbe
{
    /// <summary>The layout, or null when the graph has no attention mask or the run says neither (then it decodes one row at a time).</summary>
    public static KvLayout? Detect(CausalLm lm)
    {
        var sig = lm.Signature;
        if (sig.AttentionMask is null || lm.ContextLength < 3)
        {
            return null;
        }

        using var runOptions = new RunOptions();
        var past = KvTensors.Allocate(sig, 1, 2);
        OrtValue[]? presents = null;
        try
        {
            // Token 1 rather than 0: a padding id may have an all-zero embedding.
            long token = Math.Min(1, (sig.VocabularySize ?? 2) - 1);
            presents = Run(lm, runOptions, past, [[token]], [[1, 0, 1]], out _);
            if (KvTensors.Width(presents) != 3)
            {
                return null;
            }

            var atCount = !ColumnIsZero(sig, presents[0], 1);
            var atEnd = !ColumnIsZero(sig, presents[0], 2);
            return (atCount, atEnd) switch
            {
                (true, false) => KvLayout.LeftAligned,
                (false, true) => KvLayout.RightAligned,
                _ => null,
            };
        }
        catch (OnnxRuntimeException)
        {
            return null; // a graph that refuses a holed mask cannot be batched with padding either
        }
        finally
        {
            KvTensors.Dispose(presents);
            KvTensors.Dispose(past);
        }
    }

    /// <summary>
    /// Whether the graph keeps, in its logits, the two promises the left-aligned batch relies on beyond where a new key
    /// goes: (1) at batch 2, a row ignores the columns past its own count (filled with garbage here) and gives the
    /// logits it gives alone, while a longer row decodes beside it; (2) two new tokens after a past give the logits of
    /// two one-token steps (the rest of a prompt after the shared prefix is fed that way). ONNX Runtime's DirectML
    /// GroupQueryAttention, for one, takes every past as empty when several tokens are fed, failing (2).
    /// </summary>
    public static bool KeepsLeftAlignedContract(CausalLm lm) => LeftAlignedContractBreach(lm) is null;

    /// <summary>
    /// Null when the graph keeps <see cref="KeepsLeftAlignedContract"/>'s two promises; otherwise which one it broke,
    /// with the distance measured and the tolerance (for the load's warning).
    /// </summary>
    public static string? LeftAlignedContractBreach(CausalLm lm) => LeftAlignedContractBreach(lm, exactBatching: true, out _);

    /// <summary>
    /// As <see cref="LeftAlignedContractBreach(CausalLm)"/>, where a batched row may differ from the same row alone
    /// beyond the graph's precision when <paramref name="exactBatching"/> is false and the difference is only the
    /// kernels' rounding (<see cref="OwnRowsOnly"/>): then the contract holds and <paramref name="rounding"/> says how
    /// far the rows landed (for the load's log). With <paramref name="exactBatching"/>, a breach that is only rounding
    /// says so and names the setting that batches it anyway.
    /// </summary>
    public static string? LeftAlignedContractBreach(CausalLm lm, bool exactBatching, out string? rounding)
    {
        string? found = null;
        var breach = WithProbeSteps(lm, (runOptions, caches, p) =>
        {
            var sig = lm.Signature;
            Track(caches, Run(lm, runOptions, p.AfterA, [[p.B, p.C]], [[1, 1, 1]], out var bcAfterA));
            // What a kernel that drops the past computes: the two tokens alone.
            Track(caches, Run(lm, runOptions, p.Empty, [[p.B, p.C]], [[1, 1]], out var bcWithoutPast));
            if (!CloserThanWithoutPast(sig, bcAfterA[0], p.CAfterAb, bcWithoutPast[0]))
            {
                return $"two new tokens after a past give logits that land {MaxAbsDiff(bcAfterA[0], p.CAfterAb):g3} away from two one-token steps "
                    + $"(tolerance {Precision(sig, p.CAfterAb):g3}, or a tenth of the {MaxAbsDiff(bcWithoutPast[0], p.CAfterAb):g3} that dropping the past moves them)";
            }

            return BatchOfTwoBreach(lm, runOptions, caches, KvLayout.LeftAligned, p, exactBatching, out found);
        });
        rounding = breach is null ? found : null;
        return breach;
    }

    /// <summary>
    /// The batch check of <see cref="LeftAlignedContractBreach(CausalLm, bool, out string?)"/> for a graph that appends a
    /// new token after the past and takes position ids (Optimum's), whose rows are right-aligned: at batch 2, each row,
    /// padded on the left, gives the logits it gives alone. Null when it does (or, without <paramref name="exactBatching"/>,
    /// when only the kernels' rounding sets them apart, which <paramref name="rounding"/> then says); otherwise why not.
    /// </summary>
    public static string? RightAlignedBatchBreach(CausalLm lm, bool exactBatching, out string? rounding)
    {
        string? found = null;
        var breach = WithProbeSteps(lm, (runOptions, caches, p) => BatchOfTwoBreach(lm, runOptions, caches, KvLayout.RightAligned, p, exactBatching, out found));
        rounding = breach is null ? found : null;
        return breach;
    }

    /// <summary>Tokens a, b, c and one row's decode of them, from which the checks build their batches and compare with.</summary>
    /// <param name="A">Token a.</param>
    /// <param name="B">Token b.</param>
    /// <param name="C">Token c.</param>
    /// <param name="Empty">An empty cache.</param>
    /// <param name="AfterA">The cache after a.</param>
    /// <param name="AfterAb">The cache after a b.</param>
    /// <param name="BAfterA">The logits of b after a.</param>
    /// <param name="CAfterAb">The logits of c after a b.</param>
    private sealed record ProbeSteps(long A, long B, long C, OrtValue[] Empty, OrtValue[] AfterA, OrtValue[] AfterAb, float[] BAfterA, float[] CAfterAb);

    /// <summary>
    /// Runs one row's decode of a, b, c (<see cref="ProbeSteps"/>) and then <paramref name="check"/>, which may add
    /// caches to dispose; every cache is disposed after, and ONNX Runtime refusing a step is a breach.
    /// </summary>
    private static string? WithProbeSteps(CausalLm lm, Func<RunOptions, List<OrtValue[]>, ProbeSteps, string?> check)
    {
        var sig = lm.Signature;
        if (sig.AttentionMask is null || lm.ContextLength < 4)
        {
            return "the graph has no attention mask or a context under 4 positions";
        }

        using var runOptions = new RunOptions();
        var caches = new List<OrtValue[]>(12);
        try
        {
            long a = 1, b = Math.Min(2, (sig.VocabularySize ?? 3) - 1), c = Math.Min(3, (sig.VocabularySize ?? 4) - 1);
            var empty = Track(caches, KvTensors.Allocate(sig, 1, 0));
            var afterA = Track(caches, Run(lm, runOptions, empty, [[a]], [[1]], out _));
            var afterAb = Track(caches, Run(lm, runOptions, afterA, [[b]], [[1, 1]], out var bAfterA));
            Track(caches, Run(lm, runOptions, afterAb, [[c]], [[1, 1, 1]], out var cAfterAb));
            return check(runOptions, caches, new ProbeSteps(a, b, c, empty, afterA, afterAb, bAfterA[0], cAfterAb[0]));
        }
        catch (OnnxRuntimeException ex)
        {
            return $"ONNX Runtime refused the probe's step ({ex.Message})";
        }
        finally
        {
            foreach (var cache in caches)
            {
                KvTensors.Dispose(cache);
            }
        }
    }

    /// <summary>
    /// Two rows in one cache as <paramref name="layout"/> places them, row 0 "a b" then c, row 1 "a" then b, the columns
    /// outside each row garbage: null when each row's logits land within the graph's precision of the same row's alone
    /// (<see cref="ProbeSteps"/>' c after a b, b after a), or, without <paramref name="exactBatching"/>, when only rounding sets them apart
    /// (<see cref="OwnRowsOnly"/>; <paramref name="rounding"/> says how far); otherwise why not.
    /// </summary>
    private static string? BatchOfTwoBreach(CausalLm lm, RunOptions runOptions, List<OrtValue[]> caches, KvLayout layout, ProbeSteps p, bool exactBatching, out string? rounding)
    {
        rounding = null;
        var sig = lm.Signature;
        var pair = Pair.Of(layout);
        float[][] alone = [p.CAfterAb, p.BAfterA];
        Track(caches, Run(lm, runOptions, Mixed(sig, caches, pair, p.AfterAb, p.AfterA, Garbage), [[p.C], [p.B]], pair.Mask, out var batched));
        var far = Enumerable.Range(0, 2).Select(r => (Distance: MaxAbsDiff(batched[r], alone[r]), Tolerance: Precision(sig, alone[r])))
            .FirstOrDefault(x => !(x.Distance <= x.Tolerance));
        if (far == default)
        {
            return null;
        }

        var over = $"at batch 2, a row's logits land {far.Distance:g3} away from the same row's alone (tolerance {far.Tolerance:g3})";
        var ownOnly = OwnRowsOnly(lm, runOptions, caches, pair, p, batched, alone);
        if (ownOnly is not null)
        {
            return $"{over}; {ownOnly}";
        }

        if (exactBatching)
        {
            return $"{over}. Each row's logits depend on its own tokens only, so this is the kernels' rounding at batch 2 (as ONNX Runtime's "
                + "MatMulNBits with int8 activations gives on some CPUs at blocks of 64 and more): Rank1:Model:ExactBatching=false batches this graph within it";
        }

        rounding = $"{over}, only by the kernels' rounding: each row's logits depend on its own tokens only";
        return null;
    }

    /// <summary>
    /// Where the probe's two rows sit: the cache's width, the column row 1's one position starts at (row 0's two start at
    /// 0), and the mask of the step that feeds each row one token. Left-aligned: width 3, both from column 0, the mask
    /// one wider than the cache (the graph writes at each row's count); right-aligned: width 2, row 1 at column 1 after
    /// one column of padding, the new token appended after the cache.
    /// </summary>
    private sealed record Pair(int Width, int Row1Start, int[][] Mask)
    {
        public static Pair Of(KvLayout layout) => layout == KvLayout.LeftAligned
            ? new Pair(3, 0, [[1, 1, 1, 0], [1, 1, 0, 0]])
            : new Pair(2, 1, [[1, 1, 1], [0, 1, 1]]);
    }

    /// <summary>
    /// Null when the batched rows' logits are a function of each row's own tokens alone, so that what sets them apart
    /// from the rows alone is the rounding of a kernel whose order of summing depends on how many rows it is given (ONNX
    /// Runtime's <c>MatMulNBits</c> with int8 activations at blocks of 64 or more computes rows in pairs and an odd row
    /// on its own, one unit in the last place apart, which the next node's int8 rounding of its input can make a step):
    /// (1) bit for bit the same logits with other garbage in the columns past each row's count, (2) each row's bit for
    /// bit the same beside another token of the other row, and (3) each row within a tenth of how far it lands from alone when its past is
    /// dropped. Otherwise which of the three failed: a row that reads its padding or its neighbour is not rounding.
    /// </summary>
    private static string? OwnRowsOnly(CausalLm lm, RunOptions runOptions, List<OrtValue[]> caches, Pair pair, ProbeSteps past, float[][] batched, float[][] alone)
    {
        var sig = lm.Signature;
        var (b, c) = (past.B, past.C);
        Track(caches, Run(lm, runOptions, Mixed(sig, caches, pair, past.AfterAb, past.AfterA, -5f / 3 * Garbage, shift: 3), [[c], [b]], pair.Mask, out var otherGarbage));
        if (!otherGarbage[0].AsSpan().SequenceEqual(batched[0]) || !otherGarbage[1].AsSpan().SequenceEqual(batched[1]))
        {
            return "a row's logits change with what the columns outside its own positions hold";
        }

        // Each row beside another token of the other row: after it (row 1 changed) and before it (row 0 changed).
        Track(caches, Run(lm, runOptions, Mixed(sig, caches, pair, past.AfterAb, past.AfterA, Garbage), [[c], [c]], pair.Mask, out var otherAfter));
        Track(caches, Run(lm, runOptions, Mixed(sig, caches, pair, past.AfterAb, past.AfterA, Garbage), [[b], [b]], pair.Mask, out var otherBefore));
        if (!otherAfter[0].AsSpan().SequenceEqual(batched[0]) || !otherBefore[1].AsSpan().SequenceEqual(batched[1]))
        {
            return "a row's logits change with the row beside it";
        }

        Track(caches, Run(lm, runOptions, past.Empty, [[c]], [[1]], out var cWithoutPast));
        Track(caches, Run(lm, runOptions, past.Empty, [[b]], [[1]], out var bWithoutPast));
        float[][] withoutPast = [cWithoutPast[0], bWithoutPast[0]];
        for (var r = 0; r < 2; r++)
        {
            var (distance, dropped) = (MaxAbsDiff(batched[r], alone[r]), MaxAbsDiff(withoutPast[r], alone[r]));
            if (!(distance <= 0.1f * dropped))
            {
                return $"a row lands over a tenth of the {dropped:g3} that dropping its past moves it";
            }
        }

        return null;
    }

    /// <summary>The scale of the garbage the probe writes into the columns past each row's count.</summary>
    private const float Garbage = 0.75f;

    /// <summary>
    /// A cache of two rows placed as <paramref name="pair"/> says: row 0 <paramref name="afterAb"/>'s two columns, row 1
    /// <paramref name="afterA"/>'s one; every other column garbage of <paramref name="garbage"/>'s scale (<see cref="Scribble"/>).
    /// </summary>
    private static OrtValue[] Mixed(Model.ModelSignature sig, List<OrtValue[]> caches, Pair pair, OrtValue[] afterAb, OrtValue[] afterA, float garbage, int shift = 0)
    {
        var mixed = Track(caches, KvTensors.Allocate(sig, 2, pair.Width));
        Scribble(mixed, garbage, shift);
        KvTensors.CopyColumns(sig, afterAb, 0, 0, mixed, 0, 0, 2);
        KvTensors.CopyColumns(sig, afterA, 0, 0, mixed, 1, pair.Row1Start, 1);
        return mixed;
    }

    private static OrtValue[] Track(List<OrtValue[]> caches, OrtValue[] cache)
    {
        caches.Add(cache);
        return cache;
    }

    /// <summary>One step of <paramref name="ids"/> (rows × new tokens) after <paramref name="past"/>, left-aligned; <paramref name="last"/>: each row's logits at its last new token.</summary>
    private static OrtValue[] Run(CausalLm lm, RunOptions runOptions, OrtValue[] past, long[][] ids, int[][] mask, out float[][] last)
    {
        var sig = lm.Signature;
        int rows = ids.Length, seq = ids[0].Length, width = mask[0].Length;
        using var binding = lm.Session.CreateIoBinding();
        var owned = new List<OrtValue>(4);
        try
        {
            var flatIds = ids.SelectMany(r => r).ToArray();
            owned.Add(sig.InputIdsType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(flatIds, [rows, seq])
                : OrtValue.CreateTensorValueFromMemory(flatIds.Select(i => (int)i).ToArray(), [rows, seq]));
            binding.BindInput(sig.InputIds, owned[^1]);
            var flatMask = mask.SelectMany(r => r).ToArray();
            owned.Add(sig.AttentionMaskType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(flatMask.Select(m => (long)m).ToArray(), [rows, width])
                : OrtValue.CreateTensorValueFromMemory(flatMask, [rows, width]));
            binding.BindInput(sig.AttentionMask!, owned[^1]);
            if (sig.PositionIds is not null)
            {
                var positions = mask.SelectMany(m => Enumerable.Range(m.Sum() - seq, seq).Select(p => (long)p)).ToArray();
                owned.Add(OrtValue.CreateTensorValueFromMemory(positions, [rows, seq]));
                binding.BindInput(sig.PositionIds, owned[^1]);
            }

            if (sig.UseCacheBranch is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new[] { true }, [1]));
                binding.BindInput(sig.UseCacheBranch, owned[^1]);
            }

            var read = new float[rows][];
            var presents = lm.RunStep(binding, runOptions, past, logits =>
            {
                var shape = logits.GetTensorTypeAndShape().Shape;
                int positions = (int)shape[1], vocab = (int)shape[2];
                for (var r = 0; r < rows; r++)
                {
                    read[r] = new float[vocab];
                    lm.CopyLogitsRow(logits, ((r * positions) + positions - 1) * vocab, vocab, read[r]);
                }
            });
            last = read;
            return presents;
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
    /// Fills every element with finite values no real key or value has: element i gets ((i + <paramref name="shift"/>) mod 7 − 3)
    /// × <paramref name="scale"/> (two patterns of different scales and shifts differ at every element).
    /// </summary>
    private static void Scribble(OrtValue[] cache, float scale, int shift)
    {
        foreach (var tensor in cache)
        {
            var bytes = tensor.GetTensorMutableRawData();
            if (tensor.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16)
            {
                var half = MemoryMarshal.Cast<byte, Half>(bytes);
                for (var i = 0; i < half.Length; i++)
                {
                    half[i] = (Half)((((i + shift) % 7) - 3) * scale);
                }
            }
            else
            {
                var single = MemoryMarshal.Cast<byte, float>(bytes);
                for (var i = 0; i < single.Length; i++)
                {
                    single[i] = (((i + shift) % 7) - 3) * scale;
                }
            }
        }
    }

    /// <summary>
    /// A several-token step after a past against one-token steps: equal up to the graph's precision, or (where
    /// <c>MatMulNBits</c> with int8 activations rounds a several-row step differently from a one-row step, and 24 random
    /// layers amplify it: 2.5 of 87 on the 0.5B-shaped builder int4 graph) within a tenth of how far the same tokens
    /// without their past land (112 there): a kernel that drops the past is still told apart by an order of magnitude.
    /// </summary>
    private static bool CloserThanWithoutPast(Model.ModelSignature sig, float[] actual, float[] expected, float[] withoutPast)
    {
        var d = MaxAbsDiff(actual, expected);
        return d <= Precision(sig, expected) || (float.IsFinite(d) && d <= 0.1f * MaxAbsDiff(withoutPast, expected));
    }

    private static float MaxAbsDiff(float[] a, float[] b)
    {
        var worst = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            var d = MathF.Abs(a[i] - b[i]);
            worst = float.IsNaN(d) ? float.PositiveInfinity : MathF.Max(worst, d);
        }

        return worst;
    }

    /// <summary>The graph's precision: 1e-3 (fp32 cache) or 2e-2 (fp16) of 1 + the largest magnitude.</summary>
    private static float Precision(Model.ModelSignature sig, float[] expected) =>
        (sig.KvType == TensorElementType.Float16 ? 2e-2f : 1e-3f) * (1 + expected.Max(MathF.Abs));

    /// <summary>Whether every head's <paramref name="column"/> of a [1, kvHeads, width, headSize] tensor is all zero bytes.</summary>
    private static bool ColumnIsZero(Model.ModelSignature sig, OrtValue tensor, int column)
    {
        var width = KvTensors.Width([tensor]);
        var headBytes = sig.HeadSize * KvTensors.ElementSize(sig);
        var data = tensor.GetTensorMutableRawData();
        for (var h = 0; h < sig.KvHeads; h++)
        {
            if (data.Slice(((h * width) + column) * headBytes, headBytes).ContainsAnyExcept((byte)0))
            {
                return false;
            }
        }

        return true;
    }
}
