using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

public sealed class HotQueryTests
{
    internal sealed class RecordingPublisher : IPrecomputePublisher
    {
        public ConcurrentQueue<PrecomputeReasoning> Messages { get; } = new();

        public Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken)
        {
            Messages.Enqueue(message);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task RepeatedQueryWithUnstoredHits_IsPublishedOnceForPrecomputation()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);

        const string query = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"instructions":"Only cooking advice counts."}}}""";
        Assert.Equal("applied", (await stack.SearchAsync(query)).Rerank);
        Assert.Empty(publisher.Messages);
        await stack.SearchAsync(query);
        await stack.SearchAsync(query);
        await stack.SearchAsync("""{"query":{"match":{"text":"eye drops"}}}""");

        var message = Assert.Single(publisher.Messages);
        Assert.Equal(("docs", "onion eyes", "Only cooking advice counts.", 5, "title", 4, "hot-query"),
            (message.TargetIndex, message.Query, message.Instructions, message.Window, message.TitleField, message.MaxThinkTokens, message.Reason));
        Assert.Equal(["text"], message.Fields);
        // The worker re-runs the client's own query (not the proxy's window size, ext or source filter).
        Assert.Equal("""{"query":{"match":{"text":"onion eyes"}}}""", message.SearchBody);
        Assert.NotEqual(Guid.Empty, message.JobId);
        Assert.Equal(1, await PrecomputeRequestsAsync(stack, "published"));
    }

    [Theory]
    [InlineData("""{"query":{"bool":{"should":[{"match":{"text":"\u0001\u0002"}}],"filter":[{"match":{"text":"onion"}}]}}}""", "", true)]
    [InlineData("""{"query":{"match_all":{}}}""", "?q=%01%1F", false)]
    [InlineData("""{"query":{"bool":{"should":[{"match":{"text":"\u200B\u2060 \uFEFF"}}],"filter":[{"match":{"text":"onion"}}]}}}""", "", true)]
    public async Task SearchWhoseQueryTextIsOnlyControlCharacters_HasNoQueryText_PassesThroughAndIsNeverPublished(string body, string parameters, bool hits)
    {
        // A worker refuses a job whose query is only control characters and white space (PrecomputeReasoning.IsBlankQuery).
        // Before, the proxy judged the window against "\u0001\u0002" and published it each DedupWindow, each job ending
        // in the workers' error queue. Now it is a search with no query text, as an empty one: passed through, not
        // reranked, not published.
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);
        for (var i = 0; i < 3; i++)
        {
            var answer = await stack.SearchAsync(body, $"{ProxyStack.Index}/_search{parameters}");
            Assert.Equal((200, "skipped", "no query text to judge", hits), (answer.Status, answer.Rerank, answer.Headers.TryGetValues("X-Rank1-Reason", out var reason) ? reason.Single() : null, answer.Ids.Length > 0));
        }

        Assert.Empty(publisher.Messages);
    }

    [Fact]
    public async Task Rank1QueryOfOnlyControlCharacters_IsRefusedAsABlankOne()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);
        var answer = await stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"ext":{"rank1":{"query":"\u0001\t"}}}""");
        Assert.Equal((400, "illegal_argument_exception", "[ext.rank1.query] must be a non-empty string (got \"\\u0001\\t\")"),
            (answer.Status, answer.Json["error"]?["type"]?.GetValue<string>(), answer.Json["error"]?["reason"]?.GetValue<string>()));
        Assert.Empty(publisher.Messages);
    }

    // The other text settings and the field names are held to the same test of a text that says nothing
    // (PrecomputeReasoning.IsBlankQuery) and refused as an empty one is. Before, "\u0001\t" instructions were appended to
    // the query (their search judged and published with them), a "\u200B" title_field named no field and the passage went
    // without a title, and a "\u2060" prompt_template was refused for lacking FILL_QUERY_HERE rather than as empty.
    [Theory]
    [InlineData("""{"instructions":"\u0001\t"}""", "[ext.rank1.instructions] must be a non-empty string (got \"\\u0001\\t\")")]
    [InlineData("""{"title_field":"\u200B"}""", "[ext.rank1.title_field] must be a non-empty string (got \"\\u200B\")")]
    [InlineData("""{"prompt_template":"\u2060 \uFEFF"}""", "[ext.rank1.prompt_template] must be a non-empty string (got \"\\u2060 \\uFEFF\")")]
    [InlineData("""{"fields":["text","\u200B"]}""", "[ext.rank1.fields] must be a non-empty array of field names")]
    [InlineData("""{"fields":"\u0001"}""", "[ext.rank1.fields] must be a non-empty array of field names")]
    public async Task Rank1TextSettingOfOnlyInvisibleCharacters_IsRefusedAsABlankOne(string rank1, string reason)
    {
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);
        for (var i = 0; i < 3; i++)
        {
            var answer = await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":""" + rank1 + "}}");
            Assert.Equal((400, "illegal_argument_exception", reason),
                (answer.Status, answer.Json["error"]?["type"]?.GetValue<string>(), answer.Json["error"]?["reason"]?.GetValue<string>()));
        }

        Assert.Empty(publisher.Messages);
    }

    /// <summary>
    /// A hot search with <c>ext.rank1.instructions: ""</c> over a rule's <c>Instructions</c> is the search's "no
    /// instructions": its job carries none (null), so the worker judges and stores what the proxy looks up for it.
    /// </summary>
    [Fact]
    public async Task HotSearchWithEmptyInstructions_OverTheRulesInstructions_PublishesAJobWithNone()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await ProxyStack.StartAsync(new()
        {
            ["Rank1:Store:Enabled"] = "false",
            ["Rank1:HotQueries:Threshold"] = "2",
            ["Rank1:Proxy:Default:Instructions"] = "Only cooking advice counts.",
        }, s => s.AddSingleton<IPrecomputePublisher>(publisher));

        const string query = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"instructions":""}}}""";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("applied", (await stack.SearchAsync(query)).Rerank);
        }

        var message = Assert.Single(publisher.Messages);
        Assert.Equal(("onion eyes", (string?)null), (message.Query, message.Instructions));
    }

    private static Task<ProxyStack> StartAsync(RecordingPublisher publisher) => ProxyStack.StartAsync(new()
    {
        ["Rank1:Store:Enabled"] = "false", // nothing gets stored, so every search has unstored hits
        ["Rank1:HotQueries:Threshold"] = "2",
    }, s => s.AddSingleton<IPrecomputePublisher>(publisher));

    private static async Task<double> PrecomputeRequestsAsync(ProxyStack stack, string outcome) =>
        PrometheusText.Value(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total", ("outcome", outcome));

    [Fact]
    public async Task HotQueryJob_TakesTheRulesWindow_NeverTheCallers()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);

        // The caller asks for a wider window than the rule (5): the window is no part of the fingerprint.
        const string query = """{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{"window":8}}}""";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("applied", (await stack.SearchAsync(query)).Rerank);
        }

        var message = Assert.Single(publisher.Messages);
        Assert.Equal((5, 4, "title"), (message.Window, message.MaxThinkTokens, message.TitleField));
        Assert.Equal(["text"], message.Fields);
    }

    [Fact]
    public async Task WiderWindowThanTheRule_WithTheRulesWindowStored_IsNotPublished_TheHitsPastItAreNoJobs()
    {
        // The hits past the rule's window (5) are input errors for the proxy's model, so they are never stored; the rule's
        // window is judged and stored by the proxy (a worker's job would store the same judgements: the window is no
        // part of the fingerprint).
        const string body = """{"query":{"match":{"text":"onion onions eyes the"}}}""";
        var tail = new HashSet<string>(StringComparer.Ordinal);
        var judge = new InputFailingJudge(input => tail.Contains(input.Text));
        var publisher = new RecordingPublisher();
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:HotQueries:Threshold"] = "2" },
            s => s.AddSingleton<IPassageJudge>(judge).AddSingleton<IPrecomputePublisher>(publisher));
        var ranked = await stack.BackendIdsAsync(body);
        Assert.True(ranked.Length >= 7, $"{ranked.Length} hits: too few for a tail past the rule's window");
        tail.UnionWith(ranked.Skip(5).Select(id => ProxyStack.Corpus.Single(d => d.Id == id).Text));
        Assert.Equal("applied", (await stack.SearchAsync(body)).Rerank);
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(stack, 5));

        // Hot, with the rule's window stored and only the hits past it unstored: a job (the rule's window) could store
        // nothing more, so none is sent. Before the fix one was, and again every DedupWindow, forever.
        var wider = body.Replace("}}}", """}},"ext":{"rank1":{"window":8}}}""", StringComparison.Ordinal);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(200, (await stack.SearchAsync(wider)).Status);
        }

        Assert.Empty(publisher.Messages);
        Assert.Equal(0, PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total")); // none published, skipped or failed
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(stack, 5)); // the tail is still unstored
    }

    [Fact]
    public async Task PassageTheModelCannotRead_DoesNotKeepItsHotQueryUnstored_NoJobIsSent()
    {
        // d01 ("... a gas that irritates the eyes ...") is an input error for the proxy's model, as a prompt past its
        // context is: deterministic, so it is never stored, and a worker's job (same model, same fingerprint) could store
        // it no more than the proxy. The rest of the rule's window is judged and stored by the proxy's own first search.
        const string body = """{"query":{"match":{"text":"onion eyes"}}}""";
        var judge = new InputFailingJudge("irritates");
        var publisher = new RecordingPublisher();
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:HotQueries:Threshold"] = "2" },
            s => s.AddSingleton<IPassageJudge>(judge).AddSingleton<IPrecomputePublisher>(publisher));
        Assert.Contains("d01", (await stack.BackendIdsAsync(body)).Take(5));
        var first = await stack.SearchAsync(body);
        Assert.Equal("partial", first.Rerank);
        Assert.Equal(4, await ReasoningStoreTests.StoredCountAsync(stack, 4));

        // Hot, with every passage of the window stored but the one the model cannot read: nothing for a job to store, so
        // none is sent. Before, one was, and again every DedupWindow, each ending in the workers' error queue.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("partial", (await stack.SearchAsync(body)).Rerank);
        }

        Assert.Empty(publisher.Messages);
        Assert.Equal(0, PrometheusText.Sum(await stack.Http.GetStringAsync("_rank1/metrics"), "rank1_precompute_requests_total"));
        Assert.Equal(4, await ReasoningStoreTests.StoredCountAsync(stack, 4));
    }

    [Theory]
    [InlineData("""{"max_think_tokens":6}""")]
    [InlineData("""{"fields":["title"]}""")]
    [InlineData("""{"title_field":"text"}""")]
    [InlineData("""{"max_passage_tokens":64}""")]
    public async Task SearchesWithFingerprintOverrides_AreNotPublished_TheSameWithoutAreOnce(string rank1)
    {
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);

        // The job would take the rule's settings and store under another fingerprint: these searches would never be cached.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("applied", (await stack.SearchAsync($$$"""{"query":{"match":{"text":"onion eyes"}},"ext":{"rank1":{{{rank1}}}}}""")).Rerank);
        }

        Assert.Empty(publisher.Messages); // before the fix: one job with the rule's settings
        Assert.Equal(1, await PrecomputeRequestsAsync(stack, "skipped"));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("applied", (await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}}}""")).Rerank);
        }

        var message = Assert.Single(publisher.Messages);
        Assert.Equal(("onion eyes", 4, "title"), (message.Query, message.MaxThinkTokens, message.TitleField));
        Assert.Equal(1, await PrecomputeRequestsAsync(stack, "published"));
    }

    [Fact]
    public async Task PointInTimeSearch_IsNotPublished_AndLeavesThePublishToTheQuerysNextOrdinarySearch()
    {
        var publisher = new RecordingPublisher();
        await using var stack = await StartAsync(publisher);
        var pit = await stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_pit?keep_alive=1m");
        Assert.Equal(200, pit.Status);
        var pitId = pit.Body!["id"]!.GetValue<string>();

        // A first page (no search_after) is reranked, but its job would carry the pit to a search of _all, which
        // Elasticsearch rejects: a poison message.
        var body = $$$$"""{"pit":{"id":"{{{{pitId}}}}","keep_alive":"1m"},"query":{"match":{"text":"onion eyes"}}}""";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("applied", (await stack.SearchAsync(body, "_search")).Rerank);
        }

        Assert.Empty(publisher.Messages); // before the fix: one job with the pit in its search body

        // The pit searches did not spend the query's publish on a skip: its next ordinary search publishes it.
        Assert.Equal("applied", (await stack.SearchAsync("""{"query":{"match":{"text":"onion eyes"}}}""")).Rerank);
        var job = Assert.Single(publisher.Messages);
        Assert.Equal(ProxyStack.Index, job.TargetIndex);
        Assert.DoesNotContain("pit", job.SearchBody ?? "", StringComparison.Ordinal);
        Assert.Equal(1, await PrecomputeRequestsAsync(stack, "published"));
    }
}
