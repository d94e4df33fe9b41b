using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Rank1.EmbeddedSearch;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Issue #18, items 8 and 9: the raw path forwarded byte for byte, a bounded pass-through wait with an
/// Elasticsearch-shaped 504, no credentials in <c>/_rank1/health</c>, and the optional API key on <c>/_rank1/*</c>.
/// </summary>
public sealed class PassThroughHardeningTests
{
    private static Task<ProxyServer> Proxy(string backend, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = backend,
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return ProxyServer.StartAsync(settings);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData("/notes/_doc/a%2Fb")]
    [InlineData("/notes/_doc/a%252Fb?routing=x%2Fy")]
    [InlineData("/notes/_doc/x%2F..%2Fy")]
    [InlineData("/notes/_doc/caf%C3%A9%20%2B")]
    public async Task EncodedCharactersInAPassThroughPath_ReachTheBackendByteForByte(string target)
    {
        // The backend records the request target exactly as it came off the wire.
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var backend = builder.Build();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        backend.Run(async context =>
        {
            seen.Enqueue(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("{}");
        });
        await backend.StartAsync();
        var url = backend.Urls.First();
        await using var proxy = await Proxy(url + "/");
        Assert.True(seen.TryDequeue(out var probe) && probe == "/");

        using var client = new HttpClient { BaseAddress = proxy.Url };
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Put, new Uri(proxy.Url, target)) { Content = Json("{}") });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(target, Assert.Single(seen));
    }

    [Theory]
    // elasticsearch-js's encoding of the date-math index <logs-{now/d}>: reranked, passed through, and as an msearch's path index.
    [InlineData("/%3Clogs-%7Bnow%2Fd%7D%3E/_search", """{"query":{"match":{"text":"onion"}}}""", "/%3Clogs-%7Bnow%2Fd%7D%3E/_search")]
    [InlineData("/%3Clogs-%7Bnow%2Fd%7D%3E/_search", """{"query":{"match_all":{}}}""", "/%3Clogs-%7Bnow%2Fd%7D%3E/_search")]
    [InlineData("/%3Clogs-%7Bnow%2Fd%7D%3E/_msearch", "{}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", "/%3Clogs-%7Bnow%2Fd%7D%3E/_search")]
    // A cross-cluster index as curl and the Go client send it, the colon unencoded (a colon is allowed in a path): taken
    // as it was, "remote:docs/_search" read as an absolute URI of scheme "remote", a 500.
    [InlineData("/remote:docs/_search", """{"query":{"match":{"text":"onion"}}}""", "/remote%3Adocs/_search")]
    [InlineData("/remote:docs/_msearch", "{}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", "/remote%3Adocs/_search")]
    public async Task IndexInASearchPath_DateMathOrCrossCluster_ReachesTheBackendEncodedOnce(string target, string body, string expected)
    {
        // The route value keeps %2F undecoded; encoded again for the backend it became %252F (a date math over
        // another index name). The backend records the request target exactly as it came off the wire.
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var (backend, url) = await LoopbackApp.StartAsync(async context =>
        {
            seen.Enqueue(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"took":1,"timed_out":false,"hits":{"total":{"value":0,"relation":"eq"},"max_score":null,"hits":[]}}""");
        });
        await using var _ = backend;
        await using var proxy = await Proxy(url.ToString());
        Assert.True(seen.TryDequeue(out var probe) && probe == "/");

        using var client = new HttpClient();
        using var response = await client.PostAsync(new Uri(proxy.Url, target), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var search = Assert.Single(seen, t => t.Contains("_search", StringComparison.Ordinal));
        Assert.Equal(expected, search.Split('?')[0]);
    }

    [Fact]
    public async Task HungBackend_PassThroughAnswersElasticsearchShaped504_AfterTheConfiguredTimeout()
    {
        // A backend that accepts connections and reads requests but never answers.
        using var hung = new TcpListener(IPAddress.Loopback, 0);
        hung.Start();
        using var stop = new CancellationTokenSource();
        var accepted = new List<TcpClient>();
        var acceptLoop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                accepted.Add(await hung.AcceptTcpClientAsync(stop.Token));
            }
        });
        try
        {
            var url = $"http://127.0.0.1:{((IPEndPoint)hung.LocalEndpoint).Port}/";
            await using var proxy = await Proxy(url, ("Rank1:Backend:Timeout", "00:00:00.200"), ("Rank1:Proxy:PassThroughTimeout", "00:00:01"));
            using var client = new HttpClient { BaseAddress = proxy.Url, Timeout = TestBounds.Hang };
            using var response = await client.GetAsync("notes/_doc/1");
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(504, body["status"]!.GetValue<int>());
            Assert.Equal("rank1_backend_timeout_exception", body["error"]!["type"]!.GetValue<string>());
            Assert.Contains("did not answer within 1 s (Rank1:Proxy:PassThroughTimeout)", body["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
            hung.Stop();
            await Assert.ThrowsAnyAsync<Exception>(() => acceptLoop);
            accepted.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Health_ShowsNoCredentials_OfTheBackendOrTheBroker()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var withCredentials = new UriBuilder(backend.Url) { UserName = "elastic-admin", Password = "backend-secret" }.Uri.ToString();
        await using var proxy = await Proxy(withCredentials, ("Rank1:Broker:Url", "amqp://broker-user:broker-secret@127.0.0.1:1/"));
        using var client = new HttpClient { BaseAddress = proxy.Url };
        var text = await client.GetStringAsync("_rank1/health");
        foreach (var secret in new[] { "elastic-admin", "backend-secret", "broker-user", "broker-secret" })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        var health = JsonNode.Parse(text)!;
        Assert.Equal(backend.Url.ToString(), health["backend"]!["url"]!.GetValue<string>());
        Assert.Equal("amqp://127.0.0.1:1/", health["broker"]!["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task ARerankedSearch_KeepsTheBackendsHeaderLines_AsWritten()
    {
        // A Server header of product tokens came back as two Server lines (one per token) on a reranked search.
        var (backend, url) = await LoopbackApp.StartAsync(context =>
        {
            context.Response.Headers.Server = "BaseHTTP/0.6 Python/3.11.7";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            context.Response.ContentType = "application/json";
            return context.Request.Path == "/"
                ? context.Response.WriteAsync("""{"version":{"number":"9.0.0"},"tagline":"You Know, for Search"}""")
                : context.Response.WriteAsync("""{"took":1,"timed_out":false,"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,"hits":[{"_index":"docs","_id":"1","_score":1.0,"_source":{"text":"onion tears"}}]}}""");
        });
        await using (backend)
        {
            await using var proxy = await Proxy(url.ToString());
            using var client = new HttpClient { BaseAddress = proxy.Url };
            using var response = await client.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"));
            Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
            Assert.True(response.Headers.NonValidated.TryGetValues("Server", out var server));
            Assert.Equal(["BaseHTTP/0.6 Python/3.11.7"], server);
        }
    }

    [Fact]
    public async Task Live_AnswersWhileTheBackendIsDown_WhereHealthIsRed()
    {
        // A liveness probe must not restart every proxy during a cluster outage: /_rank1/live runs no check (it was a 400,
        // unknown to the proxy, and /_rank1/health, the readiness probe, is red while the backend is down).
        await using var proxy = await Proxy("http://127.0.0.1:1");
        using var client = new HttpClient { BaseAddress = proxy.Url };
        using var health = await client.GetAsync("_rank1/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        using var live = await client.GetAsync("_rank1/live");
        Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.StatusCode, await live.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task TheProxysOwnErrors_CarryNoCacheHeaders_AsElasticsearchsErrorsCarryNone()
    {
        // ASP.NET Core's exception handler marked every error the proxy made uncacheable (Cache-Control: no-cache,no-store,
        // Pragma: no-cache, Expires: -1); the cluster's own answer to the same request has none of them.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        await using var proxy = await Proxy(backend.Url.ToString(), ("Rank1:Proxy:AdminApiKey", "an-admin-key-of-24-chars"));
        string[] cacheHeaders = ["Cache-Control", "Pragma", "Expires"];
        static async Task<(int Status, string[] Headers)> SendAsync(Uri url, string path)
        {
            using var client = new HttpClient { BaseAddress = url };
            using var response = await client.PostAsync(path, new StringContent("{}\n{}\n", Encoding.UTF8, "application/x-ndjson"));
            return ((int)response.StatusCode, response.Headers.Concat(response.Content.Headers).Select(h => h.Key).ToArray());
        }

        var cluster = await SendAsync(backend.Url, "_msearch?q=x");
        Assert.Equal(400, cluster.Status);
        Assert.Empty(cluster.Headers.Intersect(cacheHeaders, StringComparer.OrdinalIgnoreCase));
        foreach (var (path, status) in new[] { ("_msearch?q=x", 400), ("_rank1/health", 401) })
        {
            var made = await SendAsync(proxy.Url, path);
            Assert.Equal(status, made.Status);
            Assert.Contains("X-Elastic-Product", made.Headers);
            Assert.Empty(made.Headers.Intersect(cacheHeaders, StringComparer.OrdinalIgnoreCase));
        }
    }

    [Fact]
    public async Task TheProxysOwnEndpoints_TakeGetAndHead_AnotherMethodIsElasticsearchs405()
    {
        // /_rank1/health, /_rank1/live and /_rank1/metrics answered any method with their GET answer. Elasticsearch answers
        // a method a path's handlers do not take with RestController.handleUnsupportedHttpMethod's 405 and Allow, and
        // OPTIONS with handleOptionsRequest's empty 200 and Allow.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        await using var proxy = await Proxy(backend.Url.ToString());
        using var client = new HttpClient { BaseAddress = proxy.Url };
        foreach (var path in new[] { "/_rank1/health", "/_rank1/live", "/_rank1/metrics" })
        {
            foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch })
            {
                using var refused = await client.SendAsync(new HttpRequestMessage(method, path));
                Assert.Equal(HttpStatusCode.MethodNotAllowed, refused.StatusCode);
                Assert.Equal(["GET"], refused.Content.Headers.Allow);
                Assert.Equal("Elasticsearch", refused.Headers.GetValues("X-Elastic-Product").Single());
                Assert.Equal($$"""{"error":"Incorrect HTTP method for uri [{{path}}] and method [{{method.Method}}], allowed: [GET]","status":405}""",
                    await refused.Content.ReadAsStringAsync());
            }

            using var options = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, path));
            Assert.Equal((HttpStatusCode.OK, ""), (options.StatusCode, await options.Content.ReadAsStringAsync()));
            Assert.Equal(["GET"], options.Content.Headers.Allow);
            using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            using var get = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }
    }

    [Fact]
    public async Task ARequestWithManyHeaders_PassesAsElasticsearchTakesIt()
    {
        // Elasticsearch bounds the headers' size, not their number; Kestrel refused more than 100 with a bare 431.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        await using var proxy = await Proxy(backend.Url.ToString());
        using var client = new HttpClient { BaseAddress = proxy.Url };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        for (var i = 0; i < 150; i++)
        {
            request.Headers.Add($"X-Trace-{i}", "1");
        }

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("You Know, for Search", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["tagline"]!.GetValue<string>());
    }

    [Fact]
    public async Task ALongUrl_IsTheClustersToJudge_ARaisedLimitServesIt_TheDefaultAnswersInItsShape()
    {
        // Elasticsearch bounds the request line by http.max_initial_line_length (4 KB by default, raised by users of long
        // index lists); Kestrel's own 8 KB refused a 12 KB line with a bare 414 before the cluster saw it.
        await using var raised = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, MaxInitialLineLength = 64 * 1024 });
        await using var standard = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        foreach (var backend in new[] { raised, standard })
        {
            using var http = new HttpClient { BaseAddress = backend.Url };
            (await http.PutAsync("long-urls/_doc/1?refresh=true", Json("""{"text":"a dragon guards gold"}"""))).EnsureSuccessStatusCode();
        }

        var indices = global::Elastic.Clients.Elasticsearch.Indices.Parse(string.Join(',', Enumerable.Range(0, 600).Select(i => $"long-urls-none-{i:D5}-*").Prepend("long-urls")));
        await using (var proxy = await Proxy(raised.Url.ToString()))
        {
            var client = new global::Elastic.Clients.Elasticsearch.ElasticsearchClient(new global::Elastic.Clients.Elasticsearch.ElasticsearchClientSettings(proxy.Url));
            var search = await client.SearchAsync<JsonObject>(s => s.Indices(indices).Query(q => q.Match(m => m.Field("text").Query("dragon"))));
            Assert.True(search.IsValidResponse, search.DebugInformation);
            Assert.Equal("1", Assert.Single(search.Hits).Id);
            Assert.Equal("computed", ((System.Text.Json.JsonElement)search.Hits.Single().Fields!["_rank1.source"])[0].GetString());
            var count = await client.CountAsync<JsonObject>(c => c.Indices(indices));
            Assert.True(count.IsValidResponse, count.DebugInformation);
            Assert.Equal(1, count.Count);
        }

        await using (var proxy = await Proxy(standard.Url.ToString()))
        {
            var client = new global::Elastic.Clients.Elasticsearch.ElasticsearchClient(new global::Elastic.Clients.Elasticsearch.ElasticsearchClientSettings(proxy.Url));
            var search = await client.SearchAsync<JsonObject>(s => s.Indices(indices).Query(q => q.Match(m => m.Field("text").Query("dragon"))));
            Assert.Equal((400, "too_long_http_line_exception"), (search.ApiCallDetails?.HttpStatusCode, search.ElasticsearchServerError?.Error?.Type));
            var count = await client.CountAsync<JsonObject>(c => c.Indices(indices));
            Assert.Equal((400, "too_long_http_line_exception"), (count.ApiCallDetails?.HttpStatusCode, count.ElasticsearchServerError?.Error?.Type));
        }
    }

    [Fact]
    public async Task ASearchBodyWithMalformedChunks_IsA400InElasticsearchsShape_NotAnErrorInTheLog()
    {
        // Kestrel's BadHttpRequestException left to ASP.NET Core's middleware: a bare 400 and an error-level "unhandled
        // exception" entry with its stack trace, for the client's fault (a slow body, a 408, went the same way).
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var logs = new RecordingLogs();
        await using var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = backend.Url.ToString(),
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        }, loggerFactory: logs.Factory);
        var head = "POST /docs/_search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        var answer = await RawHttp.ExchangeAsync(proxy.Url, head + "zz\r\n{\"query\":{}}\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        Assert.Contains("X-Elastic-Product: Elasticsearch", answer, StringComparison.Ordinal);
        var error = JsonNode.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..])!["error"]!;
        Assert.Equal(("illegal_argument_exception", "the request could not be read: Bad chunk size data."), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public async Task TheRequestLineAndHeaderLimits_AreSettings_ValidatedAtStart_OverThemTheAnswerIsElasticsearchs()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, MaxInitialLineLength = 64 * 1024, MaxHeaderSize = 64 * 1024 });
        await using (var proxy = await Proxy(backend.Url.ToString(), ("Rank1:Proxy:MaxInitialLineLength", "2048"), ("Rank1:Proxy:MaxHeaderSize", "2048")))
        {
            // Over the limits: Elasticsearch's own answer over its http.max_initial_line_length and http.max_header_size
            // (Netty's TooLongHttpLineException and TooLongHttpHeaderException, a 400 from RestController.dispatchBadRequest),
            // where Kestrel answered a bare 414 or 431 that the client could only report as "Response Error".
            var es = new global::Elastic.Clients.Elasticsearch.ElasticsearchClient(new global::Elastic.Clients.Elasticsearch.ElasticsearchClientSettings(proxy.Url));
            var indices = global::Elastic.Clients.Elasticsearch.Indices.Parse(string.Join(',', Enumerable.Range(0, 100).Select(i => $"long-urls-none-{i:D5}-*")));
            var search = await es.SearchAsync<JsonObject>(s => s.Indices(indices));
            Assert.Equal((400, "too_long_http_line_exception", "An HTTP line is larger than 2048 bytes."),
                (search.ApiCallDetails?.HttpStatusCode, search.ElasticsearchServerError?.Error?.Type, search.ElasticsearchServerError?.Error?.Reason));
            using var client = new HttpClient { BaseAddress = proxy.Url };
            using (var padded = new HttpRequestMessage(HttpMethod.Get, "/"))
            {
                padded.Headers.Add("X-Pad", new string('p', 3000));
                using var refused = await client.SendAsync(padded);
                Assert.Equal((HttpStatusCode.BadRequest, "Elasticsearch"), (refused.StatusCode, refused.Headers.GetValues("X-Elastic-Product").Single()));
                var refusal = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!;
                Assert.Equal(("too_long_http_header_exception", "HTTP header is larger than 2048 bytes."), (refusal["type"]!.GetValue<string>(), refusal["reason"]!.GetValue<string>()));
            }

            // Past twice the limits Kestrel refuses before any middleware runs.
            using var line = await client.GetAsync("/?x=" + new string('a', 4096));
            Assert.Equal(HttpStatusCode.RequestUriTooLong, line.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("X-Pad", new string('p', 4096));
            using var headers = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, headers.StatusCode);
        }

        var error = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Proxy(backend.Url.ToString(), ("Rank1:Proxy:MaxInitialLineLength", "100")));
        Assert.Contains("MaxInitialLineLength", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"version":{"distribution":5}}""")]
    [InlineData("""{"version":"8.15.0"}""")]
    public async Task Health_BackendRootAnswerMalformed_IsRedWithUnknownFlavor_NotABare500(string root)
    {
        var (backend, url) = await LoopbackApp.StartAsync(context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(root);
        });
        await using (backend)
        {
            await using var proxy = await Proxy(url.ToString());
            using var client = new HttpClient { BaseAddress = proxy.Url };
            using var response = await client.GetAsync("_rank1/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            var health = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal("red", health["status"]!.GetValue<string>());
            Assert.False(health["backend"]!["reachable"]!.GetValue<bool>());
            Assert.Equal("unknown", health["backend"]!["flavor"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task HttpClientMetrics_OfTwoHostsInOneProcess_CountOnlyEachHostsOwnBackendCalls()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        await using var a = await Proxy(backend.Url.ToString());
        await using var b = await Proxy(backend.Url.ToString());
        using var client = new HttpClient();
        async Task<double> BackendCalls(ProxyServer host) =>
            PrometheusText.Sum(await client.GetStringAsync(new Uri(host.Url, "_rank1/metrics")), "http_client_request_duration_seconds_count");
        var (aBefore, bBefore) = (await BackendCalls(a), await BackendCalls(b));

        // Three pass-through calls through A: A's backend handler makes three calls, B's none.
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync(new Uri(a.Url, "notes/_doc/1"));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.Equal(aBefore + 3, await BackendCalls(a));
        Assert.Equal(bBefore, await BackendCalls(b));
    }

    [Fact]
    public async Task AdminApiKey_GuardsTheRank1Endpoints_AndNothingElse()
    {
        const string Key = "an-admin-key-of-24-chars";
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        await using var proxy = await Proxy(backend.Url.ToString(), ("Rank1:Proxy:AdminApiKey", Key));
        using var client = new HttpClient { BaseAddress = proxy.Url };

        foreach (var (path, authorization) in new[] { ("_rank1/health", (string?)null), ("_rank1/metrics", null), ("_rank1/health", "ApiKey wrong-key-wrong-key-wrong"), ("_rank1/metrics", "Basic " + Key) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var refused = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("ApiKey", refused.Headers.WwwAuthenticate.Single().Scheme);
            var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal(401, error["status"]!.GetValue<int>());
            Assert.Equal("security_exception", error["error"]!["type"]!.GetValue<string>());
            Assert.Contains($"[/{path}]", error["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", Key);
        Assert.Equal("green", JsonNode.Parse(await client.GetStringAsync("_rank1/health"))!["status"]!.GetValue<string>());
        // ASP.NET Core's own meter is exported next to the product's: the four refused calls above are counted.
        Assert.Equal(4, PrometheusText.Sum(await client.GetStringAsync("_rank1/metrics"), "http_server_request_duration_seconds_count", ("http_response_status_code", "401")));

        // Searches and pass-through are the cluster's business: they never ask for the proxy's key.
        client.DefaultRequestHeaders.Authorization = null;
        using var put = await client.PutAsync("notes/_doc/1?refresh=true", Json("""{"text":"open"}"""));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var search = await client.PostAsync("notes/_search", Json("""{"query":{"match":{"text":"open"}}}"""));
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
    }

    [Fact]
    public async Task RuleTokenLimitAboveTheModelsCap_FailsAtStartupNamingTheRuleAndTheCap()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Proxy("http://127.0.0.1:9/",
            ("Rank1:Proxy:Indices:0:Pattern", "docs"), ("Rank1:Proxy:Indices:0:MaxQueryTokens", "1000"), ("Rank1:Model:MaxQueryTokens", "600")));
        Assert.Contains("Rank1:Proxy:Indices:0:MaxQueryTokens (1000) is above the model's cap Rank1:Model:MaxQueryTokens (600)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RuleAboveTheOperatorsCaps_FailsAtStartupNamingTheRuleAndTheCap()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Proxy("http://127.0.0.1:9/",
            ("Rank1:Proxy:Caps:MaxThinkTokens", "512"), ("Rank1:Proxy:Caps:Deadline", "00:00:05"),
            ("Rank1:Proxy:Indices:0:Pattern", "docs"), ("Rank1:Proxy:Indices:0:MaxThinkTokens", "1024")));
        Assert.Contains("Rank1:Proxy:Indices:0:MaxThinkTokens (1024) is above the operator's cap Rank1:Proxy:Caps:MaxThinkTokens (512)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Rank1:Proxy:Default:Deadline (00:00:10) is above the operator's cap Rank1:Proxy:Caps:Deadline (00:00:05)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminApiKey_ShorterThan16_FailsAtStartupNamingTheKey()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Proxy("http://127.0.0.1:9/", ("Rank1:Proxy:AdminApiKey", "short")));
        Assert.Contains("AdminApiKey", ex.Message, StringComparison.Ordinal);
    }
}
