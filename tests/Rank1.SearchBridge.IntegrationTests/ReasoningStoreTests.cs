using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.EmbeddedSearch;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>The real tiny model, with every call counted.</summary>
internal sealed class CountingEngine : IPassageJudge, IDisposable
{
    private readonly Rank1Engine _engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public List<string> Judged { get; } = [];

    public string ModelId => _engine.ModelId;

    public string ModelFingerprint => _engine.ModelFingerprint;

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, ct) => JudgeOneAsync(input, settings, ct), TimeProvider.System, cancellationToken);

    private ValueTask<Rank1Judgement> JudgeOneAsync(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        lock (Judged)
        {
            Judged.Add(input.Text);
        }

        return _engine.JudgeAsync(input, settings, cancellationToken);
    }

    public void Dispose() => _engine.Dispose();
}

public sealed class ReasoningStoreTests
{
    private const string Query = """{"query":{"match":{"text":"onion eyes"}}}""";

    /// <summary>The reasoning index's document count once the proxy's store reports at least <paramref name="atLeast"/> written.</summary>
    internal static async Task<long> StoredCountAsync(ProxyStack stack, long atLeast)
    {
        await stack.StoreWritesAsync(atLeast);
        using var http = new HttpClient { BaseAddress = stack.Backend.Url };
        (await http.PostAsync("rank1-reasoning/_refresh", null)).EnsureSuccessStatusCode();
        return JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_count"))!["count"]!.GetValue<long>();
    }

    private static string[] Sources(HttpResult r) =>
        r.Json["hits"]!["hits"]!.AsArray().Take(5).Select(h => h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()).ToArray();

    [Fact]
    public async Task RepeatedSearch_IsAnsweredFromTheStore_WithZeroModelCalls()
    {
        using var engine = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(engine));
        var first = await stack.SearchAsync(Query);
        Assert.Equal("applied", first.Rerank);
        Assert.Equal(5, engine.Calls);
        Assert.Equal(5, await StoredCountAsync(stack, 5));

        var second = await stack.SearchAsync(Query);
        Assert.Equal("cached", second.Rerank);
        Assert.Equal(5, engine.Calls); // no model call
        Assert.Equal(first.Ids, second.Ids);
        Assert.All(Sources(second), s => Assert.Equal("cached", s));
        var a = first.Json["hits"]!["hits"]!.AsArray().Take(5).Select(h => h!["_score"]!.GetValue<double>());
        var b = second.Json["hits"]!["hits"]!.AsArray().Take(5).Select(h => h!["_score"]!.GetValue<double>());
        Assert.Equal(a, b);
        Assert.Equal(first.Json["hits"]!["hits"]![0]!["fields"]!["_rank1.reasoning"]!.ToJsonString(), second.Json["hits"]!["hits"]![0]!["fields"]!["_rank1.reasoning"]!.ToJsonString());

        // The same words, spaced and cased differently, are the same query (fingerprint normalisation).
        var third = await stack.SearchAsync("""{"query":{"match":{"text":"  Onion   EYES "}}}""");
        Assert.Equal("cached", third.Rerank);
        Assert.Equal(10, PrometheusText.Value(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_reasoning_cache_hits_total"));
    }

    [Fact]
    public async Task ChangedDocument_IsReJudged_AndOnlyIt()
    {
        using var engine = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(engine));
        await stack.SearchAsync(Query);
        await StoredCountAsync(stack, 5);

        var changed = await stack.SendAsync(HttpMethod.Put, "docs/_doc/d01?refresh=true",
            """{"title":"Onion tears","text":"Chopping an onion sends a sulfur gas to the eyes, which sting and water.","topic":"food"}""");
        Assert.Equal(200, changed.Status);

        var after = await stack.SearchAsync(Query);
        Assert.Equal("applied", after.Rerank);
        Assert.Equal(6, engine.Calls); // exactly one more judgement
        Assert.Contains("Chopping an onion sends a sulfur gas to the eyes, which sting and water.", engine.Judged);
        var hits = after.Json["hits"]!["hits"]!.AsArray().Take(5).ToArray();
        Assert.Equal("computed", hits.Single(h => h!["_id"]!.GetValue<string>() == "d01")!["fields"]!["_rank1.source"]![0]!.GetValue<string>());
        Assert.All(hits.Where(h => h!["_id"]!.GetValue<string>() != "d01"), h => Assert.Equal("cached", h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));

        // The new judgement is stored beside the stale one (a record of its own, not a 409 on the old one's id), so the
        // next search is answered from the store with no further model call.
        Assert.Equal(6, await StoredCountAsync(stack, 6));
        var again = await stack.SearchAsync(Query);
        Assert.Equal("cached", again.Rerank);
        Assert.Equal(6, engine.Calls);
        Assert.All(Sources(again), s => Assert.Equal("cached", s));
    }

