using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// A backend that answers a search 200 with a body that is JSON but not a search answer as Elasticsearch and OpenSearch
/// write one (a gateway, a mock, a broken plugin in front of the cluster): the backend's fault, a 502 naming what is
/// wrong, as the proxy answers a body that is no JSON at all. And the edges of what a stand-in cluster answers that the
/// embedded backend cannot show: a score past a double's range, an error that is a string, a page past the largest int.
/// </summary>
public sealed class MalformedBackendAnswerTests
{
    private const string Shards = "\"took\":1,\"timed_out\":false,\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0}";

    private static string Answer(string hits) => "{" + Shards + ",\"hits\":" + hits + "}";

    private static Task<(WebApplication Backend, ProxyServer Proxy, HttpClient Http)> StartAsync(string answer, bool openSearch = false, int status = 200) =>
        StartAsync(context =>
        {
            context.Response.StatusCode = status;
            return context.Response.WriteAsync(answer);
        }, openSearch);

    // A stand-in cluster that answers GET / as Elasticsearch 9 (or OpenSearch) does and every other request with search,
    // and the proxy in front of it.
    private static async Task<(WebApplication Backend, ProxyServer Proxy, HttpClient Http)> StartAsync(Func<HttpContext, Task> search, bool openSearch = false)
    {
        var (backend, url) = await LoopbackApp.StartAsync(context =>
        {
            context.Response.ContentType = "application/json";
            if (!openSearch)
            {
                context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            }

            return context.Request.Path == "/"
                ? context.Response.WriteAsync(openSearch ? """{"version":{"distribution":"opensearch","number":"2.19.0"}}""" : """{"version":{"number":"9.0.0"},"tagline":"You Know, for Search"}""")
                : search(context);
        });
        var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = url.ToString(),
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
        });
        return (backend, proxy, new HttpClient { BaseAddress = proxy.Url });
    }

    // Before: hits an array, a hit's _id a number or its fields an array was an InvalidOperationException of the proxy's
    // own (a 500 invalid_operation_exception); hits.hits an object was a 200 with no hits ("no hits"); a hit that is no
    // object was left out of a 200; a _source that is an array was read for its passage, a string skipped as no text.
    [Theory]
    [InlineData("[]", "[hits] is an array, not an object")]
    [InlineData("{\"total\":{\"value\":0,\"relation\":\"eq\"},\"max_score\":null,\"hits\":{}}", "[hits.hits] is an object, not an array")]
    [InlineData("{\"total\":{\"value\":2,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":\"1\",\"_score\":1.0,\"_source\":{\"text\":\"onion\"}},\"two\"]}", "[hits.hits[1]] is a string, not an object")]
    [InlineData("{\"total\":{\"value\":1,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":1,\"_score\":1.0,\"_source\":{\"text\":\"onion\"}}]}", "[hits.hits[0]._id] is a number, not a string")]
    [InlineData("{\"total\":{\"value\":1,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":[\"docs\"],\"_id\":\"1\",\"_score\":1.0,\"_source\":{\"text\":\"onion\"}}]}", "[hits.hits[0]._index] is an array, not a string")]
    [InlineData("{\"total\":{\"value\":1,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":\"1\",\"_score\":1.0,\"_source\":[{\"text\":\"onion\"}]}]}", "[hits.hits[0]._source] is an array, not an object")]
    [InlineData("{\"total\":{\"value\":1,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":\"1\",\"_score\":1.0,\"_source\":\"onion\"}]}", "[hits.hits[0]._source] is a string, not an object")]
    [InlineData("{\"total\":{\"value\":1,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":\"1\",\"_score\":1.0,\"fields\":[\"onion\"]}]}", "[hits.hits[0].fields] is an array, not an object")]
    public Task Search_AnswerThatIsNoSearchAnswer_Is502NamingTheBackend(string hits, string what) =>
        AssertSearchIs502Async(Answer(hits), "the backend's search answer is not a search answer: " + what);

    // JSON that is no object at all (a gateway's list): said as such, where the reason read "is not a JSON object: not a JSON object".
    [Fact]
    public Task Search_AnswerThatIsJsonButNoObject_Is502SayingSo() =>
        AssertSearchIs502Async("[" + Answer("[]") + "]", "the backend's search answer is JSON, but not a JSON object");

    private static async Task AssertSearchIs502Async(string answer, string reason)
    {
        var (backend, proxy, http) = await StartAsync(answer);
        await using (backend)
        await using (proxy)
        using (http)
        {
            using var response = await http.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"));

            var cause = new JsonObject { ["type"] = "rank1_backend_response_exception", ["reason"] = reason };
            var expected = new JsonObject { ["error"] = new JsonObject { ["root_cause"] = new JsonArray(cause.DeepClone()), ["type"] = "rank1_backend_response_exception", ["reason"] = reason }, ["status"] = 502 };
            Assert.Equal(502, (int)response.StatusCode);
            Assert.Equal(expected.ToJsonString(), JsonNode.Parse(await response.Content.ReadAsStringAsync())!.ToJsonString());
            Assert.True(response.Headers.Contains("X-Elastic-Product"));
        }
    }

    // In an _msearch the malformed answer is that item's 502, the other items answered; in front of OpenSearch too.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Msearch_AnItemAnsweredWithNoSearchAnswer_IsThatItems502(bool openSearch)
    {
        var (backend, proxy, http) = await StartAsync(Answer("[]"), openSearch);
        await using (backend)
        await using (proxy)
        using (http)
        {
            using var response = await http.PostAsync("_msearch", new StringContent("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", Encoding.UTF8, "application/x-ndjson"));

            Assert.Equal(200, (int)response.StatusCode);
            var item = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["responses"]![0]!;
            Assert.Equal((502, "rank1_backend_response_exception", "the backend's search answer is not a search answer: [hits] is an array, not an object"),
                (item["status"]!.GetValue<int>(), item["error"]!["type"]!.GetValue<string>(), item["error"]!["reason"]!.GetValue<string>()));
        }
    }

    // A hit placed after the judged ones whose backend _score is a number past a double's range (1e400: no Java float,
    // so no Elasticsearch score, is one) gets 0, as a score that is not a number does, and keeps it as its original
    // score. Before, it read as infinity and the scaled score as NaN, which cannot be written: a 500 argument_exception.
    [Fact]
    public async Task Search_AHitPlacedAfterTheJudgedWithAScorePastADoublesRange_Gets0()
    {
        var hits = "{\"total\":{\"value\":2,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":\"1\",\"_score\":1.0,\"_source\":{\"text\":\"onion soup\"}},"
            + "{\"_index\":\"docs\",\"_id\":\"2\",\"_score\":1e400,\"_source\":{\"text\":\"\"}}]}";
        var (backend, proxy, http) = await StartAsync(Answer(hits));
        await using (backend)
        await using (proxy)
        using (http)
        {
            using var response = await http.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"));

            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("partial", response.Headers.GetValues("X-Rank1-Rerank").Single());
            var second = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["hits"]!["hits"]![1]!;
            Assert.Equal(("2", 0.0, "[1e400]"), (second["_id"]!.GetValue<string>(), second["_score"]!.GetValue<double>(), second["fields"]!["_rank1.original_score"]!.ToJsonString()));
        }
    }

    // A client's from + size past the largest int: the proxy asked the backend from 0 for that many hits, and the sum
    // wrapped round to a negative page, so it asked for the window and answered an empty page 200 "applied", where
    // Elasticsearch (which adds them as longs) refuses the search. It goes to the backend as the client sent it.
    [Fact]
    public async Task Search_FromPlusSizePastTheLargestInt_GoesToTheBackendAsSent()
    {
        var sent = new List<string>();
        var (backend, proxy, http) = await StartAsync(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var text = await reader.ReadToEndAsync();
            lock (sent)
            {
                sent.Add(text);
            }

            // As Elasticsearch's DefaultSearchContext: from + size added as longs, refused past index.max_result_window.
            var body = JsonNode.Parse(text)!;
            if ((long)(body["from"]?.GetValue<int>() ?? 0) + (body["size"]?.GetValue<int>() ?? 10) > 10_000)
            {
                context.Response.StatusCode = 400;
                await context.Response.WriteAsync("""{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Result window is too large"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}""");
                return;
            }

            await context.Response.WriteAsync(Answer("{\"total\":{\"value\":1,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":[{\"_index\":\"docs\",\"_id\":\"1\",\"_score\":1.0,\"_source\":{\"text\":\"onion soup\"}}]}"));
        });
        await using (backend)
        await using (proxy)
        using (http)
        {
            const string Body = """{"query":{"match":{"text":"onion"}},"from":2147483647,"size":1}""";
            using var response = await http.PostAsync("docs/_search", new StringContent(Body, Encoding.UTF8, "application/json"));

            Assert.Equal(400, (int)response.StatusCode);
            Assert.Equal("skipped", response.Headers.GetValues("X-Rank1-Rerank").Single());
            Assert.Equal("from + size is past the largest int the backend can be asked for", response.Headers.GetValues("X-Rank1-Reason").Single());
            Assert.Equal([Body], sent);
        }
    }

    // The backend refusing the rerank window with an error that is no object ("error": "..." , as a gateway in front of
    // the cluster may answer): the backend's answer, passed on. Before, reading it for Elasticsearch's "Result window is
    // too large" was the proxy's own 500 invalid_operation_exception.
    [Fact]
    public async Task Search_WindowRefusedWithAStringError_IsTheBackendsAnswer()
    {
        var (backend, proxy, http) = await StartAsync("""{"error":"no such route","status":400}""", status: 400);
        await using (backend)
        await using (proxy)
        using (http)
        {
            using var response = await http.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}},"size":1}""", Encoding.UTF8, "application/json"));

            Assert.Equal(400, (int)response.StatusCode);
            Assert.Equal("""{"error":"no such route","status":400}""", await response.Content.ReadAsStringAsync());
            Assert.Equal("skipped", response.Headers.GetValues("X-Rank1-Rerank").Single());
        }
    }
}
