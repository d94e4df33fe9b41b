using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Http.Search;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Rank1:Proxy:MaxInFlightBytes, the proxy's Elasticsearch <c>in_flight_requests</c> circuit breaker: request bodies (as
/// read and as they inflate) and held backend answers of all searches in flight together stay within it, a search past
/// it is Elasticsearch's 429 <c>circuit_breaking_exception</c> (<c>ChildMemoryCircuitBreaker.circuitBreak</c>:
/// <c>[in_flight_requests] Data too large, data for [&lt;http_request&gt;] would be [N/H], which is larger than the limit
/// of [L/H]</c>, <c>bytes_wanted</c>, <c>bytes_limit</c>, <c>durability: TRANSIENT</c>), and every byte comes back when its
/// request ends. Without the budget a 92 KB gzip body inflating to 90 MB, or an msearch of large answers, took the
/// proxy's memory without bound.
/// </summary>
public sealed class InFlightBudgetTests
{
    private const long Budget = 1024 * 1024;
    private const string Search = """{"query":{"match":{"text":"onion"}}}""";

    private static Dictionary<string, string?> Settings(long budget = Budget) =>
        new() { ["Rank1:Proxy:MaxInFlightBytes"] = budget.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    // A search padded with trailing spaces (JSON whitespace) to length bytes.
    private static string Padded(int length) => Search + new string(' ', length - Search.Length);

    private static async Task<HttpResult> SendGzipAsync(ProxyStack stack, string body)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(body));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ProxyStack.Index}/_search") { Content = new ByteArrayContent(compressed.ToArray()) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        request.Content.Headers.ContentEncoding.Add("gzip");
        using var response = await stack.Http.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        return new HttpResult((int)response.StatusCode, raw.Length == 0 ? null : JsonNode.Parse(raw), response.Headers, response.Content.Headers);
    }

    private static void AssertBreaking(JsonNode error, string label, long limit = Budget)
    {
        Assert.Equal("circuit_breaking_exception", error["type"]!.GetValue<string>());
        var wanted = error["bytes_wanted"]!.GetValue<long>();
        Assert.True(wanted > limit, $"bytes_wanted {wanted} is within the limit");
        Assert.Equal(limit, error["bytes_limit"]!.GetValue<long>());
        Assert.Equal("TRANSIENT", error["durability"]!.GetValue<string>());
        Assert.Equal($"[in_flight_requests] Data too large, data for [{label}] would be [{wanted}/{Human(wanted)}], which is larger than the limit of [{limit}/{Human(limit)}]",
            error["reason"]!.GetValue<string>());
    }

    private static string Human(long bytes) => InFlightBudget.Human(bytes);

    // ByteSizeValue.toString: Strings.format1Decimals keeps the first decimal of String.valueOf(double) and cuts the
    // rest (1,100 / 1024 = 1.07421875: "1kb"; 1,048,575 / 1024 = 1023.999...: "1023.9kb"), worked out by hand from
    // Elasticsearch's code; it was rounded ("1.1kb", "1024kb").
    [Theory]
    [InlineData(0L, "0b")]
    [InlineData(1023L, "1023b")]
    [InlineData(1024L, "1kb")]
    [InlineData(1100L, "1kb")]
    [InlineData(1536L, "1.5kb")]
    [InlineData(1048575L, "1023.9kb")]
    [InlineData(123863040L, "118.1mb")]
    [InlineData(104857600L, "100mb")]
    [InlineData(3221225472L, "3gb")]
    public void Human_IsByteSizeValueToString(long bytes, string expected) => Assert.Equal(expected, InFlightBudget.Human(bytes));

    [Fact]
    public async Task LoneSearchWhoseWindowAnswerTheBudgetCannotHold_IsAnsweredInBackendOrder_NeverA429()
    {
        // Reranking never turns a working search into an error: the window's answer (4 hits of about 20 KB) passes the
        // 64 KB budget, so the search goes again as the client sent it, streamed. It was the 429 of the held answer.
        await using var stack = await ProxyStack.StartAsync(Settings(64 * 1024));
        using (var seed = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            for (var i = 1; i <= 4; i++)
            {
                var doc = new JsonObject { ["title"] = "big", ["text"] = $"onion {i} " + new string('x', 20_000) }.ToJsonString();
                (await seed.PutAsync($"big/_doc/{i}?refresh=true", ProxyStack.Json(doc))).EnsureSuccessStatusCode();
            }
        }

        var r = await stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"size":2}""", "big/_search");
        Assert.Equal(200, r.Status);
        Assert.Equal("skipped", r.Rerank);
        using var direct = new HttpClient { BaseAddress = stack.Backend.Url };
        var backend = JsonNode.Parse(await (await direct.PostAsync("big/_search", ProxyStack.Json("""{"query":{"match":{"text":"onion"}},"size":2}"""))).Content.ReadAsStringAsync())!;
        Assert.Equal(backend["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()), r.Ids);
    }

    [Fact]
    public async Task GzipBodyInflatingPastTheBudget_IsElasticsearchs429CircuitBreakingException_AndTheNextSearchSucceeds()
    {
        await using var stack = await ProxyStack.StartAsync(Settings());

        // 4 MB of spaces, a few KB compressed: stopped as it inflates past the 1 MB budget, not once it is all inflated.
        var bomb = await SendGzipAsync(stack, Padded(4 * 1024 * 1024));

        Assert.Equal(429, bomb.Status);
        Assert.Equal(429, bomb.Json["status"]!.GetValue<int>());
        AssertBreaking(bomb.Json["error"]!, "<http_request>");
        AssertBreaking(bomb.Json["error"]!["root_cause"]![0]!, "<http_request>");
        Assert.True(bomb.Json["error"]!["bytes_wanted"]!.GetValue<long>() < Budget + 200 * 1024, "the body was inflated far past the budget before it was stopped");

        var normal = await stack.SearchAsync(Search);
        Assert.Equal(200, normal.Status);
        Assert.NotEmpty(normal.Ids);
    }

    [Fact]
    public async Task MsearchWhoseHeldAnswersTogetherPassTheBudget_TheItemsPastItAre429_EachAloneFits()
    {
        await using var stack = await ProxyStack.StartAsync(Settings(64 * 1024));
        using (var seed = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            // One document of 20,000 characters: each search's answer holds it (about 20 KB).
            var doc = new JsonObject { ["title"] = "big", ["text"] = "onion " + new string('x', 20_000 - 6) }.ToJsonString();
            (await seed.PutAsync("big/_doc/1?refresh=true", ProxyStack.Json(doc))).EnsureSuccessStatusCode();
        }

        // Sorted by _doc: not reranked, each answer held whole to be joined; one at a time, so the order is the msearch's.
        const string Line = """{"query":{"match":{"text":"onion"}},"sort":["_doc"]}""";
        var alone = await stack.SendAsync(HttpMethod.Post, "big/_msearch", "{}\n" + Line + "\n", "application/x-ndjson");
        Assert.Equal(200, alone.Json["responses"]![0]!["status"]!.GetValue<int>());

        var body = string.Concat(Enumerable.Repeat("{}\n" + Line + "\n", 5));
        var r = await stack.SendAsync(HttpMethod.Post, "big/_msearch?max_concurrent_searches=1", body, "application/x-ndjson");

        Assert.Equal(200, r.Status);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal(5, responses.Count);
        // 3 answers of about 20.3 KB fit in 64 KB with the body; the 4th would pass it, and so would the 5th.
        Assert.All(responses.Take(3), x => Assert.Equal("1", x!["hits"]!["hits"]![0]!["_id"]!.GetValue<string>()));
        Assert.All(responses.Skip(3), x =>
        {
            Assert.Equal(429, x!["status"]!.GetValue<int>());
            AssertBreaking(x["error"]!, "<backend_answer>", 64 * 1024);
        });
    }

    [Fact]
    public async Task BytesAreGivenBack_AfterManyRefusedAndCompletedSearches_OneNeedingNearlyTheWholeBudgetSucceeds()
    {
        await using var stack = await ProxyStack.StartAsync(Settings());

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(429, (await SendGzipAsync(stack, Padded(2 * 1024 * 1024))).Status);
            Assert.Equal(200, (await SendGzipAsync(stack, Padded(300 * 1024))).Status);
            Assert.Equal(200, (await stack.SearchAsync(Padded(300 * 1024))).Status);
        }

        // 1,000,000 bytes of the 1,048,576: fits only if every byte of the searches before came back.
        var big = await stack.SearchAsync(Padded(1_000_000));
        Assert.Equal(200, big.Status);
        Assert.NotEmpty(big.Ids);

        // Each refusal counted; nothing held once every answer is in (a written answer gives its bytes back before it goes out).
        var metrics = await stack.Http.GetStringAsync("_rank1/metrics");
        Assert.Equal(10, PrometheusText.Value(metrics, "rank1_proxy_in_flight_refusals_total"));
        Assert.Equal(0, PrometheusText.Value(metrics, "rank1_proxy_in_flight_bytes"));
    }

    [Fact]
    public async Task WhileOneSearchHoldsBytes_ASecondThatWouldPassTheBudgetIsRefused_AndSucceedsOnceTheFirstIsDone()
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        var judge = new ReleasingJudge(engine);
        await using var stack = await ProxyStack.StartAsync(Settings(), s => s.AddSingleton<IPassageJudge>(judge));

        // 600 KB held by the first search while the model judges its window.
        var first = stack.SearchAsync(Padded(600 * 1024));
        await judge.Entered.Task.WaitAsync(TestBounds.Hang);

        var second = await stack.SearchAsync(Padded(600 * 1024));
        Assert.Equal(429, second.Status);
        AssertBreaking(second.Json["error"]!, "<http_request>");

        judge.Release.TrySetResult();
        var done = await first;
        Assert.Equal(200, done.Status);
        Assert.Equal("applied", done.Rerank);

        var again = await stack.SearchAsync(Padded(600 * 1024));
        Assert.Equal(200, again.Status);
    }

    [Fact]
    public async Task ASearchWhoseClientLeavesMidRequest_GivesItsBytesBack()
    {
        // The model call is not cut when the client leaves (its judgements may still be stored): the search ends at its
        // deadline (and grace), on the proxy's clock, which the test moves once the client has left. (On the wall clock, a
        // loaded host that took 3.5 s to send the second search found the first one's bytes given back already.)
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu }, timeProvider: clock);
        var judge = new ReleasingJudge(engine);
        var ended = new RequestsEnded();
        var settings = Settings();
        settings["Rank1:Proxy:Default:Deadline"] = "00:00:03";
        await using var stack = await ProxyStack.StartAsync(settings, s =>
        {
            s.AddSingleton<TimeProvider>(clock);
            s.AddSingleton<IPassageJudge>(judge);
            s.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter>(ended);
        });

        // The first search holds 600 KB while the model judges its window; its client then leaves.
        using var leave = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ProxyStack.Index}/_search") { Content = ProxyStack.Json(Padded(600 * 1024)) };
        request.Headers.Add(RequestsEnded.Header, "leaving");
        var first = stack.Http.SendAsync(request, leave.Token);
        await judge.Entered.Task.WaitAsync(TestBounds.Hang);
        Assert.Equal(429, (await stack.SearchAsync(Padded(600 * 1024))).Status); // held: a second does not fit
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        clock.Advance(TimeSpan.FromSeconds(3) + TimeSpan.FromMilliseconds(500)); // its deadline and Rank1:Proxy:DeadlineGrace
        await ended.Of("leaving").WaitAsync(TestBounds.Hang);

        judge.Release.TrySetResult(); // the next window is judged by the model (on the same clock), not held to its deadline
        var big = await stack.SearchAsync(Padded(1_000_000));
        Assert.Equal(200, big.Status);
    }

    /// <summary>
    /// Completes a task when the proxy's pipeline is done with a request named by its <see cref="Header"/> (its handler
    /// returned or threw): the outermost middleware.
    /// </summary>
    private sealed class RequestsEnded : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public const string Header = "X-Test-Request";

        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _ended = new();

        public Task Of(string name) => Ended(name).Task;

        private TaskCompletionSource Ended(string name) => _ended.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, then) =>
            {
                try
                {
                    await then(context);
                }
                finally
                {
                    if (context.Request.Headers.TryGetValue(Header, out var name))
                    {
                        Ended(name.ToString()).TrySetResult();
                    }
                }
            });
            next(app);
        };
    }

    /// <summary>The real engine, each call held until <see cref="Release"/> is set.</summary>
    private sealed class ReleasingJudge(Rank1Engine engine) : IPassageJudge
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string ModelId => engine.ModelId;

        public string ModelFingerprint => engine.ModelFingerprint;

        public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
            return await engine.JudgeWindowAsync(query, instructions, passages, settings, cancellationToken);
        }
    }
}
