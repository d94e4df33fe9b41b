using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

internal sealed record Recorded(string Method, string Path, string Query, Dictionary<string, string> Headers, byte[] Body);

/// <summary>A loopback HTTP server that records every request and answers 201 with a marker header and body.</summary>
internal sealed class RecordingServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RecordingServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    public static async Task<RecordingServer> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        RecordingServer? server = null;
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            server!.Requests.Enqueue(new Recorded(context.Request.Method, context.Request.Path, context.Request.QueryString.Value ?? "",
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body.ToArray()));
            context.Response.StatusCode = 201;
            context.Response.Headers["X-Backend"] = name;
            context.Response.Headers["Set-Cookie"] = "session=abc; Path=/";
            await context.Response.WriteAsync($"{{\"served_by\":\"{name}\",\"bytes\":{body.Length}}}");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new RecordingServer(app, new Uri(address + "/"));
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

public sealed class PassThroughTests
{
    private static async Task<ProxyServer> ProxyFor(RecordingServer backend)
    {
        var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = backend.Url.ToString(),
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        });
        Assert.True(backend.Requests.TryDequeue(out var probe) && probe.Path == "/"); // the start-up GET / that learns the flavor
        Assert.Empty(backend.Requests);
        return proxy;
    }

    /// <summary>
    /// A search the proxy does not rerank (here <c>size: 0</c>, sent gzip-compressed with <c>ext.rank1</c>) is passed on
    /// as any pass-through call is: its answer streams to the client as the backend writes it, never held whole (a scroll
    /// export's pages of tens of MB each used to be buffered, about four times their size). The backend gets the search as
    /// sent, decoded and less <c>ext.rank1</c>; the client gets the rerank status headers. The backend writes the first
    /// half of its answer and waits: before, the proxy waited for the whole answer, so the client saw nothing. So is a
    /// search template whose answer is asked in YAML, which goes to the backend's <c>_search/template</c> as it came (it
    /// was held whole: a 200 MB answer took the proxy from 0.24 to 0.95 GB).
    /// </summary>
    /// <param name="path">The client's request path and query.</param>
    /// <param name="sent">The client's body (sent gzip-compressed).</param>
    /// <param name="seenPath">Where the backend is asked.</param>
    /// <param name="seenBody">The body the backend gets.</param>
    /// <param name="reason">Why the search is not reranked.</param>
    [Theory]
    [InlineData("docs/_search", """{"size":0,"query":{"match":{"text":"onion"}},"ext":{"rank1":{"window":5}}}""", "/docs/_search",
        """{"size":0,"query":{"match":{"text":"onion"}}}""", "size is 0")]
    [InlineData("docs/_search/template?format=yaml", """{"source":{"query":{"match":{"text":"{{q}}"}}},"params":{"q":"onion"}}""", "/docs/_search/template?format=yaml",
        """{"source":{"query":{"match":{"text":"{{q}}"}}},"params":{"q":"onion"}}""", "the answer is asked in YAML, which the proxy does not write")]
    public async Task SearchNotReranked_IsStreamedToTheClientAsTheBackendWritesIt(string path, string sent, string seenPath, string seenBody, string reason)
    {
        var secondHalf = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new TaskCompletionSource<(string PathAndQuery, string Body, bool Encoded)>(TaskCreationOptions.RunContinuationsAsynchronously);
        const string FirstHalf = """{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}""";
        const string Rest = ""","hits":{"total":{"value":4,"relation":"eq"},"max_score":null,"hits":[]}}""";
        var (backend, url) = await LoopbackApp.StartAsync(async context =>
        {
            if (await AnsweredAsElasticsearchRootAsync(context))
            {
                return;
            }

            using var body = new StreamReader(context.Request.Body);
            seen.TrySetResult((context.Request.Path + context.Request.QueryString, await body.ReadToEndAsync(), context.Request.Headers.ContainsKey("Content-Encoding")));
            await context.Response.WriteAsync(FirstHalf);
            await context.Response.Body.FlushAsync();
            await secondHalf.Task;
            await context.Response.WriteAsync(Rest);
        });
        await using var _ = backend;
        await using var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = url.ToString(),
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        });
        using var http = new HttpClient { BaseAddress = proxy.Url };
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(sent));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(compressed.ToArray()) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Content.Headers.ContentEncoding.Add("gzip");
        using var bounded = new CancellationTokenSource(TestBounds.Hang); // a bound on a failure, not a wait
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bounded.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(("skipped", reason), (response.Headers.GetValues("X-Rank1-Rerank").Single(), response.Headers.GetValues("X-Rank1-Reason").Single()));
        var stream = await response.Content.ReadAsStreamAsync(bounded.Token);
        var first = new byte[Encoding.UTF8.GetByteCount(FirstHalf)];
        await stream.ReadExactlyAsync(first, bounded.Token); // the backend is still holding the rest
        Assert.Equal(FirstHalf, Encoding.UTF8.GetString(first));
        secondHalf.SetResult();
        using var rest = new StreamReader(stream);
        Assert.Equal(Rest, await rest.ReadToEndAsync(bounded.Token));
        Assert.Equal((seenPath, seenBody, false), await seen.Task);
    }

    [Fact]
    public async Task NonSearchRequests_ReachTheBackendUntouched_AndTheAnswerComesBackUntouched()
    {
        await using var backend = await RecordingServer.StartAsync("backend");
        await using var proxy = await ProxyFor(backend);
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = proxy.Url };
        var payload = Encoding.UTF8.GetBytes("{\"doc\":{\"x\":1}}\n\u00e9");
        using var request = new HttpRequestMessage(HttpMethod.Put, "my-index/_doc/42?refresh=wait_for&pipeline=p%201") { Content = new ByteArrayContent(payload) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/vnd.elasticsearch+json; compatible-with=9");
        request.Headers.TryAddWithoutValidation("Authorization", "ApiKey c2VjcmV0");
        request.Headers.TryAddWithoutValidation("X-Opaque-Id", "trace-7");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("backend", response.Headers.GetValues("X-Backend").Single());
        Assert.Equal("session=abc; Path=/", response.Headers.GetValues("Set-Cookie").Single());
        Assert.Equal("{\"served_by\":\"backend\",\"bytes\":" + payload.Length + "}", await response.Content.ReadAsStringAsync());
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("PUT", seen.Method);
        Assert.Equal("/my-index/_doc/42", seen.Path);
        Assert.Equal("?refresh=wait_for&pipeline=p%201", seen.Query);
        Assert.Equal("ApiKey c2VjcmV0", seen.Headers["Authorization"]);
        Assert.Equal("trace-7", seen.Headers["X-Opaque-Id"]);
        Assert.Equal("application/vnd.elasticsearch+json; compatible-with=9", seen.Headers["Content-Type"]);
        Assert.Equal(payload, seen.Body);
        Assert.False(response.Headers.Contains("X-Rank1-Rerank"));
    }

    [Theory]
    [InlineData("GET http://{evil}/steal HTTP/1.1\r\nHost: {evil}\r\n", "/steal")]
    [InlineData("GET /steal HTTP/1.1\r\nHost: {evil}\r\nX-Forwarded-Host: {evil}\r\n", "/steal")]
    [InlineData("GET /a/../../../steal HTTP/1.1\r\nHost: localhost\r\n", "/steal")]
    [InlineData("GET /%2e%2e/%2e%2e/steal HTTP/1.1\r\nHost: localhost\r\n", null)]
    [InlineData("GET //{evil}/steal HTTP/1.1\r\nHost: localhost\r\n", null)]
    public async Task AbsoluteUrisHostHeadersAndDotSegments_NeverReachAnotherServer(string requestHead, string? expectedPath)
    {
        await using var backend = await RecordingServer.StartAsync("backend");
        await using var evil = await RecordingServer.StartAsync("evil");
        await using var proxy = await ProxyFor(backend);
        var evilAuthority = $"127.0.0.1:{evil.Url.Port}";

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, proxy.Url.Port);
        await using var stream = tcp.GetStream();
        var raw = requestHead.Replace("{evil}", evilAuthority, StringComparison.Ordinal) + "Connection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(raw));
        using var reader = new StreamReader(stream);
        var answer = await reader.ReadToEndAsync();

        Assert.Empty(evil.Requests);
        Assert.DoesNotContain("served_by\":\"evil", answer, StringComparison.Ordinal);
        var seen = Assert.Single(backend.Requests);
        Assert.Contains("served_by\":\"backend", answer, StringComparison.Ordinal);
        Assert.NotEqual(evilAuthority, seen.Headers["Host"]);
        if (expectedPath is not null)
        {
            Assert.Equal(expectedPath, seen.Path);
        }
    }

    [Fact]
    public async Task Sniffing_NodesAnswerPointsClientsAtTheProxy()
    {
        await using var stack = await ProxyStack.StartAsync();
        var r = await stack.SendAsync(HttpMethod.Get, "_nodes/http");
        Assert.Equal(200, r.Status);
        var node = r.Json["nodes"]!.AsObject().Single().Value!;
        var proxyAddress = $"127.0.0.1:{stack.Proxy.Url.Port}";
        Assert.Equal(proxyAddress, node["http"]!["publish_address"]!.GetValue<string>());
        Assert.Equal(proxyAddress, node["http"]!["bound_address"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Sniffing_WithPretty_TheRewrittenNodesAnswerIsIndentedAsTheClustersIs()
    {
        // The cluster indents its answer for ?pretty; the proxy wrote the rewritten one on a single line.
        await using var stack = await ProxyStack.StartAsync();
        using var direct = new HttpClient { BaseAddress = stack.Backend.Url };
        var cluster = await direct.GetStringAsync("_nodes/http?pretty");
        var proxied = await stack.Http.GetStringAsync("_nodes/http?pretty");
        // Line for line the cluster's text, indentation included, but for the addresses.
        var backendAddress = $"127.0.0.1:{stack.Backend.Url.Port}";
        Assert.Equal(cluster.Replace(backendAddress, "ADDRESS", StringComparison.Ordinal).Split('\n'),
            proxied.Replace(backendAddress, "ADDRESS", StringComparison.Ordinal).Replace($"127.0.0.1:{stack.Proxy.Url.Port}", "ADDRESS", StringComparison.Ordinal).Split('\n'));
        Assert.Equal($"127.0.0.1:{stack.Proxy.Url.Port}", System.Text.Json.Nodes.JsonNode.Parse(proxied)!["nodes"]!.AsObject().Single().Value!["http"]!["publish_address"]!.GetValue<string>());
    }

    [Fact]
    public async Task Sniffing_WithGzipAccepted_TheRewrittenNodesAnswerIsGzipped_AndAHeadIsTheBackendsHead()
    {
        await using var stack = await ProxyStack.StartAsync();
        using var handler = new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { BaseAddress = stack.Proxy.Url };

        // The cluster compresses its answer to a client that accepts gzip; the rewritten one is compressed as it was
        // (it went out plain). Decoded here by GZipStream, not by the proxy's own decoder.
        using var get = new HttpRequestMessage(HttpMethod.Get, "_nodes/http");
        get.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate");
        using var sniffed = await http.SendAsync(get);
        Assert.Equal(HttpStatusCode.OK, sniffed.StatusCode);
        Assert.Equal("gzip", sniffed.Content.Headers.ContentEncoding.Single());
        var bytes = await sniffed.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length, sniffed.Content.Headers.ContentLength);
        using var inflated = new MemoryStream();
        await using (var gz = new System.IO.Compression.GZipStream(new MemoryStream(bytes), System.IO.Compression.CompressionMode.Decompress))
        {
            await gz.CopyToAsync(inflated);
        }

        var node = System.Text.Json.Nodes.JsonNode.Parse(inflated.ToArray())!["nodes"]!.AsObject().Single().Value!;
        Assert.Equal($"127.0.0.1:{stack.Proxy.Url.Port}", node["http"]!["publish_address"]!.GetValue<string>());

        // A HEAD has no body to rewrite: the backend's status and headers (Elasticsearch registers no HEAD on /_nodes/{x}:
        // its 405 with Allow, no body).
        using var direct = new HttpClient { BaseAddress = stack.Backend.Url };
        using var backendHead = await direct.SendAsync(new HttpRequestMessage(HttpMethod.Head, "_nodes/http"));
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "_nodes/http"));
        Assert.Equal(backendHead.StatusCode, head.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, head.StatusCode);
        Assert.Equal(["GET"], head.Content.Headers.Allow);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        // Its Content-Length too, as the backend wrote it (read unparsed: HttpClient would compute one): it went out with none.
        Assert.True(backendHead.Content.Headers.NonValidated.TryGetValues("Content-Length", out var backendLength));
        Assert.True(head.Content.Headers.NonValidated.TryGetValues("Content-Length", out var length), "the proxy's HEAD /_nodes/http has no Content-Length");
        Assert.Equal(backendLength.ToString(), length.ToString());
    }

    [Fact]
    public async Task BackendStoppedMidTest_Gives502_ThenTheOpenCircuits503_AndRecoversAfterRestart()
    {
        var data = TestTemp.Folder("rank1-proxy-backend-");
        // The proxy's clock (the breaker's too) is a FakeTimeProvider: the open circuit stays open until the test moves it
        // past the break, however slow this machine is.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var breakDuration = TimeSpan.FromSeconds(5);
        // The store's writer flushes on the same clock: its interval is far past the break, so its _bulk of the first
        // search's judgements cannot take the half-open trial call from the test's request below.
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Backend:BreakerBreakDuration"] = breakDuration.ToString(), ["Rank1:Store:FlushInterval"] = "00:10:00" },
            s => s.AddSingleton<TimeProvider>(clock), dataPath: data, backendPort: TestPorts.BelowEphemeral());
        Assert.Equal("applied", (await stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""")).Rerank);

        await stack.StopBackendAsync();

        // The first call after the stop finds the backend unreachable while the circuit is still closed: 502. Failures go
        // on being 502 until they are half the calls of the sampling window (at least 2, ProxyStack's settings); then the
        // circuit opens and every call is a 503 that never reaches the backend, pass-through and searches alike.
        AssertBackendError(await stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}"""), 502, "rank1_backend_unreachable_exception");
        var unreachable = 1;
        HttpResult next;
        while ((next = await stack.SendAsync(HttpMethod.Get, "docs/_doc/d01")).Status == 502)
        {
            AssertBackendError(next, 502, "rank1_backend_unreachable_exception");
            Assert.True(++unreachable < 20, "the circuit never opened");
        }

        AssertBackendError(next, 503, "rank1_backend_circuit_open_exception");
        AssertBackendError(await stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}"""), 503, "rank1_backend_circuit_open_exception");
        Assert.Equal(503, (await stack.SendAsync(HttpMethod.Get, "_rank1/health")).Status);

        // The backend is back (it listens once RestartBackendAsync returns), but the break is not over: still 503, its
        // Retry-After the time left in the break (1.8 s: 2 in whole seconds), not the whole break.
        await stack.RestartBackendAsync(data);
        clock.Advance(TimeSpan.FromSeconds(3.2));
        AssertBackendError(await stack.SendAsync(HttpMethod.Get, "docs/_doc/d01"), 503, "rank1_backend_circuit_open_exception", retryAfter: "2");

        // After the break the circuit lets one call through (half-open); it succeeds and closes the circuit, and a query
        // never judged before is reranked by the model.
        clock.Advance(breakDuration);
        Assert.Equal(200, (await stack.SendAsync(HttpMethod.Get, "docs/_doc/d01")).Status);
        var recovered = await stack.SearchAsync("""{"query":{"match":{"text":"onion soup"}}}""");
        Assert.Equal(200, recovered.Status);
        Assert.Equal("applied", recovered.Rerank);
        Assert.Equal(200, (await stack.SendAsync(HttpMethod.Get, "_rank1/health")).Status);
    }

    /// <summary>
    /// An msearch none of whose searches got the backend's answer is that backend error as a whole, as a _search is: it
    /// was a 200 whose every item was the 502, which clients take as the answer instead of retrying it (the JavaScript
    /// client retries a 502, 503 or 504 answer, never a 200). Once the failures open the circuit, the msearch is its 503
    /// with the break's Retry-After, as a _search is.
    /// </summary>
    [Fact]
    public async Task Msearch_BackendGone_IsTheWhole502_AsASearchIs_ThenTheOpenCircuits503()
    {
        // The breaker's clock is a FakeTimeProvider: the Retry-After is the whole break however slow this machine is.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Backend:BreakerBreakDuration"] = "00:00:05", ["Rank1:Store:FlushInterval"] = "00:10:00" },
            s => s.AddSingleton<TimeProvider>(clock), backendPort: TestPorts.BelowEphemeral());
        await stack.StopBackendAsync();

        var client = new global::Elastic.Clients.Elasticsearch.ElasticsearchClient(new global::Elastic.Clients.Elasticsearch.ElasticsearchClientSettings(stack.Proxy.Url));
        var msearch = await client.MultiSearchAsync<System.Text.Json.Nodes.JsonObject>(new global::Elastic.Clients.Elasticsearch.MultiSearchRequest
        {
            Searches =
            [
                new global::Elastic.Clients.Elasticsearch.Core.MSearch.SearchRequestItem(
                    new global::Elastic.Clients.Elasticsearch.Core.MSearch.MultisearchHeader { Indices = "docs" },
                    new global::Elastic.Clients.Elasticsearch.Core.MSearch.MultisearchBody { Query = new global::Elastic.Clients.Elasticsearch.QueryDsl.MatchQuery { Field = "text", Query = "onion" } }),
            ],
        });
        Assert.Equal((502, "rank1_backend_unreachable_exception"), (msearch.ApiCallDetails?.HttpStatusCode, msearch.ElasticsearchServerError?.Error?.Type));

        const string TwoSearches = "{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n{\"index\":\"docs\"}\n{\"size\":0}\n";
        var unreachable = 1;
        HttpResult next;
        while ((next = await stack.SendAsync(HttpMethod.Post, "_msearch", TwoSearches, "application/x-ndjson")).Status == 502)
        {
            AssertBackendError(next, 502, "rank1_backend_unreachable_exception");
            Assert.True(++unreachable < 20, "the circuit never opened");
        }

        AssertBackendError(next, 503, "rank1_backend_circuit_open_exception");
    }

    /// <summary>
    /// An msearch one of whose searches got the backend's answer keeps its per-item answers (a 200), the item the backend
    /// never answered (its connection cut) being the 502 in its place: only an msearch none of whose searches got an
    /// answer is the whole error.
    /// </summary>
    [Fact]
    public async Task Msearch_OneSearchAnswered_OneCut_IsA200_WithThe502InItsItem()
    {
        const string Answer = """{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":0,"relation":"eq"},"max_score":null,"hits":[]}}""";
        var (backend, url) = await LoopbackApp.StartAsync(async context =>
        {
            if (await AnsweredAsElasticsearchRootAsync(context))
            {
                return;
            }

            if (context.Request.Path.StartsWithSegments("/gone", StringComparison.Ordinal))
            {
                context.Abort();
                return;
            }

            await context.Response.WriteAsync(Answer);
        });
        await using var _ = backend;
        await using var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = url.ToString(),
            ["Rank1:Backend:BreakerMinimumThroughput"] = "100",
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        });
        using var http = new HttpClient { BaseAddress = proxy.Url };
        using var content = new StringContent("{\"index\":\"gone\"}\n{\"size\":0}\n{\"index\":\"docs\"}\n{\"size\":0}\n", Encoding.UTF8);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-ndjson");
        using var response = await http.PostAsync("_msearch", content);
        var json = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = json["responses"]!.AsArray();
        Assert.Equal(
            [(502, "rank1_backend_unreachable_exception"), (200, null)],
            items.Select(i => (i!["status"]!.GetValue<int>(), (string?)i["error"]?["type"])).ToArray());
        Assert.Equal(0, items[1]!["hits"]!["total"]!["value"]!.GetValue<int>());
    }

    /// <summary>
    /// A search streamed through the forwarder (not reranked: size 0; and a lone template that renders to one) whose
    /// backend is gone is the ES-shaped 502, counted in <c>rank1.backend.failures{kind=unreachable}</c> as a search the
    /// proxy holds is: an outage must not vanish from the alert metric because the traffic was aggregations.
    /// </summary>
    [Fact]
    public async Task StreamedSearch_BackendGone_Is502AndCountedAsABackendFailure()
    {
        await using var stack = await ProxyStack.StartAsync(backendPort: TestPorts.BelowEphemeral());
        using var failures = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            stack.Proxy.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), Rank1.SearchBridge.Telemetry.Rank1Metrics.MeterName, "rank1.backend.failures");
        var aggregation = await stack.SearchAsync("""{"size":0,"query":{"match":{"text":"onion"}}}""");
        Assert.Equal((200, "skipped"), (aggregation.Status, aggregation.Rerank));
        Assert.Equal(await stack.BackendIdsAsync("""{"size":0,"query":{"match":{"text":"onion"}}}"""), aggregation.Ids);

        await stack.StopBackendAsync();

        AssertBackendError(await stack.SearchAsync("""{"size":0,"query":{"match":{"text":"onion"}}}"""), 502, "rank1_backend_unreachable_exception");
        Assert.Equal(["unreachable"], failures.GetMeasurementSnapshot().Select(m => (string?)m.Tags["kind"]));
    }

    /// <summary>
    /// A backend that fails after a streamed search's answer began (it goes away, or stops sending for longer than
    /// <c>Rank1:Backend:Timeout</c>) has the client's answer cut, and the failure is counted in
    /// <c>rank1.backend.failures</c> (<c>unreachable</c>, <c>timeout</c>) and seen by the breaker, as the same failure is
    /// before the answer begins, and as it was when such a search was held whole: the breaker's first window (the start-up
    /// <c>GET /</c> and this search, half of them failed) opens the circuit, so the next search is the 503 and never reaches
    /// the backend. Before, such a search counted as a success and the backend kept being called.
    /// </summary>
    /// <param name="silent">The backend stops sending (and stays silent) rather than closing the connection.</param>
    /// <param name="kind">The failure's kind counted.</param>
    [Theory]
    [InlineData(false, "unreachable")]
    [InlineData(true, "timeout")]
    public async Task StreamedSearch_BackendFailingMidAnswer_IsCountedAndOpensTheCircuit(bool silent, string kind)
    {
        var searches = 0;
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstHalfRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        const string Answer = """{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":4,"relation":"eq"},"max_score":null,"hits":[]}}""";
        var (backend, url) = await LoopbackApp.StartAsync(async context =>
        {
            if (await AnsweredAsElasticsearchRootAsync(context))
            {
                return;
            }

            Interlocked.Increment(ref searches);
            context.Response.ContentLength = Encoding.UTF8.GetByteCount(Answer);
            await context.Response.WriteAsync(Answer[..(Answer.Length / 2)]);
            await context.Response.Body.FlushAsync();
            await firstHalfRead.Task; // the client has the first half: the proxy's answer has begun
            if (silent)
            {
                await never.Task.WaitAsync(context.RequestAborted);
            }
            else
            {
                context.Abort();
            }
        });
        await using var _ = backend;
        await using var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = url.ToString(),
            ["Rank1:Backend:Timeout"] = "00:00:02",
            ["Rank1:Backend:BreakerMinimumThroughput"] = "2",
            ["Rank1:Backend:BreakerFailureRatio"] = "0.5",
            ["Rank1:Backend:BreakerSamplingDuration"] = "01:00:00",
            ["Rank1:Backend:BreakerBreakDuration"] = "00:10:00",
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        });
        using var failures = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            proxy.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), Rank1.SearchBridge.Telemetry.Rank1Metrics.MeterName, "rank1.backend.failures");
        using var http = new HttpClient { BaseAddress = proxy.Url };
        using var bounded = new CancellationTokenSource(TestBounds.Hang); // a bound on a failure, not a wait
        HttpRequestMessage Search() => new(HttpMethod.Post, "docs/_search")
        {
            Content = new StringContent("""{"size":0,"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"),
        };

        using (var request = Search())
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bounded.Token))
        {
            Assert.Equal((HttpStatusCode.OK, "skipped"), (response.StatusCode, response.Headers.GetValues("X-Rank1-Rerank").Single()));
            var stream = await response.Content.ReadAsStreamAsync(bounded.Token);
            var first = new byte[Answer.Length / 2];
            await stream.ReadExactlyAsync(first, bounded.Token);
            Assert.Equal(Answer[..(Answer.Length / 2)], Encoding.UTF8.GetString(first));
            firstHalfRead.SetResult();
            await Assert.ThrowsAnyAsync<IOException>(() => stream.CopyToAsync(Stream.Null, bounded.Token)); // cut, never completed
        }

        await failures.WaitForMeasurementsAsync(1, TestBounds.Hang); // counted after the forwarder cut the client's answer
        Assert.Equal([kind], failures.GetMeasurementSnapshot().Select(m => (string?)m.Tags["kind"]));

        using (var request = Search())
        using (var response = await http.SendAsync(request, bounded.Token))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("rank1_backend_circuit_open_exception", await response.Content.ReadAsStringAsync(bounded.Token), StringComparison.Ordinal);
        }

        Assert.Equal(1, Volatile.Read(ref searches));
        never.TrySetResult();
    }

    /// <summary>
    /// A stand-in Elasticsearch backend's answer headers (JSON, <c>X-Elastic-Product</c>) set, and its <c>GET /</c>
    /// answered (the proxy's start-up probe): true when the request was that.
    /// </summary>
    /// <param name="context">The backend's request.</param>
    private static async Task<bool> AnsweredAsElasticsearchRootAsync(HttpContext context)
    {
        context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
        context.Response.ContentType = "application/json";
        if (context.Request.Path != "/")
        {
            return false;
        }

        await context.Response.WriteAsync("""{"version":{"number":"9.1.0","build_flavor":"default"},"tagline":"You Know, for Search"}""");
        return true;
    }

    /// <summary>An error of the backend's in Elasticsearch's shape; a 503's Retry-After is the break's 5 s unless <paramref name="retryAfter"/> says what is left of it.</summary>
    /// <param name="r">The answer.</param>
    /// <param name="status">Its HTTP status, in the body too.</param>
    /// <param name="type">Its error type.</param>
    /// <param name="retryAfter">A 503's Retry-After (default: the whole break, "5").</param>
    private static void AssertBackendError(HttpResult r, int status, string type, string retryAfter = "5")
    {
        Assert.Equal(status, r.Status);
        Assert.Equal(status, r.Json["status"]!.GetValue<int>());
        Assert.Equal(type, r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Equal("Elasticsearch", r.Headers.GetValues("X-Elastic-Product").Single());
        Assert.Equal(status == 503 ? retryAfter : null, r.Headers.TryGetValues("Retry-After", out var header) ? header.Single() : null); // the circuit's break left
    }
}

public sealed class ProxyConfigurationTests
{
    private static Dictionary<string, string?> Valid() => new()
    {
        ["Urls"] = "http://127.0.0.1:0",
        ["Rank1:Backend:Url"] = "http://127.0.0.1:1",
        ["Rank1:Model:Path"] = TestPaths.TinyModel,
        ["Rank1:Model:ExecutionProvider"] = "Cpu",
    };

    [Theory]
    [InlineData("Rank1:Backend:Url", "not a url", "Rank1:Backend:Url")]
    [InlineData("Rank1:Backend:Url", "ftp://cluster:21", "Rank1:Backend:Url")]
    [InlineData("Rank1:Proxy:Default:Window", "0", "Rank1:Proxy:Default:Window")]
    [InlineData("Rank1:Proxy:Indices:0:Pattern", "", "Rank1:Proxy:Indices:0:Pattern")]
    [InlineData("Rank1:Proxy:MaxConcurrentReranks", "0", "MaxConcurrentReranks")]
    [InlineData("Rank1:Proxy:MaxMsearchItems", "0", "Rank1:Proxy:MaxMsearchItems")]
    [InlineData("Rank1:Model:Path", "", "Rank1:Model:Path")]
    public async Task BadSetting_FailsAtStartupNamingTheKey(string key, string value, string named)
    {
        var settings = Valid();
        settings[key] = value;
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyServer.StartAsync(settings));
        Assert.Contains(named, Assert.Single(ex.Failures), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"Rank1":{"Proxy":{"Backend":"http://127.0.0.1:1"}}}""", "Rank1:Proxy:Backend (Rank1__Proxy__Backend)", "Rank1:Backend:Url (Rank1__Backend__Url)")]
    [InlineData("""{"Rank1":{"Proxy":{"Backend":{"Url":"http://127.0.0.1:1"}}}}""", "Rank1:Proxy:Backend (Rank1__Proxy__Backend)", "Rank1:Backend:Url (Rank1__Backend__Url)")]
    [InlineData("""{"Rank1":{"Proxy":{"BackendTimeout":"00:00:05"}}}""", "Rank1:Proxy:BackendTimeout (Rank1__Proxy__BackendTimeout)", "Rank1:Backend:Timeout (Rank1__Backend__Timeout)")]
    [InlineData("""{"Rank1":{"Proxy":{"BackendMaxConnections":8}}}""", "Rank1:Proxy:BackendMaxConnections (Rank1__Proxy__BackendMaxConnections)", "Rank1:Backend:MaxConnections (Rank1__Backend__MaxConnections)")]
    [InlineData("""{"Rank1":{"Proxy":{"BreakerBreakDuration":"00:00:02"}}}""", "Rank1:Proxy:BreakerBreakDuration (Rank1__Proxy__BreakerBreakDuration)", "Rank1:Backend:BreakerBreakDuration (Rank1__Backend__BreakerBreakDuration)")]
    public async Task MovedBackendKey_InTheConfigurationFile_FailsAtStartupNamingTheNewKey(string json, string old, string replacement)
    {
        // An appsettings.json written for the old layout: the host stops at start-up naming the key that replaces it, instead
        // of an unknown-key error or running with the setting ignored.
        var file = Path.Combine(TestTemp.Folder("rank1-moved-"), "appsettings.json");
        await File.WriteAllTextAsync(file, json);
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyServer.StartAsync(Valid(), file));
        Assert.Equal($"{old} is no longer read: the cluster has its own section Rank1:Backend; set {replacement} instead", Assert.Single(ex.Failures));
    }

    [Theory]
    [InlineData("Rank1:Proxy:Bakend")]
    [InlineData("Rank1:Proxy:Default:Windw")]
    [InlineData("Rank1:Proxy:Caps:Windw")]
    [InlineData("Rank1:Proxy:Indices:0:Windw")]
    [InlineData("Rank1:HotQueries:Treshold")]
    [InlineData("Rank1:Backend:Ur")]
    [InlineData("Rank1:Store:Indx")]
    [InlineData("Rank1:Service:Enabld")]
    [InlineData("Rank1:Broker:Ur")]
    [InlineData("Rank1:Model:Pth")]
    [InlineData("Rank1:Proxi:MaxConcurrentReranks")]
    [InlineData("Rank1:Bogus:X")]
    [InlineData("Rank1:Bogus")]
    public async Task UnknownSetting_FailsAtStartupNamingItsKey(string key)
    {
        // Every section the proxy reads, nested objects and list items too, and a section no host reads: the key itself
        // (not a .NET type) in configuration and environment-variable form.
        var settings = Valid();
        settings["Rank1:Proxy:Indices:0:Pattern"] = "a*";
        settings[key] = "3";
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyServer.StartAsync(settings));
        Assert.StartsWith($"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) is not a setting", Assert.Single(ex.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownKeyInARuleOfTheConfigurationFile_FailsAtStartupNamingItsKey()
    {
        var file = Path.Combine(TestTemp.Folder("rank1-unknown-"), "appsettings.json");
        await File.WriteAllTextAsync(file, """{"Rank1":{"Proxy":{"Indices":[{"Pattern":"a*","Windw":5}]}}}""");
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyServer.StartAsync(Valid(), file));
        Assert.Equal("Rank1:Proxy:Indices:0:Windw (Rank1__Proxy__Indices__0__Windw) is not a setting", Assert.Single(ex.Failures));
    }

    [Fact]
    public async Task SectionsOtherHostsRead_AreAccepted_SoOneFileServesEveryHost()
    {
        var settings = Valid();
        settings["Rank1:Worker:PrefetchCount"] = "4";
        settings["Rank1:Service:Enabled"] = "true";
        await using var proxy = await ProxyServer.StartAsync(settings);
        // Started and serving: its liveness answers (the backend here is nowhere, so readiness would not).
        using var http = new HttpClient { BaseAddress = proxy.Url };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("_rank1/live")).StatusCode);
    }

    [Theory]
    [InlineData("not_a_host:abc")]
    [InlineData("localhost")]
    [InlineData("localhost:0")]
    [InlineData("localhost:65536")]
    [InlineData("http://proxy:9200")]
    [InlineData("::1:9200")]
    [InlineData("-proxy:9200")]
    public async Task PublicAddressThatIsNotHostAndPort_FailsAtStartupNamingIt(string value)
    {
        var settings = Valid();
        settings["Rank1:Proxy:PublicAddress"] = value;
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyServer.StartAsync(settings));
        Assert.StartsWith($"Rank1:Proxy:PublicAddress ('{value}') must be host:port", Assert.Single(ex.Failures), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost:9200")]
    [InlineData("search.example.com:443")]
    [InlineData("10.0.0.5:9200")]
    [InlineData("[::1]:9200")]
    public async Task PublicAddressThatIsHostAndPort_IsAccepted_AndIsTheAddressSniffingClientsAreGiven(string value)
    {
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:PublicAddress"] = value });
        var r = await stack.SendAsync(HttpMethod.Get, "_nodes/http");
        Assert.Equal(200, r.Status);
        var node = r.Json["nodes"]!.AsObject().Single().Value!;
        Assert.Equal(value, node["http"]!["publish_address"]!.GetValue<string>());
        Assert.Equal(value, node["http"]!["bound_address"]![0]!.GetValue<string>());
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("collector:4318")]
    [InlineData("ftp://collector:4318")]
    public async Task OtlpEndpointThatIsNotAnHttpUrl_FailsAtStartupNamingIt(string value)
    {
        var settings = Valid();
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = value;
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyServer.StartAsync(settings));
        Assert.StartsWith("OTEL_EXPORTER_OTLP_ENDPOINT must be an absolute http or https URL", Assert.Single(ex.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadModelFolder_FailsAtStartupNamingTheFile()
    {
        var settings = Valid();
        var missing = Path.Combine(Path.GetTempPath(), "no-model-" + Guid.NewGuid().ToString("N"));
        settings["Rank1:Model:Path"] = missing;
        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => ProxyServer.StartAsync(settings));
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IndexRules_PickTheFirstMatchingPattern()
    {
        var judge = new CountingJudge();
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Proxy:Indices:0:Pattern"] = "logs-*",
            ["Rank1:Proxy:Indices:0:Enabled"] = "false",
            ["Rank1:Proxy:Indices:1:Pattern"] = "do*",
            ["Rank1:Proxy:Indices:1:Window"] = "2",
            ["Rank1:Proxy:Indices:1:Fields:0"] = "title",
        }, s => s.AddSingleton<IPassageJudge>(judge));
        var r = await stack.SearchAsync("""{"query":{"match":{"text":"onion"}}}""");
        Assert.Equal("applied", r.Rerank);
        Assert.Equal(2, judge.Seen.Count); // window 2 from the "do*" rule
        // Passages were built from the rule's field (title), not the default (text).
        var titles = ProxyStack.Corpus.Select(c => c.Title).ToHashSet();
        Assert.All(judge.Seen, input => Assert.Contains(input.Text, titles));
    }

    private sealed class CountingJudge : IPassageJudge
    {
        public ConcurrentBag<Rank1Input> Seen { get; } = [];

        public string ModelId => "counting";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
            PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, ct) => JudgeOneAsync(input, settings, ct), TimeProvider.System, cancellationToken);

        private ValueTask<Rank1Judgement> JudgeOneAsync(Rank1Input input, JudgeSettings? settings, CancellationToken cancellationToken)
        {
            Seen.Add(input);
            return ValueTask.FromResult(new Rank1Judgement(input.Text.Length / 100.0, false, "counted", 0, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero));
        }
    }
}
