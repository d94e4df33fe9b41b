using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Store;

/// <summary>
/// A judgement stored in the reasoning index. <paramref name="Readable"/> false: a document is there under this id, but a
/// field is missing, null or of the wrong type; it is never used, and the next judgement of its key replaces it.
/// </summary>
internal sealed record StoredJudgement(string Id, string ModelId, string PassageHash, double Score, bool Relevant, string Reasoning, int ReasoningTokens, ReasoningEnd End,
    bool Readable = true, StoredRevision? Revision = null)
{
    /// <summary>The document under <paramref name="id"/> that cannot be read as a judgement, at <paramref name="revision"/>.</summary>
    public static StoredJudgement Unreadable(string id, StoredRevision? revision = null) =>
        new(id, string.Empty, string.Empty, 0, false, string.Empty, 0, ReasoningEnd.Finished, Readable: false, Revision: revision);
}

/// <summary>A stored document's revision (<c>_seq_no</c>, <c>_primary_term</c>), for a write that replaces only that revision.</summary>
internal readonly record struct StoredRevision(long SeqNo, long PrimaryTerm);

/// <summary>
/// A judgement that replaces the document of its id, which holds no usable judgement: only at <paramref name="Revision"/>
/// when known (<c>if_seq_no</c>, <c>if_primary_term</c>), so that of two hosts that both found it broken, the second does
/// not overwrite the first's judgement (a 409: already stored).
/// </summary>
internal sealed record Replacing(StoredRevision? Revision);

/// <summary>
/// The reasoning index on the backend, as the window judge sees it (<see cref="IJudgementStore"/>). Reads are one
/// <c>_mget</c> per search window, here; read failures are logged and counted, never thrown into a search. Writes are
/// <see cref="ReasoningStoreWriter"/>'s: queued for its background <c>_bulk</c> writer (<see cref="Enqueue"/>), or
/// written at once (<see cref="WriteAsync"/>, the worker's, before it acknowledges a message). The index set-up is
/// <see cref="ReasoningIndex"/>.
/// </summary>
internal sealed partial class ReasoningStore(BackendClient backend, IOptions<ReasoningStoreOptions> options, ReasoningStoreWriter writer, Rank1Metrics metrics,
    ILogger<ReasoningStore> logger) : IJudgementStore
{
    private readonly ReasoningStoreOptions _options = options.Value;

    public bool Enabled => _options.Enabled;

    /// <summary>
    /// Stored judgements for these ids (missing ones are absent; one that cannot be read is <see cref="StoredJudgement.Unreadable"/>).
    /// Never throws: a failed read is a miss.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, StoredJudgement>(StringComparer.Ordinal);
        if (!Enabled || ids.Count == 0)
        {
            return found;
        }

        try
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(new MgetRequest(ids), BridgeJson.Default.MgetRequest);
            var response = await backend.SendAsync(HttpMethod.Post, $"{_options.Index}/_mget", body, ClusterRequest.Headers(_options.Authorization), cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                if (response.Status != 404)
                {
                    ReadFailed($"HTTP {response.Status}");
                }

                return found;
            }

            foreach (var doc in JsonSerializer.Deserialize(response.Body, BridgeJson.Default.MgetAnswer)?.Docs ?? [])
            {
                if (doc is { Found: true, Id: { } id, Source: { ValueKind: JsonValueKind.Object } source })
                {
                    var revision = doc is { SeqNo: { } seqNo, PrimaryTerm: { } term } ? new StoredRevision(seqNo, term) : (StoredRevision?)null;
                    found[id] = Read(id, source) is { } judgement ? judgement with { Revision = revision } : StoredJudgement.Unreadable(id, revision);
                }
            }
        }
        catch (Exception ex) when (ex is BackendUnavailableException or JsonException)
        {
            ReadFailed(ex.Message);
        }

        return found;
    }

    /// <inheritdoc />
    public void Enqueue(JudgementToStore judgement) => writer.Enqueue(judgement);

    /// <inheritdoc />
    public Task<StoreWriteResult> WriteAsync(IReadOnlyList<JudgementToStore> batch, CancellationToken cancellationToken) => writer.WriteAsync(batch, cancellationToken);

    /// <summary>A stored judgement document, or null (logged and counted as a failed read) when it lacks a field or has one of the wrong type.</summary>
    private StoredJudgement? Read(string id, JsonElement source)
    {
        try
        {
            var d = source.Deserialize(BridgeJson.Default.StoredJudgementDocument);
            if (d is { ModelId: { } modelId, PassageHash: { } passageHash })
            {
                return new StoredJudgement(id, modelId, passageHash, d.Score, d.Relevant, d.Reasoning ?? string.Empty, d.ReasoningTokens ?? 0,
                    ReasoningEnds.TryParse(d.Ended, out var e) ? e : ReasoningEnd.Finished);
            }

            ReadFailed($"stored judgement {id}: model_id or passage_hash is null");
        }
        catch (JsonException ex)
        {
            ReadFailed($"stored judgement {id}: {ex.Message}");
        }

        return null;
    }

    private void ReadFailed(string reason)
    {
        metrics.StoreOperations("read_failed", 1);
        LogStoreFailure(logger, "read", reason);
    }

    /// <summary>A read or write of the reasoning index failed (the writer logs through this too, under the store's category).</summary>
    [LoggerMessage(EventId = 2300, Level = LogLevel.Warning, Message = "Reasoning store {Operation} failed: {Reason}")]
    internal static partial void LogStoreFailure(ILogger logger, string operation, string reason);

    /// <summary>The backend's answer to a failed write, which its warning (2300) names only by status and error types: it may quote a query.</summary>
    [LoggerMessage(EventId = 2301, Level = LogLevel.Debug, Message = "Reasoning store {Operation}: the backend answered HTTP {Status}: {Answer}")]
    internal static partial void LogStoreAnswer(ILogger logger, string operation, int status, string answer);

    /// <summary>A batch of the background writer faulted other than as a store failure: logged with its exception (a fault of ours), the writer going on.</summary>
    [LoggerMessage(EventId = 2302, Level = LogLevel.Error, Message = "Reasoning store write of a batch of {Count} judgements failed unexpectedly; they are not stored (a later search or job judges them again), and the writer goes on")]
    internal static partial void LogBatchFault(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Error, Message = "Reasoning store judgement {Id} cannot be written as JSON; it is not stored (a later search or job judges it again), the rest of its batch is sent")]
    internal static partial void LogUnwritable(ILogger logger, string id, Exception exception);
}
