using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Store;

/// <summary>
/// A judgement to write: with <c>create</c>, so that writing it twice is a no-op (409); with <c>index</c> when
/// <paramref name="Replace"/>, over a document of its id that does not hold a usable judgement (hand-edited, or written
/// by something else), which <c>create</c> would leave in place for ever, every search judging its passage anew; only at
/// the revision it was found at, when known, so a host that replaced it first is not overwritten (409: already stored).
/// </summary>
internal sealed record JudgementToStore(string Id, JsonObject Document, Replacing? Replace = null)
{
    /// <summary>The <c>_bulk</c> action line that writes it into <paramref name="index"/>.</summary>
    public JsonObject ActionLine(string index)
    {
        var target = new JsonObject { ["_index"] = index, ["_id"] = Id };
        if (Replace?.Revision is { } revision)
        {
            target["if_seq_no"] = revision.SeqNo;
            target["if_primary_term"] = revision.PrimaryTerm;
        }

        return new JsonObject { [Replace is null ? "create" : "index"] = target };
    }
}

/// <summary>What a synchronous write did: judgements newly stored, and judgements that were already there.</summary>
internal readonly record struct StoreWriteResult(int Written, int AlreadyStored);

/// <summary>
/// A write to the reasoning index failed; <see cref="Count"/> judgements were not stored. Its message names the backend's
/// status and error types, never a reason: Elasticsearch's quote the document written (a mis-mapped field's
/// <c>document_parsing_exception</c>: <c>Preview of field's value: '&lt;query&gt;'</c>), and the message reaches the
/// worker's fault headers and the logs at Warning and above. The answer itself is <see cref="Answer"/>, for Debug logs.
/// </summary>
internal sealed class ReasoningStoreException(string message, int count, Exception? inner = null) : Exception(message, inner)
{
    public int Count { get; } = count;

    /// <summary>The HTTP status of <see cref="Answer"/> (the request's, or the first failed item's).</summary>
    public int Status { get; init; }

    /// <summary>The backend's answer the message summarises (the first failed item's, for a <c>_bulk</c> that took the others), when there was one: it may quote a query, so it is logged only at Debug.</summary>
    public string? Answer { get; init; }
}

