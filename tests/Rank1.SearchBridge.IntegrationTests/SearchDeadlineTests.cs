using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Issue #18: <c>deadline_ms</c> counts from the request's arrival, not from when reranking starts. The proxy's clock
/// is a <see cref="FakeTimeProvider"/> and the backend holds each search until the test has moved the clock, so the
/// deadline passes at a known point (no wall time is measured): a search whose deadline is spent while the backend
/// answers with 1 MB passages for a 1 MB query, with nothing stored for them, is answered in backend order without the model.
/// </summary>
public sealed class SearchDeadlineTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private HeldBackend _held = null!;
    private ProxyStack _stack = null!;

    public async Task InitializeAsync() =>
        _stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<TimeProvider>(_clock), inFront: async _ =>
        {
            _held = await HeldBackend.StartAsync();
            return _held.Url;
        });

    public async Task DisposeAsync()
    {
        await _stack.DisposeAsync();
        await _held.DisposeAsync();
    }

    private static readonly string MegabyteQuery = string.Concat(Enumerable.Repeat("why do onions make people cry ", 1_000_000 / 30));

    private static string Body(int deadlineMs, string? timeout = null)
    {
        var body = new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["text"] = "onion" } }, ["ext"] = new JsonObject { ["rank1"] = new JsonObject { ["query"] = MegabyteQuery, ["deadline_ms"] = deadlineMs } } };
        if (timeout is not null)
        {
            body["timeout"] = timeout;
        }

        return body.ToJsonString();
    }

    // Rank1:Proxy:DeadlineGrace's default: how long past the deadline the backend call may still run.
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(500);

    [Theory]
    [InlineData(null, null, "1000ms")] // no timeout of its own: what is left of deadline_ms
    [InlineData("200ms", null, "200ms")] // the caller's shorter one is kept
    [InlineData("-1", null, "1000ms")] // "no timeout" is longer than the deadline
    [InlineData(null, "5s", "1000ms")] // a longer one in the body: the URL parameter, which wins in Elasticsearch, bounds it
    [InlineData(null, "250ms", null)] // a shorter one in the body is left as it is
    public async Task Search_AsksTheBackendWithWhatIsLeftOfTheDeadlineAsItsTimeout(string? urlTimeout, string? bodyTimeout, string? expected)
    {
        _held.Hold();
        var search = _stack.SearchAsync(Body(deadlineMs: 1000, bodyTimeout), $"{ProxyStack.Index}/_search" + (urlTimeout is null ? "" : $"?timeout={urlTimeout}"));
        await _held.SearchArrived;
        Assert.Equal(expected, _held.Timeout);
        _clock.Advance(TimeSpan.FromMilliseconds(1000));
        _held.Release();
        Assert.Equal("fallback-timeout", (await search).Rerank);
    }

    [Fact]
    public async Task Search_BackendStillSilentAtDeadlinePlusGrace_Is504AndOpensTheBackendCircuit()
    {
        // A backend that has not answered by the cut ignored the search timeout it was sent: a failing backend. The stack
        // opens the backend circuit at a failure ratio of 0.5 over at least two calls: the flavour probe, then this cut.
        _held.Hold();
        var search = _stack.SearchAsync(Body(deadlineMs: 1000));
        await _held.SearchArrived.WaitAsync(TestBounds.Hang);
        _clock.Advance(TimeSpan.FromMilliseconds(1000) + Grace); // the backend never answers this one

        // Guard against a hang only (on a proxy that waits for the backend): no time is asserted.
        var r = await search.WaitAsync(TestBounds.Hang);
        Assert.Equal(504, r.Status);
        Assert.Equal("rank1_backend_timeout_exception", r.Json["error"]!["type"]!.GetValue<string>());
        Assert.Contains("deadline_ms (1000 ms)", r.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(504, r.Json["status"]!.GetValue<int>());

        _held.Hold();
        var after = await _stack.SearchAsync(Body(deadlineMs: 1000)).WaitAsync(TestBounds.Hang);
        Assert.Equal(503, after.Status);
        Assert.Equal("rank1_backend_circuit_open_exception", after.Json["error"]!["type"]!.GetValue<string>());
        Assert.False(_held.SearchArrived.IsCompleted); // answered without calling the backend
    }

    [Fact]
    public async Task Search_DeadlineSpentWhileTheBackendAnswers_IsAnsweredInBackendOrderWithoutTheModel()
    {
        _held.Hold();
        var search = _stack.SearchAsync(Body(deadlineMs: 1000));
        await _held.SearchArrived; // the proxy has read the request and asked the backend: its deadline is running
        _clock.Advance(TimeSpan.FromMilliseconds(1000));
        _held.Release();

        var r = await search;
        Assert.Equal(200, r.Status);
        Assert.Equal("fallback-timeout", r.Rerank);
        Assert.Contains("the deadline passed before the model was asked", r.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);
        Assert.Equal(HeldBackend.Ids, r.Ids);
        Assert.All(r.Json["hits"]!["hits"]!.AsArray(), h => Assert.Null(h!["fields"]?["_rank1.score"]));
    }

    [Fact]
    public async Task Msearch_ItemsCountFromTheMsearchsArrival()
    {
        _held.Hold();
        var line = Body(deadlineMs: 1000);
        // One search at a time: the second item reaches the backend only after the clock has moved past its deadline, so
        // it is answered fallback-timeout only if its deadline counted from the msearch's arrival, not from its own start.
        var msearch = _stack.SendAsync(HttpMethod.Post, "_msearch?max_concurrent_searches=1", $"{{\"index\":\"{ProxyStack.Index}\"}}\n{line}\n{{\"index\":\"{ProxyStack.Index}\"}}\n{line}\n", "application/x-ndjson");
        await _held.SearchArrived;
        _clock.Advance(TimeSpan.FromMilliseconds(1000));
        _held.Release();

        var r = await msearch;
        Assert.Equal(200, r.Status);

        // The second item started past its deadline: the backend is still given DeadlineGrace (not 1 ms, which an
        // Elasticsearch answers timed_out with few or no hits), so the item is served the backend's full answer.
        Assert.Equal($"{Grace.TotalMilliseconds}ms", _held.Timeout);
        var responses = r.Json["responses"]!.AsArray();
        Assert.Equal(2, responses.Count);
        Assert.All(responses, item =>
        {
            Assert.Equal(HeldBackend.Ids, item!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray());
            Assert.All(item["hits"]!["hits"]!.AsArray(), h => Assert.Null(h!["fields"]?["_rank1.score"]));
            Assert.Equal("fallback-timeout", item["_rank1"]!["rerank"]!.GetValue<string>());
            Assert.Contains("the deadline passed", item["_rank1"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        });
    }

    /// <summary>
    /// A backend that answers every search on <see cref="ProxyStack.Index"/> with three 1 MB passages, holding it while
    /// held; anything else (the flavour probe, the reasoning store) gets a 404, which the proxy takes as "nothing stored".
    /// </summary>
    private sealed class HeldBackend : IAsyncDisposable
    {
        public static readonly string[] Ids = ["h0", "h1", "h2"];

        private static readonly byte[] Answer = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["took"] = 1,
            ["timed_out"] = false,
            ["hits"] = new JsonObject
            {
                ["total"] = new JsonObject { ["value"] = Ids.Length, ["relation"] = "eq" },
                ["max_score"] = 3.0,
                ["hits"] = new JsonArray(Ids.Select((id, i) => (JsonNode)new JsonObject
                {
                    ["_index"] = ProxyStack.Index,
                    ["_id"] = id,
                    ["_score"] = 3.0 - i,
                    ["_source"] = new JsonObject { ["title"] = $"Onion essay {i}", ["text"] = string.Concat(Enumerable.Repeat("onions release a gas that makes eyes water ", 1_000_000 / 43)) },
                }).ToArray()),
            },
        }.ToJsonString());

        private WebApplication _app = null!;
        private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private HeldBackend() => _released.SetResult();

        public Uri Url { get; private set; } = null!;

        /// <summary>Completes when a search reaches the backend after <see cref="Hold"/>.</summary>
        public Task SearchArrived => _arrived.Task;

        /// <summary>The <c>timeout</c> URL parameter of the last search that reached the backend.</summary>
        public string? Timeout { get; private set; }

        public void Hold()
        {
            _released.TrySetResult(); // a search the proxy gave up on is answered (to nobody) rather than left hanging
            _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public void Release() => _released.TrySetResult();

        public static async Task<HeldBackend> StartAsync()
        {
            var held = new HeldBackend();
            (held._app, held.Url) = await LoopbackApp.StartAsync(held.HandleAsync);
            return held;
        }

        private async Task HandleAsync(HttpContext context)
        {
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            if (context.Request.Path.Value == $"/{ProxyStack.Index}/_search")
            {
                Timeout = context.Request.Query.TryGetValue("timeout", out var t) ? t.ToString() : null;
                _arrived.TrySetResult();
                await _released.Task;
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(Answer);
                return;
            }

            context.Response.StatusCode = 404;
        }

        public async ValueTask DisposeAsync()
        {
            _released.TrySetResult();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
