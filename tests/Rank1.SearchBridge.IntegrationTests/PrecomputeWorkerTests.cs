using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Precompute;
using Rank1.SearchBridge.Store;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// The precompute path end to end on a real RabbitMQ broker (a private node per class), the worker host and
/// <c>rank1-bridge precompute</c> as real processes, and the proxy and search backend on loopback.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Broker)]
public sealed class PrecomputeWorkerTests(RabbitMqFixture broker) : IClassFixture<RabbitMqFixture>
{
    private const int Window = 5;

    // Think tokens that keep the tiny model on one passage for seconds, even on a fast machine.
    private const int SlowThink = 1000;

    // Without RabbitMQ installed the test fails naming what to install: it never skips.
    private RabbitMqNode Node => broker.Node ?? throw new InvalidOperationException(RabbitMqNode.Missing);

    // The model the worker stores its judgements under (id and content), read from the model folder (no engine loaded).
    private static JudgingModel TinyModel
    {
        get
        {
            var folder = ModelFolder.Open(TestPaths.TinyModel);
            return new JudgingModel(folder.ModelId, folder.Fingerprint);
        }
    }

    // The worker's setting that logs each job's query text (event 2406), as an operator sets it.
    private const string PrecomputeDebug = "Logging__LogLevel__Rank1.SearchBridge.Precompute";

    // The query texts a worker at Debug logged, by their fingerprints.
    private static Dictionary<string, string> QueryTexts(IEnumerable<string> output) =>
        output.Select(l => Regex.Match(l, "Query ([0-9a-f]{64}) is '(.*)'$")).Where(m => m.Success)
            .GroupBy(m => m.Groups[1].Value, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Groups[2].Value, StringComparer.Ordinal);

    private static string NewQueue() => "rank1-test-" + Guid.NewGuid().ToString("N")[..8];

    private static string[] PrecomputeArgs(string queries, string brokerUrl, string queue, int maxThinkTokens, params string[] more) =>
    [
        "--queries", queries, "--index", ProxyStack.Index, "--window", Window.ToString(CultureInfo.InvariantCulture), "--fields", "text", "--title-field", "title",
        "--max-think-tokens", maxThinkTokens.ToString(CultureInfo.InvariantCulture), "--broker", brokerUrl, "--queue", queue, .. more,
    ];

    // A MassTransit envelope written by hand, as a producer that does not use MassTransit publishes one.
    private static byte[] Envelope(JsonNode? message, string type = "urn:message:Rank1.SearchBridge.Messages:PrecomputeReasoning") => System.Text.Encoding.UTF8.GetBytes(new JsonObject
    {
        ["messageId"] = Guid.NewGuid().ToString(),
        ["messageType"] = new JsonArray(type),
        ["message"] = message,
    }.ToJsonString());

