namespace Rank1.SearchBridge.Store;

/// <summary>
/// What the window judge needs of the reasoning store: read a window's stored judgements, queue new ones for writing (or
/// write them at once, for the precompute worker).
/// <see cref="ReasoningStore"/> is the product's; unit tests give the window judge an in-memory one.
/// </summary>
internal interface IJudgementStore
{
    /// <summary>
    /// Stored judgements for these ids (missing ones are absent; a document that cannot be read is
    /// <see cref="StoredJudgement.Unreadable"/>, for its next judgement to replace it). Never throws: a failed read is a miss.
    /// </summary>
    Task<IReadOnlyDictionary<string, StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken);

    /// <summary>Queues a judgement for writing in the background.</summary>
    void Enqueue(JudgementToStore judgement);

    /// <summary>Writes judgements now; throws <see cref="ReasoningStoreException"/> when the store did not take them.</summary>
    Task<StoreWriteResult> WriteAsync(IReadOnlyList<JudgementToStore> batch, CancellationToken cancellationToken);
}