/// <summary>
/// The reasoning index's writer, a hosted service. <see cref="Enqueue"/> puts a judgement on a bounded queue (full:
/// dropped and counted); the service sends the queue in batched <c>_bulk</c> <c>create</c> requests, so writes never
/// delay a response, and a judgement written twice is a no-op (409, not an error); failures are logged and counted, a
/// batch's unexpected fault too: no batch ends the writer (and with it the host).
/// On a graceful stop it takes no more judgements and writes what is queued, within
/// <see cref="ReasoningStoreOptions.ShutdownTimeout"/>; only then is the write cancelled, and what was left is counted
/// as dropped. The host stops it after Kestrel (and MassTransit), so the judgements of requests that finished during the
/// shutdown are written too. <see cref="WriteAsync"/> writes at once (the worker's way, before it acknowledges a message).
/// </summary>
internal sealed class ReasoningStoreWriter : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly IOptions<ReasoningStoreOptions> _options;
    private readonly Rank1Metrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private Channel<JudgementToStore>? _queue;
    private BackendClient? _backend;
    private bool _indexReady;

    /// <remarks>
    /// The options and the backend client are read at first use, not here: a host builds its hosted services before it
    /// validates the options, and reading them now would report a bad <c>Rank1:Store</c> or <c>Rank1:Backend</c> alone,
    /// instead of in the one start-up error that names every bad setting.
    /// </remarks>
    public ReasoningStoreWriter(IServiceProvider services, IOptions<ReasoningStoreOptions> options, Rank1Metrics metrics, TimeProvider time, ILogger<ReasoningStore> logger)
    {
        _services = services;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    private ReasoningStoreOptions Options => _options.Value;

    private BackendClient Backend => LazyInitializer.EnsureInitialized(ref _backend, _services.GetRequiredService<BackendClient>);

    private Channel<JudgementToStore> Queue => LazyInitializer.EnsureInitialized(ref _queue, () =>
        Channel.CreateBounded<JudgementToStore>(new BoundedChannelOptions(Options.WriteQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        }));

    /// <summary>Queues a judgement for writing; when the queue is full (or the writer has stopped) it is dropped and counted.</summary>
    public void Enqueue(JudgementToStore judgement)
    {
        if (Options.Enabled && !Queue.Writer.TryWrite(judgement))
        {
            _metrics.StoreOperations("dropped", 1);
        }
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
            // Checked before every batch, not once: an index deleted while the host runs was re-created by the _bulk
            // create itself, with dynamic mappings (text for the keyword fields, so no lookup matched) and not hidden
            // (so an application's wildcard search returned stored queries and reasoning). The check reads the mapping
            // (one GET, as the HEAD it replaces): an index deleted and made again with another mapping was written into.
            // The first batch of the host installs the index template too (EnsureAsync), so that an index the _bulk of
            // a later race re-creates is hidden and mapped; a host started against an existing index installed none.
            if (!_indexReady || !await ReasoningIndex.IsReadyAsync(Backend, Options.Index, ClusterRequest.Headers(Options.Authorization), cancellationToken).ConfigureAwait(false))
            {
                await ReasoningIndex.EnsureAsync(Backend, Options.Index, ClusterRequest.Headers(Options.Authorization), cancellationToken).ConfigureAwait(false);
                _indexReady = true;
            }

            // Each document is written as JSON on its own: one that cannot be (an unforeseen fault of ours: a NaN score no
            // longer reaches the store) is left out, logged, and reported after the others are written. Before, it failed
            // its whole batch, up to BulkBatchSize.
            var ndjson = new StringBuilder();
            var sent = 0;
            Exception? unwritable = null;
            foreach (var j in batch)
            {
                string document;
                try
                {
                    document = j.Document.ToJsonString();
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException)
                {
                    unwritable ??= ex;
                    ReasoningStore.LogUnwritable(_logger, j.Id, ex);
                    continue;
                }

                ndjson.Append(j.ActionLine(Options.Index).ToJsonString()).Append('\n').Append(document).Append('\n');
                sent++;
            }

            var (written, already) = (0, 0);
            try
            {
                (written, already) = sent > 0 ? await BulkAsync(ndjson, sent, cancellationToken).ConfigureAwait(false) : (0, 0);
            }
            catch (ReasoningStoreException e) when (sent < batch.Count)
            {
                throw new ReasoningStoreException($"{e.Message}; {batch.Count - sent} more cannot be written as JSON: {unwritable!.Message}", e.Count + batch.Count - sent, e)
                {
                    Status = e.Status, Answer = e.Answer,
                };
            }

            if (unwritable is not null)
            {
                throw new ReasoningStoreException($"{batch.Count - sent} of {batch.Count} judgements cannot be written as JSON, the others are stored: {unwritable.Message}", batch.Count - sent);
            }

            return new StoreWriteResult(written, already);
        }
        catch (Exception ex) when (ex is BackendUnavailableException or EsException or JsonException or HttpRequestException or InvalidOperationException)
        {
            throw new ReasoningStoreException(ex.Message, batch.Count, ex);
        }
    }

    /// <summary>Sends one <c>_bulk</c> of <paramref name="count"/> judgements; throws <see cref="ReasoningStoreException"/> unless each was stored or already was.</summary>
    private async Task<(int Written, int Already)> BulkAsync(StringBuilder ndjson, int count, CancellationToken cancellationToken)
    {
        var headers = ClusterRequest.Headers(Options.Authorization, ClusterRequest.Ndjson);
        var response = await Backend.SendAsync(HttpMethod.Post, "_bulk", Encoding.UTF8.GetBytes(ndjson.ToString()), headers, cancellationToken).ConfigureAwait(false);
        if (response.Status != 200)
        {
            throw new ReasoningStoreException($"_bulk answered HTTP {response.Status}: {BackendErrorSummary.Describe(response.Body)}", count)
            {
                Status = response.Status, Answer = BackendErrorSummary.Excerpt(response.Body),
            };
        }

        int written = 0, already = 0, failed = 0, firstStatus = 0;
        string? firstError = null, firstAnswer = null;
        foreach (var item in JsonNode.Parse(response.Body)?["items"]?.AsArray() ?? [])
        {
            // Each item answers under its action's name: create, or index for a replaced document.
            var action = item?["create"] ?? item?["index"];
            var status = action?["status"]?.GetValue<int>() ?? 0;
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
                if (firstError is null)
                {
                    // The types, not the reason: a document_parsing_exception previews the field's value, the query.
                    firstError = $"HTTP {status}: {(action?["error"] is JsonObject error ? BackendErrorSummary.Describe(error) : null) ?? "an answer without an error type"}";
                    (firstStatus, firstAnswer) = (status, action?.ToJsonString());
                }
            }
        }

        _metrics.StoreOperations("written", written);
        _metrics.StoreOperations("already_stored", already);
        if (failed > 0 || written + already != count)
        {
            throw new ReasoningStoreException($"{count - written - already} of {count} judgements were not stored: {firstError ?? "the _bulk answer lacks items"}", count - written - already)
            {
                Status = firstStatus, Answer = firstAnswer,
            };
        }

        return (written, already);
    }

    /// <summary>Stops taking judgements, writes what is queued (within <see cref="ReasoningStoreOptions.ShutdownTimeout"/>), then stops.</summary>
    /// <remarks>
    /// The store's own timeout bounds the flush, not the host's token: the host gives its shutdown time to the requests
    /// in flight (Kestrel stops first), and the judgements those requests made are what is queued here.
    /// </remarks>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Never started (the host failed before its hosted services started): nothing was queued, nothing to write.
        if (ExecuteTask is { } loop)
        {
            Queue.Writer.TryComplete();
            try
            {
                await loop.WaitAsync(Options.ShutdownTimeout, _time, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Past the store's shutdown timeout: base.StopAsync cancels the write; the loop counts what is left.
            }
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Options.Enabled ? WriteLoopAsync(stoppingToken) : Task.CompletedTask;

    private async Task WriteLoopAsync(CancellationToken abort)
    {
        var batch = new List<JudgementToStore>(Options.BulkBatchSize);
        var reader = Queue.Reader;
        try
        {
            // Ends when the queue is completed (stop) and drained, or when the shutdown timeout aborts it.
            while (await reader.WaitToReadAsync(abort).ConfigureAwait(false))
            {
                // Fill a batch for up to FlushInterval (or until the queue is completed and empty), then send it.
                using var interval = new CancellationTokenSource(Options.FlushInterval, _time);
                using var window = CancellationTokenSource.CreateLinkedTokenSource(abort, interval.Token);
                try
                {
                    while (batch.Count < Options.BulkBatchSize && await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                    {
                        while (batch.Count < Options.BulkBatchSize && reader.TryRead(out var item))
                        {
                            batch.Add(item);
                        }
                    }
                }
                catch (OperationCanceledException) when (!abort.IsCancellationRequested)
                {
                    // The flush interval passed: send what we have.
                }

                try
                {
                    await WriteAsync(batch, abort).ConfigureAwait(false);
                }
                catch (ReasoningStoreException ex)
                {
                    _metrics.StoreOperations("failed", ex.Count);
                    ReasoningStore.LogStoreFailure(_logger, "write", ex.Message);
                    if (ex.Answer is { } answer)
                    {
                        ReasoningStore.LogStoreAnswer(_logger, "write", ex.Status, answer);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && (ex is not OperationCanceledException || !abort.IsCancellationRequested))
                {
                    // Any other fault of one batch (a defect of ours; a document System.Text.Json cannot write is that
                    // document's failure alone, in WriteAsync) is that batch's failure, counted as a store failure, never the writer's end: a BackgroundService's
                    // failure stops the host, and every judgement after it went unstored. Its judgements stay re-computable.
                    _metrics.StoreOperations("failed", batch.Count);
                    ReasoningStore.LogBatchFault(_logger, batch.Count, ex);
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
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
            ReasoningStore.LogStoreFailure(_logger, "write", $"{left} judgements were still queued when the shutdown timeout ({Options.ShutdownTimeout}) passed");
        }
    }
}