    /// <summary>Runs <paramref name="declare"/> on a channel of the plain RabbitMQ client: what an operator declares or deletes by hand.</summary>
    private static async Task OnChannelAsync(string url, Func<RabbitMQ.Client.IChannel, Task> declare)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await declare(channel);
    }

    /// <summary>Publishes these bodies, as they are, through the queue's own exchange, with the plain RabbitMQ client (each confirmed).</summary>
    private static async Task PublishRawAsync(string url, string exchange, IEnumerable<byte[]> bodies)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new RabbitMQ.Client.CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        foreach (var body in bodies)
        {
            var properties = new RabbitMQ.Client.BasicProperties { ContentType = "application/vnd.masstransit+json", DeliveryMode = RabbitMQ.Client.DeliveryModes.Persistent };
            await channel.BasicPublishAsync(exchange, string.Empty, true, properties, body);
        }
    }

    private static Task WaitForConsumerAsync(string url, string queue, WorkerProcess worker) => BrokerProcesses.WaitUntilAsync(async () =>
    {
        try
        {
            return (await QueueDepth.ReadAsync(url, queue)).Consumers == 1;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return false; // the worker has not declared its queue yet
        }
    }, TestBounds.Hang, () => $"the worker never consumed {queue}:\n" + worker.Log);

    private static string MultiMatch(string query) =>
        new JsonObject { ["query"] = new JsonObject { ["multi_match"] = new JsonObject { ["query"] = query, ["fields"] = new JsonArray("text") } } }.ToJsonString();

    [Fact]
    public async Task FiftyQueries_StoredByTheWorker_AreThenAnsweredCached_WithZeroModelCalls()
    {
        var node = Node;
        using var counting = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(counting));
        var queue = NewQueue();
        var queries = BrokerProcesses.CorpusQueries(50);
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);

        var run = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(queries), node.Url, queue, 4, "--wait", "--timeout", "240"));

        Assert.True(run.ExitCode == 0, $"precompute exited {run.ExitCode}: {run.Out}\n{run.Error}\nworker:\n{worker.Log}");
        Assert.Contains("Published 50 precompute jobs", run.Out, StringComparison.Ordinal);
        Assert.Contains("Finished: 50 stored", run.Out, StringComparison.Ordinal);
        var expected = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, queries, Window, 4, JudgingModel.Of(counting));
        Assert.Equal(expected.Order(), (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Order());

        foreach (var q in queries)
        {
            var r = await stack.SearchAsync(MultiMatch(q));
            Assert.Equal(200, r.Status);
            Assert.True(r.Rerank == "cached", $"'{q}' was {r.Rerank}");
            Assert.All(r.Json["hits"]!["hits"]!.AsArray().Take(Window), h => Assert.NotNull(h!["fields"]?["_rank1.score"]));
        }

        Assert.Equal(0, counting.Calls);

        // The worker's own metrics and health, scraped over HTTP: every judgement it stored was judged and written by it.
        var workerUrl = await worker.UrlAsync();
        using var workerHttp = new HttpClient { BaseAddress = workerUrl };
        var metrics = await workerHttp.GetStringAsync("_rank1/metrics");
        Assert.Equal(expected.Count, PrometheusText.Value(metrics, "rank1_reasoning_store_operations_total", ("outcome", "written")));
        Assert.Equal(expected.Count, PrometheusText.Sum(metrics, "rank1_passages_judged_total"));
        var health = JsonNode.Parse(await workerHttp.GetStringAsync("_rank1/health"))!;
        Assert.Equal("healthy", health["status"]!.GetValue<string>());

        // The images' HEALTHCHECK, the worker binary's --health-check as a second process, passes on the healthy worker.
        var probe = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet", [BrokerProcesses.WorkerDll, WorkerHealthProbe.Switch], Path.GetDirectoryName(BrokerProcesses.WorkerDll),
            new Dictionary<string, string> { ["Urls"] = workerUrl.ToString() }));
        Assert.True(probe.ExitCode == 0, $"exit {probe.ExitCode}: {probe.Out}{probe.Error}");
        Assert.Contains("/_rank1/health: 200 ", probe.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerKilledMidRun_AndRestarted_EveryJobCompletes_NothingDuplicatedOrLost()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        var queries = BrokerProcesses.CorpusQueries(30);
        const int think = 48; // slow enough that the kill lands in the middle of the run
        var log = BrokerProcesses.QueryLog(queries);
        var run = BrokerProcesses.PrecomputeAsync(PrecomputeArgs(log, node.Url, queue, think, "--wait", "--timeout", "280"));
        var model = TinyModel;
        var expected = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, queries, Window, think, model);

        var first = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        await BrokerProcesses.WaitUntilAsync(async () => (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length >= 10, TestBounds.Hang, () => "the first worker stored nothing:\n" + first.Log);
        await first.KillAsync();
        var atKill = await BrokerProcesses.StoredIdsAsync(stack.Backend.Url);
        Assert.True(atKill.Length < expected.Count, $"the run finished before the kill ({atKill.Length} of {expected.Count}); the test proves nothing");

        await using var second = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        var result = await run;
        Assert.True(result.ExitCode == 0, $"precompute exited {result.ExitCode}: {result.Out}\n{result.Error}\nworker:\n{second.Log}");
        Assert.Contains("Finished: 30 stored", result.Out, StringComparison.Ordinal);

        var stored = await BrokerProcesses.StoredIdsAsync(stack.Backend.Url);
        Assert.Equal(stored.Length, stored.Distinct().Count());        // no duplicates
        Assert.Equal(expected.Order(), stored.Order());                 // nothing lost, nothing extra
        Assert.Subset(stored.ToHashSet(), atKill.ToHashSet());          // what was stored before the kill is still there
        await first.DisposeAsync();
    }

    // A proxy that publishes a query hot at its second search, whose own model always fails (so it never stores
    // anything itself): a query it answers "cached" can only have been precomputed by a worker.
    private static Task<ProxyStack> HotQueryProxyAsync(RabbitMqNode node, string queue, JudgingModel model) => ProxyStack.StartAsync(new()
    {
        ["Rank1:Broker:Url"] = node.Url,
        ["Rank1:Broker:Queue"] = queue,
        ["Rank1:HotQueries:Threshold"] = "2",
    }, s => s.AddSingleton<IPassageJudge>(new FailingJudge(model)));

    [Fact]
    public async Task BrokerRestartedMidRun_WorkerAndProxyReconnect_AndTheRunCompletes()
    {
        var node = Node;
        var queue = NewQueue();
        // The proxy's own model always fails (so the proxy never stores anything itself): a query it answers
        // "cached" can only have been precomputed by the worker, after the proxy published it.
        var model = TinyModel;
        await using var stack = await HotQueryProxyAsync(node, queue, model);
        var queries = BrokerProcesses.CorpusQueries(30);
        const int think = 48;
        var published = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(queries), node.Url, queue, think));
        Assert.True(published.ExitCode == 0, published.Error);
        var expected = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, queries, Window, think, model);

        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        await BrokerProcesses.WaitUntilAsync(async () => (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length >= 10, TestBounds.Hang, () => "the worker stored nothing:\n" + worker.Log);
        await node.StopAsync();
        var atStop = (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length;
        Assert.True(atStop < expected.Count, $"the run finished before the broker stopped ({atStop} of {expected.Count}); the test proves nothing");
        // Both saw the broker go before it comes back, so that what follows is their reconnecting, not a connection that
        // never noticed: the worker's health is no longer healthy (its endpoints degraded), and the proxy's says its broker
        // connection is down. The proxy's bus only publishes: MassTransit's own health said Healthy/Ready all through.
        using var workerHttp = new HttpClient { BaseAddress = await worker.UrlAsync() };
        var seen = "";
        await BrokerProcesses.WaitUntilAsync(async () =>
        {
            var workerHealth = JsonNode.Parse(await workerHttp.GetStringAsync("_rank1/health"))!;
            var proxyBroker = JsonNode.Parse(await stack.Http.GetStringAsync("_rank1/health"))!["broker"]!;
            seen = $"worker {workerHealth.ToJsonString()}; proxy {proxyBroker.ToJsonString()}";
            return workerHealth["status"]!.GetValue<string>() != "healthy" && proxyBroker["status"]!.GetValue<string>() == "unhealthy";
        }, TestBounds.Hang, () => $"the worker or the proxy never saw the broker go: {seen}");
        var down = JsonNode.Parse(await stack.Http.GetStringAsync("_rank1/health"))!["broker"]!;
        Assert.StartsWith("Not connected: the connection to the broker is down", down["description"]!.GetValue<string>(), StringComparison.Ordinal);
        await node.StartAsync();

        // The worker reconnects by itself and finishes the run: every job of the queue (a quorum queue, on disk) is stored.
        await BrokerProcesses.WaitUntilAsync(async () => (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length >= expected.Count, TimeSpan.FromMinutes(3),
            () => "the run did not complete after the broker restart:\n" + worker.Log);
        Assert.Equal(expected.Order(), (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Order());
        Assert.False(worker.HasExited, worker.Log);

        // The proxy reconnects too: a hot query is published after the restart, and the worker's answer is then served cached.
        const string hot = "onion gas irritates";
        await BrokerProcesses.WaitUntilAsync(async () => (await stack.SearchAsync(MultiMatch(hot))).Rerank == "cached",
            TestBounds.Hang, () => "the hot query was never precomputed after the restart:\n" + worker.Log);
        Assert.True(PrometheusText.Value(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", "published")) >= 1);
        var health = JsonNode.Parse(await stack.Http.GetStringAsync("_rank1/health"))!;
        Assert.Equal("healthy", health["broker"]!["status"]!.GetValue<string>());
        // The broker URL carries guest:guest; health shows where the broker is, never who logs in to it.
        Assert.Equal($"amqp://127.0.0.1:{node.Port}/", health["broker"]!["url"]!.GetValue<string>());
        Assert.DoesNotContain("guest", health.ToJsonString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Rank1__Model__Path", "smooth", "and this worker's model (tiny-smooth) has")]
    [InlineData("Rank1__Model__MaxPassageTokens", "16", "its token limits (Rank1:Model:MaxQueryTokens 512, MaxPassageTokens 16) differ from the proxy's")]
    public async Task HotQuery_ToAWorkerThatWouldStoreItWhereTheProxyNeverLooks_IsRefusedToTheErrorQueueSayingWhy(string setting, string value, string reason)
    {
        // A worker with another model (or other model token limits) than the proxy judged the proxy's hot queries in full
        // and stored them under its own keys: the proxy never found them, answered partial and asked again every
        // DedupWindow, for ever, with nothing anywhere saying why.
        var node = Node;
        var queue = NewQueue();
        var model = TinyModel;
        await using var stack = await HotQueryProxyAsync(node, queue, model);
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue,
            new() { [setting] = value == "smooth" ? TestPaths.TinySmoothModel : value });
        const string hot = "onion gas irritates";
        async Task<double> Published() => PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", "published"));
        for (var i = 0; i < 10 && await Published() < 1; i++)
        {
            await stack.SearchAsync(MultiMatch(hot));
        }

        IReadOnlyList<ErrorQueue.Entry> faults = [];
        await BrokerProcesses.WaitUntilAsync(async () => (faults = await ErrorQueue.PollAsync(node.Url, queue + "-hot_error")).Count > 0,
            TestBounds.Hang, () => "the job never reached the error queue:\n" + worker.Log);
        var fault = Assert.Single(faults);
        Assert.Contains(reason, fault.Reason, StringComparison.Ordinal);
        Assert.Contains("would be stored where the proxy never looks them up", fault.Reason, StringComparison.Ordinal);
        Assert.Empty(await BrokerProcesses.StoredIdsAsync(stack.Backend.Url));
        Assert.DoesNotContain(worker.Output, l => l.Contains("Judging ", StringComparison.Ordinal) && l.Contains(" passages of ", StringComparison.Ordinal));

        // The worker's health names its model, as the proxy's does: the mismatch can be seen before any job; its metrics
        // count the job refused.
        using var health = new HttpClient { BaseAddress = await worker.UrlAsync() };
        var metrics = await health.GetStringAsync("_rank1/metrics");
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_precompute_jobs_total", ("queue", "hot"), ("outcome", "refused")));
        Assert.Equal(0, PrometheusText.Sum(metrics, "rank1_precompute_jobs_total", ("outcome", "stored")));
        var workerModel = JsonNode.Parse(await health.GetStringAsync("_rank1/health"))!["model"]!;
        var proxyModel = JsonNode.Parse(await stack.Http.GetStringAsync("_rank1/health"))!["model"]!;
        Assert.Equal(model.Fingerprint, proxyModel["fingerprint"]!.GetValue<string>());
        Assert.Equal(setting == "Rank1__Model__Path", workerModel["fingerprint"]!.GetValue<string>() != model.Fingerprint);
    }

    [Theory]
    [InlineData(512, 4)] // token limits are part of the proxy's fingerprint: the job must carry them to the worker
    [InlineData(null, 0)] // a zero reasoning budget is a valid rule: the worker must judge it, not send it to the error queue
    public async Task HotQueryOfAnIndexRule_PrecomputedByTheWorker_IsThenAnsweredCached(int? maxPassageTokens, int maxThinkTokens)
    {
        var node = Node;
        var queue = NewQueue();
        // The proxy's own model always fails (so the proxy never stores anything itself): "cached" can only come from the worker.
        var model = TinyModel;
        var settings = new Dictionary<string, string?>
        {
            ["Rank1:Broker:Url"] = node.Url,
            ["Rank1:Broker:Queue"] = queue,
            ["Rank1:HotQueries:Threshold"] = "2",
            ["Rank1:Proxy:Indices:0:Pattern"] = ProxyStack.Index,
            ["Rank1:Proxy:Indices:0:TitleField"] = "title",
            ["Rank1:Proxy:Indices:0:Window"] = Window.ToString(CultureInfo.InvariantCulture),
            ["Rank1:Proxy:Indices:0:MaxThinkTokens"] = maxThinkTokens.ToString(CultureInfo.InvariantCulture),
        };
        if (maxPassageTokens is { } limit)
        {
            settings["Rank1:Proxy:Indices:0:MaxPassageTokens"] = limit.ToString(CultureInfo.InvariantCulture);
        }

        await using var stack = await ProxyStack.StartAsync(settings, s => s.AddSingleton<IPassageJudge>(new FailingJudge(model)));
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        const string hot = "onion gas irritates";
        // Searched until it is hot (counts decay, so a threshold of 2 takes a third search) and the proxy has published it.
        async Task<double> Published() => PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", "published"));
        for (var i = 0; i < 10 && await Published() < 1; i++)
        {
            Assert.Equal("fallback-error", (await stack.SearchAsync(MultiMatch(hot))).Rerank); // FailingJudge: the model fails, or its circuit is open
        }

        await BrokerProcesses.WaitUntilAsync(async () => await Published() >= 1, TestBounds.Hang, () => "the proxy never published the hot query");

        // The worker's answer to the job: stored, or (before the fixes) an error-queue fault.
        // Named by its fingerprint and length, never its text (the only job this worker gets).
        bool Stored() => worker.Output.Any(l => l.Contains("Precomputed query ", StringComparison.Ordinal) && l.Contains($"({hot.Length} characters) on docs", StringComparison.Ordinal));
        await BrokerProcesses.WaitUntilAsync(async () => Stored() || (await ErrorQueue.PollAsync(node.Url, queue + "-hot_error")).Count > 0,
            TestBounds.Hang, () => "the worker never took the hot query:\n" + worker.Log);
        Assert.Empty((await ErrorQueue.ReadAsync(node.Url, queue + "-hot_error")).Select(f => f.Reason));
        Assert.True(Stored(), worker.Log);
        using var workerHttp = new HttpClient { BaseAddress = await worker.UrlAsync() };
        Assert.Equal(1, PrometheusText.Value(await workerHttp.GetStringAsync("_rank1/metrics"), "rank1_precompute_jobs_total", ("queue", "hot"), ("outcome", "stored")));

        var served = await stack.SearchAsync(MultiMatch(hot));
        Assert.Equal("cached", served.Rerank);
        Assert.All(served.Json["hits"]!["hits"]!.AsArray().Take(Window), h => Assert.Equal("cached", h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
    }

    // A hot search that pins documents on top (a rule retriever whose rule pinned d04 and d08: FrontBackend's index pinned
    // answers as Elasticsearch does, the pins scored above PinnedQueryBuilder.MAX_ORGANIC_SCORE) reaches the workers as any
    // hot search. The proxy keeps the pins in their places unjudged and reranks the organic hits after them; the worker
    // judged the whole window, the pins included: model time for judgements the proxy never reads. It judges the organic
    // hits alone (PinnedHits.OrganicFrom, the proxy's rule), stored where the proxy looks them up: the search is then
    // answered cached, the pins on top.
    [Fact]
    public async Task HotPinningSearch_TheWorkerJudgesOnlyTheOrganicHitsAfterThePins_ThenAnsweredCached()
    {
        var node = Node;
        var queue = NewQueue();
        var model = TinyModel;
        FrontBackend front = null!;
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Broker:Url"] = node.Url,
            ["Rank1:Broker:Queue"] = queue,
            ["Rank1:HotQueries:Threshold"] = "2",
        }, s => s.AddSingleton<IPassageJudge>(new FailingJudge(model)), inFront: async embedded => (front = await FrontBackend.StartAsync(embedded)).Url);
        await using var frontBackend = front;
        await using var worker = BrokerProcesses.StartWorker(front.Url, node.Url, queue);
        const string body = """{"retriever":{"rule":{"retriever":{"standard":{"query":{"match":{"text":"onion eyes"}}}},"match_criteria":{"query_string":"onion eyes"},"ruleset_ids":["promotions"]}}}""";
        async Task<double> Published() => PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", "published"));
        for (var i = 0; i < 10 && await Published() < 1; i++)
        {
            Assert.Equal("fallback-error", (await stack.SearchAsync(body, "pinned/_search")).Rerank); // FailingJudge: the model fails, or its circuit is open
        }

        await BrokerProcesses.WaitUntilAsync(async () => await Published() >= 1, TestBounds.Hang, () => "the proxy never published the hot query");
        bool Stored() => worker.Output.Any(l => l.Contains("Precomputed query ", StringComparison.Ordinal) && l.Contains(" on pinned: ", StringComparison.Ordinal));
        await BrokerProcesses.WaitUntilAsync(async () => Stored() || (await ErrorQueue.PollAsync(node.Url, queue + "-hot_error")).Count > 0,
            TestBounds.Hang, () => "the worker never took the hot query:\n" + worker.Log);
        Assert.Empty((await ErrorQueue.ReadAsync(node.Url, queue + "-hot_error")).Select(f => f.Reason));

        // The three organic hits of the window of five, judged and stored under the proxy's keys; the two pins neither.
        using var workerHttp = new HttpClient { BaseAddress = await worker.UrlAsync() };
        Assert.Equal(3, PrometheusText.Sum(await workerHttp.GetStringAsync("_rank1/metrics"), "rank1_passages_judged_total"));
        var fingerprint = ReasoningKeys.Fingerprint("onion eyes", null, 4, ["text"], "title");
        var organic = FrontBackend.PinnedOrder[2..].Select(id => ProxyStack.Corpus.Single(c => c.Id == id))
            .Select(c => JudgementRecords.Key("pinned", c.Id, model, fingerprint, c.Title, c.Text).Id);
        Assert.Equal(organic.Order(StringComparer.Ordinal), (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Order(StringComparer.Ordinal));

        var served = await stack.SearchAsync(body, "pinned/_search");
        Assert.Equal("cached", served.Rerank);
        Assert.Equal(["pinned", "pinned", "cached", "cached", "cached"],
            served.Json["hits"]!["hits"]!.AsArray().Select(h => h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
        Assert.Equal(FrontBackend.PinnedOrder[..2], served.Ids[..2]);
    }

    [Fact]
    public async Task QueryText_IsNotInTheWorkersInformationLog_WhichNamesItsFingerprintAndLength()
    {
        // A search query may be personal data: the worker logged it verbatim at Information ("Judging N passages of
        // '<query>'", "Precomputed '<query>' ..."). As vLLM logs prompts only at DEBUG: the text at Debug, once per job.
        const string query = "onion tears of jane doe";
        var (broker, queue) = (Node.Url, NewQueue());
        await using var stack = await ProxyStack.StartAsync();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, broker, queue); // the appsettings' Information
        var run = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog([query]), broker, queue, 4, "--wait", "--timeout", "120"));
        Assert.True(run.ExitCode == 0, $"precompute exited {run.ExitCode}: {run.Out}\n{run.Error}\nworker:\n{worker.Log}");

        await BrokerProcesses.WaitUntilAsync(() => Task.FromResult(worker.Output.Any(l => l.Contains("Precomputed ", StringComparison.Ordinal))),
            TestBounds.Hang, () => "the worker never logged the stored job:\n" + worker.Log);
        Assert.DoesNotContain(worker.Output, l => l.Contains("jane doe", StringComparison.OrdinalIgnoreCase));
        var named = $"query {ReasoningKeys.Fingerprint(query, null, 4, ["text"], "title")} ({query.Length} characters)";
        Assert.Contains(worker.Output, l => l.Contains($"Precomputed {named} on docs", StringComparison.Ordinal));
        Assert.Contains(worker.Output, l => l.Contains("Judging ", StringComparison.Ordinal) && l.Contains($" passages of {named} on docs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task JobsForAnotherQueue_NeverReachAQueueNamedBefore_TheirOwnWorkerStoresThem()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var (first, other) = (NewQueue(), NewQueue());

        // One job for a queue that no worker consumes: it waits there (and a fan-out would have bound that queue for good).
        var parked = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(["onion"]), node.Url, first, 4));
        Assert.True(parked.ExitCode == 0, parked.Out + parked.Error);
        Assert.Equal((1u, 0u), await QueueDepth.ReadAsync(node.Url, first));

        var queries = BrokerProcesses.CorpusQueries(5);
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, other);
        var run = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(queries), node.Url, other, 4, "--wait", "--timeout", "240"));

        Assert.True(run.ExitCode == 0, $"precompute exited {run.ExitCode}: {run.Out}\n{run.Error}\nworker:\n{worker.Log}");
        Assert.Contains("Finished: 5 stored", run.Out, StringComparison.Ordinal);
        // Every publish was confirmed, so every copy the broker routed is in its queue by now: the first queue got none.
        Assert.Equal((1u, 0u), await QueueDepth.ReadAsync(node.Url, first));
        Assert.Equal(0u, (await QueueDepth.ReadAsync(node.Url, other)).Messages);
    }

    [Fact]
    public async Task PoisonRequests_EndInTheErrorQueueWithTheReason_AndTheRestIsStored()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);

        // A search the backend rejects (no such index) cannot succeed: it must not be retried forever or block the queue.
        var bad = await BrokerProcesses.PrecomputeAsync("--queries", BrokerProcesses.QueryLog(["onion"]), "--index", "no-such-index", "--broker", node.Url, "--queue", queue,
            "--max-think-tokens", "4", "--wait", "--timeout", "120");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Finished: 0 stored (0 passages judged, 0 already stored), 1 failed.", bad.Out, StringComparison.Ordinal);
        Assert.Contains("failed: 'onion': ", bad.Error, StringComparison.Ordinal);
        Assert.Contains("no-such-index", bad.Error, StringComparison.Ordinal);

        var faults = await ErrorQueue.ReadAsync(node.Url, queue + "_error");
        var fault = Assert.Single(faults);
        Assert.Contains("no-such-index", fault.Reason, StringComparison.Ordinal);
        Assert.Contains("InvalidPrecomputeRequestException", fault.ExceptionType, StringComparison.Ordinal);

        var good = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(["onion soup"]), node.Url, queue, 4, "--wait", "--timeout", "120"));
        Assert.True(good.ExitCode == 0, good.Out + good.Error + worker.Log);
        Assert.Contains("Finished: 1 stored", good.Out, StringComparison.Ordinal);

        // A hot-query message published by hand, without its job, is refused as well, saying so.
        var hot = queue + "-hot";
        await WaitForConsumerAsync(node.Url, hot, worker);

        // A MassTransit envelope of the right message type whose message has no job, through the queue's own exchange.
        await PublishRawAsync(node.Url, hot, [Envelope(new JsonObject { ["job"] = null }, "urn:message:Rank1.SearchBridge.Messages:PrecomputeHotQuery")]);

        IReadOnlyList<ErrorQueue.Entry> hotFaults = [];
        await BrokerProcesses.WaitUntilAsync(async () => (hotFaults = await ErrorQueue.PollAsync(node.Url, hot + "_error")).Count > 0, TestBounds.Hang,
            () => "the job never reached the error queue:\n" + worker.Log);
        var hotFault = Assert.Single(hotFaults);
        // A poison failure, so not retried (the retry policy lets InvalidPrecomputeRequestException through); a
        // NullReferenceException was retried RetryLimit times and said nothing of the message.
        Assert.Equal("Rank1.SearchBridge.Precompute.InvalidPrecomputeRequestException", hotFault.ExceptionType);
        Assert.Equal("invalid hot-query message: [job] is required", hotFault.Reason);
        using var workerHttp = new HttpClient { BaseAddress = await worker.UrlAsync() };
        var counted = await workerHttp.GetStringAsync("_rank1/metrics");
        Assert.Equal(1, PrometheusText.Value(counted, "rank1_precompute_jobs_total", ("queue", "hot"), ("outcome", "refused")));
        // Counted once: the error pipe does not count again what the consumer counted (JobCounted).
        Assert.Equal(1, PrometheusText.Sum(counted, "rank1_precompute_jobs_total", ("queue", "hot")));

        // Jobs published straight to the job queue by a third-party producer (rank1-bridge precompute skips such a
        // line) whose query is only control characters, or control characters and white space: the worker took them
        // (IsNullOrWhiteSpace keeps U+0000 to U+001F that are not white space), searched the backend with them and
        // reported them stored. They are refused as any invalid job is: to the error queue, not retried, counted refused.
        // So are a job's instructions and title field of such characters only, as the proxy refuses ext.rank1's: the
        // worker judged "onion \u0001" and stored it under a key no search looks up.
        JsonObject Job(string query, string? instructions = null, string? titleField = null) => new()
        {
            ["targetIndex"] = ProxyStack.Index, ["query"] = query, ["window"] = Window, ["fields"] = new JsonArray("text"), ["maxThinkTokens"] = 4,
            ["reason"] = "offline", ["jobId"] = Guid.NewGuid().ToString(), ["instructions"] = instructions, ["titleField"] = titleField,
        };
        await PublishRawAsync(node.Url, queue,
            [Envelope(Job("\u0001\u0007")), Envelope(Job(" \u0000\t\u001f ")), Envelope(Job("onion soup", instructions: "\u0001\t")), Envelope(Job("onion soup", titleField: "\u200B"))]);
        await BrokerProcesses.WaitUntilAsync(async () => (faults = await ErrorQueue.PollAsync(node.Url, queue + "_error")).Count >= 5, TestBounds.Hang,
            () => "the blank jobs never reached the error queue:\n" + worker.Log);
        Assert.Equal(
            [
                "invalid precompute request: [instructions] must not be blank", "invalid precompute request: [query] must not be blank",
                "invalid precompute request: [query] must not be blank", "invalid precompute request: [titleField] must not be blank",
            ],
            faults.Skip(1).Select(f => f.Reason).Order(StringComparer.Ordinal).ToArray());
        Assert.All(faults, f => Assert.Equal("Rank1.SearchBridge.Precompute.InvalidPrecomputeRequestException", f.ExceptionType));
        Assert.Equal(5, faults.Count);
        counted = await workerHttp.GetStringAsync("_rank1/metrics");
        Assert.Equal((5, 1), (PrometheusText.Value(counted, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "refused")),
            PrometheusText.Value(counted, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "stored"))));
    }

    /// <summary>
    /// A job of <c>""</c> instructions and title field, as older proxies published a rule's (<c>Instructions=</c> binds
    /// <c>""</c>) and older <c>rank1-bridge precompute</c> runs published <c>--instructions ""</c>, still queued after an
    /// upgrade: "" has always meant none in the key and the prompt, so the worker stores it where the proxy's search
    /// without instructions looks. It went to the error queue as "[instructions] must not be blank".
    /// </summary>
    [Fact]
    public async Task AJobOfEmptyInstructionsAndTitleField_FromAnOlderProducer_IsStoredWhereTheSearchWithoutThemLooks()
    {
        var node = Node;
        var queue = NewQueue();
        // The proxy's own model always fails (it stores nothing itself): "cached" can only come from the worker.
        var settings = new Dictionary<string, string?>
        {
            ["Rank1:Proxy:Indices:0:Pattern"] = ProxyStack.Index,
            ["Rank1:Proxy:Indices:0:Window"] = Window.ToString(CultureInfo.InvariantCulture),
            ["Rank1:Proxy:Indices:0:MaxThinkTokens"] = "4",
        };
        await using var stack = await ProxyStack.StartAsync(settings, s => s.AddSingleton<IPassageJudge>(new FailingJudge(TinyModel)));
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        await WaitForConsumerAsync(node.Url, queue, worker);

        const string query = "onion soup";
        await PublishRawAsync(node.Url, queue, [Envelope(new JsonObject
        {
            ["targetIndex"] = ProxyStack.Index, ["query"] = query, ["window"] = Window, ["fields"] = new JsonArray("text"), ["maxThinkTokens"] = 4,
            ["reason"] = "offline", ["jobId"] = Guid.NewGuid().ToString(), ["instructions"] = "", ["titleField"] = "",
        })]);

        // Stored under the key of the search without instructions or title field (named by it in the worker's log).
        var stored = $"Precomputed query {ReasoningKeys.Fingerprint(query, null, 4, ["text"], null)} ({query.Length} characters) on docs";
        await BrokerProcesses.WaitUntilAsync(async () => worker.Output.Any(l => l.Contains(stored, StringComparison.Ordinal)) || (await ErrorQueue.PollAsync(node.Url, queue + "_error")).Count > 0,
            TestBounds.Hang, () => "the worker never took the job:\n" + worker.Log);
        Assert.Empty((await ErrorQueue.ReadAsync(node.Url, queue + "_error")).Select(f => f.Reason));
        Assert.Contains(worker.Output, l => l.Contains(stored, StringComparison.Ordinal));

        // The proxy's own lookup for that search finds every judgement of the window.
        var served = await stack.SearchAsync(MultiMatch(query));
        Assert.Equal("cached", served.Rerank);
        Assert.All(served.Json["hits"]!["hits"]!.AsArray().Take(Window), h => Assert.Equal("cached", h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()));
    }

    /// <summary>
    /// <c>rank1-bridge precompute</c> stopped by a real Ctrl+C (SIGINT) while it publishes: it says on standard error how
    /// many jobs were at least published, which stay queued for the workers, and exits 130. The line had no test. The
    /// tool reaches the broker through a relay that passes its first bytes and then holds the rest, so some jobs are
    /// published and confirmed and the rest wait: the signal comes while it publishes, whatever the machine's speed.
    /// </summary>
    [Fact]
    public async Task Precompute_CtrlCWhilePublishing_SaysHowManyJobsWereAtLeastPublished_AndTheyAreQueued()
    {
        var node = Node;
        var queue = NewQueue();
        const int count = 2_000; // megabytes of jobs: far more than the relay passes
        await using var relay = new HoldingRelay(node.Port, passFirst: 256 * 1024);
        var queries = BrokerProcesses.QueryLog(Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"onion soup {i}")));
        using var run = Process.Start(TestProcess.StartInfo("dotnet",
            [BrokerProcesses.CliDll, "precompute", .. PrecomputeArgs(queries, $"amqp://guest:guest@127.0.0.1:{relay.Port}/", queue, 4)]))!;
        var output = run.StandardOutput.ReadToEndAsync();
        var said = new List<string>();
        try
        {
            // The tool declares the queue before it publishes. The signal waits for the relay to hold (all the jobs that
            // will reach the broker have, so their confirms are on their way back, unheld) and for a job in the queue: a
            // job queued but not yet confirmed to the tool is not counted in its line, which it says only past zero.
            await BrokerProcesses.WaitUntilAsync(async () => run.HasExited || (relay.Holding.IsCompleted && await QueuedAsync() > 0), TestBounds.Hang,
                () => $"the relay never held a queued job's publishes (holding: {relay.Holding.IsCompleted}; relay failure: {relay.Failure?.Message ?? "none"})");
            if (run.HasExited)
            {
                Assert.Fail($"precompute exited {run.ExitCode} before the signal: {await output}{await run.StandardError.ReadToEndAsync()}");
            }

            await TestProcess.SignalAsync(run, "INT");
            using var timeout = new CancellationTokenSource(TestBounds.Hang);
            while (await run.StandardError.ReadLineAsync(timeout.Token) is { } line)
            {
                said.Add(line);
                if (line.Contains("were published", StringComparison.Ordinal))
                {
                    break;
                }
            }

            // Its connection's close waits behind the held bytes: let them through.
            relay.Release();
            Assert.Equal(130, await TestProcess.WaitForExitAsync(run));
        }
        finally
        {
            if (!run.HasExited)
            {
                run.Kill(entireProcessTree: true); // a failed assertion leaves nothing running
            }
        }

        Assert.True(said.Count > 0, "precompute closed its standard error without a line after the signal");
        var match = Regex.Match(said[^1], $@"^rank1-bridge precompute: at least ([0-9]+) of {count} jobs \(batch [^ )]+\) were published; they stay queued for the workers$");
        Assert.True(match.Success, string.Join('\n', said));
        var published = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var queued = await QueuedAsync();
        Assert.True(published is > 0 and < count && queued >= published, $"said {published} published, {queued} queued");
        Assert.DoesNotContain("Published ", await output, StringComparison.Ordinal);

        async Task<uint> QueuedAsync()
        {
            try
            {
                return (await QueueDepth.ReadAsync(node.Url, queue)).Messages;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
            {
                return 0; // not declared yet
            }
        }
    }

    /// <summary>
    /// A TCP relay on loopback to the broker that passes what a client sends up to <c>passFirst</c> bytes, then holds the
    /// rest until <see cref="Release"/> (the broker's answers always pass): a publisher whose later publishes never reach
    /// the broker, and so are never confirmed. <see cref="Holding"/> completes once it holds; a connection to the broker
    /// that fails closes the client's and is kept in <see cref="Failure"/> for the test's message, never thrown at disposal
    /// (where it would replace the test's own failure).
    /// </summary>
    private sealed class HoldingRelay : IAsyncDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Exception? _failure;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<IDisposable> _connections = [];
        private readonly Task _accepting;

        public HoldingRelay(int brokerPort, long passFirst)
        {
            _listener.Start();
            _accepting = AcceptAsync(brokerPort, passFirst);
        }

        public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

        public void Release() => _released.TrySetResult();

        /// <summary>Completes when a client has sent its first <c>passFirst</c> bytes and the relay holds what follows.</summary>
        public Task Holding => _holding.Task;

        /// <summary>The first failure to reach the broker, if any.</summary>
        public Exception? Failure => Volatile.Read(ref _failure);

        private async Task AcceptAsync(int brokerPort, long passFirst)
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var broker = new System.Net.Sockets.TcpClient();
                    lock (_connections)
                    {
                        _connections.Add(client);
                        _connections.Add(broker);
                    }

                    try
                    {
                        await broker.ConnectAsync(System.Net.IPAddress.Loopback, brokerPort, _stop.Token);
                    }
                    catch (System.Net.Sockets.SocketException e)
                    {
                        Interlocked.CompareExchange(ref _failure, e, null);
                        client.Dispose(); // the client sees the broker unreachable at once
                        continue;
                    }

                    _ = CopyAsync(client.GetStream(), broker.Client, passFirst);
                    _ = CopyAsync(broker.GetStream(), client.Client, long.MaxValue);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                // Disposed.
            }
        }

        private async Task CopyAsync(Stream from, System.Net.Sockets.Socket toSocket, long passFirst)
        {
            using var to = new System.Net.Sockets.NetworkStream(toSocket, ownsSocket: false);
            var buffer = new byte[16 * 1024];
            long passed = 0;
            try
            {
                int n;
                while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    if (passed >= passFirst)
                    {
                        _holding.TrySetResult();
                        await _released.Task.WaitAsync(_stop.Token);
                    }

                    await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                    passed += n;
                }

                // Half-closed, as the side that ended did: the other direction still passes what is under way.
                toSocket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
            {
                // Disposed, or either side closed its connection.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            lock (_connections)
            {
                _connections.ForEach(c => c.Dispose());
            }

            _stop.Dispose();
        }
    }

    // Publishes one query of the index with --wait, which must say the job failed (exit 1), then waits for the job's move
    // to the error queue (the fault answers --wait before the message is moved): the one fault there.
    private static async Task<ErrorQueue.Entry> FailedJobAsync(string brokerUrl, string queue, WorkerProcess worker, string query, string index, string fields)
    {
        var run = await BrokerProcesses.PrecomputeAsync("--queries", BrokerProcesses.QueryLog([query]), "--index", index, "--fields", fields, "--broker", brokerUrl, "--queue", queue,
            "--max-think-tokens", "4", "--wait", "--timeout", "120");
        Assert.True(run.ExitCode == 1, $"precompute exited {run.ExitCode}: {run.Out}\n{run.Error}\nworker:\n{worker.Log}");
        IReadOnlyList<ErrorQueue.Entry> faults = [];
        await BrokerProcesses.WaitUntilAsync(async () => (faults = await ErrorQueue.PollAsync(brokerUrl, queue + "_error")).Count > 0, TestBounds.Hang,
            () => "the job never reached the error queue:\n" + worker.Log);
        return Assert.Single(faults);
    }

    [Fact]
    public async Task ABackendSearchAnswerOfTheWrongStructure_FailsTheJob_NamingWhatIsWrong()
    {
        // A 200 that is JSON but no search answer (a gateway or plugin answering in its own shape), its hits.hits an
        // object: the worker read it as no hits and reported the job done with nothing judged (a hits array was an
        // InvalidOperationException). It fails the job now, as the proxy answers such an answer (its 502), saying what is wrong.
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        await using var front = await FrontBackend.StartAsync(stack.Backend.Url);
        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(front.Url, node.Url, queue, new() { ["Rank1__Worker__RetryLimit"] = "0" });
        var fault = await FailedJobAsync(node.Url, queue, worker, "onion tears", "hitsobject", "text");
        Assert.Equal("Rank1.SearchBridge.Precompute.TransientPrecomputeException", fault.ExceptionType);
        Assert.Equal("the backend's search answer is not a search answer: [hits.hits] is an object, not an array", fault.Reason);
    }

    [Fact]
    public async Task ABackendErrorThatQuotesTheQuery_NamesItsTypes_NeverTheQuery_InTheFaultAndTheWorkersLog()
    {
        // Elasticsearch's reason for a text query on a numeric field quotes it ("failed to create query: For input
        // string: \"...\""): that reason reached the error queue's MT-Fault-Message and MassTransit's R-FAULT log line.
        const string query = "onion tears of jane doe";
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        using (var seed = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            using var created = await seed.PutAsync("prices", ProxyStack.Json("""{"mappings":{"properties":{"price":{"type":"long"}}}}"""));
            created.EnsureSuccessStatusCode();
            using var answer = await seed.PostAsync("prices/_search", ProxyStack.Json(MultiMatch(query).Replace("\"text\"", "\"price\"", StringComparison.Ordinal)));
            Assert.Contains(query, await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal); // the backend does quote it
        }

        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue); // the appsettings' Information
        var fault = await FailedJobAsync(node.Url, queue, worker, query, "prices", "price");
        Assert.Equal("Rank1.SearchBridge.Precompute.InvalidPrecomputeRequestException", fault.ExceptionType);
        Assert.DoesNotContain("jane doe", fault.Reason, StringComparison.OrdinalIgnoreCase);
        // What the operator acts on stays: the index, the status and Elasticsearch's error types.
        Assert.Contains("[prices] with HTTP 400", fault.Reason, StringComparison.Ordinal);
        Assert.Contains("query_shard_exception", fault.Reason, StringComparison.Ordinal);
        await BrokerProcesses.WaitUntilAsync(() => Task.FromResult(worker.Output.Any(l => l.Contains("R-FAULT", StringComparison.Ordinal))),
            TestBounds.Hang, () => "the worker never logged the fault:\n" + worker.Log);
        Assert.DoesNotContain(worker.Output, l => l.Contains("jane doe", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task AReasoningIndexThatRefusesTheJudgementsQuotingTheQuery_NamesItsTypes_NeverTheQuery_InTheFaultAndTheWorkersLog()
    {
        // A reasoning index whose query.keyword is mapped as long passes the worker's mapping check (query is text) and
        // refuses each judgement with a document_parsing_exception that previews the field's value, the query: that
        // reason reached the error queue's MT-Fault-Message and MassTransit's R-RETRY and R-FAULT log lines.
        const string query = "onion tears";
        const string store = "rank1-reasoning-mismapped";
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        using (var seed = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            var mapping = JsonNode.Parse(ReasoningIndex.Resource("reasoning-index.mapping.json"))!;
            mapping["mappings"]!["properties"]!["query"]!["fields"]!["keyword"] = new JsonObject { ["type"] = "long" };
            using var created = await seed.PutAsync(store, ProxyStack.Json(mapping.ToJsonString()));
            created.EnsureSuccessStatusCode();
        }

        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue, new() // the appsettings' Information
        {
            ["Rank1__Store__Index"] = store,
            ["Rank1__Worker__RetryLimit"] = "1",
        });
        var published = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog([query]), node.Url, queue, 4));
        Assert.True(published.ExitCode == 0, published.Error);

        IReadOnlyList<ErrorQueue.Entry> faults = [];
        await BrokerProcesses.WaitUntilAsync(async () => (faults = await ErrorQueue.PollAsync(node.Url, queue + "_error")).Count > 0, TestBounds.Hang,
            () => "the job never reached the error queue:\n" + worker.Log);
        var fault = Assert.Single(faults);
        // MassTransit's fault headers name GetBaseException(): the worker's exception, saying what failed and why, as
        // --wait and the worker's log do; they named the store's exception alone, without what the worker was doing.
        Assert.Equal("Rank1.SearchBridge.Precompute.TransientPrecomputeException", fault.ExceptionType);
        Assert.StartsWith("the reasoning index did not store the judgements: ", fault.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(query, fault.Reason, StringComparison.OrdinalIgnoreCase);
        // What the operator acts on stays: the status and Elasticsearch's error type.
        Assert.Contains("HTTP 400", fault.Reason, StringComparison.Ordinal);
        Assert.Contains("document_parsing_exception", fault.Reason, StringComparison.Ordinal);
        await BrokerProcesses.WaitUntilAsync(() => Task.FromResult(worker.Output.Any(l => l.Contains("R-FAULT", StringComparison.Ordinal))),
            TestBounds.Hang, () => "the worker never logged the fault:\n" + worker.Log);
        Assert.Contains(worker.Output, l => l.Contains("R-RETRY", StringComparison.Ordinal));
        Assert.DoesNotContain(worker.Output, l => l.Contains(query, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task MessagesNoConsumerCanRead_AreCountedAsUnreadable_AndThoseOfNoKnownType_AsSkipped()
    {
        // A message MassTransit cannot turn into a job reached <queue>_error with its fault headers, but the worker's
        // rank1_precompute_jobs_total never counted it: 18 in the error queue read as 9 refused.
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        await WaitForConsumerAsync(node.Url, queue, worker);
        byte[][] unreadable =
        [
            System.Text.Encoding.UTF8.GetBytes("{\"messageId\": "), // not JSON
            Envelope(new JsonObject { ["targetIndex"] = "docs", ["query"] = "onion", ["window"] = "five" }), // a field of the wrong type
            [0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d], // not UTF-8
            System.Text.Encoding.UTF8.GetBytes("\"onion soup\""), // JSON, but no envelope
        ];
        byte[][] skipped = [Envelope(new JsonObject { ["query"] = "onion" }, "urn:message:Nobody:Knows")];
        await PublishRawAsync(node.Url, queue, unreadable.Concat(skipped));

        IReadOnlyList<ErrorQueue.Entry> faults = [], skips = [];
        await BrokerProcesses.WaitUntilAsync(async () => (faults = await ErrorQueue.PollAsync(node.Url, queue + "_error")).Count == unreadable.Length
            && (skips = await ErrorQueue.PollAsync(node.Url, queue + "_skipped")).Count == skipped.Length, TestBounds.Hang,
            () => $"{faults.Count} in the error queue, {skips.Count} skipped:\n" + worker.Log);
        Assert.All(faults, f => Assert.NotEmpty(f.ExceptionType)); // MassTransit's fault headers

        using var http = new HttpClient { BaseAddress = await worker.UrlAsync() };
        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(unreadable.Length, PrometheusText.Value(metrics, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "unreadable")));
        Assert.Equal(skipped.Length, PrometheusText.Value(metrics, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "skipped")));
        Assert.Equal(unreadable.Length + skipped.Length, PrometheusText.Sum(metrics, "rank1_precompute_jobs_total"));
    }

    [Fact]
    public async Task AnErrorExchangeDeclaredWithOtherArguments_StopsTheWorkerNamingIt_TheMessageStaysQueued_AndIsCountedOnceMovedLater()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        // <queue>_error declared as a direct exchange, not MassTransit's fanout: RabbitMQ refuses the error transport's
        // declaration (PRECONDITION_FAILED) on every delivery. The message came back to its queue about once a second
        // for ever (and RabbitMQ 4's default delivery limit of a quorum queue drops it after 20): the worker now stops.
        await OnChannelAsync(node.Url, c => c.ExchangeDeclareAsync(queue + "_error", RabbitMQ.Client.ExchangeType.Direct, durable: true, autoDelete: false));

        await using (var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue))
        {
            await WaitForConsumerAsync(node.Url, queue, worker);
            await PublishRawAsync(node.Url, queue, [System.Text.Encoding.UTF8.GetBytes("{\"messageId\": ")]);
            await worker.ExitedAsync(TestBounds.Hang, "the worker did not stop"); // its output read to the end, the line asserted included
            Assert.True(worker.ExitCode == 1, $"exit {worker.ExitCode}\n{worker.Log}");
            Assert.Single(worker.Output, l => l.StartsWith($"rank1: broker: amqp://127.0.0.1:{node.Port}/: PRECONDITION_FAILED - inequivalent arg 'type' for exchange '{queue}_error'", StringComparison.Ordinal)
                && l.Contains($"MassTransit cannot move a message to {queue}_error", StringComparison.Ordinal));
        }

        // Not lost: unacknowledged, it is back in its queue (once the broker has seen the worker's connection close).
        await BrokerProcesses.WaitUntilAsync(async () => await QueueDepth.ReadAsync(node.Url, queue) == (1u, 0u), TestBounds.Hang,
            () => "the message is not back in its queue");

        // The exchange as MassTransit declares it: the next worker moves the message, and counts it once.
        await OnChannelAsync(node.Url, c => c.ExchangeDeleteAsync(queue + "_error", ifUnused: false));

        await using var next = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        IReadOnlyList<ErrorQueue.Entry> faults = [];
        await BrokerProcesses.WaitUntilAsync(async () => (faults = await ErrorQueue.PollAsync(node.Url, queue + "_error")).Count == 1, TestBounds.Hang,
            () => "the message never reached the error queue:\n" + next.Log);
        using var http = new HttpClient { BaseAddress = await next.UrlAsync() };
        Assert.Equal(1, PrometheusText.Value(await http.GetStringAsync("_rank1/metrics"), "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "unreadable")));
    }

    /// <summary>
    /// The job queue declared by an operator as a classic queue before any worker ran: RabbitMQ refuses the worker's
    /// quorum declaration (PRECONDITION_FAILED - inequivalent arg 'x-queue-type') at every retry. The worker stayed up,
    /// unhealthy, retrying for ever with a stack trace each time and never taking a job; it now exits 1 naming the
    /// refusal, and the queue's message is still there.
    /// </summary>
    [Fact]
    public async Task AJobQueueDeclaredAsAClassicQueue_StopsTheWorkerWithExit1NamingTheRefusal_TheMessageStaysQueued()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        await OnChannelAsync(node.Url, async c =>
        {
            await c.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
            await c.BasicPublishAsync(string.Empty, queue, true, new RabbitMQ.Client.BasicProperties { DeliveryMode = RabbitMQ.Client.DeliveryModes.Persistent }, System.Text.Encoding.UTF8.GetBytes("a job published by hand"));
        });

        await using (var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue))
        {
            await worker.ExitedAsync(TestBounds.Hang, "the worker did not stop"); // its output read to the end, the line asserted included
            Assert.True(worker.ExitCode == 1, $"exit {worker.ExitCode}\n{worker.Log}");
            Assert.Single(worker.Output, l => l == $"rank1: broker: amqp://127.0.0.1:{node.Port}/: PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '{queue}' in vhost '/': " +
                $"received the value 'quorum' of type 'longstr' but current is none: the worker declares its endpoint {queue} as a durable quorum queue behind a durable " +
                "fanout exchange of that name, and RabbitMQ keeps what was declared first; delete what it names (its messages moved out first) or declare it so, then start the worker again");
        }

        Assert.Equal((1u, 0u), await QueueDepth.ReadAsync(node.Url, queue));
    }

    /// <summary>
    /// The hot-query queue declared by an operator as a classic queue: RabbitMQ refuses the proxy's quorum declaration
    /// at each publish, which MassTransit tries again until the publish timeout. Each hot query was a publish pending
    /// for Rank1:Broker:PublishTimeout and then a warning (event 2201) with a stack trace, and the health said the
    /// broker was healthy. Then the publish failed at the first refusal, logged once in RabbitMQ's words (event 2203)
    /// and in the health, but each hot query still cost a channel and MassTransit's two errors, and the health stayed
    /// unhealthy after the operator's fix until a query turned hot. Now the proxy backs off after a refusal (5 s, then
    /// twice as long at each refusal, up to a minute): the hot queries of that time are held back, the broker not asked,
    /// and the latest is published again when it ends, which turns the health healthy without a search.
    /// The proxy's clock is a <see cref="FakeTimeProvider"/>: the back-off ends when the test moves it.
    /// The query the retry published was forgotten by the hot-query detector (as held back), so its next search
    /// published it again and a worker got its job twice; and held_back counted each search of a held query. Now the
    /// detector remembers the retry's query as sent, and held_back counts distinct queries.
    /// </summary>
    [Fact]
    public async Task TheHotQueryQueueDeclaredAsAClassicQueue_TheProxySaysRabbitMqsRefusalOnce_BacksOff_AndIsHealthyAgainAfterTheFixWithoutASearch()
    {
        var node = Node;
        var queue = NewQueue();
        await OnChannelAsync(node.Url, c => c.QueueDeclareAsync(queue + "-hot", durable: true, exclusive: false, autoDelete: false));
        using var logs = new RecordingLogs();
        var firstBackOff = TimeSpan.FromSeconds(5); // the proxy's first back-off, as docs/reliability.md says
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Broker:Url"] = node.Url,
            ["Rank1:Broker:Queue"] = queue,
            ["Rank1:Broker:PublishTimeout"] = "00:05:00", // a refusal waited for all of it
            ["Rank1:HotQueries:Threshold"] = "2",
            ["Rank1:Store:Enabled"] = "false",
        }, services: s => s.AddSingleton<TimeProvider>(clock), loggerFactory: logs.Factory);
        async Task<double> Requests(string outcome) => PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", outcome));
        int BackOffs() => logs.Entries.Count(e => e.EventId == 2205 && e.Category.StartsWith("Rank1", StringComparison.Ordinal));
        async Task<JsonNode> BrokerHealth() => JsonNode.Parse(await stack.Http.GetStringAsync("_rank1/health"))!["broker"]!;

        // Searched exactly as often as the threshold: it turns hot once, and no search of it comes after its refusal.
        async Task Searched(string query, int times)
        {
            for (var i = 0; i < times; i++)
            {
                Assert.Equal(200, (await stack.SearchAsync(MultiMatch(query))).Status);
            }
        }

        await Searched("onion gas irritates", 2);
        await BrokerProcesses.WaitUntilAsync(async () => await Requests("failed") >= 1, TestBounds.Hang, () => "the refused publish did not end failed");

        // Within the back-off, the next hot query is held back (counted before its search is answered): no publish, so
        // no second refusal. Its further searches of that time hold nothing more back: held_back counts distinct queries.
        await Searched("onion soup beef", 2);
        Assert.Equal((1, 1, 1), (await Requests("failed"), await Requests("held_back"), BackOffs()));
        await Searched("onion soup beef", 3);
        Assert.Equal(1, await Requests("held_back"));

        var refusal = $"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '{queue}-hot' in vhost '/': received the value 'quorum' of type 'longstr' but current is none: " +
            $"the workers and the proxy declare {queue}-hot as a durable quorum queue behind a durable fanout exchange of that name, and RabbitMQ keeps what was declared first; delete what it names (its messages moved out first) or declare it so";
        var warnings = logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).ToArray();
        Assert.True(warnings.Count(e => e.EventId is 2201 or 2203 && e.Category.StartsWith("Rank1", StringComparison.Ordinal)) == 1, string.Join("\n", warnings.Select(w => $"{w.Category}[{w.EventId}] {w.Level} {w.Message} {w.Exception?.GetType()}")));
        var said = warnings.Single(e => e.EventId is 2201 or 2203 && e.Category.StartsWith("Rank1", StringComparison.Ordinal));
        Assert.Equal((2203, $"The broker at amqp://127.0.0.1:{node.Port}/ refuses the proxy's declaration of the workers' queue, so no precompute job reaches the workers until it is declared as they declare it: {refusal}"),
            (said.EventId, said.Message));
        var broker = await BrokerHealth();
        Assert.Equal(("unhealthy", "Refused: " + refusal), (broker["status"]!.GetValue<string>(), broker["description"]!.GetValue<string>()));

        // The back-off's end: the held query is published again, refused again (not logged again), and the back-off doubles.
        clock.Advance(firstBackOff);
        await BrokerProcesses.WaitUntilAsync(() => Task.FromResult(BackOffs() == 2), TestBounds.Hang, () => "the held query was not tried again when the back-off ended");
        clock.Advance(firstBackOff);
        await Searched("eye drops irritation", 2);
        Assert.Equal((1, 2, 0, 2), (await Requests("failed"), await Requests("held_back"), await Requests("published"), BackOffs()));
        Assert.Single(logs.Entries, e => e.EventId == 2203);

        // The operator deletes the queue. No search: when the back-off ends, the latest held query is published, and the
        // health is the bus's again. The retry clears the refusal (the health turns healthy), then logs 2204, then counts
        // the publish: the count, the last of the three, is what is waited for (the health alone was, and 2204 was read
        // before it was written).
        await OnChannelAsync(node.Url, c => c.QueueDeleteAsync(queue + "-hot", ifUnused: false, ifEmpty: false));
        clock.Advance(firstBackOff);
        await BrokerProcesses.WaitUntilAsync(async () => await Requests("published") >= 1, TestBounds.Hang,
            () => "the held query was not published when the back-off ended after the fix");
        Assert.Equal("healthy", (await BrokerHealth())["status"]!.GetValue<string>());
        Assert.Equal("The broker takes the proxy's precompute jobs again (2 hot queries held back while it refused)", Assert.Single(logs.Entries, e => e.EventId == 2204).Message);
        Assert.Equal(1, await Requests("published"));
        Assert.Equal((1u, 0u), await QueueDepth.ReadAsync(node.Url, queue + "-hot"));

        // The query the retry published is remembered as sent: its next searches do not publish it again (a worker got
        // its job twice). Another query turning hot is what is published next.
        await Searched("eye drops irritation", 3);
        await Searched("onion rings batter", 2);
        await BrokerProcesses.WaitUntilAsync(async () => await Requests("published") >= 2, TestBounds.Hang, () => "the next hot query was not published");
        await BrokerProcesses.WaitUntilAsync(async () => (await QueueDepth.ReadAsync(node.Url, queue + "-hot")).Messages >= 2, TestBounds.Hang, () => "the second job did not reach the queue");
        var jobs = (await ErrorQueue.ReadAsync(node.Url, queue + "-hot")).Select(e => JsonNode.Parse(e.Body)!["message"]!["job"]!["query"]!.GetValue<string>()).ToArray();
        Assert.Equal(["eye drops irritation", "onion rings batter"], jobs);
        Assert.Equal(2, await Requests("published"));
    }

    /// <summary>
    /// Both of the worker's queues held exclusively by another connection (RESOURCE_LOCKED, which MassTransit tries
    /// again), then freed one after the other. The worker kept one cause for both endpoints: it logged a warning at each
    /// retry of either (their causes name their queues), and "The broker is reached again" as soon as the job queue's
    /// endpoint was ready, while the hot-query queue's still failed. Now each cause is said once, and the broker is
    /// reached again once both are ready.
    /// </summary>
    [Fact]
    public async Task OneQueueReadyWhileTheOtherStillFails_ReachedAgainIsLoggedOnceBothAreReady_EachCauseOnce()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(node.Url) };
        var holdsJobs = await factory.CreateConnectionAsync();
        var holdsHot = await factory.CreateConnectionAsync();
        try
        {
            foreach (var (holder, name) in new[] { (holdsJobs, queue), (holdsHot, queue + "-hot") })
            {
                await using var channel = await holder.CreateChannelAsync();
                await channel.QueueDeclareAsync(name, durable: false, exclusive: true, autoDelete: false);
            }

            await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
            string[] Warned(string name) => worker.Output.Where(l => l.Contains("Cannot use the broker at ", StringComparison.Ordinal) && l.Contains($"locked queue '{name}'", StringComparison.Ordinal)).ToArray();
            await BrokerProcesses.WaitUntilAsync(() => Task.FromResult(Warned(queue).Length > 0 && Warned(queue + "-hot").Length > 0), TestBounds.Hang,
                () => "the worker did not say why it cannot use either queue:\n" + worker.Log);

            // The job queue freed (an exclusive queue goes with its connection): the worker declares it and consumes it.
            await holdsJobs.DisposeAsync();
            await WaitForConsumerAsync(node.Url, queue, worker);

            await holdsHot.DisposeAsync();
            await WaitForConsumerAsync(node.Url, queue + "-hot", worker);
            string[] Reached() => worker.Output.Where(l => l.Contains("The broker is reached again: ", StringComparison.Ordinal)).ToArray();
            await BrokerProcesses.WaitUntilAsync(() => Task.FromResult(Reached().Any(l => l.Contains(queue + "-hot", StringComparison.Ordinal))), TestBounds.Hang,
                () => "the worker never said the broker is reached again for the hot-query queue:\n" + worker.Log);

            Assert.True(Reached().Length == 1, worker.Log);
            Assert.True(Warned(queue).Length == 1 && Warned(queue + "-hot").Length == 1, worker.Log);
            Assert.False(worker.HasExited, worker.Log);
        }
        finally
        {
            await holdsJobs.DisposeAsync();
            await holdsHot.DisposeAsync();
        }
    }

    /// <summary>
    /// A window hit whose passage text is only white space has no passage text: the proxy neither judges it nor looks it
    /// up (SearchHits.HasText). The worker kept any text longer than nothing, so it judged and stored such a hit: model
    /// time and a stored judgement that no search ever reads.
    /// </summary>
    [Fact]
    public async Task AWindowHitWithBlankPassageText_IsNotJudgedOrStoredByTheWorker()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        using (var backend = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            var put = await backend.PutAsync($"{ProxyStack.Index}/_doc/blank?refresh=true", ProxyStack.Json("""{"title":"Onion tears","text":" \t\n "}"""));
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        await WaitForConsumerAsync(node.Url, queue, worker);
        var job = new Messages.PrecomputeReasoning(ProxyStack.Index, "onion tears", null, Window, ["text"], "title", 4, Messages.PrecomputeReasoning.HotQuery,
            SearchBody: """{"query":{"ids":{"values":["blank","d01"]}}}""", JobId: Guid.NewGuid());
        await PublishRawAsync(node.Url, queue, [Envelope(System.Text.Json.JsonSerializer.SerializeToNode(job, MassTransit.Serialization.SystemTextJsonMessageSerializer.Options))]);

        using var workerHttp = new HttpClient { BaseAddress = await worker.UrlAsync() };
        var metrics = "";
        await BrokerProcesses.WaitUntilAsync(async () => PrometheusText.Sum(metrics = await workerHttp.GetStringAsync("_rank1/metrics"), "rank1_precompute_jobs_total") > 0,
            TestBounds.Hang, () => "the job never finished:\n" + worker.Log);
        Assert.Equal(1, PrometheusText.Sum(metrics, "rank1_precompute_jobs_total", ("outcome", "stored")));
        Assert.Equal(1, PrometheusText.Sum(metrics, "rank1_passages_judged_total"));
        Assert.Single(await BrokerProcesses.StoredIdsAsync(stack.Backend.Url));
    }

    [Fact]
    public async Task APassageTheModelCannotRead_SendsTheJobToTheErrorQueueAfterOneAttempt_WithTheOthersStored()
    {
        // Only d01 ("... a gas that irritates the eyes ...") is an input error, as a prompt past the model's context is:
        // deterministic, so a retry would run the search and fail again.
        var judge = new InputFailingJudge("irritates");
        var expected = await OnePassageUnjudgedJobAsync(judge, () => judge.Windows, "The prompt has 5000 tokens");
        Assert.Equal(expected - 1, judge.Judged);
    }

    /// <summary>
    /// A passage the model scores NaN (a NaN logit) is one it failed to judge, as a passage it cannot read: the job goes to
    /// the error queue after one attempt (counted refused), the window's other judgements stored. Before, the job was done
    /// ("stored") with the NaN passage left unstored, so its hot query stayed unstored for the proxy and was sent again.
    /// </summary>
    [Fact]
    public async Task APassageScoredNaN_SendsTheJobToTheErrorQueueAfterOneAttempt_WithTheOthersStored()
    {
        var judge = new NaNJudge("irritates");
        await OnePassageUnjudgedJobAsync(judge, () => judge.Windows, "the model's score is NaN (not a number)");
    }

    /// <summary>
    /// Runs one job of a window whose passage d01 the judge does not judge, through a worker in this process (for the
    /// judge) and the real broker: it ends in the error queue after one attempt, saying <paramref name="reason"/>, with the
    /// window's other passages stored. Returns the window's passage count.
    /// </summary>
    private async Task<int> OnePassageUnjudgedJobAsync(IPassageJudge judge, Func<int> windows, string reason)
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Backend:Url"] = stack.Backend.Url.ToString(),
            ["Rank1:Broker:Url"] = node.Url,
            ["Rank1:Broker:Queue"] = queue,
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
            ["Rank1:Worker:RetryMinInterval"] = "00:00:00.200", // retries, were there any, would end in seconds
            ["Rank1:Worker:RetryMaxInterval"] = "00:00:01",
        });
        builder.Services.AddSingleton<IPassageJudge>(judge).AddRank1Worker(builder.Configuration);
        await using var worker = builder.Build();
        worker.MapRank1Worker();
        await worker.StartAsync();

        const string query = "onion tears";
        var run = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog([query]), node.Url, queue, 4, "--wait", "--timeout", "120"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Finished: 0 stored (0 passages judged, 0 already stored), 1 failed.", run.Out, StringComparison.Ordinal);
        var expected = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, [query], Window, 4, JudgingModel.Of(judge));
        Assert.True(expected.Count > 1, $"the window holds {expected.Count} passages");
        var fault = Assert.Single(await ErrorQueue.ReadAsync(node.Url, queue + "_error"));
        Assert.Contains("Rank1InputException", fault.ExceptionType, StringComparison.Ordinal);
        Assert.Contains($"1 of the window's {expected.Count} passages cannot be judged (the other judgements are stored): {reason}", fault.Reason, StringComparison.Ordinal);
        Assert.Equal(1, windows()); // one attempt: a retry asks the judge again for the passage still missing (7 before)
        // Counted once, as a job that can never succeed: refused, not retried.
        using var workerHttp = new HttpClient { BaseAddress = new Uri(worker.Urls.First()) };
        var metrics = await workerHttp.GetStringAsync("_rank1/metrics");
        Assert.Equal((1, 1), (PrometheusText.Value(metrics, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "refused")),
            PrometheusText.Sum(metrics, "rank1_precompute_jobs_total")));

        // The passages judged in that one attempt are in the reasoning index; the unjudged one is not.
        var stored = await BrokerProcesses.StoredIdsAsync(stack.Backend.Url);
        Assert.Equal(expected.Count - 1, stored.Length);
        Assert.Subset(expected, stored.ToHashSet());
        return expected.Count;
    }

    [Fact]
    public async Task AWriteTheReasoningIndexRefused_IsRetriedWithTheSameJudgements_TheModelJudgesEachPassageOnce()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        // The worker's backend, in front of the real one: its first _bulk write answers 503, as a cluster briefly down
        // does; everything else (and every later write) goes through. Each retry judged the whole window again.
        var bulks = 0;
        using var forward = new HttpClient { BaseAddress = stack.Backend.Url };
        var (front, frontUrl) = await LoopbackApp.StartAsync(async context =>
        {
            var path = context.Request.Path.Value!.TrimStart('/') + context.Request.QueryString;
            if (context.Request.Method == "POST" && context.Request.Path == "/_bulk" && Interlocked.Increment(ref bulks) == 1)
            {
                context.Response.StatusCode = 503;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":503}""");
                return;
            }

            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), path);
            if (body.Length > 0)
            {
                request.Content = new ByteArrayContent(body.ToArray());
                request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType);
            }

            using var answer = await forward.SendAsync(request);
            context.Response.StatusCode = (int)answer.StatusCode;
            foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
            {
                if (name is not ("Transfer-Encoding" or "Content-Length"))
                {
                    context.Response.Headers[name] = values.ToArray();
                }
            }

            await answer.Content.CopyToAsync(context.Response.Body);
        });
        await using var _ = front;
        var judge = new InputFailingJudge(_ => false);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Backend:Url"] = frontUrl.ToString(),
            ["Rank1:Broker:Url"] = node.Url,
            ["Rank1:Broker:Queue"] = queue,
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
            ["Rank1:Worker:RetryMinInterval"] = "00:00:00.200",
            ["Rank1:Worker:RetryMaxInterval"] = "00:00:01",
        });
        builder.Services.AddSingleton<IPassageJudge>(judge).AddRank1Worker(builder.Configuration);
        await using var worker = builder.Build();
        worker.MapRank1Worker();
        await worker.StartAsync();

        const string query = "onion tears";
        var run = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog([query]), node.Url, queue, 4, "--wait", "--timeout", "120"));

        Assert.True(run.ExitCode == 0, run.Out + run.Error);
        var expected = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, [query], Window, 4, JudgingModel.Of(judge));
        Assert.Contains($"Finished: 1 stored ({expected.Count} passages judged, 0 already stored), 0 failed.", run.Out, StringComparison.Ordinal);
        Assert.Equal(2, Volatile.Read(ref bulks)); // the refused write, then its retry
        Assert.Equal(1, judge.Windows); // the retry asked the model nothing
        Assert.Equal(expected.Count, judge.Judged);
        Assert.Equal(expected.Order(StringComparer.Ordinal), (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Order(StringComparer.Ordinal));
        Assert.Empty(await ErrorQueue.ReadAsync(node.Url, queue + "_error"));
    }

    [Fact]
    public async Task HotQueryFloodQueuedFirst_DoesNotHoldBackPrecomputeJobs_TheyAllFinishBeforeTheFlood()
    {
        var node = Node;
        var queue = NewQueue();
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Broker:Url"] = node.Url,
            ["Rank1:Broker:Queue"] = queue,
            ["Rank1:HotQueries:Threshold"] = "2",
            ["Rank1:Store:Enabled"] = "false", // the proxy stores nothing, so every repeated search is a hot query
        });

        // The flood: twelve hot queries published by the proxy, all queued before the operator's three jobs.
        string[] flood = ["onion soup", "onion storage", "onion festival", "onion varieties", "onion history", "onion rings",
            "onion bread", "onion autumn", "onion french", "onion beef", "onion potatoes", "onion sweetness"];
        foreach (var q in flood)
        {
            for (var i = 0; i < 3; i++) // the count decays: the third search passes the threshold of 2
            {
                Assert.Equal(200, (await stack.SearchAsync(MultiMatch(q))).Status);
            }
        }

        await BrokerProcesses.WaitUntilAsync(async () => PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", "published")) == flood.Length,
            TestBounds.Hang, () => "the proxy did not publish the flood:\n" + string.Join('\n', stack.Http.GetStringAsync("_rank1/metrics").Result.Split('\n').Where(l => l.Contains("precompute", StringComparison.Ordinal) || l.Contains("rerank", StringComparison.Ordinal))));
        string[] offline = ["onion tears", "onion eyes", "onion egypt"];
        var published = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(offline), node.Url, queue, 4));
        Assert.True(published.ExitCode == 0, published.Error);

        // One worker, default limits (one job of each kind at a time), started once everything waits in the queues; at
        // Debug, where it names each job's query fingerprint with its text, so its completions can be told apart.
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue, new() { [PrecomputeDebug] = "Debug" });
        var order = new List<string>();
        await BrokerProcesses.WaitUntilAsync(() =>
        {
            var texts = QueryTexts(worker.Output);
            order = worker.Output.Select(l => Regex.Match(l, "Precomputed query ([0-9a-f]{64}) \\([0-9]+ characters\\) on docs")).Where(m => m.Success).Select(m => texts[m.Groups[1].Value]).ToList();
            return Task.FromResult(order.Count >= flood.Length + offline.Length);
        }, TimeSpan.FromMinutes(3), () => "the worker did not finish every job:\n" + worker.Log);

        Assert.Equal(flood.Concat(offline).Order(), order.Order());
        var lastOffline = offline.Max(order.IndexOf);
        var lastHot = flood.Max(order.IndexOf);
        Assert.True(lastOffline < lastHot, $"the operator's jobs waited for the flood; completion order: {string.Join(", ", order)}");
    }

    [Fact]
    public async Task JobsTheEngineRefusesAsOverloaded_WaitWithBackoff_AndAreAllStored_NoneInTheErrorQueue()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();

        // Two jobs wait in the queue before the worker starts (a backlog), each a window of passages with a long think
        // budget. The worker takes both at once (two jobs at a time) into an engine that decodes two rows and lets one
        // passage wait: whichever job reaches it first fills it for seconds, so the other is refused as overloaded.
        // Publishing the second job only once the first was running raced: a CI run saw the second job's precompute
        // process start after the first job had finished, and nothing was refused.
        string[] queries = ["onion tears", "onion soup"];
        foreach (var query in queries)
        {
            var published = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog([query]), node.Url, queue, SlowThink));
            Assert.True(published.ExitCode == 0, $"precompute exited {published.ExitCode}: {published.Out}\n{published.Error}");
        }

        var expected = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, queries, Window, SlowThink, TinyModel);
        Assert.True(expected.Count > 4, $"the two windows hold {expected.Count} passages: too few to fill the engine");

        // No retries for model errors: overload must not take that path.
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue, new()
        {
            ["Rank1__Worker__ConcurrentMessageLimit"] = "2",
            ["Rank1__Worker__RetryLimit"] = "0",
            ["Rank1__Worker__OverloadRetryMinInterval"] = "00:00:00.200",
            ["Rank1__Worker__OverloadRetryMaxInterval"] = "00:00:01",
            ["Rank1__Model__MaxBatch"] = "2",
            ["Rank1__Model__MaxQueuedPassages"] = "1",
        });
        await BrokerProcesses.WaitUntilAsync(async () => (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length >= expected.Count,
            TimeSpan.FromMinutes(4), () => "the worker did not store both windows:\n" + worker.Log);

        // A job refused as overloaded, then tried again and stored; nothing went to the error queue.
        var lines = worker.Output.ToList();
        int Line(string text) => lines.FindIndex(l => l.Contains(text, StringComparison.Ordinal));
        // Each query named by its reasoning-store fingerprint and length, never its text.
        string Named(string q) => $"query {ReasoningKeys.Fingerprint(q, null, SlowThink, ["text"], "title")} ({q.Length} characters)";
        var refused = queries.Where(q => Line($"The engine is overloaded; {Named(q)} waits and is tried again with back-off") >= 0).ToList();
        Assert.True(refused.Count > 0, $"neither job was refused as overloaded:\n{string.Join('\n', lines)}");
        foreach (var q in refused)
        {
            Assert.True(Line($"Precomputed {Named(q)} on docs") > Line($"The engine is overloaded; {Named(q)} waits"), $"'{q}' was not stored after it was refused:\n{string.Join('\n', lines)}");
        }

        Assert.Empty(await ErrorQueue.ReadAsync(node.Url, queue + "_error"));
        Assert.Equal(expected.Order(), (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Order());

        // Its metrics say the same: each overloaded attempt (one log line each), and both jobs stored once.
        using var workerHttp = new HttpClient { BaseAddress = await worker.UrlAsync() };
        var metrics = await workerHttp.GetStringAsync("_rank1/metrics");
        Assert.Equal(lines.Count(l => l.Contains("The engine is overloaded; query ", StringComparison.Ordinal)),
            PrometheusText.Value(metrics, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "overloaded")));
        Assert.Equal(queries.Length, PrometheusText.Value(metrics, "rank1_precompute_jobs_total", ("queue", "offline"), ("outcome", "stored")));
    }

    [Fact]
    public async Task WorkerStoppedGracefully_ExitsZero_LeavingWholeWindows_AndTheNextWorkerFinishesTheRest()
    {
        var node = Node;
        await using var stack = await ProxyStack.StartAsync();
        var queue = NewQueue();
        await using var worker = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue, new() { ["Rank1__Worker__ShutdownTimeout"] = "00:01:00" });
        var queries = BrokerProcesses.CorpusQueries(6);
        // Slow enough that the stop lands mid-run: the worker judges one job at a time, so at most the job in hand (and
        // none of those waiting) finishes after SIGTERM.
        const int think = 200;
        var published = await BrokerProcesses.PrecomputeAsync(PrecomputeArgs(BrokerProcesses.QueryLog(queries), node.Url, queue, think));
        Assert.True(published.ExitCode == 0, published.Error);

        await BrokerProcesses.WaitUntilAsync(async () => (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length >= 1, TestBounds.Hang, () => worker.Log);
        await worker.TerminateAsync(TestBounds.Hang);
        Assert.True(worker.ExitCode == 0, $"exit {worker.ExitCode}\n{worker.Log}");

        // Whole windows only: a stopped worker either stored a job's whole window or left the job in the queue.
        var stored = await BrokerProcesses.StoredIdsAsync(stack.Backend.Url);
        var model = TinyModel;
        var complete = 0;
        foreach (var q in queries)
        {
            var ids = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, [q], Window, think, model);
            var present = ids.Count(stored.Contains);
            Assert.True(present == 0 || present == ids.Count, $"'{q}' has {present} of {ids.Count} judgements stored");
            complete += present == ids.Count ? 1 : 0;
        }

        Assert.True(complete >= 1);
        Assert.True(complete < queries.Length, $"the worker finished every job before SIGTERM ({complete} of {queries.Length}); the test proves nothing");

        // The rest waits in the queue: a new worker finishes it.
        await using var next = BrokerProcesses.StartWorker(stack.Backend.Url, node.Url, queue);
        var all = await BrokerProcesses.ExpectedIdsAsync(stack.Backend.Url, queries, Window, think, model);
        await BrokerProcesses.WaitUntilAsync(async () => (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Length >= all.Count, TestBounds.Hang, () => next.Log);
        Assert.Equal(all.Order(), (await BrokerProcesses.StoredIdsAsync(stack.Backend.Url)).Order());
        Assert.Empty(await ErrorQueue.ReadAsync(node.Url, queue + "_error"));
    }
}

/// <summary>A model that always fails, under the real model's id and content (so stored judgements match it).</summary>
internal sealed class FailingJudge(JudgingModel model) : IPassageJudge
{
    public string ModelId => model.Id;

    public string ModelFingerprint => model.Fingerprint;

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, ct) => JudgeOneAsync(input, settings, ct), TimeProvider.System, cancellationToken);

    private ValueTask<Rank1Judgement> JudgeOneAsync(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("this test's proxy model always fails");
}
