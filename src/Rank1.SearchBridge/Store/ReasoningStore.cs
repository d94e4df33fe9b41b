using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Store;

/// <summary>A judgement stored in the reasoning index.</summary>
internal sealed record StoredJudgement(string Id, string ModelId, string PassageHash, double Score, bool Relevant, string Reasoning, int ReasoningTokens, ReasoningEnd End);

/// <summary>A judgement to write.</summary>
internal sealed record JudgementToStore(string Id, JsonObject Document);

/// <summary>What a synchronous write did: judgements newly stored, and judgements that were already there.</summary>
internal readonly record struct StoreWriteResult(int Written, int AlreadyStored);

/// <summary>A write to the reasoning index failed; <see cref="Count"/> judgements were not stored.</summary>
internal sealed class ReasoningStoreException(string message, int count, Exception? inner = null) : Exception(message, inner)
{
    public int Count { get; } = count;
}

/// <summary>
/// The reasoning index on the backend. Reads are one <c>_mget</c> per search window. Writes go through a bounded
/// queue to a background writer that sends batched <c>_bulk</c> <c>create</c> requests: they never delay a
/// response, and a judgement written twice is a no-op (409, not an error). Read and write failures are logged and
/// counted, never thrown into a search. On shutdown the queue is drained (bounded by a timeout), not cancelled.
/// The worker writes synchronously with <see cref="WriteAsync"/> before it acknowledges a message.
/// </summary>
internal sealed partial class ReasoningStore : IJudgementStore, IAsyncDisposable
{
    private readonly BackendClient _backend;
    private readonly ReasoningStoreOptions _options;
    private readonly Rank1Metrics _metrics;
    private readonly ILogger<ReasoningStore> _logger;
    private readonly Channel<JudgementToStore> _queue;
    private readonly CancellationTokenSource _abort = new();
    private readonly TimeProvider _time;
    private readonly Task _writer;
    private bool _indexReady;

