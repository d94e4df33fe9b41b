using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.IO.Compression;
using System.Net.Sockets;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Http.Service;
using Rank1.SearchBridge.Telemetry;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>The rerank service over real HTTP: in the proxy host (sharing its model and reasoning store) and alone.</summary>
public sealed class RerankServiceTests
{
    private const string Query = "onion eyes";

    private static readonly string[] Documents = ProxyStack.Corpus.Take(5).Select(c => c.Text).ToArray();

    private static readonly Dictionary<string, string?> ServiceSettings = new() { ["Rank1:Service:MaxThinkTokens"] = "4" };

    private static string RerankBody(int topN, bool returnDocuments = false, bool reasoning = false) => new JsonObject
    {
        ["model"] = "rank1",
        ["query"] = Query,
        ["documents"] = new JsonArray(Documents.Select(d => (JsonNode)d).ToArray()),
        ["top_n"] = topN,
        ["return_documents"] = returnDocuments,
        ["return_reasoning"] = reasoning,
    }.ToJsonString();

    /// <summary>Each document judged alone by the same model with the same budget: the independent oracle.</summary>
    private static async Task<double[]> AloneScoresAsync(int maxThinkTokens)
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        var scores = new double[Documents.Length];
        for (var i = 0; i < Documents.Length; i++)
        {
            scores[i] = (await engine.JudgeAsync(new Rank1Input(Query, Documents[i]), new JudgeSettings { MaxThinkTokens = maxThinkTokens })).Score;
        }

