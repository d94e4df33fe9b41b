using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Model;

namespace Rank1.Inference.Decoding;

/// <summary>
/// The layout of a KV cache outside the graph: one tensor [rows, kvHeads, width, headSize] per layer for the keys and
/// one for the values (the order <see cref="CausalLm.RunStep"/> binds them in), and the column copies that move a
/// row's positions between caches (admission, re-packing, the prefix cache, a row scored alone).
/// </summary>
internal static class KvTensors
{
    /// <summary>Bytes of one cached position of one row in one tensor's head: head size × element size.</summary>
    public static int ElementSize(ModelSignature signature) => signature.KvType == TensorElementType.Float16 ? 2 : 4;

    /// <summary>Zeroed KV tensors [rows, kvHeads, width, headSize] for every layer's keys and values.</summary>
    public static OrtValue[] Allocate(ModelSignature signature, int rows, int width)
    {
        var result = new OrtValue[signature.Layers * 2];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, signature.KvType, [rows, signature.KvHeads, width, signature.HeadSize]);
            result[i].GetTensorMutableRawData().Clear(); // masked columns must hold finite values: 0 × NaN would leak through
        }

        return result;
    }

    /// <summary>Columns of the cache (its third dimension).</summary>
    public static int Width(OrtValue[] kv) => (int)kv[0].GetTensorTypeAndShape().Shape[2];

    /// <summary>One row's cache copied to <paramref name="rows"/> rows.</summary>
    public static OrtValue[] Expand(ModelSignature signature, OrtValue[] one, int rows)
    {
        var width = Width(one);
        var result = Allocate(signature, rows, width);
        for (var r = 0; r < rows; r++)
        {
            CopyColumns(signature, one, 0, 0, result, r, 0, width);
        }

        return result;
    }

    /// <summary>Copies <paramref name="count"/> columns of one row, for every layer, K/V and head.</summary>
    public static void CopyColumns(ModelSignature signature, OrtValue[] from, int fromRow, int fromColumn, OrtValue[] to, int toRow, int toColumn, int count)
    {
        if (count == 0)
        {
            return;
        }

        long heads = signature.KvHeads, headBytes = signature.HeadSize * ElementSize(signature);
        // Every tensor of a cache is as wide (Width): read once per cache, as each read makes a shape object and array.
        long fromWidth = Width(from), toWidth = Width(to);
        for (var i = 0; i < from.Length; i++)
        {
            var source = from[i].GetTensorMutableRawData();
            var target = to[i].GetTensorMutableRawData();
            var block = (int)(count * headBytes);
            for (var h = 0; h < heads; h++)
            {
                var s = (int)(((((fromRow * heads) + h) * fromWidth) + fromColumn) * headBytes);
                var t = (int)(((((toRow * heads) + h) * toWidth) + toColumn) * headBytes);
                source.Slice(s, block).CopyTo(target.Slice(t, block));
            }
        }
    }

    public static void Dispose(OrtValue[]? values)
    {
        if (values is null)
        {
            return;
        }

        foreach (var v in values)
        {
            v.Dispose();
        }
    }
}