    public ReasoningStore(BackendClient backend, IOptions<ReasoningStoreOptions> options, Rank1Metrics metrics, TimeProvider time, ILogger<ReasoningStore> logger)
    {
        _time = time;
        _backend = backend;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _queue = Channel.CreateBounded<JudgementToStore>(new BoundedChannelOptions(_options.WriteQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
        _writer = _options.Enabled ? Task.Run(WriteLoopAsync) : Task.CompletedTask;
    }

    public bool Enabled => _options.Enabled;

    private IReadOnlyList<KeyValuePair<string, string[]>> Headers => ClusterRequest.Headers(_options.Authorization);

    /// <summary>Stored judgements for these ids (missing ones are absent). Never throws: a failed read is a miss.</summary>
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
            var response = await _backend.SendAsync(HttpMethod.Post, $"{_options.Index}/_mget", body, Headers, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                if (response.Status != 404)
                {
                    Failed("read", $"HTTP {response.Status}");
                }

                return found;
            }

            foreach (var doc in JsonSerializer.Deserialize(response.Body, BridgeJson.Default.MgetAnswer)?.Docs ?? [])
            {
                if (doc is { Found: true, Id: { } id, Source: { ValueKind: JsonValueKind.Object } source })
                {
                    if (Read(id, source) is { } judgement)
                    {
                        found[id] = judgement;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is BackendUnavailableException or JsonException)
        {
            Failed("read", ex.Message);
        }

        return found;
    }

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

            Failed("read", $"stored judgement {id}: model_id or passage_hash is null");
        }
        catch (JsonException ex)
        {
            Failed("read", $"stored judgement {id}: {ex.Message}");
        }

        return null;
    }

    /// <summary>Queues a judgement for writing; when the queue is full it is dropped and counted.</summary>
    public void Enqueue(JudgementToStore judgement)
    {
        if (Enabled && !_queue.Writer.TryWrite(judgement))
        {
            _metrics.StoreOperations("dropped", 1);
        }
    }

    /// <summary>Creates the reasoning index with its mapping when it does not exist (idempotent); installs the index template where the backend has templates.</summary>
    public static async Task<string> EnsureIndexAsync(BackendClient backend, string index, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        var h = headers.ToList();
        var report = new StringBuilder();
        var template = backend.Flavor == BackendFlavor.OpenSearch ? "reasoning-index.opensearch.template.json" : "reasoning-index.elasticsearch.template.json";
        var t = await backend.SendAsync(HttpMethod.Put, "_index_template/rank1-reasoning", Resource(template), h, cancellationToken).ConfigureAwait(false);
        report.Append(t.Status is 200 or 201 ? "index template rank1-reasoning installed; " : $"index template not supported by this backend (HTTP {t.Status}); ");
        var exists = await backend.SendAsync(HttpMethod.Head, index, null, h, cancellationToken).ConfigureAwait(false);
        if (exists.Status == 200)
        {
            return report.Append(CultureInfo.InvariantCulture, $"index {index} already exists").ToString();
        }

        var create = await backend.SendAsync(HttpMethod.Put, index, Resource("reasoning-index.mapping.json"), h, cancellationToken).ConfigureAwait(false);
        if (create.Status is 200 or 201 || Encoding.UTF8.GetString(create.Body).Contains("resource_already_exists_exception", StringComparison.Ordinal))
        {
            return report.Append(CultureInfo.InvariantCulture, $"index {index} created").ToString();
        }

        throw new EsException(create.Status, "rank1_store_init_exception", $"could not create the reasoning index {index}: HTTP {create.Status} {Encoding.UTF8.GetString(create.Body)}");
    }

    internal static byte[] Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Rank1.Mappings." + name)
            ?? throw new InvalidOperationException($"embedded mapping {name} is missing from the build");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>
    /// Writes judgements now, in one <c>_bulk</c> <c>create</c> request (creating the index first if needed), and
    /// returns how many were new and how many were already stored. Throws <see cref="ReasoningStoreException"/> when
    /// the request or any item fails for another reason, so a caller that must not lose work (the worker) can retry.
    /// </summary>
    public async Task<StoreWriteResult> WriteAsync(IReadOnlyList<JudgementToStore> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return default;
        }

        try
        {
            if (!_indexReady)
            {
                await EnsureIndexAsync(_backend, _options.Index, Headers, cancellationToken).ConfigureAwait(false);
                _indexReady = true;
            }

            var ndjson = new StringBuilder();
            foreach (var j in batch)
            {
                ndjson.Append(new JsonObject { ["create"] = new JsonObject { ["_index"] = _options.Index, ["_id"] = j.Id } }.ToJsonString()).Append('\n');
                ndjson.Append(j.Document.ToJsonString()).Append('\n');
            }

            var headers = ClusterRequest.Headers(_options.Authorization, ClusterRequest.Ndjson);
            var response = await _backend.SendAsync(HttpMethod.Post, "_bulk", Encoding.UTF8.GetBytes(ndjson.ToString()), headers, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                throw new ReasoningStoreException($"_bulk answered HTTP {response.Status}: {Encoding.UTF8.GetString(response.Body)}", batch.Count);
            }

            int written = 0, already = 0, failed = 0;
            string? firstError = null;
            foreach (var item in JsonNode.Parse(response.Body)?["items"]?.AsArray() ?? [])
            {
                var status = item?["create"]?["status"]?.GetValue<int>() ?? 0;
                if (status is 200 or 201)
                {
                    written++;
                }
                else if (status == 409)
                {
                    already++;
                }
                else
                {
                    failed++;
                    firstError ??= item?["create"]?["error"]?["reason"]?.GetValue<string>() ?? $"status {status}";
                }
            }

            _metrics.StoreOperations("written", written);
            _metrics.StoreOperations("already_stored", already);
            if (failed > 0 || written + already != batch.Count)
            {
                throw new ReasoningStoreException($"{batch.Count - written - already} of {batch.Count} judgements were not stored: {firstError ?? "the _bulk answer lacks items"}", batch.Count - written - already);
            }

            return new StoreWriteResult(written, already);
        }
        catch (Exception ex) when (ex is BackendUnavailableException or EsException or JsonException or HttpRequestException or InvalidOperationException)
        {
            throw new ReasoningStoreException(ex.Message, batch.Count, ex);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<JudgementToStore>(_options.BulkBatchSize);
        var reader = _queue.Reader;
        try
        {
            // Ends when the queue is completed (shutdown) and drained, or when the shutdown timeout aborts it.
            while (await reader.WaitToReadAsync(_abort.Token).ConfigureAwait(false))
            {
                // Fill a batch for up to FlushInterval (or until the queue is completed and empty), then send it.
                using var window = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
                window.CancelAfter(_options.FlushInterval);
                try
                {
                    while (batch.Count < _options.BulkBatchSize && await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                    {
                        while (batch.Count < _options.BulkBatchSize && reader.TryRead(out var item))
                        {
                            batch.Add(item);
                        }
                    }
                }
                catch (OperationCanceledException) when (!_abort.IsCancellationRequested)
                {
                    // The flush interval passed: send what we have.
                }

                try
                {
                    await WriteAsync(batch, _abort.Token).ConfigureAwait(false);
                }
                catch (ReasoningStoreException ex)
                {
                    Failed("write", ex.Message, ex.Count);
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
        }

        // Only reached with work left when the shutdown timeout aborted the writer: count it, do not hide it.
        var left = batch.Count;
        while (reader.TryRead(out _))
        {
            left++;
        }

        if (left > 0)
        {
            _metrics.StoreOperations("dropped", left);
            LogStoreFailure(_logger, "write", $"{left} judgements were still queued when the shutdown timeout ({_options.ShutdownTimeout}) passed");
        }
    }

    private void Failed(string operation, string reason, int count = 1)
    {
        _metrics.StoreOperations(operation == "read" ? "read_failed" : "failed", count);
        LogStoreFailure(_logger, operation, reason);
    }

    /// <summary>Stops taking judgements, writes what is queued (within <see cref="ReasoningStoreOptions.ShutdownTimeout"/>), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(_options.ShutdownTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            await _writer.ConfigureAwait(false);
        }

        _abort.Dispose();
    }

    [LoggerMessage(EventId = 2300, Level = LogLevel.Warning, Message = "Reasoning store {Operation} failed: {Reason}")]
    private static partial void LogStoreFailure(ILogger logger, string operation, string reason);
}
