using Microsoft.ML.OnnxRuntime;

namespace Rank1.Inference.Decoding;

/// <summary>
/// A row joining a batch whose rows are decoding, with a prompt longer than <see cref="CausalLm.PrefillChunk"/>: it is
/// prefilled apart, in its own single-row <see cref="DecodeState"/>, one chunk of <see cref="CausalLm.PrefillChunk"/>
/// positions between two of the batch's decode steps (the chunks a judgement alone feeds), so the rows already decoding
/// wait for one chunk per step instead of the whole prompt. When its prompt is in, its cache joins the batch
/// (<see cref="BatchDecodeState.Join"/>). It starts from the prefix cache when that holds the start of its prompt.
/// </summary>
internal sealed class AsidePrefill(BatchRow row, DecodeState state) : IDisposable
{
    public BatchRow Row { get; } = row;

    /// <summary>Prompt tokens in its cache so far.</summary>
    public int Fed => state.Length;

    /// <summary>Its whole prompt is in the cache.</summary>
    public bool Done => state.Length == Row.Prompt.Length;

    /// <summary>
    /// Starts the prefill of <paramref name="row"/> from what <paramref name="batch"/>'s prefix cache holds of its prompt.
    /// Its logits are written into a buffer of the batch's (<see cref="BatchDecodeState.RentLogits"/>), which the batch
    /// takes over as the row's when it joins; a row that never joins leaves it to the garbage collector.
    /// </summary>
    public static AsidePrefill Start(CausalLm lm, RunOptions runOptions, BatchDecodeState batch, BatchRow row)
    {
        var (past, length) = batch.CachedPrefix(row.Prompt);
        return new AsidePrefill(row, new DecodeState(lm, runOptions, past, length, batch.RentLogits()));
    }

    /// <summary>Feeds the next chunk of the prompt.</summary>
    public void Next(CancellationToken cancellationToken)
    {
        var chunk = Row.Prompt.AsSpan(state.Length, Math.Min(CausalLm.PrefillChunk, Row.Prompt.Length - state.Length)).ToArray();
        BatchRun.Guard(() => state.Step(chunk), cancellationToken);
    }

    /// <summary>
    /// Adds the prefilled row to <paramref name="batch"/>: its cache is copied, its logits buffer taken over (this state
    /// is disposed next and never stepped again).
    /// </summary>
    public void JoinInto(BatchDecodeState batch) => batch.Join(state.Cache, state.Length, state.Logits, state.Greedy);

    public void Dispose() => state.Dispose();
}
