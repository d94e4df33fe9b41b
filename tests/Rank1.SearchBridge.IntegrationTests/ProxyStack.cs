using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Rank1.EmbeddedSearch;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

internal sealed record HttpResult(int Status, JsonNode? Body, HttpResponseHeaders Headers, HttpContentHeaders Content)
{
    public JsonNode Json => Body ?? throw new InvalidOperationException("empty body");

    public string? Rerank => Headers.TryGetValues("X-Rank1-Rerank", out var v) ? v.Single() : null;

    public string[] Ids => Json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray();
}

/// <summary>
/// A real stack on loopback: the embedded search backend with a small corpus, and the proxy in front of it with
/// the tiny Rank1 test model (or a judge a test supplies).
/// </summary>
internal sealed class ProxyStack : IAsyncDisposable
{
    public const string Index = "docs";

    // The proxy's reasoning-store outcomes as its writer reports them, from the start: what a test waits on.
    private readonly MetricCollector<long> _storeOperations;

    private ProxyStack(EmbeddedSearchServer backend, ProxyServer proxy, HttpClient http)
    {
        Backend = backend;
        Proxy = proxy;
        Http = http;
        _storeOperations = new MetricCollector<long>(proxy.Services.GetRequiredService<IMeterFactory>(), Rank1.SearchBridge.Telemetry.Rank1Metrics.MeterName, "rank1.reasoning_store.operations");
    }

    /// <summary>
    /// Returns once the proxy's reasoning store has written at least <paramref name="judgements"/> judgements (or found
    /// them written already), woken by each report of its writer; throws after <see cref="TestBounds.Hang"/>.
    /// </summary>
    public Task StoreWritesAsync(long judgements) => StoreOperationsAsync(judgements, "written", "already_stored");

    /// <summary>
    /// Returns once the proxy's reasoning store has counted at least <paramref name="judgements"/> judgements under the
    /// <paramref name="outcomes"/> of <c>rank1_reasoning_store_operations_total</c>, woken by each report of its writer
    /// (which counts after the search was answered); throws after <see cref="TestBounds.Hang"/>.
    /// </summary>
    public async Task StoreOperationsAsync(long judgements, params string[] outcomes)
    {
        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        while (true)
        {
            var seen = _storeOperations.GetMeasurementSnapshot();
            if (seen.Where(m => outcomes.Contains((string?)m.Tags["outcome"])).Sum(m => m.Value) >= judgements)
            {
                return;
            }

            await _storeOperations.WaitForMeasurementsAsync(seen.Count + 1, timeout.Token);
        }
    }

    public EmbeddedSearchServer Backend { get; private set; }

    public ProxyServer Proxy { get; }

    public HttpClient Http { get; }

    public static readonly (string Id, string Title, string Text, string Topic)[] Corpus =
    [
        ("d01", "Onion tears", "Cutting an onion releases a gas that irritates the eyes and makes them water.", "food"),
        ("d02", "Onion soup", "French onion soup is made from caramelised onions and beef stock.", "food"),
        ("d03", "Crying", "People cry when they are sad, and tears can also wash irritants from the eyes.", "health"),
        ("d04", "Onion storage", "Store onions in a cool dry place away from potatoes.", "food"),
        ("d05", "Onion festival", "The onion festival sells onion rings and onion bread every autumn.", "events"),
        ("d06", "Eye drops", "Eye drops relieve dry eyes and irritation.", "health"),
        ("d07", "Onion varieties", "Red, white and yellow onions differ in sweetness.", "food"),
        ("d08", "Onion history", "Onions were grown in ancient Egypt and given to workers.", "history"),
    ];