        return scores;
    }

    private static int[] BestFirst(double[] scores) => scores.Select((s, i) => (s, i)).OrderByDescending(x => x.s).ThenBy(x => x.i).Select(x => x.i).ToArray();

    [Fact]
    public async Task Serve_HealthAndMetrics_ShowTheExecutionProviderInUseAndTheFallback_AsTheProxysDo()
    {
        // Only the proxy published them: a serve host that fell back to the CPU said so nowhere.
        await using var service = await RerankServiceServer.StartAsync(new Dictionary<string, string?>(StandaloneSettings) { ["Rank1:Model:ExecutionProvider"] = "Auto" });
        using var http = TestBounds.Client(service.Url);
        var model = JsonNode.Parse(await http.GetStringAsync("_rank1/health"))!["model"]!;
        var provider = model["execution_provider"]!;
        Assert.Equal(("Auto", "Cpu"), (provider["requested"]!.GetValue<string>(), provider["actual"]!.GetValue<string>()));
        Assert.StartsWith("Cuda: not in this build", provider["fallback"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(8, model["batch"]!["max_rows"]!.GetValue<int>());
        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_execution_provider", ("requested", "Auto"), ("actual", "Cpu"), ("fallback", "true")));
    }

    [Fact]
    public async Task Serve_AnotherMethodThanPost_OnCoherePaths_Is405InCoheresShape_OnTeisPaths_TeisEmpty405()
    {
        // A GET (as from a browser or a curl without -d) on /v1/rerank was a 405 with an empty body: every other error
        // there is Cohere's {"message"}. TEI's axum router answers its POST-only /rerank with an empty 405 and Allow.
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        foreach (var (method, path) in new[] { (HttpMethod.Get, "v1/rerank"), (HttpMethod.Put, "v2/rerank"), (HttpMethod.Delete, "v1/rerank") })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal(405, (int)response.StatusCode);
            Assert.Equal(["POST"], response.Content.Headers.Allow);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal($"invalid request: /{path} takes POST, not {method.Method}", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["message"]!.GetValue<string>());
        }

        foreach (var path in new[] { "rerank", "reranking" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(405, (int)response.StatusCode);
            Assert.Equal(["POST"], response.Content.Headers.Allow);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }

        // POST still reaches the service.
        var ok = await PostAsync(http, "v1/rerank", """{"query":"q","documents":["a","b"]}""");
        Assert.Equal(200, ok.Status);
    }

    [Fact]
    public async Task V1Rerank_InTheProxyHost_RanksByTheModelsOwnScores_WithDocumentsAndReasoning()
    {
        await using var stack = await ProxyStack.StartAsync(ServiceSettings);
        var r = await stack.SendAsync(HttpMethod.Post, "v1/rerank", RerankBody(topN: 3, returnDocuments: true, reasoning: true));

        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        var alone = await AloneScoresAsync(4);
        var results = r.Json["results"]!.AsArray();
        Assert.Equal(BestFirst(alone).Take(3), results.Select(x => x!["index"]!.GetValue<int>()));
        Assert.All(results, x => Assert.Equal(alone[x!["index"]!.GetValue<int>()], x["relevance_score"]!.GetValue<double>(), 5));
        Assert.All(results, x => Assert.Equal(Documents[x!["index"]!.GetValue<int>()], x["document"]!["text"]!.GetValue<string>()));
        Assert.All(results, x => Assert.Equal(4, x!["reasoning_tokens"]!.GetValue<int>()));
        Assert.All(results, x => Assert.Equal("budget", x!["ended"]!.GetValue<string>()));
        Assert.All(results, x => Assert.Equal(System.Text.Json.JsonValueKind.String, x!["reasoning"]!.GetValueKind()));
        Assert.Equal("1", r.Json["meta"]!["api_version"]!["version"]!.GetValue<string>());
        Assert.Equal("rank1", r.Json["model"]!.GetValue<string>());

        // Without the opt-ins: no documents, no Rank1 extras, every document ranked (top_n absent).
        var v2 = await stack.SendAsync(HttpMethod.Post, "v2/rerank", new JsonObject { ["model"] = "rank1", ["query"] = Query, ["documents"] = new JsonArray(Documents.Select(d => (JsonNode)d).ToArray()) }.ToJsonString());
        Assert.Equal(200, v2.Status);
        Assert.Equal(BestFirst(alone), v2.Json["results"]!.AsArray().Select(x => x!["index"]!.GetValue<int>()));
        Assert.All(v2.Json["results"]!.AsArray(), x => Assert.Equal(["index", "relevance_score"], x!.AsObject().Select(p => p.Key)));
        Assert.Equal("2", v2.Json["meta"]!["api_version"]!["version"]!.GetValue<string>());
    }

    /// <summary>
    /// In the proxy host, llama.cpp's <c>/reranking</c> is the service's <c>/rerank</c> (a <c>documents</c> body answered as
    /// <c>/v1/rerank</c> answers it; POST is no Elasticsearch API on <c>/{index}</c>), while llama.cpp's <c>/v1/reranking</c>
    /// stays the cluster's: it is Elasticsearch's <c>POST /{index}/{type}</c>, and the proxy passes it through.
    /// </summary>
    [Fact]
    public async Task LlamaCppPaths_InTheProxyHost_RerankingIsTheService_V1RerankingStaysTheClusters()
    {
        await using var stack = await ProxyStack.StartAsync(ServiceSettings);
        var body = RerankBody(topN: 3);
        var v1 = await stack.SendAsync(HttpMethod.Post, "v1/rerank", body);
        foreach (var path in new[] { "rerank", "reranking" })
        {
            var r = await stack.SendAsync(HttpMethod.Post, path, body);
            Assert.Equal(200, r.Status);
            Assert.Equal(v1.Json["results"]!.ToJsonString(), r.Json["results"]!.ToJsonString());
            Assert.Equal("1", r.Json["meta"]!["api_version"]!["version"]!.GetValue<string>());
        }

        var passed = await stack.SendAsync(HttpMethod.Post, "v1/reranking", body);
        using var backend = TestBounds.Client(stack.Backend.Url);
        using var own = await backend.PostAsync("v1/reranking", ProxyStack.Json(body));
        var ownText = await own.Content.ReadAsStringAsync();
        Assert.Equal(((int)own.StatusCode, JsonNode.Parse(ownText)!.ToJsonString()), (passed.Status, passed.Body?.ToJsonString()));
        Assert.Equal(400, passed.Status); // Elasticsearch 8 without the 7.x compatibility header has no handler there
        Assert.StartsWith("no handler found for uri [/v1/reranking] and method [POST]", passed.Json["error"]!.GetValue<string>(), StringComparison.Ordinal);

    }

    [Fact]
    public async Task CachedJudgement_AnswersARerankCall_WithZeroModelCalls()
    {
        using var engine = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(ServiceSettings, s => s.AddSingleton<IPassageJudge>(engine));
        var first = await stack.SendAsync(HttpMethod.Post, "v1/rerank", RerankBody(topN: 5, reasoning: true));
        Assert.Equal("applied", first.Rerank);
        Assert.Equal(5, engine.Calls);
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(stack, 5));

        var second = await stack.SendAsync(HttpMethod.Post, "v1/rerank", RerankBody(topN: 5, reasoning: true));
        Assert.Equal("cached", second.Rerank);
        Assert.Equal(5, engine.Calls); // zero model calls
        Assert.Equal(first.Json["results"]!.ToJsonString(), second.Json["results"]!.ToJsonString());
        Assert.Equal(0, second.Json["usage"]!["total_tokens"]!.GetValue<long>());
        var metrics = await stack.Http.GetStringAsync("_rank1/metrics");
        Assert.Equal(5, PrometheusText.Value(metrics, "rank1_reasoning_cache_hits_total"));
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "cohere_v1"), ("outcome", "cached")));

        // The proxy's own searches still go to the same model: one engine serves both.
        var search = await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}}}""");
        Assert.Equal("applied", search.Rerank);
        Assert.Equal(10, engine.Calls);
    }

    [Fact]
    public async Task StandaloneService_WithTheProxysEnabledFalse_StillServesItsEndpoints()
    {
        // One configuration file serves every host: Rank1:Service:Enabled false turns the proxy's rerank endpoints off
        // (they pass through to the cluster); the standalone service, which serves nothing else, answered 404 to all four.
        await using var service = await StandaloneAsync(new() { ["Rank1:Service:Enabled"] = "false" });
        using var http = TestBounds.Client(service.Url);
        foreach (var (path, field) in new[] { ("v1/rerank", "documents"), ("v2/rerank", "documents"), ("rerank", "texts"), ("reranking", "documents") })
        {
            var r = await PostAsync(http, path, new JsonObject { ["query"] = Query, [field] = new JsonArray(Documents[0]) }.ToJsonString());
            Assert.True(r.Status == 200, $"{path}: HTTP {r.Status} {r.Body?.ToJsonString()}");
        }
    }

    [Fact]
    public async Task Tei_Rerank_AnswersABestFirstArray_RawScoresAreLogOdds()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var texts = new JsonArray(Documents.Select(d => (JsonNode)d).ToArray());
        var plain = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = texts.DeepClone(), ["return_text"] = true }.ToJsonString());
        var raw = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = texts.DeepClone(), ["raw_scores"] = true }.ToJsonString());

        Assert.Equal(200, plain.Status);
        var alone = await AloneScoresAsync(2);
        var items = plain.Body!.AsArray();
        Assert.Equal(BestFirst(alone), items.Select(x => x!["index"]!.GetValue<int>()));
        Assert.All(items, x => Assert.Equal(alone[x!["index"]!.GetValue<int>()], x["score"]!.GetValue<double>(), 5));
        Assert.All(items, x => Assert.Equal(Documents[x!["index"]!.GetValue<int>()], x["text"]!.GetValue<string>()));
        Assert.All(raw.Body!.AsArray(), x =>
        {
            var p = alone[x!["index"]!.GetValue<int>()];
            Assert.Equal(Math.Log(p / (1 - p)), x["score"]!.GetValue<double>(), 4);
            Assert.Null(x["text"]);
        });

        // TEI's score is an f32 that serde_json writes with ryu's shortest digits (RerankAnswerJsonTests checks the layout
        // against ryu's own vectors): each literal is its f32's own text. Before, the f64's (0.9994234442710876).
        Assert.All(items.Concat(raw.Body!.AsArray()), x =>
        {
            var literal = x!["score"]!.ToJsonString();
            Assert.Equal(Ryu.Format(float.Parse(literal, System.Globalization.CultureInfo.InvariantCulture)), literal);
        });
    }

    [Fact]
    public async Task Tei_AnEmptyQuery_IsRanked_AsTeiTakesIt_OnlyAnEmptyQueryWithAnEmptyTextIsTeisEmpty400()
    {
        // TEI validates texts only (router/src/http/server.rs, rerank) and refuses a (query, text) pair only when both are
        // empty (core/src/tokenization.rs, EncodingInput::Dual is_empty: Empty, 400). Before, any blank query was a 422.
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        foreach (var query in new[] { "", "  " })
        {
            var r = await PostAsync(http, "rerank", new JsonObject { ["query"] = query, ["texts"] = new JsonArray(Documents[0], Documents[1]) }.ToJsonString());
            Assert.True(r.Status == 200, $"'{query}': HTTP {r.Status} {r.Body?.ToJsonString()}");
            var alone = new double[2];
            for (var i = 0; i < 2; i++)
            {
                alone[i] = (await engine.JudgeAsync(new Rank1Input(query, Documents[i]), new JudgeSettings { MaxThinkTokens = 2 })).Score;
            }

            Assert.Equal(BestFirst(alone), r.Body!.AsArray().Select(x => x!["index"]!.GetValue<int>()));
            Assert.All(r.Body!.AsArray(), x => Assert.Equal(alone[x!["index"]!.GetValue<int>()], x!["score"]!.GetValue<double>(), 5));
        }

        var empty = await PostAsync(http, "rerank", """{"query":"","texts":["a",""]}""");
        Assert.Equal(400, empty.Status);
        Assert.Equal("Input validation error: `inputs` cannot be empty", empty.Body!["error"]!.GetValue<string>()); // TextEmbeddingsError::Empty's display
        Assert.Equal("Empty", empty.Body!["error_type"]!.GetValue<string>());

        // Cohere's endpoints keep refusing a blank query, on /rerank without texts too.
        foreach (var path in new[] { "v1/rerank", "v2/rerank", "rerank" })
        {
            var cohere = await PostAsync(http, path, """{"query":" ","documents":["a"]}""");
            Assert.Equal(400, cohere.Status);
            Assert.Equal("invalid request: query must not be blank", cohere.Body!["message"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task BadInput_GetsAClearErrorInTheProtocolsShape_AndTheServiceKeepsServing()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var many = new JsonObject { ["query"] = Query, ["documents"] = new JsonArray(Enumerable.Range(0, 10_000).Select(i => (JsonNode)"d").ToArray()) }.ToJsonString();
        var cases = new (string Path, string Body, int Status, string Message)[]
        {
            ("v1/rerank", """{"query":"q","documents":[]}""", 400, "invalid request: list of documents must not be empty"),
            ("v2/rerank", many, 400, "invalid request: too many documents: 10000 (at most 200 in one call, Rank1:Service:MaxDocuments)"),

            // TEI refuses more texts than its max_client_batch_size as a Validation error, which TEI answers 422 (router/src/http/server.rs; 413 before 1.9.0).
            ("rerank", """{"query":"q","texts":[""" + string.Join(',', Enumerable.Repeat("\"t\"", 201)) + "]}", 422, "batch size 201 > maximum allowed batch size 200 (Rank1:Service:MaxDocuments)"),
            ("v1/rerank", """{"query":42,"documents":["a"]}""", 400, "invalid request: query must be a string"),
            ("v1/rerank", """{"documents":["a"]}""", 400, "invalid request: query is required"),
            ("v1/rerank", """{"query":"q","documents":[{"title":"no text"}]}""", 400, "invalid request: documents[0] has no \"text\" field"),
            ("v2/rerank", """{"query":"q","documents":[7]}""", 400, "invalid request: documents[0] must be a string or an object with a \"text\" string"),
            ("v1/rerank", """{"query":"q","documents":["a"],"top_n":0}""", 400, "invalid request: top_n must be at least 1 (got 0)"),
            ("v1/rerank", """{"query":"q","documents":["a"],"max_think_tokens":-1}""", 400, "invalid request: max_think_tokens must be between 0 and 32768 (got -1)"),

            // An integer past int is out of range, not "not an integer".
            ("v1/rerank", """{"query":"q","documents":["a"],"max_think_tokens":1000000000000}""", 400, "invalid request: max_think_tokens must be between 0 and 32768 (got 1000000000000)"),
            ("v1/rerank", """{"query":"q","documents":["a"],"max_think_tokens":1e300}""", 400, "invalid request: max_think_tokens must be between 0 and 32768 (got 1e300)"),
            ("v1/rerank", """{"query":"q","documents":["a"],"max_think_tokens":1e400}""", 400, "invalid request: max_think_tokens must be between 0 and 32768 (got 1e400)"),
            ("v2/rerank", """{"query":"q","documents":["a"],"deadline_ms":-1E+400}""", 400, "invalid request: deadline_ms must be between 1 and 600000 (got -1E+400)"),
            ("v1/rerank", """{"query":"q","documents":["a"],"top_n":1.5}""", 400, "invalid request: top_n must be an integer"),
            ("v2/rerank", """{"query":"q","documents":["a"],"max_tokens_per_doc":0}""", 400, "invalid request: max_tokens_per_doc must be between 1 and 2147483647 (got 0)"),
            ("v1/rerank", """{"query":"q","documents":["a"],"prompt_template":"no placeholder"}""", 400, "invalid request: prompt_template: a prompt template must contain FILL_QUERY_HERE"),

            // Instructions that ask nothing, refused as the proxy's ext.rank1.instructions are (PrecomputeReasoning.IsBlankQuery);
            // before, appended to the query (and keying their own stored reasoning): 200. "" is the call's none (below).
            ("v1/rerank", """{"query":"q","documents":["a"],"instructions":" "}""", 400, "invalid request: instructions must not be blank"),
            ("rerank", """{"query":"q","texts":["a"],"instructions":" "}""", 422, "invalid request: instructions must not be blank"),
            ("v2/rerank", """{"query":"q","documents":["a"],"instructions":"\u0001"}""", 400, "invalid request: instructions must not be blank"),
            ("v1/rerank", """{"query":"q","documents":["a"],"instructions":" \u200B\t"}""", 400, "invalid request: instructions must not be blank"),
            ("rerank", """{"query":"q","texts":["a"],"instructions":"\u0001"}""", 422, "invalid request: instructions must not be blank"),

            // A query of control or invisible format characters only asks nothing, as "  " does: refused by the one test
            // (PrecomputeReasoning.IsBlankQuery) on /v1, /v2 and /rerank without texts; before, string.IsNullOrWhiteSpace let it through: 200.
            ("v1/rerank", """{"query":"\u0001","documents":["a"]}""", 400, "invalid request: query must not be blank"),
            ("v2/rerank", """{"query":" \u200B","documents":["a"]}""", 400, "invalid request: query must not be blank"),
            ("rerank", """{"query":"\u0000\uFEFF","documents":["a"]}""", 400, "invalid request: query must not be blank"),
            ("v1/rerank", """{"query":"q","documents":["a"]""", 400, "invalid request: the body is not valid JSON"),
            ("rerank", """{"query":"q","texts":[]}""", 400, "`texts` cannot be empty"),

            // A lone UTF-16 surrogate (half an emoji cut off) and a duplicate key: before, .NET threw while reading them (500, which Cohere's SDK retries twice).
            ("v1/rerank", """{"query":"q","documents":["cut mid emoji \ud83d","ok"]}""", 400, "invalid request: documents[0] is not valid text: it holds an unpaired UTF-16 surrogate"),
            ("v2/rerank", """{"query":"q \ude00","documents":["a"]}""", 400, "invalid request: query is not valid text: it holds an unpaired UTF-16 surrogate"),
            ("v1/rerank", """{"query":"q","documents":[{"text":"\ud83d"}]}""", 400, "invalid request: documents[0].text is not valid text: it holds an unpaired UTF-16 surrogate"),

            // One in a key, or in a field of a returned document that is not judged: JsonNode read it only when the answer was
            // written (or the keys looked up), a 500 "internal error". Refused wherever it is, naming where.
            ("v1/rerank", """{"query":"q","documents":[{"text":"a","title":"\ud83d"}],"return_documents":true}""", 400, "invalid request: documents[0].title is not valid text: it holds an unpaired UTF-16 surrogate"),
            ("v2/rerank", """{"query":"q","documents":[{"text":"a","m":[1,{"\ud83d":1}]}]}""", 400, "invalid request: a key in documents[0].m[1] is not valid text: it holds an unpaired UTF-16 surrogate"),
            ("v1/rerank", """{"query":"q","\ud83d":1,"documents":["a"]}""", 400, "invalid request: a key of the body is not valid text: it holds an unpaired UTF-16 surrogate"),
            ("v1/rerank", """{"query":"q","query":"r","documents":["a"]}""", 400, "invalid request: the body is not valid JSON: Duplicate"),
            ("v2/rerank", """{"query":"q","documents":[{"text":"a","text":"b"}]}""", 400, "invalid request: the body is not valid JSON: Duplicate"),
        };
        foreach (var (path, body, status, message) in cases)
        {
            var r = await PostAsync(http, path, body);
            Assert.True(status == r.Status, $"{path} {body[..Math.Min(80, body.Length)]}: HTTP {r.Status} {r.Body?.ToJsonString()}");
            // /rerank answers a body with texts in TEI's shape, one without in Cohere's (llama.cpp's rule, RerankRequest.AnsweredIn).
            var tei = path == "rerank" && body.Contains("\"texts\"", StringComparison.Ordinal);
            var text = tei ? r.Body!["error"]!.GetValue<string>() : r.Body!["message"]!.GetValue<string>();
            Assert.StartsWith(message, text, StringComparison.Ordinal);
            if (tei)
            {
                Assert.Equal(status == 400 ? "Empty" : "Validation", r.Body!["error_type"]!.GetValue<string>());
            }
        }

        // Oversized bodies: declared (Content-Length) and streamed (chunked, no length).
        var big = new JsonObject { ["query"] = Query, ["documents"] = new JsonArray(new string('x', 70_000)) }.ToJsonString();
        var declared = await PostAsync(http, "v1/rerank", big);
        Assert.Equal(413, declared.Status);
        Assert.Equal("request body too large: at most 65536 bytes (Rank1:Service:MaxBodyBytes)", declared.Body!["message"]!.GetValue<string>());
        using (var chunked = new HttpRequestMessage(HttpMethod.Post, "v1/rerank") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))) })
        {
            chunked.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            chunked.Headers.TransferEncodingChunked = true;
            chunked.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(chunked);
            Assert.Equal(413, (int)response.StatusCode);
            Assert.Contains("request body too large", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Wrong or missing key.
        foreach (var key in new[] { "key-2", null })
        {
            var r = await PostAsync(http, "v1/rerank", """{"query":"q","documents":["a"]}""", key);
            Assert.Equal(401, r.Status);
            Assert.StartsWith("invalid api token", r.Body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // Nothing crashed: a good call still works, and every error was counted. A top_n past long (Python's sys.maxsize
        // is 2^63 - 1; a double past it) answers every document.
        foreach (var topN in new[] { "", ",\"top_n\":9223372036854775807", ",\"top_n\":1e19", ",\"top_n\":1e400" })
        {
            var ok = await PostAsync(http, "v1/rerank", $$"""{"query":"q","documents":["a","b"]{{topN}}}""");
            Assert.True(ok.Status == 200, $"{topN}: HTTP {ok.Status} {ok.Body?.ToJsonString()}");
            Assert.Equal(2, ok.Body!["results"]!.AsArray().Count);
        }

        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(2, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "cohere_v1"), ("outcome", "error_401")));
        Assert.Equal(3, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "tei"), ("outcome", "error_422")));
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "tei"), ("outcome", "error_400")));
    }

    /// <summary>
    /// A body that is not valid UTF-8 (a Latin-1 "é", a stray byte) is the protocol's validation error naming the byte,
    /// wherever it is, as Elasticsearch (Jackson) and TEI (serde_json) refuse it. Before, JsonNode decoded each string only
    /// when read: in a key the call was a 500 "internal error" (logged as a failure, retried twice by Cohere's SDK), in a
    /// document it was called "an unpaired UTF-16 surrogate", and in a returned document's other fields it came back as U+FFFD.
    /// </summary>
    [Fact]
    public async Task InvalidUtf8_AnywhereInTheBody_IsTheProtocolsValidationError_NamingTheByte()
    {
        using var logs = new RecordingLogs();
        await using var service = await StandaloneAsync(logs: logs.Factory);
        using var http = TestBounds.Client(service.Url);
        var cases = new (string Path, byte[] Body, int Status, string Message)[]
        {
            ("v1/rerank", [.. "{\"q"u8, 0xFF, .. "\":1,\"query\":\"q\",\"documents\":[\"a\"]}"u8], 400, "invalid request: the body is not valid UTF-8 (byte 0xFF at offset 3)"),
            ("v2/rerank", [.. "{\"query\":\"q\",\"documents\":[\"caf"u8, 0xE9, .. "\"]}"u8], 400, "invalid request: the body is not valid UTF-8 (byte 0xE9 at offset 30)"),
            ("v1/rerank", [.. "{\"query\":\"q\",\"documents\":[{\"text\":\"a\",\"x\":\""u8, 0xFF, .. "\"}],\"return_documents\":true}"u8], 400,
                "invalid request: the body is not valid UTF-8 (byte 0xFF at offset 43)"),
        };
        foreach (var (path, body, status, message) in cases)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.True(status == (int)response.StatusCode, $"{path}: HTTP {(int)response.StatusCode} {answer.ToJsonString()}");
            Assert.Equal(message, (path == "rerank" ? answer["error"] : answer["message"])!.GetValue<string>());
        }

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    /// <summary>
    /// A <c>/rerank</c> body that TEI's request type cannot be read from is refused as TEI refuses it, by axum 0.7's <c>Json</c>
    /// extractor before TEI's handler runs (axum/src/json.rs: serde_json's syntax and EOF errors are <c>JsonSyntaxError</c>,
    /// 400; its data errors <c>JsonDataError</c>, 422), in axum's plain text: its words, then serde_path_to_error's path and
    /// serde_json's error with its line and byte column (after a value of the wrong type, or at the byte that cannot be read).
    /// The first problem in the body's order is answered, as serde reads it: a field of the wrong type before the empty or
    /// too large batch. <c>raw_scores</c> and <c>return_text</c> are plain <c>bool</c>s, so <c>null</c> is refused;
    /// <c>truncate</c> is an <c>Option</c>, so <c>null</c> is taken. Before, each was a 422 in TEI's JSON error shape with
    /// our own words ("invalid request: truncate must be true or false"), a syntax error included, and a null
    /// <c>raw_scores</c> or <c>return_text</c> was taken as false.
    /// </summary>
    [Fact]
    public async Task TeiBody_SerdeCannotRead_IsAxumsPlainTextRejection_400Syntax_422Data_InSerdesWordsAndPlace()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        const string Syntax = "Failed to parse the request body as JSON: ";
        const string Data = "Failed to deserialize the JSON body into the target type: ";

        // The column serde_json gives: the bytes before where it stopped on the line (after the value, or after the byte it refused).
        static int After(string body, string value) => body.IndexOf(value, StringComparison.Ordinal) + Encoding.UTF8.GetByteCount(value);
        const string Duplicate = """{"query":"q","texts":["a"],"texts":["b"]}""";
        const string NullDirection = """{"query":"q","texts":["a"],"truncation_direction":null}""";
        const string HalfEmoji = """{"query":"q","texts":["ok","\ud83d end"]}""";
        const string TrailingSurrogateKey = """{"query":"q","texts":["a"],"\ude00":1}""";
        var many = new JsonObject { ["query"] = "q", ["texts"] = new JsonArray([.. Enumerable.Range(0, 201).Select(i => (JsonNode)(i == 200 ? 7 : "t"))]) }.ToJsonString();
        var cases = new (byte[] Body, int Status, string Message)[]
        {
            // Syntax: 400.
            ("""{"query":"q","texts":["a"]"""u8.ToArray(), 400, Syntax + "EOF while parsing an object at line 1 column 26"),
            ([], 400, Syntax + "EOF while parsing a value at line 1 column 0"),
            ("{\"query\":\"q\",\n \"texts\":[\"a\",]}"u8.ToArray(), 400, Syntax + "trailing comma at line 2 column 15"),
            ("""{"query":"q","texts":["a"],"raw_scores":tru}"""u8.ToArray(), 400, Syntax + "expected ident at line 1 column 44"),
            (Encoding.UTF8.GetBytes(NullDirection), 400, Syntax + $"expected value at line 1 column {After(NullDirection, ":n")}"),
            (Encoding.UTF8.GetBytes(HalfEmoji), 400, Syntax + $"unexpected end of hex escape at line 1 column {After(HalfEmoji, "\\ud83d ")}"),
            (Encoding.UTF8.GetBytes(TrailingSurrogateKey), 400, Syntax + $"lone leading surrogate in hex escape at line 1 column {After(TrailingSurrogateKey, "\\ude00")}"),
            ([.. "{\"query\":\"q\",\"texts\":[\"a\"],\"k"u8, 0xC3, .. "\":1}"u8], 400, Syntax + "invalid unicode code point at line 1 column 31"),

            // Data: 422.
            ("""{"texts":["a"]}"""u8.ToArray(), 422, Data + "missing field `query` at line 1 column 15"),
            ("""{"query":"q","texts":"a"}"""u8.ToArray(), 422, Data + "texts: invalid type: string \"a\", expected a sequence at line 1 column 24"),
            ("""{"query":"q","texts":[{"text":"TEI takes strings"}]}"""u8.ToArray(), 422, Data + "texts[0]: invalid type: map, expected a string at line 1 column 22"),
            ("""{"query":1.5e3,"texts":["a"]}"""u8.ToArray(), 422, Data + "query: invalid type: floating point `1500.0`, expected a string at line 1 column 14"),
            ("""{"query":"q","texts":["a"],"raw_scores":null}"""u8.ToArray(), 422, Data + "raw_scores: invalid type: null, expected a boolean at line 1 column 44"),
            ("""{"query":"q","texts":["a"],"return_text":null}"""u8.ToArray(), 422, Data + "return_text: invalid type: null, expected a boolean at line 1 column 45"),
            ("""{"query":"q","texts":[],"truncate":"no"}"""u8.ToArray(), 422, Data + "truncate: invalid type: string \"no\", expected a boolean at line 1 column 39"),
            ("""{"query":"q","texts":[],"raw_scores":1}"""u8.ToArray(), 422, Data + "raw_scores: invalid type: integer `1`, expected a boolean at line 1 column 38"),
            (Encoding.UTF8.GetBytes(many), 422, Data + $"texts[200]: invalid type: integer `7`, expected a string at line 1 column {After(many, "7")}"),
            (Encoding.UTF8.GetBytes(Duplicate), 422, Data + $"duplicate field `texts` at line 1 column {After(Duplicate, "],\"texts\"")}"),
            ("\"x\""u8.ToArray(), 422, Data + "invalid type: string \"x\", expected struct RerankRequest at line 1 column 3"),
        };
        foreach (var (body, status, message) in cases)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "rerank") { Content = new ByteArrayContent(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(status == (int)response.StatusCode && message == text, $"{Encoding.UTF8.GetString(body)[..Math.Min(80, body.Length)]}: HTTP {(int)response.StatusCode} {text}");
            Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        }

        // truncate is TEI's Option<bool>: null is its default; a body without texts on /rerank is still llama.cpp's (a /v1 call).
        Assert.Equal(200, (await PostAsync(http, "rerank", """{"query":"q","texts":["a"],"truncate":null}""")).Status);
        var llama = await PostAsync(http, "rerank", """{"query":5,"documents":["a"]}""");
        Assert.Equal((400, "invalid request: query must be a string"), (llama.Status, llama.Body!["message"]!.GetValue<string>()));
    }

    /// <summary>
    /// A TEI body whose <c>texts</c> is one long string instead of a list: serde_json's message names the value it got, and
    /// names it whole (<c>invalid type: string "…", expected a sequence</c>); TEI bounds that by its 2 MB body limit (a larger
    /// body is axum's 413), ours by Rank1:Service:MaxBodyBytes (10 MiB). The echo is cut after its first 1 KiB (at a
    /// character's start), followed by <c>…</c>, so the answer stays small. Before, a 10 MiB string was echoed whole: a
    /// 10 MiB answer, built through about eight body-sized copies outside the in-flight budget.
    /// </summary>
    [Fact]
    public async Task TeiBody_TextsAsOneHugeString_Is422_EchoingOnlyItsFirstKiB()
    {
        // The service's default body limit, 10 MiB.
        await using var service = await StandaloneAsync(new() { ["Rank1:Service:MaxBodyBytes"] = "10485760" });
        using var http = TestBounds.Client(service.Url);
        const string Data = "Failed to deserialize the JSON body into the target type: ";
        var huge = $$"""{"query":"q","texts":"{{new string('x', 10 * 1024 * 1024 - 64)}}"}""";
        // 'a' and 511 two-byte characters are 1023 bytes: the 1024th is the first half of the next, left out.
        var split = $$"""{"query":"q","texts":"a{{string.Concat(Enumerable.Repeat("é", 600))}}"}""";
        foreach (var (body, echoed) in new[] { (huge, new string('x', 1024)), (split, "a" + string.Concat(Enumerable.Repeat("é", 511))) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "rerank") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(422, (int)response.StatusCode);
            Assert.Equal($"{Data}texts: invalid type: string \"{echoed}\"…, expected a sequence at line 1 column {Encoding.UTF8.GetByteCount(body) - 1}", text);
        }
    }

    /// <summary>
    /// A body without <c>texts</c> on <c>/rerank</c> is llama.cpp's (<see cref="RerankRequest.AnsweredIn"/>): one the service
    /// cannot read (a duplicate key, invalid UTF-8, a lone surrogate, nesting past 64 levels, text after it) is refused with
    /// the reading's own error, the one <c>/v1/rerank</c> gives for it, in TEI's JSON shape (422), as before serde's reading
    /// was added. Before, each was serde's plain-text 422 "missing field `texts`" (or "duplicate field `query`"), naming a
    /// field the caller never meant to send. A body whose <c>texts</c> serde read before the problem stays serde's.
    /// </summary>
    [Fact]
    public async Task LlamaBodyOnRerank_TheServiceCannotRead_IsRefusedWithTheReadingsOwnError_NotMissingTexts()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        async Task<(int Status, string? MediaType, string Body)> SendAsync(string path, byte[] body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request);
            return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
        }

        var deep = $$"""{"query":"q","documents":[{"text":"a","m":{{new string('[', 70)}}1{{new string(']', 70)}}}]}""";
        var cases = new (byte[] Body, string Message)[]
        {
            ("""{"query":"q","documents":["a"],"query":"r"}"""u8.ToArray(), "invalid request: the body is not valid JSON: Duplicate"),
            ([.. "{\"query\":\"q\",\"documents\":[\"a"u8, 0xC3, .. "\"]}"u8], "invalid request: the body is not valid UTF-8"),
            ("""{"query":"q","documents":["cut mid emoji \ud83d"]}"""u8.ToArray(), "invalid request: documents[0] is not valid text: it holds an unpaired UTF-16 surrogate"),
            (Encoding.UTF8.GetBytes(deep), "invalid request: the body is not valid JSON: "),
            ("""{"query":"q","documents":["a"]} more"""u8.ToArray(), "invalid request: the body is not valid JSON: "),
        };
        foreach (var (body, message) in cases)
        {
            var (status, mediaType, text) = await SendAsync("rerank", body);
            var v1 = JsonNode.Parse((await SendAsync("v1/rerank", body)).Body)!["message"]!.GetValue<string>();
            Assert.True(status == 422 && mediaType == "application/json", $"{Encoding.UTF8.GetString(body)[..Math.Min(60, body.Length)]}: HTTP {status} {text}");
            var error = JsonNode.Parse(text)!;
            Assert.Equal((v1, "Validation"), (error["error"]!.GetValue<string>(), error["error_type"]!.GetValue<string>()));
            Assert.StartsWith(message, v1, StringComparison.Ordinal);
        }

        var tei = await SendAsync("rerank", """{"query":"q","texts":["a"],"query":"r"}"""u8.ToArray());
        Assert.Equal((422, "text/plain", "Failed to deserialize the JSON body into the target type: duplicate field `query` at line 1 column 34"), tei);
    }

    /// <summary>
    /// Text after a TEI body is never read, as TEI's axum 0.7.9 never reads it (axum/src/json.rs, <c>Json::from_bytes</c>:
    /// <c>serde_path_to_error::deserialize</c> over <c>Deserializer::from_slice</c>, without serde_json's
    /// <c>Deserializer::end</c>, which would refuse "trailing characters"): the object is ranked, whatever follows it (more
    /// JSON, words, bytes that are not UTF-8). Before, each was a 422 "the body is not valid JSON".
    /// </summary>
    [Fact]
    public async Task TeiBody_WithTextAfterIt_IsRankedAsTeiReadsIt_TheTextIgnored()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var bodies = new byte[][]
        {
            """{"query":"q","texts":["a","b"],"return_text":true} more"""u8.ToArray(),
            """{"query":"q","texts":["a","b"],"return_text":true}{"texts":"""u8.ToArray(),
            [.. """{"query":"q","texts":["a","b"],"return_text":true}"""u8, 0xFF, 0xC3],
        };
        foreach (var body in bodies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "rerank") { Content = new ByteArrayContent(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, $"HTTP {(int)response.StatusCode} {text}");
            Assert.Equal(["a", "b"], JsonNode.Parse(text)!.AsArray().Select(r => r!["text"]!.GetValue<string>()).Order());
        }
    }

    /// <summary>
    /// Text after a TEI body that serde would not read into TEI's request (<see cref="TeiJsonExtractor.Fits"/> false: a
    /// field of the wrong type) is not read either: the answer is the field's 422, at the column it has without the text
    /// after the body, as TEI's axum 0.7.9 answers it (serde_path_to_error over Deserializer::from_slice, no
    /// Deserializer::end), not a "trailing characters" or invalid-JSON refusal.
    /// </summary>
    [Fact]
    public async Task TeiBody_ThatSerdeRefuses_WithTextAfterIt_IsTheFieldsRefusal()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var bodies = new byte[][]
        {
            """{"query":1,"texts":["a"]} more"""u8.ToArray(),
            """{"query":1,"texts":["a"]}{"texts":"""u8.ToArray(),
            [.. """{"query":1,"texts":["a"]}"""u8, 0xFF, 0xC3],
        };
        foreach (var body in bodies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "rerank") { Content = new ByteArrayContent(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request);
            Assert.Equal((422, "Failed to deserialize the JSON body into the target type: query: invalid type: integer `1`, expected a string at line 1 column 10"),
                ((int)response.StatusCode, await response.Content.ReadAsStringAsync()));
        }
    }

    /// <summary>
    /// A TEI body (<c>texts</c>) on <c>/rerank</c> or <c>/reranking</c> without a JSON <c>Content-Type</c> is refused as TEI's
    /// axum <c>Json</c> extractor refuses it before reading the body (MissingJsonContentType): 415, text/plain, "Expected
    /// request with `Content-Type: application/json`". It was read and judged. A JSON media type with parameters or a
    /// <c>+json</c> suffix is taken, as axum takes it; a body without <c>texts</c> there is llama.cpp's, whose server
    /// reads any <c>Content-Type</c>.
    /// </summary>
    [Fact]
    public async Task TeiBody_WithoutAJsonContentType_IsAxums415_AsTeiAnswersIt()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        async Task<(int Status, string? MediaType, string Body)> SendAsync(string path, string body, string? contentType)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }

            using var response = await http.SendAsync(request);
            return ((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), await response.Content.ReadAsStringAsync());
        }

        const string Tei = """{"query":"q","texts":["a","b"]}""";
        foreach (var (path, body, contentType) in new[] { ("rerank", Tei, "text/plain"), ("reranking", Tei, null), ("rerank", "not json", "text/plain"), ("rerank", Tei, "application/x-www-form-urlencoded") })
        {
            Assert.Equal((415, "text/plain; charset=utf-8", "Expected request with `Content-Type: application/json`"), await SendAsync(path, body, contentType));
        }

        foreach (var contentType in new[] { "application/json; charset=utf-8", "application/vnd.api+json" })
        {
            var taken = await SendAsync("rerank", Tei, contentType);
            Assert.True(taken.Status == 200, $"{contentType}: HTTP {taken.Status} {taken.Body}");
        }

        var llama = await SendAsync("rerank", """{"query":"q","documents":["a","b"]}""", "text/plain");
        Assert.True(llama.Status == 200, $"HTTP {llama.Status} {llama.Body}");
    }

    /// <summary>
    /// A UTF-8 byte order mark before the body (a file saved by Windows PowerShell 5.1 or Notepad, posted as is) is skipped,
    /// as RFC 8259 allows and Elasticsearch, llama.cpp and vLLM do. Before, the call was a 400 "'0xEF' is an invalid start of a value".
    /// </summary>
    [Fact]
    public async Task AByteOrderMark_BeforeTheBody_IsSkipped()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        foreach (var (path, body) in new[] { ("v1/rerank", """{"query":"q","documents":["a","b"]}"""), ("rerank", """{"query":"q","texts":["a","b"]}""") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent([.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes(body)]) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.True(response.IsSuccessStatusCode, $"{path}: HTTP {(int)response.StatusCode} {answer.ToJsonString()}");
            Assert.Equal(2, (path == "rerank" ? answer : answer["results"])!.AsArray().Count);
        }
    }

    /// <summary>
    /// A document object nested as deep as a body may be (64 levels, System.Text.Json's default depth, which the service reads
    /// with) comes back whole with <c>return_documents</c>; one level more is refused as the body is read. Before, the answer,
    /// which holds the document one level deeper than the request did, went past the writer's 64 levels after the call was
    /// judged: a 500 "internal error", which Cohere's SDK retries twice, judging the documents three times for nothing.
    /// </summary>
    [Fact]
    public async Task ADocumentAsDeepAsTheBodyMayBe_ComesBackWhole_WithReturnDocuments()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        foreach (var (arrays, status) in new[] { (61, 200), (62, 400) })
        {
            // The body, the documents list and the document are three levels; the arrays inside it the rest.
            var document = $$"""{"text":"a","m":{{new string('[', arrays)}}1{{new string(']', arrays)}}}""";
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/rerank")
            {
                Content = new StringContent($$"""{"query":"q","documents":[{{document}}],"return_documents":true}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            using var response = await http.SendAsync(request);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(), documentOptions: new JsonDocumentOptions { MaxDepth = 128 })!;
            Assert.True(status == (int)response.StatusCode, $"{arrays} arrays: HTTP {(int)response.StatusCode} {answer.ToJsonString()[..Math.Min(300, answer.ToJsonString().Length)]}");
            if (status == 200)
            {
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(document), answer["results"]![0]!["document"]), answer.ToJsonString());
            }
            else
            {
                Assert.StartsWith("invalid request: the body is not valid JSON: The maximum configured depth of 64 has been exceeded", answer["message"]!.GetValue<string>(), StringComparison.Ordinal);
            }
        }
    }

    /// <summary>
    /// Returned text is written as UTF-8, as TEI's serde_json and Elasticsearch's Jackson write it (and as the proxy's own
    /// answers are written): before, every character past ASCII and every <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>, <c>'</c> and
    /// <c>+</c> became a <c>\uXXXX</c> escape (System.Text.Json's HTML-safe default), so Japanese or Chinese documents came
    /// back at twice their size. An emoji (past U+FFFF) and a backtick, which .NET's relaxed encoder still escapes (the emoji
    /// as its <c>\uD83E\uDDC5</c> pair), are written as themselves too, as TEI's serde_json writes them (<c>OutputJson</c>).
    /// </summary>
    [Fact]
    public async Task ReturnedText_IsWrittenAsUtf8_NotEscaped()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        const string Text = "日本語の文書 <b>café & crème</b> 'x+y' 🧅 `code`";
        foreach (var (path, body) in new[]
        {
            ("v1/rerank", $$"""{"query":"q","documents":[{"text":"{{Text}}","title":"タイトル"}],"return_documents":true}"""),
            ("v2/rerank", $$"""{"query":"q","documents":["{{Text}}"],"return_documents":true}"""),
            ("rerank", $$"""{"query":"q","texts":["{{Text}}"],"return_text":true}"""),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
            using var response = await http.SendAsync(request);
            var answer = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{path}: HTTP {(int)response.StatusCode} {answer}");
            Assert.Contains($"\"{Text}\"", answer, StringComparison.Ordinal);
            Assert.DoesNotContain("\\u", answer, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A <c>prompt_template</c> repeating <c>FILL_QUERY_HERE</c> puts the query in each time: 40,000 of them around a
    /// 60,000-character query (a body of 700 KB) made a query text of 2.4 billion characters. Before, .NET could not make
    /// the string ("String length exceeded supported range"), the call was a 503 counted as a failure of the model, and
    /// five such calls opened the model circuit: every other caller then got 503 for the break. Cut (every protocol's
    /// default), only the start that is kept is made, and it is judged; refused rather than cut (TEI's <c>truncate: false</c>),
    /// the whole text would be counted, and one longer than a body may be is TEI's 422 naming the field.
    /// </summary>
    [Fact]
    public async Task APromptTemplateRepeatingThePlaceholder_IsCutAndJudged_OrPastTheBodyLimit422_AndTheModelCircuitStaysClosed()
    {
        await using var service = await StandaloneAsync(new() { ["Rank1:Service:MaxBodyBytes"] = "1048576" });
        using var http = TestBounds.Client(service.Url);
        var query = new string('q', 60_000);
        var template = string.Concat(Enumerable.Repeat("FILL_QUERY_HERE ", 40_000));
        var cut = new JsonObject { ["query"] = query, ["documents"] = new JsonArray("a", "b"), ["prompt_template"] = template }.ToJsonString();
        var refused = new JsonObject { ["query"] = query, ["texts"] = new JsonArray("a", "b"), ["prompt_template"] = template, ["truncate"] = false }.ToJsonString();
        for (var i = 0; i < 6; i++)
        {
            var r = await PostAsync(http, "v1/rerank", cut);
            Assert.True(r.Status == 200, $"call {i}: HTTP {r.Status} {r.Body?.ToJsonString()}");
            Assert.Equal([0, 1], r.Body!["results"]!.AsArray().Select(x => x!["index"]!.GetValue<int>()).Order());
            var tei = await PostAsync(http, "rerank", refused);
            Assert.True(tei.Status == 422, $"call {i}: HTTP {tei.Status} {tei.Body?.ToJsonString()}");
            Assert.Equal("invalid request: prompt_template: with the query in each of its 40000 FILL_QUERY_HERE, the query text would be 2400040000 characters, "
                + "more than a body may hold (1048576 bytes, Rank1:Service:MaxBodyBytes)", tei.Body!["error"]!.GetValue<string>());
        }

        var twice = await PostAsync(http, "v1/rerank", """{"query":"onion eyes","documents":["a","b"],"prompt_template":"Query: FILL_QUERY_HERE. Again: FILL_QUERY_HERE"}""");
        Assert.True(twice.Status == 200, $"HTTP {twice.Status} {twice.Body?.ToJsonString()}");
        Assert.Equal(2, twice.Body!["results"]!.AsArray().Count);
    }

    /// <summary>
    /// U+FFFE (a noncharacter: valid UTF-8, valid JSON, kept by Python's and the Hugging Face tokenizers' normalization) is
    /// judged like any character. Before, .NET's <c>string.Normalize</c> refused it ("String contains invalid Unicode code
    /// points"): in a document the model's tokenizer threw, answered 503 as a failure of the model, and five such calls
    /// opened the model circuit for every caller; in the query the store key threw, a 500 "internal error".
    /// </summary>
    [Fact]
    public async Task UFFFE_InADocumentOrTheQuery_IsJudged_NotAFailureOfTheModel()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        for (var i = 0; i < 6; i++)
        {
            var r = await PostAsync(http, "v1/rerank", $$"""{"query":"onion eyes","documents":["a￾b {{i}}","c"]}""");
            Assert.True(r.Status == 200, $"call {i}: HTTP {r.Status} {r.Body?.ToJsonString()}");
            Assert.Equal([0, 1], r.Body!["results"]!.AsArray().Select(x => x!["index"]!.GetValue<int>()).Order());
        }

        foreach (var (path, body) in new[] { ("v2/rerank", """{"query":"onion￾ eyes","documents":["a","b"]}"""), ("rerank", """{"query":"onion eyes","texts":["￾","b"]}""") })
        {
            var r = await PostAsync(http, path, body);
            Assert.True(r.Status == 200, $"{path}: HTTP {r.Status} {r.Body?.ToJsonString()}");
        }
    }

    /// <summary>
    /// Malformed chunked encoding (Kestrel's BadHttpRequestException, 400 "Bad chunk size data.") sent over a raw socket: the
    /// client's fault, answered with Kestrel's status in the protocol's shape, counted under it, and not logged as a failure.
    /// Before, it was a 500 "internal error", counted as error_500 and logged as an error with its stack trace.
    /// </summary>
    [Fact]
    public async Task MalformedChunkedBody_IsKestrels400_InTheProtocolsShape_NotAFailureOfTheService()
    {
        using var logs = new RecordingLogs();
        await using var service = await StandaloneAsync(logs: logs.Factory);
        var head = "POST /rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer key-1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        var answer = await RawHttp.ExchangeAsync(service.Url, head + "zz\r\n{\"query\":\"q\"}\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        var body = JsonNode.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..])!;
        Assert.Equal("the request could not be read: Bad chunk size data.", body["error"]!.GetValue<string>());
        Assert.Equal("Validation", body["error_type"]!.GetValue<string>());
        using var http = TestBounds.Client(service.Url);
        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "tei"), ("outcome", "error_400")));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("(400: Bad chunk size data.)", StringComparison.Ordinal));
    }

    /// <summary>
    /// A client that sends half its body and resets its connection: no failure of the service, so nothing is logged as an
    /// error. Before, the read's exception was logged as a failed call (event 2500, Error) with its stack trace. (Which
    /// entry the service writes instead depends on what Kestrel reports first: the reset, logged at Debug as a client gone,
    /// or the body's early end, Kestrel's BadHttpRequestException, logged at Information; the test checks only that the
    /// call's entry, awaited, is not an error.)
    /// </summary>
    [Fact]
    public async Task AClientGoneMidBody_IsNotLoggedAsAFailure()
    {
        using var logs = new RecordingLogs();
        await using var service = await StandaloneAsync(logs: logs.Factory);
        using (var client = new TcpClient { LingerState = new LingerOption(true, 0) }) // closed with a reset (RST), not a half-close
        {
            await client.ConnectAsync(service.Url.Host, service.Url.Port);
            var head = "POST /v1/rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer key-1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":";
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(head));
        }

        var logged = await logs.ServiceLogged.WaitAsync(TestBounds.Hang);
        Assert.True(logged.Level < LogLevel.Error, $"the call was logged at {logged.Level} (event {logged.EventId})");
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    /// <summary>
    /// Compressed bodies are read as the proxy reads a compressed <c>_search</c>: gzip, deflate and br decoded, within the
    /// body limit once decompressed (a small gzip bomb is a 413), an unknown Content-Encoding a 415 in the protocol's
    /// shape. Before, the compressed bytes were read as JSON ("not valid JSON: '0x1F'").
    /// </summary>
    [Fact]
    public async Task CompressedBodies_AreDecoded_WithinTheBodyLimit_AnUnknownEncodingIs415()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var json = Encoding.UTF8.GetBytes("""{"query":"q","documents":["a","b"]}""");
        foreach (var encoding in new[] { "gzip", "deflate", "br" })
        {
            var r = await PostBytesAsync(http, "v1/rerank", Compress(json, encoding), encoding);
            Assert.True(r.Status == 200, $"{encoding}: HTTP {r.Status} {r.Body.ToJsonString()}");
            Assert.Equal(2, r.Body["results"]!.AsArray().Count);
        }

        var tei = await PostBytesAsync(http, "rerank", Compress(Encoding.UTF8.GetBytes("""{"query":"q","texts":["a"]}"""), "gzip"), "gzip");
        Assert.Equal(200, tei.Status);
        Assert.Single(tei.Body.AsArray());

        // A megabyte of spaces compresses to about a kilobyte: refused once it inflates past the 64 KiB limit.
        var bomb = Compress([.. json[..^1], .. Enumerable.Repeat((byte)' ', 1 << 20), (byte)'}'], "gzip");
        Assert.True(bomb.Length < 65536);
        var tooLarge = await PostBytesAsync(http, "v1/rerank", bomb, "gzip");
        Assert.Equal(413, tooLarge.Status);
        Assert.Equal("request body too large once decompressed: at most 65536 bytes (Rank1:Service:MaxBodyBytes)", tooLarge.Body["message"]!.GetValue<string>());

        var unknown = await PostBytesAsync(http, "rerank", json, "compress");
        Assert.Equal(415, unknown.Status);
        Assert.Equal("unsupported Content-Encoding [compress]: send gzip, deflate, br or none", unknown.Body["error"]!.GetValue<string>());
        Assert.Equal("Validation", unknown.Body["error_type"]!.GetValue<string>());
        var corrupt = await PostBytesAsync(http, "v1/rerank", [.. Compress(json, "gzip")[..12]], "gzip");
        Assert.Equal(400, corrupt.Status);
        Assert.StartsWith("invalid request: the body is not valid gzip", corrupt.Body["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The proxy host serves the same endpoints with the same code.
        await using var stack = await ProxyStack.StartAsync(ServiceSettings);
        var proxied = await PostBytesAsync(stack.Http, "v2/rerank", Compress(json, "br"), "br");
        Assert.True(proxied.Status == 200, $"HTTP {proxied.Status} {proxied.Body.ToJsonString()}");
        Assert.Equal(2, proxied.Body["results"]!.AsArray().Count);
    }

    private static byte[] Compress(byte[] data, string encoding)
    {
        using var output = new MemoryStream();
        using (Stream compressor = encoding switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true),
            "deflate" => new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true),
            _ => new BrotliStream(output, CompressionLevel.Optimal, leaveOpen: true),
        })
        {
            compressor.Write(data);
        }

        return output.ToArray();
    }

    private static async Task<(int Status, JsonNode Body)> PostBytesAsync(HttpClient http, string path, byte[] body, string encoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Content.Headers.ContentEncoding.Add(encoding);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    /// <summary>
    /// Two calls the service's limiter admits (MaxConcurrentReranks 2), each ten times the engine's per-caller share, reach
    /// the engine together: both are judged. Before, the engine's queue counted all but one big caller's excess and
    /// refused the second at once (429 with no Retry-After).
    /// </summary>
    [Fact]
    public async Task ConcurrentBigCalls_AdmittedByTheRerankLimiter_AreAllJudged()
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions
        {
            Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxBatch = 2, MaxQueuedPassages = 8, MaxQueuedPassagesPerCaller = 4,
        });
        var together = new ReleasingJudge(engine, callsToHold: 2);
        await using var service = await StandaloneAsync(new() { ["Rank1:Proxy:MaxConcurrentReranks"] = "2" }, s => s.AddSingleton<IPassageJudge>(together));
        using var http = TestBounds.Client(service.Url);
        string Body(string topic) => new JsonObject
        {
            ["query"] = topic,
            ["max_think_tokens"] = 16,
            ["documents"] = new JsonArray(Enumerable.Range(0, 40).Select(i => (JsonNode)$"{topic} passage {i}").ToArray()),
        }.ToJsonString();

        // The judge lets both calls into the engine only once both are there, so the second finds the first's rows waiting.
        var answers = await Task.WhenAll(PostAsync(http, "v1/rerank", Body("onions")), PostAsync(http, "rerank", Body("bridges").Replace("documents", "texts", StringComparison.Ordinal)));

        Assert.All(answers, a => Assert.True(a.Status == 200, $"HTTP {a.Status} {a.Body?.ToJsonString()}"));
        Assert.Equal(40, answers[0].Body!["results"]!.AsArray().Count);
        Assert.Equal(40, answers[1].Body!.AsArray().Count);
        Assert.Equal(2, together.Calls);
    }

    /// <summary>
    /// Overload beyond the configured limits (one rerank running, none may wait) is a 429 with Retry-After in each
    /// protocol's shape; a call whose deadline passes while it waits for the model is overload too (429, not a 504 that
    /// Cohere's SDK retries at once); a deadline that passes while the model judges stays a 504.
    /// </summary>
    [Theory]
    [InlineData("0", "the rerank queue is full")]
    [InlineData("1", "the deadline passed while waiting for the model")]
    public async Task Overload_Gets429WithRetryAfter_ADeadlineWhileJudgingStays504(string maxQueued, string reason)
    {
        // The service's clock moves only when the test moves it: each deadline passes at the step the test says, however
        // slow this machine is. (On the wall clock, a loaded host that took 50 ms from a call's arrival to its cut-off check
        // answered it 504 "before the model was asked".)
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var held = new ReleasingJudge(null, callsToHold: int.MaxValue);
        await using var service = await StandaloneAsync(
            new() { ["Rank1:Proxy:MaxConcurrentReranks"] = "1", ["Rank1:Proxy:MaxQueuedReranks"] = maxQueued, ["Rank1:Proxy:DeadlineGrace"] = "00:00:00" },
            s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(held));
        // Each rerank counts itself in the queue depth once its deadline runs (RerankExecutor), before it waits for the model.
        using var reranks = new MetricCollector<long>(service.Services.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.rerank.queue_depth");
        using var http = TestBounds.Client(service.Url);
        var judging = PostAsync(http, "v2/rerank", """{"query":"q","documents":["a"],"deadline_ms":2000}""");
        await held.Entered.Task;

        foreach (var path in new[] { "v1/rerank", "rerank" })
        {
            var field = path == "rerank" ? "texts" : "documents";
            var reranking = reranks.GetMeasurementSnapshot().Count(m => m.Value > 0);
            var call = PostAsync(http, path, $$"""{"query":"q","{{field}}":["a"],"deadline_ms":50}""");
            if (maxQueued != "0")
            {
                // A call that may wait for the model waits until its deadline, which passes once the call counts itself (a
                // full queue refuses a call at once: no time passes for it).
                // One snapshot per look: a measurement between two snapshots would be waited for again, and never come.
                while (reranks.GetMeasurementSnapshot() is var seen && seen.Count(m => m.Value > 0) == reranking)
                {
                    await reranks.WaitForMeasurementsAsync(seen.Count + 1, TestBounds.Hang); // a bound on a hang only
                }

                clock.Advance(TimeSpan.FromMilliseconds(50));
            }

            var r = await call.WaitAsync(TestBounds.Hang); // the timeout only ends a broken run
            Assert.Equal(429, r.Status);
            Assert.Equal("1", r.RetryAfter);
            Assert.Equal("rank1 could not rerank: " + reason, path == "rerank" ? r.Body!["error"]!.GetValue<string>() : r.Body!["message"]!.GetValue<string>());
            if (path == "rerank")
            {
                Assert.Equal("Overloaded", r.Body!["error_type"]!.GetValue<string>());
            }
        }

        clock.Advance(TimeSpan.FromMilliseconds(2000)); // the first call's deadline, while the model still reads its window
        var timedOut = await judging.WaitAsync(TestBounds.Hang); // the timeout only ends a broken run
        Assert.Equal(504, timedOut.Status);
        Assert.Equal("rank1 could not rerank: the deadline passed while the model was still reading the window", timedOut.Body!["message"]!.GetValue<string>());
        Assert.Null(timedOut.RetryAfter);
        Assert.Equal(1, held.Calls);
    }

    /// <summary>
    /// A deadline too short for an idle model (<c>deadline_ms: 1</c>, nothing else running, nothing waiting) is a 504 with
    /// no Retry-After: not overload, and a retry with the same deadline cannot succeed. Before, any deadline with nothing
    /// judged was answered 429 "overloaded" with Retry-After.
    /// </summary>
    [Fact]
    public async Task ADeadlineTooShortForAnIdleModel_Is504WithoutRetryAfter_NotOverload()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        // Documents that take longer than the deadline to tokenize: none can be started by it.
        var documents = new JsonArray(Enumerable.Range(0, 8).Select(i => (JsonNode)string.Join(' ', Enumerable.Repeat($"onions {i} make eyes water;", 100))).ToArray());

        foreach (var (path, field) in new[] { ("v1/rerank", "documents"), ("rerank", "texts") })
        {
            var r = await PostAsync(http, path, new JsonObject { ["query"] = Query, [field] = documents.DeepClone(), ["deadline_ms"] = 1 }.ToJsonString());
            Assert.True(r.Status == 504, $"HTTP {r.Status} {r.Body?.ToJsonString()}");
            Assert.Null(r.RetryAfter);
            Assert.StartsWith("rank1 could not rerank: the deadline passed", path == "rerank" ? r.Body!["error"]!.GetValue<string>() : r.Body!["message"]!.GetValue<string>(),
                StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// <c>deadline_ms</c> counts from the call's arrival, as a search's does: what is spent before the model (here the
    /// reasoning-store lookup, 400 ms of the service's clock) is no longer given to the model again. With 1000 ms the model
    /// is given the 600 ms left; with 300 ms it is not asked at all, and the call is a 504 at once. Before, the clock
    /// started at the model call: the model was given the whole deadline after the lookup (1000 ms; 300 ms), and the
    /// answer came that much past <c>deadline_ms</c> (0.2-0.9 s for 10,000 documents with 5000 ms, reliability.md).
    /// </summary>
    [Fact]
    public async Task DeadlineMs_CountsFromTheCallsArrival_WorkBeforeTheModelSpendsFromIt()
    {
        // The service's clock moves only in the store lookup, which the test makes take 400 ms.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var judge = new DeadlineJudge(clock);
        await using var service = await StandaloneAsync(new() { ["Rank1:Proxy:DeadlineGrace"] = "00:00:00" },
            s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(judge).AddSingleton<Store.IJudgementStore>(new SlowStore(clock, TimeSpan.FromMilliseconds(400))));
        using var http = TestBounds.Client(service.Url);

        var judged = await PostAsync(http, "v1/rerank", """{"query":"q","documents":["a","b"],"deadline_ms":1000}""");
        Assert.True(judged.Status == 200, $"HTTP {judged.Status} {judged.Body?.ToJsonString()}");
        Assert.Equal([TimeSpan.FromMilliseconds(600)], judge.LeftAtTheModel);

        foreach (var (path, field, error) in new[] { ("v2/rerank", "documents", "message"), ("rerank", "texts", "error") })
        {
            var late = await PostAsync(http, path, $$"""{"query":"q","{{field}}":["a","b"],"deadline_ms":300}""");
            Assert.True(late.Status == 504, $"HTTP {late.Status} {late.Body?.ToJsonString()}");
            Assert.Null(late.RetryAfter);
            Assert.Equal("rank1 could not rerank: the deadline passed before the model was asked", late.Body![error]!.GetValue<string>());
        }

        Assert.Single(judge.LeftAtTheModel); // the late calls never reached the model
    }

    /// <summary>
    /// A reasoning store that does not answer cannot hold a call past its deadline: the lookup is given what is left of
    /// <c>deadline_ms</c> (at least 50 ms), as a search's is, then the call is a 504 without the model. Before, the call
    /// waited for the store as long as the backend client let it (Rank1:Backend:Timeout, 30 s by default).
    /// </summary>
    [Fact]
    public async Task AStoreThatDoesNotAnswer_CannotHoldACallPastItsDeadline()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var judge = new DeadlineJudge(clock);
        var store = new SilentStore();
        await using var service = await StandaloneAsync(null, s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(judge).AddSingleton<Store.IJudgementStore>(store));
        using var http = TestBounds.Client(service.Url);

        var call = PostAsync(http, "rerank", """{"query":"q","texts":["a","b"],"deadline_ms":1000}""");
        await store.Asked.Task.WaitAsync(TestBounds.Hang);
        clock.Advance(TimeSpan.FromMilliseconds(1000));
        var late = await call.WaitAsync(TestBounds.Hang); // the timeout only ends a broken run

        Assert.True(late.Status == 504, $"HTTP {late.Status} {late.Body?.ToJsonString()}");
        Assert.Equal(("rank1 could not rerank: the deadline passed while reading stored reasoning", "Backend"),
            (late.Body!["error"]!.GetValue<string>(), late.Body!["error_type"]!.GetValue<string>()));
        Assert.Empty(judge.LeftAtTheModel);
    }

    /// <summary>A reasoning store whose lookups never answer (until cancelled).</summary>
    private sealed class SilentStore : Store.IJudgementStore
    {
        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<IReadOnlyDictionary<string, Store.StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
        {
            Asked.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public void Enqueue(Store.JudgementToStore judgement)
        {
        }

        public Task<Store.StoreWriteResult> WriteAsync(IReadOnlyList<Store.JudgementToStore> batch, CancellationToken cancellationToken) =>
            Task.FromResult(new Store.StoreWriteResult(batch.Count, 0));
    }

    /// <summary>A judge that notes how much of the deadline is left, on the service's clock, when a window reaches it.</summary>
    private sealed class DeadlineJudge(TimeProvider clock) : IPassageJudge
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan?> _left = new();

        public IReadOnlyList<TimeSpan?> LeftAtTheModel => [.. _left];

        public string ModelId => "deadline";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            _left.Enqueue(settings?.Deadline - clock.GetUtcNow());
            return ValueTask.FromResult<IReadOnlyList<PassageResult>>(
                passages.Select(_ => PassageResult.Judged(new Rank1Judgement(0.5, true, "ok", 0, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero))).ToArray());
        }
    }

    /// <summary>A reasoning store that holds nothing and whose every lookup takes <paramref name="takes"/> of the service's clock.</summary>
    private sealed class SlowStore(FakeTimeProvider clock, TimeSpan takes) : Store.IJudgementStore
    {
        public Task<IReadOnlyDictionary<string, Store.StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
        {
            clock.Advance(takes);
            return Task.FromResult<IReadOnlyDictionary<string, Store.StoredJudgement>>(new Dictionary<string, Store.StoredJudgement>());
        }

        public void Enqueue(Store.JudgementToStore judgement)
        {
        }

        public Task<Store.StoreWriteResult> WriteAsync(IReadOnlyList<Store.JudgementToStore> batch, CancellationToken cancellationToken) =>
            Task.FromResult(new Store.StoreWriteResult(batch.Count, 0));
    }

    /// <summary>
    /// Long documents are cut to the passage token limit: Cohere v2's <c>max_tokens_per_doc</c> sets it per call (the
    /// model's limit caps it), judged exactly as the engine judges the document cut to it alone; TEI's <c>"truncate": false</c>
    /// refuses an over-long text with TEI's 422 (its Validation error) instead of cutting it, while TEI's default still cuts.
    /// </summary>
    [Fact]
    public async Task LongDocuments_AreCutToTheTokenLimit_MaxTokensPerDocSetsIt_TeiTruncateFalseRefuses()
    {
        var longText = string.Join(' ', Enumerable.Repeat("onions make eyes water because cutting releases a gas;", 20));
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxPassageTokens = 48 });
        var cut = await engine.JudgeAsync(new Rank1Input(Query, longText), new JudgeSettings { MaxThinkTokens = 2, MaxPassageTokens = 8 });
        var whole = await engine.JudgeAsync(new Rank1Input(Query, longText), new JudgeSettings { MaxThinkTokens = 2 });
        Assert.True(cut.Truncated && whole.Truncated && cut.PromptTokens < whole.PromptTokens);
        await using var service = await StandaloneAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "48" });
        using var http = TestBounds.Client(service.Url);

        var v2 = await PostAsync(http, "v2/rerank", new JsonObject { ["query"] = Query, ["documents"] = new JsonArray(longText), ["max_tokens_per_doc"] = 8 }.ToJsonString());
        Assert.Equal(200, v2.Status);
        Assert.Equal(cut.PromptTokens + cut.ReasoningTokens, v2.Body!["usage"]!["total_tokens"]!.GetValue<long>());
        Assert.Equal(cut.Score, v2.Body!["results"]![0]!["relevance_score"]!.GetValue<double>(), 1e-4);
        var capped = await PostAsync(http, "v2/rerank", new JsonObject { ["query"] = Query, ["documents"] = new JsonArray(longText), ["max_tokens_per_doc"] = 4096 }.ToJsonString());
        Assert.Equal(whole.PromptTokens + whole.ReasoningTokens, capped.Body!["usage"]!["total_tokens"]!.GetValue<long>());

        var refused = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray("short", longText), ["truncate"] = false }.ToJsonString());
        Assert.Equal(422, refused.Status); // TEI's Validation error (core/src/tokenization.rs), 422 (router/src/http/server.rs, since 1.9.0)
        Assert.Equal("Validation", refused.Body!["error_type"]!.GetValue<string>());
        var message = refused.Body!["error"]!.GetValue<string>();
        const string Prefix = "Input validation error: `inputs` must have less than 48 tokens. Given: ";
        Assert.StartsWith(Prefix, message, StringComparison.Ordinal);
        Assert.InRange(int.Parse(message[Prefix.Length..], System.Globalization.CultureInfo.InvariantCulture), 49, 2000);
        Assert.Equal(200, (await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray("short"), ["truncate"] = false }.ToJsonString())).Status);
        // Longer in characters than the engine's pre-cut (48 tokens x 16) but 15 tokens (dashes run together in long tokens): it fits, and is judged whole.
        var ruler = new string('-', 960);
        Assert.True(ruler.Length > 48 * 16); // PromptEncoder.CharsPerToken; the token count: InputLimitsTests
        var fits = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray(ruler), ["truncate"] = false }.ToJsonString());
        Assert.True(fits.Status == 200, $"HTTP {fits.Status} {fits.Body?.ToJsonString()}");
        Assert.Equal(200, (await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray(longText) }.ToJsonString())).Status);
    }

    /// <summary>
    /// TEI's <c>"truncation_direction": "left"</c> keeps the end of a text over the token limit and cuts its start
    /// (router/src/http/types.rs: TruncationDirection, passed to tokenizers' truncation by core/src/tokenization.rs; Left
    /// keeps a sequence's last tokens): two texts that differ only in a long start and share an end longer than the
    /// limit are judged alike, and as that end alone; cut at their end (the default, "right") they are judged apart.
    /// Before, the direction was accepted and ignored: every text lost its end.
    /// </summary>
    [Fact]
    public async Task TeiTruncationDirectionLeft_KeepsTheEndOfALongText()
    {
        await using var service = await StandaloneAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "48" });
        using var http = TestBounds.Client(service.Url);
        var end = string.Join(' ', Enumerable.Repeat("cutting onions releases a gas that makes the eyes water;", 12));
        var texts = new JsonArray(string.Concat(Enumerable.Repeat("Bridges span rivers and valleys. ", 20)) + end, string.Concat(Enumerable.Repeat("The market closed higher today. ", 20)) + end, end);

        async Task<double[]> ScoresAsync(string? direction)
        {
            var body = new JsonObject { ["query"] = Query, ["texts"] = texts.DeepClone() };
            if (direction is not null)
            {
                body["truncation_direction"] = direction;
            }

            var r = await PostAsync(http, "rerank", body.ToJsonString());
            Assert.True(r.Status == 200, $"HTTP {r.Status} {r.Body?.ToJsonString()}");
            return [.. r.Body!.AsArray().OrderBy(x => x!["index"]!.GetValue<int>()).Select(x => x!["score"]!.GetValue<double>())];
        }

        foreach (var direction in new[] { "left", "Left" })
        {
            var left = await ScoresAsync(direction);
            Assert.Equal(left[2], left[0], 1e-9);
            Assert.Equal(left[2], left[1], 1e-9);
        }

        var right = await ScoresAsync(null);
        Assert.NotEqual(right[0], right[1], 1e-6);
        Assert.Equal(right, await ScoresAsync("right"));
    }

    /// <summary>
    /// TEI's <c>"truncate": false</c> with one over-long text among short ones: every text is measured before any is
    /// judged, so the call is refused at once with nothing judged, and the refusal carries no <c>X-Rank1-Rerank</c>. Before,
    /// the model judged every other text first (seconds of model time) and the error said <c>X-Rank1-Rerank: partial</c>.
    /// </summary>
    [Fact]
    public async Task TeiTruncateFalse_AnOverLongText_IsRefusedBeforeAnyTextIsJudged()
    {
        var longText = string.Join(' ', Enumerable.Repeat("onions make eyes water because cutting releases a gas;", 20));
        await using var service = await StandaloneAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "48" });
        using var http = TestBounds.Client(service.Url);
        using var request = new HttpRequestMessage(HttpMethod.Post, "rerank")
        {
            Content = new StringContent(new JsonObject { ["query"] = Query, ["texts"] = new JsonArray("short", "also short", longText, "short again"), ["truncate"] = false }.ToJsonString(),
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
        using var response = await http.SendAsync(request);

        Assert.Equal(422, (int)response.StatusCode);
        Assert.False(response.Headers.Contains("X-Rank1-Rerank"), string.Join(",", response.Headers.Select(h => h.Key)));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("Validation", body["error_type"]!.GetValue<string>());
        Assert.StartsWith("Input validation error: `inputs` must have less than 48 tokens. Given: ", body["error"]!.GetValue<string>(), StringComparison.Ordinal);
        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(0, PrometheusText.Sum(metrics, "rank1_passages_judged_total"));
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "tei"), ("outcome", "error_422")));
    }

    /// <summary>
    /// TEI's <c>"truncate": false</c> measures every text before any is judged; the measuring spends from <c>deadline_ms</c>
    /// and stops when it passes: a 504, as when the deadline passes before the model is asked, with the texts after it not
    /// measured, and on a thread of its own, not a pool thread. Here each text takes 300 ms of the service's clock to
    /// measure: the fourth takes the call past its 1000 ms, and the over-long tenth is never reached. Before, every text
    /// was measured on the request's pool thread whatever the deadline (ten texts, 3 s), and the call was the 422 of the tenth.
    /// </summary>
    [Fact]
    public async Task TeiTruncateFalse_MeasuringTheTexts_StopsWhenTheDeadlinePasses_504_OffThePool()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var service = await StandaloneAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "48" }, s => s.AddSingleton<TimeProvider>(clock));
        var engine = Assert.IsType<Rank1Engine>(service.Services.GetRequiredService<IPassageJudge>());
        var onPool = new System.Collections.Concurrent.ConcurrentQueue<bool>();
        engine.Encoding = () =>
        {
            onPool.Enqueue(Thread.CurrentThread.IsThreadPoolThread);
            clock.Advance(TimeSpan.FromMilliseconds(300));
        };
        using var http = TestBounds.Client(service.Url);
        var longText = string.Join(' ', Enumerable.Repeat("onions make eyes water because cutting releases a gas;", 20));
        var texts = new JsonArray([.. Enumerable.Range(0, 9).Select(i => (JsonNode)$"short {i}"), longText]);

        var r = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = texts, ["truncate"] = false, ["deadline_ms"] = 1000 }.ToJsonString());

        Assert.True(r.Status == 504, $"HTTP {r.Status} {r.Body?.ToJsonString()}");
        Assert.Equal(("rank1 could not rerank: the deadline passed before the model was asked", "Backend"),
            (r.Body!["error"]!.GetValue<string>(), r.Body!["error_type"]!.GetValue<string>()));
        Assert.Equal([false, false, false, false], onPool);
    }

    /// <summary>
    /// TEI's <c>"truncate": false</c> measuring, each call's on a thread of its own, runs for at most
    /// <c>Rank1:Proxy:MaxConcurrentReranks</c> calls at once: a third call while two measure waits for a turn and measures
    /// once one ends. Each call's one text is over-long, so each is the 422 of its measuring and none is judged (the
    /// encoding hook sees the measuring only). Before, every call started its own measuring thread at once, before the
    /// rerank gates: three measured together.
    /// </summary>
    [Fact]
    public async Task TeiTruncateFalse_MoreCallsThanRerankSlots_MeasureAtMostThatManyAtOnce()
    {
        await using var service = await StandaloneAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "48", ["Rank1:Proxy:MaxConcurrentReranks"] = "2" });
        var engine = Assert.IsType<Rank1Engine>(service.Services.GetRequiredService<IPassageJudge>());
        var rerank = service.Services.GetRequiredService<RerankService>();
        var inside = 0;
        var most = 0;
        var measured = 0;
        using var arrived = new SemaphoreSlim(0);
        using var gate = new ManualResetEventSlim();
        engine.Encoding = () =>
        {
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref most, now);
            Interlocked.Increment(ref measured);
            arrived.Release();
            gate.Wait();
            Interlocked.Decrement(ref inside);
        };
        rerank.MeasuringWaits = () => arrived.Release();
        using var http = TestBounds.Client(service.Url);
        var longText = string.Join(' ', Enumerable.Repeat("onions make eyes water because cutting releases a gas;", 20));
        var calls = Enumerable.Range(0, 3)
            .Select(i => PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray($"{i} {longText}"), ["truncate"] = false }.ToJsonString()))
            .ToArray();

        // Each call has either begun measuring or is waiting for a turn (a bound on a hang, not a synchronisation).
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await arrived.WaitAsync(TestBounds.Hang), $"only {i} of the 3 calls measure or wait");
        }

        var measuringThen = Volatile.Read(ref inside);
        gate.Set();
        Assert.Equal(2, measuringThen);
        var answers = await Task.WhenAll(calls);
        Assert.Equal([422, 422, 422], answers.Select(a => a.Status));
        Assert.Equal((2, 3), (most, measured));

        static void InterlockedMax(ref int target, int value)
        {
            for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            {
                if (Interlocked.CompareExchange(ref target, value, seen) == seen)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// TEI's <c>"truncate": false</c> measures every text before any is judged; the judging then takes the prompts the
    /// measuring encoded: each text is tokenized once, and scored as a default call scores it (the texts fit, so neither
    /// cuts). Before, every text was tokenized twice: once measured, once again by the engine (six encodings for three texts).
    /// </summary>
    [Fact]
    public async Task TeiTruncateFalse_EachTextIsTokenizedOnce_ScoresAsTheDefaultCall()
    {
        await using var service = await StandaloneAsync();
        var engine = Assert.IsType<Rank1Engine>(service.Services.GetRequiredService<IPassageJudge>());
        var encodings = 0;
        engine.Encoding = () => Interlocked.Increment(ref encodings);
        using var http = TestBounds.Client(service.Url);
        var texts = Documents.Take(3).ToArray();

        var refused = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray([.. texts.Select(t => (JsonNode)t)]), ["truncate"] = false }.ToJsonString());
        var measuredOnce = Volatile.Read(ref encodings);
        var cut = await PostAsync(http, "rerank", new JsonObject { ["query"] = Query, ["texts"] = new JsonArray([.. texts.Select(t => (JsonNode)t)]) }.ToJsonString());

        Assert.Equal((200, 200), (refused.Status, cut.Status));
        Assert.Equal(3, measuredOnce);
        static (int, double)[] Ranked(JsonNode body) => body.AsArray().Select(r => (r!["index"]!.GetValue<int>(), r["score"]!.GetValue<double>())).ToArray();
        Assert.Equal(Ranked(cut.Body!), Ranked(refused.Body!));
    }

    /// <summary>
    /// TEI's <c>"truncate": false</c> judging keeps the prompts the measuring encoded only for the texts the store did not
    /// answer: a call of three texts, two of them stored by an earlier call, is judged holding one prompt. Before, every
    /// measured text's token ids were held through the wait for a rerank slot and the judging (three here; a 24 MB body's
    /// tens of MB), the stored ones never used.
    /// </summary>
    [Fact]
    public async Task TeiTruncateFalse_TheJudgingHoldsTheMeasuredPromptsOfTheStoreMissesOnly()
    {
        var store = new RememberingStore();
        await using var service = await StandaloneAsync(null, s => s.AddSingleton<Store.IJudgementStore>(store));
        var rerank = service.Services.GetRequiredService<RerankService>();
        var held = new System.Collections.Concurrent.ConcurrentQueue<int?>();
        rerank.Judging = settings => held.Enqueue(settings.Checked?.Count);
        using var http = TestBounds.Client(service.Url);
        string Body(int texts) => new JsonObject { ["query"] = Query, ["texts"] = new JsonArray([.. Documents.Take(texts).Select(t => (JsonNode)t)]), ["truncate"] = false }.ToJsonString();

        var first = await PostAsync(http, "rerank", Body(2));
        await store.Holding(2).WaitAsync(TestBounds.Hang); // the first call's two judgements stored (a bound on a hang)
        var second = await PostAsync(http, "rerank", Body(3));

        Assert.Equal((200, 200), (first.Status, second.Status));
        Assert.Equal([2, 1], held);
    }

    /// <summary>A reasoning store that answers, by id, what was queued for writing into it.</summary>
    private sealed class RememberingStore : Store.IJudgementStore
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonObject> _documents = new(StringComparer.Ordinal);
        private readonly System.Collections.Concurrent.ConcurrentQueue<(int Count, TaskCompletionSource Reached)> _waiting = new();

        /// <summary>Completes once at least <paramref name="count"/> judgements are held.</summary>
        public Task Holding(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((count, reached));
            Signal();
            return reached.Task;
        }

        public Task<IReadOnlyDictionary<string, Store.StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyDictionary<string, Store.StoredJudgement>>(ids.Where(_documents.ContainsKey).ToDictionary(id => id, id =>
            {
                var d = _documents[id];
                return new Store.StoredJudgement(id, d["model_id"]!.GetValue<string>(), d["passage_hash"]!.GetValue<string>(), d["score"]!.GetValue<double>(),
                    d["relevant"]!.GetValue<bool>(), d["reasoning"]!.GetValue<string>(), d["reasoning_tokens"]!.GetValue<int>(), ReasoningEnd.Budget);
            }, StringComparer.Ordinal));

        public void Enqueue(Store.JudgementToStore judgement)
        {
            _documents[judgement.Id] = judgement.Document;
            Signal();
        }

        public Task<Store.StoreWriteResult> WriteAsync(IReadOnlyList<Store.JudgementToStore> batch, CancellationToken cancellationToken) =>
            Task.FromResult(new Store.StoreWriteResult(batch.Count, 0));

        private void Signal()
        {
            foreach (var (count, reached) in _waiting)
            {
                if (_documents.Count >= count)
                {
                    reached.TrySetResult();
                }
            }
        }
    }

    /// <summary>
    /// A float where TEI's request wants another type is named as serde_json 1.0.140 names it (error.rs, JsonUnexpected:
    /// <c>ryu::Buffer::new().format</c>), as ryu writes an f64 (src/pretty/mod.rs, format64): an exponent from 1e16 and below
    /// 1e-5 (<c>1e20</c>, <c>1.5e-7</c>), none between (<c>1000000000000000.0</c>, <c>0.0001</c>), and <c>-0</c> is the float
    /// <c>-0.0</c> (de.rs, parse_number: "Convert into a float if we underflow, or on `-0`"). The first four are serde_json's
    /// own (tests/test.rs, test_write_f64). Before, a float was never written with an exponent
    /// (<c>100000000000000000000.0</c>, <c>0.00000015</c>) and <c>-0</c> was <c>integer `0`</c>.
    /// </summary>
    [Fact]
    public async Task TeiBody_AFloatOfTheWrongType_IsNamedAsSerdeJsonWritesIt()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var cases = new (string Sent, string Named)[]
        {
            ("3.0", "floating point `3.0`"), ("3.1", "floating point `3.1`"), ("-1.5", "floating point `-1.5`"), ("0.5", "floating point `0.5`"),
            ("1e20", "floating point `1e20`"), ("1.234e21", "floating point `1.234e21`"), ("1E16", "floating point `1e16`"),
            ("1e15", "floating point `1000000000000000.0`"), ("1.5e-7", "floating point `1.5e-7`"), ("0.0001", "floating point `0.0001`"),
            ("1e-5", "floating point `0.00001`"), ("1e-6", "floating point `1e-6`"), ("-0", "floating point `-0.0`"), ("-0.0", "floating point `-0.0`"),
            ("0", "integer `0`"), ("-5", "integer `-5`"),
        };
        foreach (var (sent, named) in cases)
        {
            Assert.Equal((422, $"Failed to deserialize the JSON body into the target type: query: invalid type: {named}, expected a string at line 1 column {9 + sent.Length}"),
                await QueryOfAnotherTypeAsync(http, sent));
        }
    }

    // A TEI call whose query is the JSON number sent: its status and body.
    private static async Task<(int Status, string Body)> QueryOfAnotherTypeAsync(HttpClient http, string sent)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "rerank") { Content = new StringContent($$"""{"query":{{sent}},"texts":["a"]}""", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-1");
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// A float where TEI's request wants another type is named with the f64 serde_json 1.0.140 reads it as, built without
    /// its <c>float_roundtrip</c> feature as TEI builds it (de.rs, f64_from_parts: the significand as f64 times or divided by
    /// a power of ten, digits past a u64 dropped), not the nearest f64: <c>3e23</c> is <c>2.9999999999999997e23</c> (TEI's
    /// answer), <c>9007199254740993.0</c> is <c>9007199254740994.0</c>, and serde's own samples of its old (non-roundtrip)
    /// reading (tests/test.rs, test_roundtrip_f64, the values in its comments). Before, each was named as the nearest f64
    /// (<c>3e23</c>, <c>9007199254740992.0</c>, <c>51.248178375505404</c>).
    /// </summary>
    [Fact]
    public async Task TeiBody_AFloatOfTheWrongType_IsTheF64SerdeJsonReadsWithoutFloatRoundtrip()
    {
        await using var service = await StandaloneAsync();
        using var http = TestBounds.Client(service.Url);
        var cases = new (string Sent, string Named)[]
        {
            ("3e23", "2.9999999999999997e23"), ("9007199254740993.0", "9007199254740994.0"),
            ("51.248178375505404", "51.24817837550541"), ("-93.31137037688033", "-93.31137037688032"), ("-36.573994842753436", "-36.57399484275344"),
            ("52.314008204106244", "52.31400820410624"), ("97.45365320034685", "97.45365320034684"),

            // serde_json's own expectations (tests/test.rs, test_parse_f64 and test_parse_negative_zero): digits past a u64 in
            // the integer counted in the exponent, in the fraction dropped, an exponent past i32, and a number past 1e308
            // brought into POW10's range.
            ("1010101010101010101010101010101010101010", "1.01010101010101e39"), ("0.1010101010101010101010101010101010101010", "0.10101010101010101"),
            ("0.0100000000000000000001", "0.01"), ("0.0000000000000000000000000000000000000000000000000123e50", "1.23"), ("3.5E-2147483647", "0.0"),
            ("100e-777777777777777777777777777", "0.0"), ("0e1000000000000000000000000000000000000000000000", "0.0"), ("-1e-400", "-0.0"),
            ("-1e-4000000000000000000000000000000000000000000000000", "-0.0"), ("1" + new string('0', 308), "1e308"), ("1" + new string('0', 300) + ".0e8", "1e308"),
            ("1" + new string('0', 300) + "e8", "1e308"), ("1" + new string('0', 318) + "e-10", "1e308"),
        };
        foreach (var (sent, named) in cases)
        {
            Assert.Equal((422, $"Failed to deserialize the JSON body into the target type: query: invalid type: floating point `{named}`, expected a string at line 1 column {9 + sent.Length}"),
                await QueryOfAnotherTypeAsync(http, sent));
        }
    }

    /// <summary>
    /// TEI's order of its checks: axum's Json extractor reads every field (serde) before the handler looks at the batch, the
    /// handler refuses an empty batch (400 Empty) before a too large one (422), and then checks each (query, text) pair in
    /// order, answering the first failing pair's error (router/src/http/server.rs, rerank: the pairs' results collected into
    /// one Result; core/src/tokenization.rs: an empty pair is Empty, 400, an over-long one under <c>"truncate": false</c>
    /// Validation, 422). Before, every empty pair was refused ahead of any over-long one, and an empty batch ahead of a
    /// field of the wrong type.
    /// </summary>
    [Fact]
    public async Task Tei_ChecksInTeisOrder_FieldsThenBatch_ThenEachPairInOrder_FirstFailingPairAnswers()
    {
        var longText = string.Join(' ', Enumerable.Repeat("onions make eyes water because cutting releases a gas;", 20));
        await using var service = await StandaloneAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "48" });
        using var http = TestBounds.Client(service.Url);
        var cases = new (JsonObject Body, int Status, string ErrorType, string Message)[]
        {
            (new() { ["query"] = "", ["texts"] = new JsonArray(longText, ""), ["truncate"] = false }, 422, "Validation", "Input validation error: `inputs` must have less than 48 tokens. Given: "),
            (new() { ["query"] = "", ["texts"] = new JsonArray("short", longText, "", longText), ["truncate"] = false }, 422, "Validation", "Input validation error: `inputs` must have less than 48 tokens. Given: "),
            (new() { ["query"] = "", ["texts"] = new JsonArray("short", "", longText), ["truncate"] = false }, 400, "Empty", "Input validation error: `inputs` cannot be empty"),
            (new() { ["query"] = "", ["texts"] = new JsonArray(longText, "") }, 400, "Empty", "Input validation error: `inputs` cannot be empty"),
            (new() { ["query"] = "q", ["texts"] = new JsonArray() }, 400, "Empty", "`texts` cannot be empty"),
        };
        foreach (var (body, status, errorType, message) in cases)
        {
            var r = await PostAsync(http, "rerank", body.ToJsonString());
            var said = $"{body.ToJsonString()[..Math.Min(120, body.ToJsonString().Length)]}: HTTP {r.Status} {r.Body?.ToJsonString()}";
            Assert.True(status == r.Status, said);
            Assert.True(errorType == r.Body!["error_type"]!.GetValue<string>(), said);
            Assert.StartsWith(message, r.Body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// An overloaded call's Retry-After is when the backlog will have drained at the recent pace: the windows holding a
    /// rerank slot and those queued for one, each taking about the recent mean, MaxConcurrentReranks at a time. Cohere's
    /// SDK waits exactly Retry-After; at a fixed "1" every refused caller came back together into the same full queue.
    /// </summary>
    [Fact]
    public async Task Overload_RetryAfterIsWhenTheBacklogDrains_AtTheRecentPace()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var judge = new SteppedJudge();
        await using var service = await StandaloneAsync(new() { ["Rank1:Proxy:MaxConcurrentReranks"] = "1", ["Rank1:Proxy:MaxQueuedReranks"] = "0" },
            s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(judge));
        using var http = TestBounds.Client(service.Url);
        const string Body = """{"query":"q","documents":["a"],"deadline_ms":600000}""";

        // One window takes 10 s of the service's clock in the model.
        var first = PostAsync(http, "v1/rerank", Body);
        await judge.Entered.Reader.ReadAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        judge.Release.Release();
        Assert.Equal(200, (await first).Status);

        // Another holds the only slot: a third call waits for it, about 10 s.
        var second = PostAsync(http, "v1/rerank", Body);
        await judge.Entered.Reader.ReadAsync();
        var refused = await PostAsync(http, "v1/rerank", Body);
        Assert.Equal((429, "10"), (refused.Status, refused.RetryAfter));
        judge.Release.Release();
        Assert.Equal(200, (await second).Status);
    }

    /// <summary>
    /// The bytes of request bodies in flight, as read and as decoded, are held of the process-wide in-flight budget
    /// (Rank1:Proxy:MaxInFlightBytes) until the call ends, as the proxy's searches hold them: a body that would take them
    /// past it is refused as overload (429 with Retry-After, in each protocol's shape), a compressed one while it inflates;
    /// once the call holding them ends, the same body passes. Before, every body was read and inflated whatever the others
    /// held: eight concurrent gzip bombs of 190 KB (190 MB each, under a MaxBodyBytes of 200 MB) took `serve` to 6.6 GB.
    /// </summary>
    [Fact]
    public async Task RequestBodiesInFlight_AreHeldOfTheInFlightBudget_PastItA429WithRetryAfter()
    {
        var judge = new SteppedJudge();
        await using var service = await StandaloneAsync(new() { ["Rank1:Proxy:MaxInFlightBytes"] = "50000" }, s => s.AddSingleton<IPassageJudge>(judge));
        using var http = TestBounds.Client(service.Url);
        static string Body(string field) => new JsonObject { ["query"] = "q", [field] = new JsonArray(new string('x', 30_000)) }.ToJsonString();

        // One call holds its 30 KB body while the model judges it.
        var first = PostAsync(http, "v1/rerank", Body("documents"));
        await judge.Entered.Reader.ReadAsync();
        const string Refused = "rank1 could not rerank: the request bodies in flight would hold ";
        const string Limit = "more than the limit of 50000 bytes (Rank1:Proxy:MaxInFlightBytes)";
        var cohere = await PostAsync(http, "v1/rerank", Body("documents"));
        Assert.Equal((429, "1"), (cohere.Status, cohere.RetryAfter));
        var tei = await PostAsync(http, "rerank", Body("texts"));
        var bomb = Compress(Encoding.UTF8.GetBytes("{\"query\":\"q\",\"documents\":[\"a\"]" + new string(' ', 30_000) + "}"), "gzip");
        Assert.True(bomb.Length < 1000);
        var inflated = await PostBytesAsync(http, "v2/rerank", bomb, "gzip");
        judge.Release.Release();
        Assert.Equal(200, (await first).Status);

        Assert.StartsWith(Refused, cohere.Body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.EndsWith(Limit, cohere.Body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((429, "1", "Overloaded"), (tei.Status, tei.RetryAfter, tei.Body!["error_type"]!.GetValue<string>()));
        Assert.EndsWith(Limit, tei.Body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(429, inflated.Status);
        Assert.EndsWith(Limit, inflated.Body["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The first call gave its bytes back: the same bodies pass now.
        var again = PostAsync(http, "v1/rerank", Body("documents"));
        await judge.Entered.Reader.ReadAsync();
        judge.Release.Release();
        Assert.Equal(200, (await again).Status);
        var unpacked = PostBytesAsync(http, "v2/rerank", bomb, "gzip");
        await judge.Entered.Reader.ReadAsync();
        judge.Release.Release();
        Assert.Equal(200, (await unpacked).Status);
        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(3, PrometheusText.Value(metrics, "rank1_proxy_in_flight_refusals_total"));
        Assert.Equal(0, PrometheusText.Value(metrics, "rank1_proxy_in_flight_bytes"));
    }

    /// <summary>A judge that lets each window out of the model only when the test releases it, saying when one enters.</summary>
    private sealed class SteppedJudge : IPassageJudge
    {
        public System.Threading.Channels.Channel<int> Entered { get; } = System.Threading.Channels.Channel.CreateUnbounded<int>();

        public SemaphoreSlim Release { get; } = new(0);

        public string ModelId => "stepped";

        public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            await Entered.Writer.WriteAsync(passages.Count, cancellationToken);
            await Release.WaitAsync(cancellationToken);
            return passages.Select(_ => PassageResult.Judged(new Rank1Judgement(0.5, true, "ok", 0, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero))).ToArray();
        }
    }

    /// <summary>
    /// A failing model is a 503 in each protocol's shape. While the model circuit is closed a retry may succeed soon
    /// (Retry-After 1); the failure that opens it, and every call the open circuit refuses, say the time left in the
    /// circuit's break (Rank1:Proxy:ModelBreakDuration at first). Before, every 503 said the break, even a single failure;
    /// then every refusal said the whole break, however much of it had passed.
    /// </summary>
    [Fact]
    public async Task ModelFailure_Gets503_RetryAfterIsTheTimeLeftInTheCircuitsBreakOnlyWhileItIsOpen()
    {
        // The service's clock (the model circuit's too) moves only when the test moves it.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var service = await StandaloneAsync(new() { ["Rank1:Proxy:ModelBreakDuration"] = "00:00:42.5", ["Rank1:Proxy:ModelFailuresBeforeBreak"] = "2" },
            s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(new FailingJudge(new Store.JudgingModel("failing", string.Empty))));
        using var http = TestBounds.Client(service.Url);
        var cohere = await PostAsync(http, "v1/rerank", """{"query":"q","documents":["a"]}""");
        var tei = await PostAsync(http, "rerank", """{"query":"q","texts":["a"]}""");
        var refused = await PostAsync(http, "v2/rerank", """{"query":"q","documents":["a"]}""");
        clock.Advance(TimeSpan.FromSeconds(30));
        var later = await PostAsync(http, "v2/rerank", """{"query":"q","documents":["a"]}""");
        clock.Advance(TimeSpan.FromSeconds(12.3));
        var last = await PostAsync(http, "v1/rerank", """{"query":"q","documents":["a"]}""");

        Assert.Equal((503, "1"), (cohere.Status, cohere.RetryAfter)); // one failure: the circuit is still closed
        Assert.StartsWith("rank1 could not rerank: the model failed", cohere.Body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((424, "43", "Backend"), (tei.Status, tei.RetryAfter, tei.Body!["error_type"]!.GetValue<string>())); // the second opened it; TEI's Backend is 424
        Assert.StartsWith("rank1 could not rerank: the model failed", tei.Body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((503, "43"), (refused.Status, refused.RetryAfter));
        Assert.Equal("rank1 could not rerank: the model circuit is open after repeated failures", refused.Body!["message"]!.GetValue<string>());
        Assert.Equal((503, "13"), (later.Status, later.RetryAfter)); // 12.5 s of the break left, in whole seconds up
        Assert.Equal((503, "1"), (last.Status, last.RetryAfter)); // 0.2 s left: at least 1
        Assert.Equal("rank1 could not rerank: the model circuit is open after repeated failures", last.Body!["message"]!.GetValue<string>());
    }

    private const string ConfiguredInstructions = "Only pages about cutting onions are relevant.";

    /// <summary>The call's body on <paramref name="path"/> (TEI's <c>texts</c> on <c>/rerank</c>), with <c>instructions</c> when given.</summary>
    private static string InstructedBody(string path, string? instructions)
    {
        var body = new JsonObject { ["query"] = Query, [path == "rerank" ? "texts" : "documents"] = new JsonArray(Documents.Select(d => (JsonNode)d).ToArray()) };
        if (instructions is not null)
        {
            body["instructions"] = instructions;
        }

        return body.ToJsonString();
    }

    /// <summary>
    /// A call's <c>"instructions": ""</c> is its "no instructions": the bare query is judged, whatever
    /// <c>Rank1:Service:Instructions</c> says, as the worker and <c>precompute</c> take <c>""</c>; absent, the configured
    /// text is appended. Before, <c>""</c> was refused (400, TEI's 422) like every blank value, and a call could not
    /// opt out of the configured instructions.
    /// </summary>
    [Fact]
    public async Task Instructions_Empty_IsTheCallsNone_ScoredAsByAServiceWithoutInstructions()
    {
        await using var bare = await StandaloneAsync();
        await using var configured = await StandaloneAsync(new() { ["Rank1:Service:Instructions"] = ConfiguredInstructions });
        using var bareHttp = TestBounds.Client(bare.Url);
        using var configuredHttp = TestBounds.Client(configured.Url);
        foreach (var path in new[] { "rerank", "v1/rerank", "v2/rerank" })
        {
            var without = await PostAsync(bareHttp, path, InstructedBody(path, null));
            var none = await PostAsync(configuredHttp, path, InstructedBody(path, ""));
            var instructed = await PostAsync(configuredHttp, path, InstructedBody(path, null));
            Assert.Equal((200, 200, 200), (without.Status, none.Status, instructed.Status));
            string Results(JsonNode body) => (path == "rerank" ? body : body["results"]!).ToJsonString();
            Assert.Equal(Results(without.Body!), Results(none.Body!));
            Assert.NotEqual(Results(without.Body!), Results(instructed.Body!)); // the configured text is judged when the call gives none
        }
    }

    /// <summary>
    /// A call's <c>"instructions": ""</c> looks its judgements up under the key of a call without instructions: a service
    /// with instructions configured finds what one without them stored, and asks its model nothing.
    /// </summary>
    [Fact]
    public async Task Instructions_Empty_SharesTheStoreKeyOfACallWithoutInstructions()
    {
        var store = new RememberingStore();
        using var engine = new CountingEngine();
        await using var bare = await StandaloneAsync(null, s => s.AddSingleton<Store.IJudgementStore>(store));
        await using var configured = await StandaloneAsync(new() { ["Rank1:Service:Instructions"] = ConfiguredInstructions },
            s => s.AddSingleton<Store.IJudgementStore>(store).AddSingleton<IPassageJudge>(engine));
        using var bareHttp = TestBounds.Client(bare.Url);
        using var configuredHttp = TestBounds.Client(configured.Url);

        var stored = await PostAsync(bareHttp, "v1/rerank", InstructedBody("v1/rerank", null));
        await store.Holding(Documents.Length).WaitAsync(TestBounds.Hang); // its judgements stored
        foreach (var path in new[] { "rerank", "v1/rerank", "v2/rerank" })
        {
            Assert.Equal(200, (await PostAsync(configuredHttp, path, InstructedBody(path, ""))).Status);
        }

        Assert.Equal(200, stored.Status);
        Assert.Equal(0, engine.Calls);
        Assert.Equal(200, (await PostAsync(configuredHttp, "v1/rerank", InstructedBody("v1/rerank", null))).Status);
        Assert.Equal(Documents.Length, engine.Calls); // the configured instructions have a key of their own
    }

    /// <summary>
    /// A NaN score is refused before any score is written, as TEI refuses it (router/src/http/server.rs, rerank:
    /// <c>score.is_nan()</c> is <c>ErrorResponse { error: "score is NaN", error_type: ErrorType::Backend }</c>, 424), with
    /// <c>raw_scores</c> too; on Cohere's paths it is the model failure's 503 naming the document. Before, TEI's answer was
    /// a 200 with <c>"score": null</c>, and Cohere's a 500 "internal error" from the score's writer.
    /// </summary>
    [Fact]
    public async Task NaNScore_IsTeisBackendError424_AndCoheres503_NotANullScore()
    {
        using var logs = new RecordingLogs();
        await using var service = await StandaloneAsync(null, s => s.AddSingleton<IPassageJudge>(new NaNJudge()), logs.Factory);
        using var http = TestBounds.Client(service.Url);
        foreach (var raw in new[] { "false", "true" })
        {
            var tei = await PostAsync(http, "rerank", $$"""{"query":"q","texts":["a","nan","b","nan"],"raw_scores":{{raw}}}""");
            // No Retry-After: TEI's router sends none on any error, and the same call is scored NaN again.
            Assert.Equal((424, """{"error":"score is NaN","error_type":"Backend"}""", (string?)null), (tei.Status, tei.Body!.ToJsonString(), tei.RetryAfter));
        }

        foreach (var path in new[] { "v1/rerank", "v2/rerank" })
        {
            // Two NaNs: the first in input order is named. No Retry-After (Cohere's SDK retries a 503 on its own backoff).
            var cohere = await PostAsync(http, path, """{"query":"q","documents":["a","nan","b","nan"]}""");
            Assert.Equal((503, "rank1 could not rerank: the model's score of documents[1] is NaN (not a number)", (string?)null),
                (cohere.Status, cohere.Body!["message"]!.GetValue<string>(), cohere.RetryAfter));
            Assert.Equal(["message"], cohere.Body.AsObject().Select(p => p.Key));
        }

        // A call without a NaN is answered as ever.
        var ok = await PostAsync(http, "rerank", """{"query":"q","texts":["a","b"]}""");
        Assert.Equal((200, 0.5), (ok.Status, ok.Body![0]!["score"]!.GetValue<double>()));
        var metrics = await http.GetStringAsync("_rank1/metrics");
        Assert.Equal(2, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "tei"), ("outcome", "error_424")));
        Assert.Equal(1, PrometheusText.Value(metrics, "rank1_service_requests_total", ("protocol", "cohere_v2"), ("outcome", "error_503")));
        Assert.Equal(4, logs.Entries.Count(e => e.EventId == 2503));
    }

    /// <summary>
    /// In the proxy host, with its reasoning store: a NaN judgement is not written to the store, the call's other
    /// judgements are, and the host goes on storing. Before, the NaN reached the store's background writer, whose
    /// <c>_bulk</c> body System.Text.Json cannot write (an ArgumentException its loop did not catch): the loop ended,
    /// and with it the host (a BackgroundService's failure stops it), nothing of the batch stored.
    /// </summary>
    [Fact]
    public async Task NaNScore_InTheProxyHost_IsNotStored_TheOtherJudgementsAre()
    {
        await using var stack = await ProxyStack.StartAsync(ServiceSettings, s => s.AddSingleton<IPassageJudge>(new NaNJudge()));
        var refused = await stack.SendAsync(HttpMethod.Post, "v1/rerank", """{"query":"q","documents":["a","nan","b"]}""");
        Assert.Equal(503, refused.Status);
        Assert.Equal(2, await ReasoningStoreTests.StoredCountAsync(stack, 2));

        var later = await stack.SendAsync(HttpMethod.Post, "v1/rerank", """{"query":"q","documents":["a","c"]}""");
        Assert.Equal((200, "applied"), (later.Status, later.Rerank));
        Assert.Equal(3, await ReasoningStoreTests.StoredCountAsync(stack, 3));
    }

    /// <summary>A judge that scores a passage "nan" NaN and any other 0.5.</summary>
    private sealed class NaNJudge : IPassageJudge
    {
        public string ModelId => "nan";

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IReadOnlyList<PassageResult>>(passages.Select(p =>
                PassageResult.Judged(new Rank1Judgement(p.Text == "nan" ? double.NaN : 0.5, true, "ok", 0, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero))).ToArray());
    }

    /// <summary>
    /// A <c>max_tokens_per_doc</c> at or above the model's passage limit (Rank1:Model:MaxPassageTokens, 2,048 here) is
    /// judged as none, and shares its reasoning-store key: a call with 4096 and one without find each other's judgements.
    /// Before, the value was part of the key as given, so the second call judged every document again.
    /// </summary>
    [Fact]
    public async Task MaxTokensPerDoc_AtOrAboveTheModelsLimit_SharesTheStoreKeyOfNone()
    {
        using var engine = new CountingEngine();
        await using var stack = await ProxyStack.StartAsync(ServiceSettings, s => s.AddSingleton<IPassageJudge>(engine));
        string Body(int? maxTokensPerDoc)
        {
            var body = new JsonObject { ["model"] = "rank1", ["query"] = Query, ["documents"] = new JsonArray(Documents.Select(d => (JsonNode)d).ToArray()) };
            if (maxTokensPerDoc is { } m)
            {
                body["max_tokens_per_doc"] = m;
            }

            return body.ToJsonString();
        }

        var first = await stack.SendAsync(HttpMethod.Post, "v2/rerank", Body(4096));
        Assert.Equal("applied", first.Rerank);
        Assert.Equal(5, engine.Calls);
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(stack, 5));

        foreach (var same in new int?[] { null, 2048 })
        {
            var again = await stack.SendAsync(HttpMethod.Post, "v2/rerank", Body(same));
            Assert.Equal("cached", again.Rerank);
            Assert.Equal(first.Json["results"]!.ToJsonString(), again.Json["results"]!.ToJsonString());
        }

        Assert.Equal(5, engine.Calls); // judged once
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(stack, 5)); // stored once

        // Below the limit the model reads less: its own key.
        Assert.Equal("applied", (await stack.SendAsync(HttpMethod.Post, "v2/rerank", Body(2047))).Rerank);
        Assert.Equal(10, engine.Calls);
    }

    /// <summary>
    /// Holds each of the first <c>callsToHold</c> windows until that many have arrived, then judges them with the engine
    /// (none: holds them until cancelled).
    /// </summary>
    private sealed class ReleasingJudge(Rank1Engine? engine, int callsToHold) : IPassageJudge
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string ModelId => engine?.ModelId ?? "held";

        public string ModelFingerprint => engine?.ModelFingerprint ?? string.Empty;

        public int Calls => Volatile.Read(ref _calls);

        public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            if (Interlocked.Increment(ref _calls) == callsToHold)
            {
                _all.TrySetResult();
            }

            await _all.Task.WaitAsync(cancellationToken);
            return await engine!.JudgeWindowAsync(query, instructions, passages, settings, cancellationToken);
        }
    }

    // The settings given take the place of the standalone ones of the same key.
    private static Task<RerankServiceServer> StandaloneAsync(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, ILoggerFactory? logs = null) =>
        RerankServiceServer.StartAsync(new Dictionary<string, string?>(StandaloneSettings.Where(s => settings?.ContainsKey(s.Key) != true).Concat(settings ?? [])),
            configureServices: services, loggerFactory: logs);

    private static readonly Dictionary<string, string?> StandaloneSettings = new()
    {
        ["Urls"] = "http://127.0.0.1:0",
        ["Rank1:Model:Path"] = TestPaths.TinyModel,
        ["Rank1:Model:ExecutionProvider"] = "Cpu",
        ["Rank1:Service:MaxThinkTokens"] = "2",
        ["Rank1:Service:MaxDocuments"] = "200",
        ["Rank1:Service:MaxBodyBytes"] = "65536",
        ["Rank1:Service:ApiKeys:0"] = "key-1",
        ["Rank1:Service:ApiKeys:1"] = "key-3",
    };

    private static async Task<(int Status, JsonNode? Body, string? RetryAfter)> PostAsync(HttpClient http, string path, string body, string? key = "key-1")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response.Headers.TryGetValues("Retry-After", out var retryAfter) ? retryAfter.Single() : null);
    }
}
