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
        using var binding = lm.Session.CreateIoBinding();
        var owned = new List<OrtValue>(4);
        var past = KvTensors.Allocate(sig, 1, 2);
        OrtValue[]? presents = null;
        try
        {
            // Token 1 rather than 0: a padding id may have an all-zero embedding.
            var token = Math.Min(1, (sig.VocabularySize ?? 2) - 1);
            owned.Add(sig.InputIdsType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(new long[] { token }, [1, 1])
                : OrtValue.CreateTensorValueFromMemory(new[] { token }, [1, 1]));
            binding.BindInput(sig.InputIds, owned[^1]);
            owned.Add(sig.AttentionMaskType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(new long[] { 1, 0, 1 }, [1, 3])
                : OrtValue.CreateTensorValueFromMemory(new[] { 1, 0, 1 }, [1, 3]));
            binding.BindInput(sig.AttentionMask, owned[^1]);
            if (sig.PositionIds is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new long[] { 1 }, [1, 1]));
                binding.BindInput(sig.PositionIds, owned[^1]);
            }

            if (sig.UseCacheBranch is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new[] { true }, [1]));
                binding.BindInput(sig.UseCacheBranch, owned[^1]);
            }

            presents = lm.RunStep(binding, runOptions, past, static _ => { });
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
            foreach (var v in owned)
            {
                v.Dispose();
            }
        }
    }

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
