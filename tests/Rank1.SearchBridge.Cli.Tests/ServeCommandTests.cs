using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary><c>rank1-bridge serve</c> as a real process: the rerank service alone, with the tiny model.</summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed partial class ServeCommandTests
{
    [Fact]
    public async Task Serve_FromTheCommandLine_AnswersThePrintedCurl_AndTheHealthCheck()
    {
        var config = Path.Combine(TestTemp.Folder(), "serve.json");
        await File.WriteAllTextAsync(config, """{"Rank1":{"Service":{"MaxThinkTokens":2,"ModelName":"rank1-tiny"}}}""");
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "serve", "--model", TestPaths.TinyModel, "--port", "0", "--config", config]), Listening());
        try
        {
            // The second line is the ready curl: send exactly its URL and body.
            var curl = await process.StandardOutput.ReadLineAsync();
            var m = Curl().Match(curl ?? "");
            Assert.True(m.Success, curl);
            Assert.Equal(new Uri(url, "v1/rerank"), new Uri(m.Groups[1].Value));
            using var http = new HttpClient();
            using var response = await http.PostAsync(m.Groups[1].Value, new StringContent(m.Groups[2].Value, Encoding.UTF8, "application/json"));
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("rank1-tiny", body["model"]!.GetValue<string>());
            Assert.Equal([0, 1], body["results"]!.AsArray().Select(r => r!["index"]!.GetValue<int>()).Order());
            var withReasoning = JsonNode.Parse(m.Groups[2].Value)!;
            withReasoning["return_reasoning"] = true;
            using var second = await http.PostAsync(m.Groups[1].Value, new StringContent(withReasoning.ToJsonString(), Encoding.UTF8, "application/json"));
            var reasoned = JsonNode.Parse(await second.Content.ReadAsStringAsync())!;
            Assert.All(reasoned["results"]!.AsArray(), r => Assert.Equal(2, r!["reasoning_tokens"]!.GetValue<int>())); // the --config budget

            // Its health, /health as TEI has it and /_rank1/health, through ASP.NET Core's health checks: never cached.
            foreach (var path in new[] { "health", "_rank1/health" })
            {
                using var answer = await http.GetAsync(new Uri(url, path));
                Assert.Equal(200, (int)answer.StatusCode);
                Assert.True(answer.Headers.CacheControl is { NoStore: true, NoCache: true }, $"{path}: Cache-Control {answer.Headers.CacheControl}");
                var health = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
                Assert.Equal("green", health["status"]!.GetValue<string>());
                Assert.True(health["model"]!["loaded"]!.GetValue<bool>());
                Assert.Equal(["/v1/rerank", "/v2/rerank", "/rerank", "/reranking"], health["service"]!["endpoints"]!.AsArray().Select(e => e!.GetValue<string>()));
                Assert.False(health["service"]!["reasoning_store"]!.GetValue<bool>());

                // GET only, as the routes were: another method is Kestrel's 405, not the health answer.
                using var posted = await http.PostAsync(new Uri(url, path), new StringContent("{}"));
                Assert.Equal(405, (int)posted.StatusCode);
            }
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Fact]
    public async Task CohereSdkAndLangChain_AgainstServe_ReadTheRank1Ranking_AndAWrongKeyIs401()
    {
        var (process, url) = await StartWithKeyAsync("sdk-key");
        try
        {
            var r = await TestProcess.RunNodeAsync("rerank-clients.mjs", url.ToString(), "sdk-key");
            string[] documents = ["Onion soup is made with beef stock.", "Cutting an onion releases a gas that irritates the eyes and makes them water.", "Store onions in a cool dry place."];
            var v2 = r["v2"]!.AsArray();
            Assert.Equal([0, 1, 2], v2.Select(x => x!["index"]!.GetValue<int>()).Order());
            var scores = v2.Select(x => x!["score"]!.GetValue<double>()).ToArray();
            Assert.Equal(scores.OrderDescending(), scores);
            var top2 = v2.Take(2).Select(x => x!["index"]!.GetValue<int>()).ToArray();
            Assert.Equal(top2, r["v1"]!.AsArray().Select(x => x!["index"]!.GetValue<int>()));
            Assert.Equal(top2.Select(i => documents[i]), r["v1"]!.AsArray().Select(x => x!["text"]!.GetValue<string>()));
            Assert.Equal("1", r["v1Version"]!.GetValue<string>());
            Assert.Equal(top2, r["langchain"]!.AsArray().Select(x => x!["id"]!.GetValue<int>()));
            Assert.Equal(scores.Take(2), r["langchain"]!.AsArray().Select(x => x!["score"]!.GetValue<double>()));
            Assert.Equal(401, r["unauthorized"]!["status"]!.GetValue<int>());
            Assert.StartsWith("invalid api token", r["unauthorized"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Fact]
    public async Task IntegrationTemplates_RenderedAsTheClustersDo_RankLikeADirectCall()
    {
        // integrations/: Elasticsearch's custom and hugging_face inference services and OpenSearch's ML Commons connector, rendered
        // and read back the way each documents it (tests/node/rerank-integrations.mjs), against one serve process.
        var (process, url) = await StartWithKeyAsync("cluster-key");
        try
        {
            var r = await TestProcess.RunNodeAsync("rerank-integrations.mjs", url.ToString(), "cluster-key");
            var direct = r["direct"]!.AsArray().Select(x => (Index: x!["index"]!.GetValue<int>(), Score: x["score"]!.GetValue<double>())).ToArray();
            Assert.Equal([0, 1, 2], direct.Select(x => x.Index).Order());

            // Elasticsearch reads the same order and scores with the json_parser selectors.
            Assert.Equal(direct, r["elasticsearch"]!.AsArray().Select(x => (x!["index"]!.GetValue<int>(), x["score"]!.GetValue<double>())));
            // Elasticsearch waits 30 s for a rerank (InferenceAction.Request.DEFAULT_TIMEOUT, which
            // text_similarity_reranker passes; the request task then fails with "Request timed out after [30s]" and
            // the search with it): the template asks the service to answer before that, from the reasoning so far,
            // where the service's own default deadline (Rank1:Service:Deadline, 30 s) would answer too late.
            Assert.InRange(r["elasticsearchDeadlineMs"]?.GetValue<int>() ?? 0, 1, 29_999);
            Assert.Equal(["rank1", "rank1"], r["elasticsearchInferenceIds"]!.AsArray().Select(x => x!.GetValue<string>()));

            // Elasticsearch's hugging_face service (rerank) posts TEI's body to /rerank and reads the same order and scores
            // from its top-level array, the text left out as the template asks; a refusal's message from "error". Its body
            // carries no deadline_ms: Rank1:Service:Deadline must be under Elasticsearch's 30 s (docs/rerank-service.md).
            // TEI's scores are f32s (as Elasticsearch reads them, a Java float): the nearest to the direct call's.
            Assert.Equal(direct.Select(x => (x.Index, (float)x.Score, false)),
                r["elasticsearchHuggingFace"]!.AsArray().Select(x => (x!["index"]!.GetValue<int>(), x["score"]!.GetValue<float>(), x["hasText"]!.GetValue<bool>())));
            Assert.Equal(["api_key", "url"], r["elasticsearchHuggingFaceKeys"]!.AsArray().Select(x => x!.GetValue<string>()));
            Assert.Equal(401, r["elasticsearchHuggingFaceError"]!["status"]!.GetValue<int>());
            Assert.False(string.IsNullOrEmpty(r["elasticsearchHuggingFaceError"]!["error"]?.GetValue<string>()));

            // OpenSearch gets one similarity per document, in document order; its rerank processor sorts by them.
            var similarity = r["opensearch"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            Assert.Equal(direct.OrderBy(x => x.Index).Select(x => x.Score), similarity);
            Assert.Equal(direct.Select(x => x.Index), Enumerable.Range(0, similarity.Length).OrderByDescending(i => similarity[i]));
            // ML Commons gives up on a connector call after client_config.read_timeout seconds (ConnectorClientConfig's
            // READ_TIMEOUT_DEFAULT_VALUE, 10, when the connector sets none): the service must answer before that, where
            // its own default deadline (Rank1:Service:Deadline, 30 s) would not.
            Assert.InRange(r["opensearchDeadlineMs"]?.GetValue<int>() ?? 0, 1, r["opensearchReadTimeoutMs"]!.GetValue<int>() - 1);
            Assert.Equal("ml_opensearch", r["opensearchPipeline"]!["source"]!.GetValue<string>());
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    /// <summary>
    /// llama.cpp (<c>llama-server --reranking</c>) and vLLM serve <c>/rerank</c> in Jina's shape, and llama.cpp tells the
    /// two apart by the body (tools/server/server-context.cpp, <c>post_rerank</c>: <c>is_tei_format = body.contains("texts")</c>):
    /// a body with no <c>texts</c> key, sent there or to llama.cpp's <c>/reranking</c>, is answered exactly as
    /// <c>/v1/rerank</c> answers it; a body with the key is TEI's, as before. Before, every body on <c>/rerank</c> was
    /// TEI's: a <c>documents</c> body was a 422 "texts is required".
    /// </summary>
    [Fact]
    public async Task RerankPath_ADocumentsBodyAsLlamaCppAndVllmSendIt_IsAnsweredAsV1Rerank_ATextsKeyKeepsItTei()
    {
        var (process, url) = await StartWithKeyAsync("llama-key");
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "llama-key");
            const string Query = "why do onions make people cry";
            JsonNode[] documents = ["Onion soup is made with beef stock.", "Cutting an onion releases a gas that irritates the eyes and makes them water.", "Store onions in a cool dry place."];
            var body = new JsonObject { ["model"] = "bge-reranker-v2-m3", ["query"] = Query, ["documents"] = new JsonArray(Clone(documents)), ["top_n"] = 2, ["return_documents"] = true }.ToJsonString();
            var v1 = await PostAsync(http, "v1/rerank", body);
            Assert.Equal(200, v1.Status);
            Assert.Equal(2, v1.Json.AsObject()["results"]!.AsArray().Count);
            foreach (var path in new[] { "rerank", "reranking" })
            {
                var r = await PostAsync(http, path, body);
                Assert.True(r.Status == 200, $"{path}: HTTP {r.Status} {r.Json.ToJsonString()}");
                Assert.Equal(["id", "results", "meta", "model", "usage"], r.Json.AsObject().Select(p => p.Key));
                Assert.Equal(v1.Json["results"]!.ToJsonString(), r.Json["results"]!.ToJsonString()); // order, scores, documents
                Assert.Equal("bge-reranker-v2-m3", r.Json["model"]!.GetValue<string>());
                Assert.Equal("1", r.Json["meta"]!["api_version"]!["version"]!.GetValue<string>());
                Assert.Equal("applied", r.Rerank);
            }

            // A texts key is TEI's: its array, best first, scored as the documents were.
            var tei = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray(Clone(documents)) }.ToJsonString());
            Assert.Equal(200, tei.Status);
            // TEI's scores are f32s: the nearest to the Cohere answer's.
            Assert.Equal(Ranking(v1.Json["results"]!, "relevance_score").Select(x => (x.Index, (float)x.Score)),
                tei.Json.AsArray().Select(x => (x!["index"]!.GetValue<int>(), x["score"]!.GetValue<float>())).Take(2));
            Assert.Equal(3, tei.Json.AsArray().Count);

            // Both keys: the texts key makes it TEI's, and TEI ranks its texts (llama.cpp would rank the one document, in TEI's shape).
            var both = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray(Clone(documents)), ["documents"] = new JsonArray("Onions are bulbs.") }.ToJsonString());
            Assert.Equal(200, both.Status);
            Assert.Equal(Ranking(tei.Json, "score"), Ranking(both.Json, "score"));

            // Errors: a body without texts is refused as /v1/rerank refuses it (400, Cohere's {"message"}); with the key, as TEI (422).
            var cases = new (string Body, int Status, string Message, string? ErrorType)[]
            {
                ("""{"query":"q"}""", 400, "invalid request: documents is required", null),
                ("""{"query":"q","documents":[]}""", 400, "invalid request: list of documents must not be empty", null),
                ("""{"query":"q","documents":["a"],"top_n":0}""", 400, "invalid request: top_n must be at least 1 (got 0)", null),
                ("""{"query":"q","texts":["a"],"documents":["a"],"max_think_tokens":-1}""", 422, "invalid request: max_think_tokens must be between 0 and 32768 (got -1)", "Validation"),
                ("""{"query":"q","texts":["a"],"top_n":"x"}""", 422, "invalid request: top_n must be an integer", "Validation"),
                ("""["not an object"]""", 422, "invalid request: the body must be a JSON object", "Validation"),
            };
            foreach (var (errorBody, status, message, errorType) in cases)
            {
                var r = await PostAsync(http, "rerank", errorBody);
                Assert.True(r.Status == status, $"{errorBody}: HTTP {r.Status} {r.Json.ToJsonString()}");
                Assert.Equal(errorType is null ? ["message"] : ["error", "error_type"], r.Json.AsObject().Select(p => p.Key));
                Assert.Equal(message, r.Json[errorType is null ? "message" : "error"]!.GetValue<string>());
                Assert.Equal(errorType, r.Json["error_type"]?.GetValue<string>());
            }

            // A texts key, whatever its value, makes the body TEI's: a null one is refused as TEI's axum Json extractor refuses it.
            using (var nullTexts = await http.PostAsync("rerank", new StringContent("""{"query":"q","texts":null,"documents":["a"]}""", Encoding.UTF8, "application/json")))
            {
                Assert.Equal(422, (int)nullTexts.StatusCode);
                Assert.Equal("Failed to deserialize the JSON body into the target type: texts: invalid type: null, expected a sequence at line 1 column 25",
                    await nullTexts.Content.ReadAsStringAsync());
            }

            // llama.cpp's /v1/reranking is not served: on the proxy's port it is Elasticsearch's POST /{index}/{type}.
            using var v1Reranking = await http.PostAsync("v1/reranking", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(404, (int)v1Reranking.StatusCode);

            // Counted under the protocol answered: the documents bodies (2 answered, 3 refused) as Cohere v1's.
            var metrics = await http.GetStringAsync("_rank1/metrics");
            Assert.Equal(3, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "cohere_v1"), ("outcome", "applied")));
            Assert.Equal(3, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "cohere_v1"), ("outcome", "error_400")));
            Assert.Equal(4, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "tei"), ("outcome", "error_422")));
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    private static JsonNode[] Clone(JsonNode[] nodes) => nodes.Select(n => n.DeepClone()).ToArray();

    private static IEnumerable<(int Index, double Score)> Ranking(JsonNode results, string score) =>
        results.AsArray().Select(x => (x!["index"]!.GetValue<int>(), x[score]!.GetValue<double>())).ToArray();

    private static async Task<(int Status, JsonNode Json, string? Rerank)> PostAsync(HttpClient http, string path, string body)
    {
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!,
            response.Headers.TryGetValues("X-Rank1-Rerank", out var rerank) ? rerank.Single() : null);
    }

    [Theory]
    [InlineData("""{"Rank1":{"Service":{"MaxDocuments":0}}}""", "MaxDocuments")]
    [InlineData("""{"Rank1":{"Proxy":{"DeadlineGrace":"00:30:00"}}}""", "DeadlineGrace")]
    public async Task Serve_BadServiceSetting_FailsWithTheKeyName(string settings, string named)
    {
        var config = Path.Combine(TestTemp.Folder(), "serve.json");
        await File.WriteAllTextAsync(config, settings);
        var result = await CliRunner.RunAsync("serve", "--model", TestPaths.TinyModel, "--port", "0", "--config", config);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, result.Error, StringComparison.Ordinal);
    }

    /// <summary>Starts <c>rank1-bridge serve</c> with the tiny model, one API key and a two-token budget.</summary>
    private static Task<(Process Process, Uri Url)> StartWithKeyAsync(string apiKey) =>
        TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "serve", "--model", TestPaths.TinyModel, "--port", "0"], environment: new Dictionary<string, string>
            {
                ["Rank1__Service__ApiKeys__0"] = apiKey,
                ["Rank1__Service__MaxThinkTokens"] = "2",
            }), Listening());

    [GeneratedRegex("listening on (http://\\S+)")]
    private static partial Regex Listening();

    [GeneratedRegex("^curl -s (\\S+) -H 'Content-Type: application/json' -d '(.*)'$")]
    private static partial Regex Curl();
}
