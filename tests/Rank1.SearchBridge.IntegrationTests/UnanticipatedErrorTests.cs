using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.SearchBridge.Store;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// What the proxy answers for an exception it did not anticipate (a fault of its own): Elasticsearch's (or OpenSearch's)
/// answer to an exception that is none of its own, and an error in the log.
/// </summary>
public sealed class UnanticipatedErrorTests
{
    // What throws: the reasoning store, looked up for the window, failing where its contract says it never does
    // (IJudgementStore.LookupAsync: "Never throws: a failed read is a miss"); the proxy does not guard that call. A real
    // backend cannot make the proxy fault any more (a malformed answer is the backend's 502, MalformedBackendAnswerTests),
    // so the test host puts this store in, as other tests put in a judge or a publisher.
    private static readonly InvalidOperationException StoreFault = new("the store broke its contract");

    private static Task<ProxyServer> Proxy(Uri backend, RecordingLogs logs, Action<IServiceCollection>? services = null) => ProxyServer.StartAsync(new Dictionary<string, string?>
    {
        ["Urls"] = "http://127.0.0.1:0",
        ["Rank1:Backend:Url"] = backend.ToString(),
        ["Rank1:Model:Path"] = TestPaths.TinyModel,
        ["Rank1:Model:ExecutionProvider"] = "Cpu",
    }, configureServices: services, loggerFactory: logs.Factory);

    private const string OneHit = """{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,"hits":[{"_index":"docs","_id":"1","_score":1.0,"_source":{"text":"onion soup"}}]}}""";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnExceptionTheProxyDidNotAnticipate_IsA500InTheEnginesErrorShape_AndStillAnErrorInTheLog(bool openSearch)
    {
        // It was an empty 500 (ASP.NET Core's exception handler, with no handler of the proxy's taking it): a client
        // found no error to report. Elasticsearch answers an exception that is none of its own with a 500 whose type is
        // the class name in underscore case and whose reason is its message (ElasticsearchException.generateThrowableXContent).
        var (backend, url) = await LoopbackApp.StartAsync(context =>
        {
            context.Response.ContentType = "application/json";
            if (!openSearch)
            {
                context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            }

            return context.Response.WriteAsync(context.Request.Path == "/"
                ? openSearch ? """{"version":{"distribution":"opensearch","number":"2.19.0"}}""" : """{"version":{"number":"9.0.0"},"tagline":"You Know, for Search"}"""
                : OneHit);
        });
        await using (backend)
        {
            using var logs = new RecordingLogs();
            await using var proxy = await Proxy(url, logs, s => s.AddSingleton<IJudgementStore>(new FaultyStore()));
            using var http = new HttpClient { BaseAddress = proxy.Url };
            using var response = await http.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"));

            var message = StoreFault.Message;
            var cause = new JsonObject { ["type"] = "invalid_operation_exception", ["reason"] = message };
            var expected = new JsonObject { ["error"] = new JsonObject { ["root_cause"] = new JsonArray(cause.DeepClone()), ["type"] = "invalid_operation_exception", ["reason"] = message }, ["status"] = 500 };
            Assert.Equal(500, (int)response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(expected.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }), await response.Content.ReadAsStringAsync());
            Assert.Equal(!openSearch, response.Headers.Contains("X-Elastic-Product"));
            // ASP.NET Core's exception handler may log the exception after its answer has reached the client: the entries
            // are read once the request has finished (hosting's "Request finished" comes after the whole pipeline).
            Assert.Contains(" - 500 ", await logs.RequestFinished.WaitAsync(TestBounds.Hang), StringComparison.Ordinal);
            var logged = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
            Assert.Equal(("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", 1), (logged.Category, logged.EventId));
            Assert.Equal(typeof(InvalidOperationException), logged.Exception?.GetType());

            if (!openSearch)
            {
                // The official client reads it as the cluster's own error.
                var client = new global::Elastic.Clients.Elasticsearch.ElasticsearchClient(new global::Elastic.Clients.Elasticsearch.ElasticsearchClientSettings(proxy.Url));
                var search = await client.SearchAsync<JsonObject>(s => s.Indices("docs").Query(q => q.Match(m => m.Field("text").Query("onion"))));
                Assert.Equal((500, "invalid_operation_exception", message), (search.ApiCallDetails?.HttpStatusCode, search.ElasticsearchServerError?.Error?.Type, search.ElasticsearchServerError?.Error?.Reason));
            }
        }
    }

    [Fact]
    public async Task ASearchItsClientAbandons_IsNoErrorInTheLog()
    {
        // The client gone while the backend is still searching: nobody to answer, and no fault of the proxy's. ASP.NET
        // Core's middleware records such a request as 499, at debug level, before any exception handler runs; the
        // proxy's handler must not make it an error-level 500.
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (backend, url) = await LoopbackApp.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            if (context.Request.Path == "/")
            {
                await context.Response.WriteAsync("""{"version":{"number":"9.0.0"},"tagline":"You Know, for Search"}""");
                return;
            }

            arrived.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        await using (backend)
        {
            using var logs = new RecordingLogs();
            await using var proxy = await Proxy(url, logs);
            using var http = new HttpClient { BaseAddress = proxy.Url };
            using var abandon = new CancellationTokenSource();
            var search = http.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"), abandon.Token);
            await arrived.Task;
            await abandon.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => search);

            Assert.Contains(" - 499 ", await logs.RequestFinished.WaitAsync(TestBounds.Hang), StringComparison.Ordinal);
            Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        }
    }

    private sealed class FaultyStore : IJudgementStore
    {
        public Task<IReadOnlyDictionary<string, StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken) => throw StoreFault;

        public void Enqueue(JudgementToStore judgement)
        {
        }

        public Task<StoreWriteResult> WriteAsync(IReadOnlyList<JudgementToStore> batch, CancellationToken cancellationToken) => throw StoreFault;
    }
}