    public static async Task<ProxyStack> StartAsync(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null,
        SearchFlavor flavor = SearchFlavor.Elasticsearch, string? dataPath = null, int backendPort = 0, Func<Uri, Task<Uri>>? inFront = null,
        Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = backendPort, Flavor = flavor, DataPath = dataPath });
        using (var seed = TestBounds.Client(backend.Url))
        {
            if ((await seed.SendAsync(new HttpRequestMessage(HttpMethod.Head, Index))).StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                await seed.PutAsync(Index, Json("""{"mappings":{"properties":{"title":{"type":"text"},"text":{"type":"text"},"topic":{"type":"keyword"}}}}"""));
                var bulk = new StringBuilder();
                foreach (var (id, title, text, topic) in Corpus)
                {
                    bulk.Append(new JsonObject { ["index"] = new JsonObject { ["_index"] = Index, ["_id"] = id } }.ToJsonString()).Append('\n');
                    bulk.Append(new JsonObject { ["title"] = title, ["text"] = text, ["topic"] = topic }.ToJsonString()).Append('\n');
                }

                var r = await seed.PostAsync("_bulk?refresh=true", new StringContent(bulk.ToString(), Encoding.UTF8, "application/x-ndjson"));
                r.EnsureSuccessStatusCode();
            }
        }

        var config = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            // A test may put its own server between the proxy and the embedded backend.
            ["Rank1:Backend:Url"] = (inFront is null ? backend.Url : await inFront(backend.Url)).ToString(),
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
            ["Rank1:Proxy:Default:TitleField"] = "title",
            ["Rank1:Proxy:Default:Window"] = "5",
            ["Rank1:Proxy:Default:MaxThinkTokens"] = "4",
            ["Rank1:Proxy:Default:Deadline"] = "00:01:00",
            ["Rank1:Backend:BreakerMinimumThroughput"] = "2",
            ["Rank1:Backend:BreakerBreakDuration"] = "00:00:01",
        };
        foreach (var (k, v) in settings ?? [])
        {
            config[k] = v;
        }

        var proxy = await ProxyServer.StartAsync(config, configureServices: services, loggerFactory: loggerFactory);
        return new ProxyStack(backend, proxy, TestBounds.Client(proxy.Url));
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>An answer read as deep as the proxy writes one (a hit's <c>_source</c> past System.Text.Json's default of 64 levels).</summary>
    public static JsonNode ParseDeep(string json) => JsonNode.Parse(json, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 2000 })!;

    /// <summary>How many <c>{"a":..}</c> levels down <paramref name="node"/> holds the 1 at its bottom.</summary>
    public static int NestedLevels(JsonNode? node)
    {
        var levels = 0;
        for (; node is JsonObject o; node = o["a"])
        {
            levels++;
        }

        Xunit.Assert.Equal(1, node!.GetValue<int>());
        return levels;
    }

    public async Task<HttpResult> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using var response = await Http.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        return new HttpResult((int)response.StatusCode, raw.Length == 0 ? null : JsonNode.Parse(raw), response.Headers, response.Content.Headers);
    }

    public Task<HttpResult> SearchAsync(string body, string path = $"{Index}/_search") => SendAsync(HttpMethod.Post, path, body);

    /// <summary>The backend's own answer for the same search (without ext), for order comparisons.</summary>
    public async Task<string[]> BackendIdsAsync(string body)
    {
        using var http = TestBounds.Client(Backend.Url);
        var r = await http.PostAsync($"{Index}/_search", Json(body));
        var json = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
        return json["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray();
    }

    /// <summary>
    /// Stops the backend (the proxy keeps running, its URL unchanged). The stack must have been started with
    /// <c>backendPort: TestPorts.BelowEphemeral()</c>: the port then sits unbound while the test expects the proxy to find
    /// nothing there, and an ephemeral one could meanwhile be handed to any other test's server on port 0.
    /// </summary>
    public async Task StopBackendAsync()
    {
        Xunit.Assert.True(Backend.Url.Port < TestPorts.EphemeralPortsFrom(),
            $"the backend stopped is on {Backend.Url.Port}, an ephemeral port another test's server could be handed: start the stack with backendPort: TestPorts.BelowEphemeral()");
        await Backend.DisposeAsync();
    }

    /// <summary>Starts a new backend on the same port with the same data folder.</summary>
    public async Task RestartBackendAsync(string dataPath)
    {
        Backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = Backend.Url.Port, DataPath = dataPath });
    }

    /// <summary>The order Rank1 must produce for <paramref name="ids"/>: each judged alone by the same model.</summary>
    public static async Task<string[]> ExpectedRank1OrderAsync(string query, IReadOnlyList<string> ids, int maxThinkTokens)
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        var scored = new List<(string Id, double Score, int Index)>();
        for (var i = 0; i < ids.Count; i++)
        {
            var doc = Corpus.Single(c => c.Id == ids[i]);
            var j = await engine.JudgeAsync(new Rank1Input(query, doc.Text, doc.Title), new JudgeSettings { MaxThinkTokens = maxThinkTokens });
            scored.Add((doc.Id, j.Score, i));
        }

        return scored.OrderByDescending(s => s.Score).ThenBy(s => s.Index).Select(s => s.Id).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        _storeOperations.Dispose();
        Http.Dispose();
        await Proxy.DisposeAsync();
        try
        {
            await Backend.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

/// <summary>A judge that always fails, standing in for a broken model.</summary>
internal sealed class ThrowingJudge : IPassageJudge
{
    public int Calls;

    public string ModelId => "throwing";

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
        PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, ct) => JudgeOneAsync(input, settings, ct), TimeProvider.System, cancellationToken);

    private ValueTask<Rank1Judgement> JudgeOneAsync(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Calls);
        throw new InvalidOperationException("model exploded");
    }
}

/// <summary>A judge that holds every window until its call is cancelled, standing in for a long rerank.</summary>
internal sealed class HoldingJudge : IPassageJudge
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running;
    private int _cancelled;

    public string ModelId => "holding";

    /// <summary>Completes when the first call starts.</summary>
    public Task Entered => _entered.Task;

    /// <summary>Calls started and not yet ended.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Calls that ended because their cancellation token was cancelled (the only way one ends).</summary>
    public int Cancelled => Volatile.Read(ref _cancelled);

    public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _running);
        _entered.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("an infinite delay ended without its cancellation");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _cancelled);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
