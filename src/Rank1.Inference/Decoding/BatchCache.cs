using Rank1.Inference.Model;

namespace Rank1.Inference.Decoding;

/// <summary>
/// The continuous batch's KV cache as admission sees it, and its ceiling. The cache is as wide as its longest row
/// (every row is padded to it: on the left when right-aligned, on the right when left-aligned, see <see cref="KvLayout"/>), so it holds rows × width positions, and a row can grow to its prompt plus
/// its reasoning budget (<see cref="BatchRow.MaxLength"/>) while it decodes. A row joins only while the rows in the
/// batch, with it, fit <see cref="MaxPositions"/> at the longest of their lengths to come; otherwise admission stops
/// (first come, first served: the rows behind it wait too) until rows leave and the batch narrows. A row is always
/// admitted into an empty batch, so nothing waits for ever. Bytes held: positions × <see cref="BytesPerPosition"/>.
/// </summary>
/// <param name="Rows">Rows in the batch (including those taken in this admission).</param>
/// <param name="Width">The longest length any of them can reach.</param>
/// <param name="MaxPositions">The ceiling on rows × width.</param>
internal readonly record struct BatchCache(int Rows, int Width, long MaxPositions)
{
    /// <summary>No ceiling (a batch of one call's rows, whose size its caller chose).</summary>
    public static BatchCache Unbounded => new(0, 0, long.MaxValue);

    /// <summary>One more row that can reach <paramref name="length"/> positions fits the ceiling (always, into an empty batch).</summary>
    public bool Fits(int length) => Rows == 0 || (long)(Rows + 1) * Math.Max(Width, length) <= MaxPositions;

    /// <summary>The batch with that row in it.</summary>
    public BatchCache With(int length) => this with { Rows = Rows + 1, Width = Math.Max(Width, length) };

    /// <summary>KV bytes of one position of one row: layers × (key and value) × KV heads × head size × element size.</summary>
    public static long BytesPerPosition(ModelSignature signature) =>
        (long)signature.Layers * 2 * signature.KvHeads * signature.HeadSize * KvTensors.ElementSize(signature);

    /// <summary>
    /// The ceiling for a model: <paramref name="cacheBytes"/> of KV cache (<see cref="Rank1EngineOptions.MaxBatchCacheMiB"/>;
    /// one copy of it: a step holds the old and the new cache for a moment, an admission also the new rows' prefill, see
    /// docs/reliability.md for the working set), and never more than <paramref name="maxBatch"/> rows of the whole context
    /// (where the budget is larger, it never binds).
    /// </summary>
    public static long MaxPositionsFor(ModelSignature signature, int contextLength, int maxBatch, long cacheBytes) =>
        Math.Min((long)maxBatch * contextLength, cacheBytes / BytesPerPosition(signature));
}