    [Fact]
    public async Task HandEditedStoredJudgement_IsJudgedOnce_AndReplaced_ThenServedCached()
    {
        using var engine = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(engine));
        await stack.SearchAsync(Query);
        Assert.Equal(5, await StoredCountAsync(stack, 5));

        // Someone rewrites one stored judgement without its score: it is unreadable, so never served.
        using var backend = new HttpClient { BaseAddress = stack.Backend.Url };
        var stored = JsonNode.Parse(await backend.GetStringAsync("rank1-reasoning/_search?size=1"))!["hits"]!["hits"]![0]!;
        var id = stored["_id"]!.GetValue<string>();
        var broken = stored["_source"]!.AsObject();
        broken.Remove("score");
        broken["reasoning"] = "hand edited";
        (await backend.PutAsync($"rank1-reasoning/_doc/{id}?refresh=true", ProxyStack.Json(broken.ToJsonString()))).EnsureSuccessStatusCode();

        var after = await stack.SearchAsync(Query);
        Assert.Equal("applied", after.Rerank);
        Assert.Equal(6, engine.Calls); // that passage alone is judged again

        // Its new judgement replaces the broken document (a create answered 409 and left it there, so every search
        // judged the passage again): the index still holds 5, and the next search is answered from the store.
        Assert.Equal(5, await StoredCountAsync(stack, 6));
        var repaired = JsonNode.Parse(await backend.GetStringAsync($"rank1-reasoning/_doc/{id}"))!["_source"]!;
        Assert.NotNull(repaired["score"]);
        var again = await stack.SearchAsync(Query);
        Assert.Equal("cached", again.Rerank);
        Assert.Equal(6, engine.Calls);
        Assert.All(Sources(again), s => Assert.Equal("cached", s));
    }

    [Fact]
    public async Task StoredReasoning_IsNeverAttachedToAnotherIndexsHits()
    {
        using var engine = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(engine));
        using (var backend = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            var bulk = new StringBuilder();
            foreach (var (id, title, text, topic) in ProxyStack.Corpus)
            {
                bulk.Append(new JsonObject { ["index"] = new JsonObject { ["_index"] = "docs-copy", ["_id"] = id } }.ToJsonString()).Append('\n');
                bulk.Append(new JsonObject { ["title"] = title, ["text"] = text, ["topic"] = topic }.ToJsonString()).Append('\n');
            }

            (await backend.PostAsync("_bulk?refresh=true", new StringContent(bulk.ToString(), Encoding.UTF8, "application/x-ndjson"))).EnsureSuccessStatusCode();
        }

        await stack.SearchAsync(Query);
        await StoredCountAsync(stack, 5);
        var copy = await stack.SearchAsync(Query, "docs-copy/_search");
        Assert.Equal("applied", copy.Rerank); // same ids, same text, other index: judged afresh
        Assert.Equal(10, engine.Calls);
        Assert.All(Sources(copy), s => Assert.Equal("computed", s));
        Assert.Equal(10, await StoredCountAsync(stack, 10));
    }

    [Fact]
    public async Task WriteFailures_AreCountedAndLogged_NeverThrownIntoTheSearch()
    {
        await using var stack = await ProxyStack.StartAsync();
        using (var backend = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            // A reasoning index whose mapping cannot take the documents: every write fails.
            (await backend.PutAsync("rank1-reasoning", ProxyStack.Json("""{"mappings":{"properties":{"relevant":{"type":"integer"}}}}"""))).EnsureSuccessStatusCode();
        }

        var r = await stack.SearchAsync(Query);
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        // The writer counts the failed _bulk after the search was answered (FlushInterval later, at least): awaited on the
        // store's own count, then read as an operator reads it.
        await stack.StoreOperationsAsync(5, "failed");
        var metrics = await stack.Http.GetStringAsync("_rank1/metrics");
        Assert.Equal(5, PrometheusText.Value(metrics, "rank1_reasoning_store_operations_total", ("outcome", "failed")));
        Assert.Equal("applied", (await stack.SearchAsync(Query)).Rerank); // nothing was stored, the model is asked again
    }

    [Fact]
    public async Task AWriteRefusedWithAReasonQuotingTheQuery_NamesOnlyItsStatusAndTypes_TheAnswerAtDebug()
    {
        // query.keyword mapped as long: the mapping check passes (query is text), and the backend refuses each document
        // with a document_parsing_exception whose reason previews the field's value, the query. That reason was the
        // writer's exception (the worker's fault headers and logs) and the proxy's warning 2300, where a query is named
        // only by its fingerprint.
        const string query = "onion tears of jane doe";
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var http = new HttpClient { BaseAddress = backend.Url })
        {
            var mapping = JsonNode.Parse(ReasoningIndex.Resource("reasoning-index.mapping.json"))!;
            mapping["mappings"]!["properties"]!["query"]!["fields"]!["keyword"] = new JsonObject { ["type"] = "long" };
            (await http.PutAsync("rank1-reasoning", ProxyStack.Json(mapping.ToJsonString()))).EnsureSuccessStatusCode();
        }

        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var client = new BackendClient(new BackendOptions { Url = backend.Url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        var options = Options.Create(new ReasoningStoreOptions { FlushInterval = TimeSpan.FromMilliseconds(20) });
        var fingerprint = ReasoningKeys.Fingerprint(query, null, 8, ["text"], null);
        var id = ReasoningKeys.DocumentId("m", "mfp", "v", "docs", "d1", fingerprint, "h");
        var doc = new JsonObject
        {
            ["model_id"] = "m", ["prompt_version"] = "v", ["target_index"] = "docs", ["doc_id"] = "d1", ["fingerprint"] = fingerprint, ["query"] = query,
            ["passage_hash"] = "h", ["score"] = 0.7, ["relevant"] = true, ["reasoning"] = "because", ["reasoning_tokens"] = 3, ["ended"] = "finished",
            ["created"] = "2026-01-01T00:00:00Z", ["compute_ms"] = 12,
        };
        var logger = new FakeLogger<ReasoningStore>();
        await using (var store = await RunningStore.StartAsync(client, options, metrics, logger))
        {
            // The worker's way: the exception says the status and the error's type.
            var refused = await Assert.ThrowsAsync<ReasoningStoreException>(() => store.Store.WriteAsync([new JudgementToStore(id, doc)], CancellationToken.None));
            Assert.DoesNotContain("jane doe", refused.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("HTTP 400", refused.Message, StringComparison.Ordinal);
            Assert.Contains("document_parsing_exception", refused.Message, StringComparison.Ordinal);

            // The proxy's way: queued, written in the background (stopping the writer drains the queue).
            store.Store.Enqueue(new JudgementToStore(id, (JsonObject)doc.DeepClone()));
        }

        var records = logger.Collector.GetSnapshot();
        var warning = Assert.Single(records, r => r.Id.Id == 2300);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("document_parsing_exception", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(records, r => r.Level >= LogLevel.Information && r.Message.Contains("jane doe", StringComparison.OrdinalIgnoreCase));
        // The answer, which does quote the query, is logged at Debug only.
        Assert.Contains(records, r => r.Id.Id == 2301 && r.Level == LogLevel.Debug && r.Message.Contains(query, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WritingTheSameJudgementTwice_IsANoOp()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var operations = new MetricCollector<long>(meters.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.reasoning_store.operations");
        using var client = new BackendClient(new BackendOptions { Url = backend.Url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        var options = Options.Create(new ReasoningStoreOptions { FlushInterval = TimeSpan.FromMilliseconds(20) });
        var id = ReasoningKeys.DocumentId("m", "mfp", "v", "docs", "d1", ReasoningKeys.Fingerprint("q", null, 8, ["text"], null), "h");
        var doc = StoredDocument("d1", 0.7);
        await using (var store = await RunningStore.StartAsync(client, options, metrics))
        {
            var first = await store.Store.WriteAsync([new JudgementToStore(id, doc)], CancellationToken.None);
            Assert.Equal(new StoreWriteResult(1, 0), first);

            // The background path: stopping the writer drains the queue rather than cancelling it, so this write is not lost.
            store.Store.Enqueue(new JudgementToStore(id, (JsonObject)doc.DeepClone()));
        }

        using var http = new HttpClient { BaseAddress = backend.Url };
        await http.PostAsync("rank1-reasoning/_refresh", null);
        var count = JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_count"))!["count"]!.GetValue<int>();
        Assert.Equal(1, count);
        var stored = JsonNode.Parse(await http.GetStringAsync($"rank1-reasoning/_doc/{id}"))!;
        Assert.Equal(1, stored["_version"]!.GetValue<int>()); // the second write changed nothing
        Assert.Equal(1, Count(operations, "written"));
        Assert.Equal(1, Count(operations, "already_stored"));
        var mapping = JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_mapping"))!;
        Assert.Equal("text", mapping["rank1-reasoning"]!["mappings"]!["properties"]!["reasoning"]!["type"]!.GetValue<string>());
    }

    /// <summary>
    /// <c>ext.rank1.instructions: ""</c> is the search's "no instructions", as the rerank service, the worker and
    /// <c>precompute</c> take it: over a rule's <c>Instructions</c> the bare query is judged, and the judgements share the
    /// store key of a search without instructions. Blank non-empty instructions stay refused. Before, <c>""</c> was the
    /// 400 <c>[ext.rank1.instructions] must be a non-empty string (got "")</c>.
    /// </summary>
    [Fact]
    public async Task Rank1InstructionsEmpty_IsTheSearchsNone_OverTheRulesInstructions_WithTheStoreKeyOfNone()
    {
        const string Rule = "Only cooking advice counts.";
        const string Empty = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"instructions":""}}}""";
        var ruled = new InstructionsJudge();
        await using (var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:Default:Instructions"] = Rule }, s => s.AddSingleton<IPassageJudge>(ruled)))
        {
            var empty = await stack.SearchAsync(Empty);
            Assert.Equal((200, "applied"), (empty.Status, empty.Rerank));
            Assert.All(ruled.Seen, i => Assert.Null(i)); // the bare query, not the rule's instructions
            var judged = ruled.Seen.Count;
            Assert.True(judged > 1, $"{judged} judged");

            // Without ext.rank1, the rule's instructions: another key, judged again.
            Assert.Equal("applied", (await stack.SearchAsync(Query)).Rerank);
            Assert.Equal([.. Enumerable.Repeat<string?>(null, judged), .. Enumerable.Repeat<string?>(Rule, judged)], ruled.Seen);

            var blank = await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"instructions":" "}}}""");
            Assert.Equal((400, "[ext.rank1.instructions] must be a non-empty string (got \" \")"), (blank.Status, blank.Json["error"]!["reason"]!.GetValue<string>()));
        }

        // A proxy without a rule's instructions: "" finds the judgements of a search without instructions.
        var bare = new InstructionsJudge();
        await using (var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(bare)))
        {
            Assert.Equal("applied", (await stack.SearchAsync(Query)).Rerank);
            var judged = bare.Seen.Count;
            await StoredCountAsync(stack, judged);
            var empty = await stack.SearchAsync(Empty);
            Assert.Equal((200, "cached"), (empty.Status, empty.Rerank));
            Assert.Equal(judged, bare.Seen.Count);
        }
    }

    /// <summary>
    /// Over a rule's <c>Instructions</c>, the judgements of a search with <c>ext.rank1.instructions: ""</c> are stored under
    /// the very ids a search without instructions stores on a proxy without the rule: one key for "none".
    /// </summary>
    [Fact]
    public async Task Rank1InstructionsEmpty_OverTheRulesInstructions_IsStoredUnderTheIdsOfNone()
    {
        static async Task<string[]> StoredIdsAsync(ProxyStack stack, InstructionsJudge judge, string body)
        {
            Assert.Equal("applied", (await stack.SearchAsync(body)).Rerank);
            Assert.Equal(judge.Seen.Count, await StoredCountAsync(stack, judge.Seen.Count));
            using var http = new HttpClient { BaseAddress = stack.Backend.Url };
            var hits = JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_search?size=100&_source=false"))!["hits"]!["hits"]!.AsArray();
            return [.. hits.Select(h => h!["_id"]!.GetValue<string>()).Order(StringComparer.Ordinal)];
        }

        string[] empty, none;
        var ruled = new InstructionsJudge();
        await using (var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:Default:Instructions"] = "Only cooking advice counts." }, s => s.AddSingleton<IPassageJudge>(ruled)))
        {
            empty = await StoredIdsAsync(stack, ruled, """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"instructions":""}}}""");
        }

        var bare = new InstructionsJudge();
        await using (var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(bare)))
        {
            none = await StoredIdsAsync(stack, bare, """{"query":{"match":{"text":"onion eyes"}}}""");
        }

        Assert.True(none.Length > 1, $"{none.Length} stored");
        Assert.Equal(none, empty);
    }

    /// <summary>A judge that records the instructions of each passage it judges, scoring it as <see cref="InputFailingJudge.Score"/>.</summary>
    private sealed class InstructionsJudge : IPassageJudge
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string?> _seen = new();

        public IReadOnlyList<string?> Seen => [.. _seen];

        public string ModelId => "instructions";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
            PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, _) =>
            {
                _seen.Enqueue(input.Instructions);
                var score = InputFailingJudge.Score(input.Text);
                return ValueTask.FromResult(new Rank1Judgement(score, score >= 0.5, "reasoned.", 1, ReasoningEnd.Finished, 10, TimeSpan.Zero, TimeSpan.Zero));
            }, TimeProvider.System, cancellationToken);
    }

    /// <summary>
    /// A document System.Text.Json cannot write (a NaN score: ArgumentException) in a batch of good ones is that document's
    /// failure alone: counted <c>failed</c> (1), logged (2303, Error, with the exception), and the rest of its batch is
    /// written; the writer goes on. Before, the whole batch (up to <c>BulkBatchSize</c>, 200) was counted failed and
    /// none of it stored (event 2302).
    /// </summary>
    [Fact]
    public async Task AnUnwritableDocument_FailsAlone_AndTheRestOfItsBatchIsWritten()
    {
        var logger = new FakeLogger<ReasoningStore>();
        await using var onBackend = await StoreOnEmbeddedBackend.StartAsync(logger);
        var operations = onBackend.Operations;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        async Task CountedAsync(string outcome, int count)
        {
            while (Count(operations, outcome) < count)
            {
                await operations.WaitForMeasurementsAsync(operations.GetMeasurementSnapshot().Count + 1, timeout.Token);
            }
        }

        // One batch: enqueued together, well within the flush interval and the batch size.
        onBackend.Store.Store.Enqueue(new JudgementToStore("good-1", StoredDocument("d1", 0.7)));
        onBackend.Store.Store.Enqueue(new JudgementToStore("bad", StoredDocument("d2", double.NaN)));
        onBackend.Store.Store.Enqueue(new JudgementToStore("good-2", StoredDocument("d3", 0.2)));
        await CountedAsync("failed", 1);
        Assert.False(onBackend.Store.Writer.ExecuteTask!.IsCompleted); // the loop goes on

        Assert.Equal((1, 2), (Count(operations, "failed"), Count(operations, "written")));
        await onBackend.Http.PostAsync("rank1-reasoning/_refresh", null);
        Assert.Equal(2, JsonNode.Parse(await onBackend.Http.GetStringAsync("rank1-reasoning/_count"))!["count"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.OK, (await onBackend.Http.GetAsync("rank1-reasoning/_doc/good-1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onBackend.Http.GetAsync("rank1-reasoning/_doc/good-2")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await onBackend.Http.GetAsync("rank1-reasoning/_doc/bad")).StatusCode);
        var fault = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 2303);
        Assert.Equal(LogLevel.Error, fault.Level);
        Assert.IsType<ArgumentException>(fault.Exception);
        Assert.StartsWith("Reasoning store judgement bad cannot be written as JSON", fault.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Id.Id == 2302);
    }

    [Fact]
    public async Task ABrokenStoredJudgement_IsReplacedOnlyAtTheRevisionItWasFoundAt()
    {
        // Two hosts find the same broken document and both judge its passage: the first replaces it, and the second,
        // whose bulk index was unconditional, overwrote that judgement (already served, perhaps) with its own, both
        // counted written. The replace carries the revision the lookup found (if_seq_no, if_primary_term), so the
        // second is the cluster's 409, counted as already stored, and the first's judgement stays.
        await using var onBackend = await StoreOnEmbeddedBackend.StartAsync();
        var (http, store) = (onBackend.Http, onBackend.Store);
        Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("id-1", new JsonObject { ["doc_id"] = "broken" })], CancellationToken.None));

        var found = (await store.Store.LookupAsync(["id-1"], CancellationToken.None))["id-1"];
        Assert.False(found.Readable);
        var atLookup = JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_doc/id-1"))!;
        Assert.Equal(new StoredRevision(atLookup["_seq_no"]!.GetValue<long>(), atLookup["_primary_term"]!.GetValue<long>()), found.Revision);

        // Another host replaces it first.
        (await http.PutAsync("rank1-reasoning/_doc/id-1?refresh=true", ProxyStack.Json("""{"doc_id":"first"}"""))).EnsureSuccessStatusCode();
        Assert.Equal(new StoreWriteResult(0, 1),
            await store.Store.WriteAsync([new JudgementToStore("id-1", new JsonObject { ["doc_id"] = "second" }, new Replacing(found.Revision))], CancellationToken.None));
        Assert.Equal("first", JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_doc/id-1"))!["_source"]!["doc_id"]!.GetValue<string>());

        // At the revision it is now, the replace is written.
        var now = (await store.Store.LookupAsync(["id-1"], CancellationToken.None))["id-1"];
        Assert.Equal(new StoreWriteResult(1, 0),
            await store.Store.WriteAsync([new JudgementToStore("id-1", new JsonObject { ["doc_id"] = "second" }, new Replacing(now.Revision))], CancellationToken.None));
        Assert.Equal("second", JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_doc/id-1"))!["_source"]!["doc_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheIndexDeletedWhileTheHostRuns_IsRecreatedWithTheReasoningMapping_NotByTheBulkWrite()
    {
        // The writer ensured the index once per process; after a delete the _bulk create made it again with dynamic
        // mappings (text where lookups need keyword) and visible to every wildcard search.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var client = new BackendClient(new BackendOptions { Url = backend.Url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        using var http = new HttpClient { BaseAddress = backend.Url };
        await using (var store = await RunningStore.StartAsync(client, Options.Create(new ReasoningStoreOptions()), metrics))
        {
            Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("a", Doc("d1"))], CancellationToken.None));
            (await http.DeleteAsync("rank1-reasoning")).EnsureSuccessStatusCode();
            Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("b", Doc("d2"))], CancellationToken.None));
        }

        var props = JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_mapping"))!["rank1-reasoning"]!["mappings"]!["properties"]!;
        Assert.Equal(("keyword", "keyword", "double"), (props["fingerprint"]!["type"]!.GetValue<string>(), props["model_id"]!["type"]!.GetValue<string>(), props["score"]!["type"]!.GetValue<string>()));
        var visible = JsonNode.Parse(await http.GetStringAsync("_cat/indices?format=json"))!.AsArray().Select(i => i!["index"]!.GetValue<string>());
        Assert.DoesNotContain("rank1-reasoning", visible);
    }

    [Fact]
    public async Task TheIndexDeletedAndMadeAgainWithAnotherMapping_WhileTheHostRuns_IsRefused_NotWrittenInto()
    {
        // After its first check the writer only asked whether the index existed (HEAD): one deleted and made again with
        // dynamic mappings (text where lookups need keyword) was written into, every lookup of it missing.
        await using var onBackend = await StoreOnEmbeddedBackend.StartAsync();
        var (http, store) = (onBackend.Http, onBackend.Store);
        Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("a", Doc("d1"))], CancellationToken.None));
        (await http.DeleteAsync("rank1-reasoning")).EnsureSuccessStatusCode();
        (await http.PutAsync("rank1-reasoning/_doc/x?refresh=true", ProxyStack.Json("""{"fingerprint":"f","doc_id":"d0"}"""))).EnsureSuccessStatusCode();

        var error = await Assert.ThrowsAsync<ReasoningStoreException>(() => store.Store.WriteAsync([new JudgementToStore("b", Doc("d2"))], CancellationToken.None));

        Assert.Contains("index rank1-reasoning exists but is not a reasoning index: [model_id] is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("[fingerprint] is text, not keyword", error.Message, StringComparison.Ordinal);
        await http.PostAsync("rank1-reasoning/_refresh", null);
        Assert.Equal(1, JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_count"))!["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task AnIndexThatIsNotAReasoningIndex_IsRefusedNamingItsFields_NotWrittenInto()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };
        (await http.PutAsync("corpus/_doc/1?refresh=true", new StringContent("""{"text":"tea","fingerprint":"x"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var client = new BackendClient(new BackendOptions { Url = backend.Url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        await using var store = await RunningStore.StartAsync(client, Options.Create(new ReasoningStoreOptions { Index = "corpus" }), metrics);
        var error = await Assert.ThrowsAsync<ReasoningStoreException>(() => store.Store.WriteAsync([new JudgementToStore("a", new JsonObject { ["doc_id"] = "d" })], CancellationToken.None));
        Assert.Contains("index corpus exists but is not a reasoning index: [model_id] is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("[fingerprint] is text, not keyword", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, JsonNode.Parse(await http.GetStringAsync("corpus/_count"))!["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task Shutdown_WritesEverythingStillQueued()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var operations = new MetricCollector<long>(meters.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.reasoning_store.operations");
        using var client = new BackendClient(new BackendOptions { Url = backend.Url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        var options = Options.Create(new ReasoningStoreOptions { BulkBatchSize = 64, FlushInterval = TimeSpan.FromSeconds(30) });
        await using (var store = await RunningStore.StartAsync(client, options, metrics))
        {
            for (var i = 0; i < 300; i++)
            {
                store.Store.Enqueue(new JudgementToStore($"id-{i}", new JsonObject { ["doc_id"] = $"d{i}", ["score"] = 0.5, ["relevant"] = true, ["model_id"] = "m", ["passage_hash"] = "h" }));
            }

            // Stopped at once: a flush interval of 30 s has not passed, yet nothing may be lost.
        }

        using var http = new HttpClient { BaseAddress = backend.Url };
        await http.PostAsync("rank1-reasoning/_refresh", null);
        Assert.Equal(300, JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_count"))!["count"]!.GetValue<int>());
        Assert.Equal(300, Count(operations, "written"));
        Assert.Equal(0, Count(operations, "dropped"));
    }

    [Fact]
    public async Task HostStop_WritesEverythingQueued_BeforeItReturns()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Backend:Url"] = backend.Url.ToString(),
            // Nothing is due before the stop: a flush interval of 30 s and a batch larger than what is queued.
            ["Rank1:Store:FlushInterval"] = "00:00:30",
            ["Rank1:Store:BulkBatchSize"] = "100",
        });
        builder.Services.AddRank1ModelBackendAndStore(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();
        var store = host.Services.GetRequiredService<IJudgementStore>();
        for (var i = 0; i < 40; i++)
        {
            store.Enqueue(new JudgementToStore($"id-{i}", new JsonObject { ["doc_id"] = $"d{i}", ["score"] = 0.5, ["relevant"] = true, ["model_id"] = "m", ["passage_hash"] = "h" }));
        }

        await host.StopAsync();

        // Counted while the host is still undisposed: its stop wrote them.
        using var http = new HttpClient { BaseAddress = backend.Url };
        await http.PostAsync("rank1-reasoning/_refresh", null);
        Assert.Equal(40, JsonNode.Parse(await http.GetStringAsync("rank1-reasoning/_count"))!["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task AHostStartedAgainstAnExistingIndex_InstallsTheIndexTemplate_ThenChecksTheMappingBeforeEachBatch()
    {
        // The template makes an index that a _bulk re-creates (after a delete, in a race) hidden and mapped. Checking the
        // mapping before each batch, the writer called EnsureAsync (which installs it) only for a missing index, so a host
        // started where the index already existed never installed or updated it.
        var seen = new List<string>();
        var mapping = new JsonObject { ["rank1-reasoning"] = JsonNode.Parse(ReasoningIndex.Resource("reasoning-index.mapping.json")) }.ToJsonString();
        var (cluster, url) = await LoopbackApp.StartAsync(async context =>
        {
            var call = $"{context.Request.Method} {context.Request.Path}";
            lock (seen)
            {
                seen.Add(call);
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(call switch
            {
                "POST /_bulk" => """{"errors":false,"items":[{"create":{"status":201}}]}""",
                "GET /rank1-reasoning/_mapping" => mapping,
                _ => "{}",
            });
        });
        await using var _ = cluster;
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var client = new BackendClient(new BackendOptions { Url = url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        await using (var store = await RunningStore.StartAsync(client, Options.Create(new ReasoningStoreOptions()), metrics))
        {
            Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("id-1", new JsonObject { ["doc_id"] = "d1" })], CancellationToken.None));
            Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("id-2", new JsonObject { ["doc_id"] = "d2" })], CancellationToken.None));
        }

        Assert.Equal(["PUT /_index_template/rank1-reasoning", "GET /rank1-reasoning/_mapping", "POST /_bulk", "GET /rank1-reasoning/_mapping", "POST /_bulk"], seen);
    }

    [Fact]
    public async Task StoreCalls_CarryTheConfiguredAuthorization_AndTheirBodysContentType()
    {
        var seen = new List<(string Call, string? ContentType, string? Authorization)>();
        var (cluster, url) = await LoopbackApp.StartAsync(async context =>
        {
            var call = $"{context.Request.Method} {context.Request.Path}";
            lock (seen)
            {
                seen.Add((call, context.Request.ContentType, context.Request.Headers.Authorization.ToString()));
            }

            context.Response.ContentType = "application/json";
            context.Response.StatusCode = call == "GET /rank1-reasoning/_mapping" ? 404 : 200; // no index yet: the store creates it
            await context.Response.WriteAsync(call switch
            {
                "POST /_bulk" => """{"errors":false,"items":[{"create":{"status":201}}]}""",
                "POST /rank1-reasoning/_mget" => """{"docs":[{"_id":"id-1","found":false}]}""",
                _ => "{}",
            });
        });
        await using var _ = cluster;
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var client = new BackendClient(new BackendOptions { Url = url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        var options = Options.Create(new ReasoningStoreOptions { Authorization = "ApiKey c2VjcmV0" });
        await using (var store = await RunningStore.StartAsync(client, options, metrics))
        {
            Assert.Equal(new StoreWriteResult(1, 0), await store.Store.WriteAsync([new JudgementToStore("id-1", new JsonObject { ["doc_id"] = "d1" })], CancellationToken.None));
            Assert.Empty(await store.Store.LookupAsync(["id-1"], CancellationToken.None));
        }

        Assert.Equal(
            [
                ("PUT /_index_template/rank1-reasoning", "application/json", "ApiKey c2VjcmV0"),
                ("GET /rank1-reasoning/_mapping", null, "ApiKey c2VjcmV0"),
                ("PUT /rank1-reasoning", "application/json", "ApiKey c2VjcmV0"),
                ("POST /_bulk", "application/x-ndjson", "ApiKey c2VjcmV0"),
                ("POST /rank1-reasoning/_mget", "application/json", "ApiKey c2VjcmV0"),
            ],
            seen);
    }

    [Fact]
    public async Task MalformedStoredDocuments_AreMissesCountedAsFailedReads_TheRestOfTheWindowIsStillRead()
    {
        var (cluster, url) = await LoopbackApp.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""
                {"docs":[
                  {"_index":"rank1-reasoning","_id":"wrong-type","found":true,"_source":{"model_id":"m","passage_hash":"h","score":"high","relevant":true}},
                  {"_index":"rank1-reasoning","_id":"no-model","found":true,"_source":{"passage_hash":"h","score":0.5,"relevant":true}},
                  {"_index":"rank1-reasoning","_id":"null-hash","found":true,"_source":{"model_id":"m","passage_hash":null,"score":0.5,"relevant":true}},
                  {"_index":"rank1-reasoning","_id":"good","found":true,"_source":{"model_id":"m","passage_hash":"h","score":0.25,"relevant":false,"reasoning":"no","reasoning_tokens":4,"ended":"budget","created":"2026-01-01T00:00:00Z"}},
                  {"_index":"rank1-reasoning","_id":"absent","found":false}
                ]}
                """);
        });
        await using var _ = cluster;
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
        using var operations = new MetricCollector<long>(meters.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.reasoning_store.operations");
        using var client = new BackendClient(new BackendOptions { Url = url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
        await using var store = await RunningStore.StartAsync(client, Options.Create(new ReasoningStoreOptions()), metrics);

        var found = await store.Store.LookupAsync(["wrong-type", "no-model", "null-hash", "good", "absent"], CancellationToken.None);

        Assert.Equal(new StoredJudgement("good", "m", "h", 0.25, false, "no", 4, ReasoningEnd.Budget), found["good"]);
        // The unreadable ones are there as such (never used), for their next judgement to replace them; "absent" is not.
        Assert.Equal(["good", "no-model", "null-hash", "wrong-type"], found.Keys.Order(StringComparer.Ordinal));
        Assert.All(["no-model", "null-hash", "wrong-type"], id => Assert.Equal(StoredJudgement.Unreadable(id), found[id]));
        Assert.Equal(3, Count(operations, "read_failed"));
    }

    // A reasoning-index document of every mapped field.
    private static JsonObject Doc(string docId) => new()
    {
        ["model_id"] = "m", ["prompt_version"] = "v", ["target_index"] = "docs", ["doc_id"] = docId, ["fingerprint"] = "f", ["query"] = "q",
        ["passage_hash"] = "h", ["score"] = 0.7, ["relevant"] = true, ["reasoning"] = "because", ["reasoning_tokens"] = 3, ["ended"] = "finished",
        ["created"] = "2026-01-01T00:00:00Z", ["compute_ms"] = 12,
    };

    /// <summary>A judgement document of the store's shape for passage <paramref name="docId"/>, written as is.</summary>
    private static JsonObject StoredDocument(string docId, double score) => new()
    {
        ["model_id"] = "m", ["prompt_version"] = "v", ["target_index"] = "docs", ["doc_id"] = docId, ["fingerprint"] = "f", ["query"] = "q",
        ["passage_hash"] = "h", ["score"] = score, ["relevant"] = true, ["reasoning"] = "because", ["reasoning_tokens"] = 3, ["ended"] = "finished",
        ["created"] = "2026-01-01T00:00:00Z", ["compute_ms"] = 12,
    };

    private static long Count(MetricCollector<long> operations, string outcome) =>
        operations.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == outcome).Sum(m => m.Value);

    /// <summary>A store with its writer running, stopped when disposed as a host stops it (what is queued is written).</summary>
    /// <summary>The reasoning store of a host on an embedded backend over loopback, with a client of that backend.</summary>
    private sealed class StoreOnEmbeddedBackend : IAsyncDisposable
    {
        private readonly EmbeddedSearchServer _backend;
        private readonly ServiceProvider _meters;
        private readonly BackendClient _client;

        private StoreOnEmbeddedBackend(EmbeddedSearchServer backend, ServiceProvider meters, BackendClient client, RunningStore store)
        {
            _backend = backend;
            _meters = meters;
            _client = client;
            Store = store;
            Http = new HttpClient { BaseAddress = backend.Url };
        }

        public RunningStore Store { get; }

        public HttpClient Http { get; }

        /// <summary>The store's outcomes (<c>rank1.reasoning_store.operations</c>) from the start.</summary>
        public MetricCollector<long> Operations { get; private init; } = null!;

        public static async Task<StoreOnEmbeddedBackend> StartAsync(ILogger<ReasoningStore>? logger = null)
        {
            var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
            var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var metrics = new Rank1Metrics(meters.GetRequiredService<IMeterFactory>());
            var operations = new MetricCollector<long>(meters.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.reasoning_store.operations");
            var client = new BackendClient(new BackendOptions { Url = backend.Url.ToString() }, TimeProvider.System, metrics.BackendFailure, NullLogger<BackendClient>.Instance);
            return new StoreOnEmbeddedBackend(backend, meters, client, await RunningStore.StartAsync(client, Options.Create(new ReasoningStoreOptions()), metrics, logger))
            {
                Operations = operations,
            };
        }

        public async ValueTask DisposeAsync()
        {
            await Store.DisposeAsync();
            Operations.Dispose();
            Http.Dispose();
            _client.Dispose();
            await _meters.DisposeAsync();
            await _backend.DisposeAsync();
        }
    }

    private sealed class RunningStore : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly ReasoningStoreWriter _writer;

        private RunningStore(ServiceProvider services, ReasoningStoreWriter writer, ReasoningStore store)
        {
            _services = services;
            _writer = writer;
            Store = store;
        }

        public ReasoningStore Store { get; }

        /// <summary>The background writer, whose loop (<see cref="BackgroundService.ExecuteTask"/>) a test may watch.</summary>
        public ReasoningStoreWriter Writer => _writer;

        public static async Task<RunningStore> StartAsync(BackendClient client, IOptions<ReasoningStoreOptions> options, Rank1Metrics metrics, ILogger<ReasoningStore>? logger = null)
        {
            var services = new ServiceCollection().AddSingleton(client).BuildServiceProvider();
            logger ??= NullLogger<ReasoningStore>.Instance;
            var writer = new ReasoningStoreWriter(services, options, metrics, TimeProvider.System, logger);
            await writer.StartAsync(CancellationToken.None);
            return new RunningStore(services, writer, new ReasoningStore(client, options, writer, metrics, logger));
        }

        public async ValueTask DisposeAsync()
        {
            await _writer.StopAsync(CancellationToken.None);
            _writer.Dispose();
            await _services.DisposeAsync();
        }
    }
}
