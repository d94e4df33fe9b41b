using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Inference;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Reranking;

namespace Rank1.SearchBridge.Store;

/// <summary>A judgement stored in the reasoning index.</summary>
internal sealed record StoredJudgement(string Id, string ModelId, string PassageHash, double Score, bool Relevant, string Reasoning, int ReasoningTokens, ReasoningEnd End);

/// <summary>A judgement to write.</summary>
internal sealed record JudgementToStore(string Id, JsonObject Document);

/// <summary>
/// The reasoning index on the backend. Reads are one <c>_mget</c> per search window. Writes go through a bounded
/// queue to a background writer that sends batched <c>_bulk</c> <c>create</c> requests: they never delay a
/// response, and a judgement written twice is a no-op (409, not an error). Read and write failures are logged and
/// counted, never thrown into a search.
/// </summary>
internal sealed partial class ReasoningStore : IAsyncDisposable
{
    private readonly BackendClient _backend;
    private readonly ReasoningStoreOptions _options;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger<ReasoningStore> _logger;
    private readonly Channel<JudgementToStore> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _writer;
    private bool _indexReady;

    public ReasoningStore(BackendClient backend, IOptions<ReasoningStoreOptions> options, ProxyMetrics metrics, ILogger<ReasoningStore> logger)
    {
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

    public string Index => _options.Index;

    private IEnumerable<KeyValuePair<string, string[]>> Headers =>
        _options.Authorization is { } auth ? [new("Authorization", [auth]), new("Content-Type", ["application/json"])] : [new("Content-Type", ["application/json"])];

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
            var body = new JsonObject { ["ids"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()) };
            var response = await _backend.SendAsync(HttpMethod.Post, $"{_options.Index}/_mget", Encoding.UTF8.GetBytes(body.ToJsonString()), Headers, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                if (response.Status != 404)
                {
                    Failed("read", $"HTTP {response.Status}");
                }

                return found;
            }

            foreach (var doc in JsonNode.Parse(response.Body)?["docs"]?.AsArray() ?? [])
            {
                if (doc?["found"]?.GetValue<bool>() == true && doc["_source"] is JsonObject s)
                {
                    var id = doc["_id"]!.GetValue<string>();
                    found[id] = new StoredJudgement(id, s["model_id"]!.GetValue<string>(), s["passage_hash"]!.GetValue<string>(), s["score"]!.GetValue<double>(),
                        s["relevant"]!.GetValue<bool>(), s["reasoning"]?.GetValue<string>() ?? string.Empty, s["reasoning_tokens"]?.GetValue<int>() ?? 0,
                        ReasoningEnds.TryParse(s["ended"]?.GetValue<string>(), out var e) ? e : ReasoningEnd.Finished);
                }
            }
        }
        catch (Exception ex) when (ex is BackendUnavailableException or JsonException or InvalidOperationException or KeyNotFoundException or NullReferenceException)
        {
            Failed("read", ex.Message);
        }

        return found;
    }

    /// <summary>Queues a judgement for writing; when the queue is full it is dropped and counted.</summary>
    public void Enqueue(JudgementToStore judgement)
    {
        if (Enabled && !_queue.Writer.TryWrite(judgement))
        {
            _metrics.StoreWrites.WithLabels("dropped").Inc();
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

        throw new EsError(create.Status, "rank1_store_init_exception", $"could not create the reasoning index {index}: HTTP {create.Status} {Encoding.UTF8.GetString(create.Body)}");
    }

    internal static byte[] Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Rank1.Mappings." + name)
            ?? throw new InvalidOperationException($"embedded mapping {name} is missing from the build");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<JudgementToStore>(_options.BulkBatchSize);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                // Fill a batch for up to FlushInterval, then send it.
                using var window = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
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
                catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
                {
                    // The flush interval passed: send what we have.
                }

                await WriteBatchAsync(batch, _stopping.Token).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }

        // Shutdown: write what is left, without waiting for more.
        while (reader.TryRead(out var item))
        {
            batch.Add(item);
        }

        await WriteBatchAsync(batch, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task WriteBatchAsync(List<JudgementToStore> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
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

            var headers = Headers.Where(h => h.Key != "Content-Type").Append(new("Content-Type", ["application/x-ndjson"]));
            var response = await _backend.SendAsync(HttpMethod.Post, "_bulk", Encoding.UTF8.GetBytes(ndjson.ToString()), headers, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                Failed("write", $"HTTP {response.Status}: {Encoding.UTF8.GetString(response.Body)}", batch.Count);
                return;
            }

            foreach (var item in JsonNode.Parse(response.Body)?["items"]?.AsArray() ?? [])
            {
                var status = item?["create"]?["status"]?.GetValue<int>() ?? 0;
                _metrics.StoreWrites.WithLabels(status is 200 or 201 ? "written" : status == 409 ? "already_stored" : "failed").Inc();
                if (status is not (200 or 201 or 409))
                {
                    LogStoreFailure(_logger, "write", item?["create"]?["error"]?["reason"]?.GetValue<string>() ?? $"status {status}");
                }
            }
        }
        catch (Exception ex) when (ex is BackendUnavailableException or EsError or JsonException or HttpRequestException or InvalidOperationException)
        {
            Failed("write", ex.Message, batch.Count);
        }
    }

    private void Failed(string operation, string reason, int count = 1)
    {
        _metrics.StoreWrites.WithLabels(operation == "read" ? "read_failed" : "failed").Inc(count);
        LogStoreFailure(_logger, operation, reason);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 2300, Level = LogLevel.Warning, Message = "Reasoning store {Operation} failed: {Reason}")]
    private static partial void LogStoreFailure(ILogger logger, string operation, string reason);
}
