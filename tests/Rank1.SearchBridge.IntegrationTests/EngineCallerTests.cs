using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Telemetry;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Fair queueing through the proxy (#13 item 3): the searches of one <c>_msearch</c> reach the engine as one caller
/// (one sub-queue and one <c>Rank1:Model:MaxQueuedPassagesPerCaller</c>), another msearch as another, and a plain
/// search as a caller of its own. The engine's side (turns, caps) is <c>FairQueueingTests</c>.
/// </summary>
public sealed class EngineCallerTests
{
    private static string Line(string query) => new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["text"] = query } } }.ToJsonString();

    private static string Msearch(params string[] queries) => string.Concat(queries.Select(q => $"{{\"index\":\"{ProxyStack.Index}\"}}\n{Line(q)}\n"));

    [Fact]
    public async Task MsearchItems_ShareOneCaller_OtherRequestsAreCallersOfTheirOwn()
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        var judge = new CallerRecordingJudge(engine);
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));

        // Every query is new, so no passage comes from the reasoning store and each search asks the model.
        var first = await stack.SendAsync(HttpMethod.Post, "_msearch", Msearch("onion tears", "onion soup", "onion bread"), "application/x-ndjson");
        var firstCallers = judge.Take();
        var second = await stack.SendAsync(HttpMethod.Post, "_msearch", Msearch("onion eyes", "onion history"), "application/x-ndjson");
        var secondCallers = judge.Take();
        var single = await stack.SearchAsync(Line("onion festival"));
        var singleCallers = judge.Take();

        Assert.All(first.Json["responses"]!.AsArray().Concat(second.Json["responses"]!.AsArray()), r => Assert.Equal("applied", r!["_rank1"]!["rerank"]!.GetValue<string>()));
        Assert.Equal("applied", single.Rerank);
        Assert.Equal(3, firstCallers.Count);
        Assert.NotNull(firstCallers[0]);
        Assert.All(firstCallers, c => Assert.Same(firstCallers[0], c));
        Assert.Equal(2, secondCallers.Count);
        Assert.NotNull(secondCallers[0]);
        Assert.Same(secondCallers[0], secondCallers[1]);
        Assert.NotSame(firstCallers[0], secondCallers[0]);
        Assert.Equal([null], singleCallers);
    }

    /// <summary>
    /// Rank1:Proxy:MaxRerankShare bounds the reranks one request holds at once (#18: one caller must not take the model
    /// from the others). A judge that never answers holds each call until the proxy cuts it at its deadline + grace: of
    /// three searches of one msearch with a share of 2, exactly two reach the model; the third waits for the share
    /// (counted in rank1.rerank.share_waiting) and is answered in backend order at its deadline, saying why. With a share
    /// of 8 all three reach it.
    /// </summary>
    [Theory]
    [InlineData(2, 2)]
    [InlineData(8, 3)] // the control: a share larger than the msearch lets every search reach the model
    public async Task Msearch_HoldsAtMostMaxRerankShareOfTheModel_TheRestWaitForItWithinTheirDeadline(int share, int reachTheModel)
    {
        // The proxy's clock moves only when the test moves it: the deadline passes once the searches that reach the model
        // have reached it and the rest wait for the share. (On the wall clock, a loaded host that took 3 s to get a search
        // there answered it "the deadline passed before the model was asked".)
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var judge = new HoldingJudge();
        await using var stack = await ProxyStack.StartAsync(
            new Dictionary<string, string?>
            {
                ["Rank1:Proxy:MaxRerankShare"] = share.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Rank1:Proxy:MaxConcurrentReranks"] = "8",
                ["Rank1:Proxy:Default:Deadline"] = "00:00:03",
            },
            services: s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(judge));
        using var waiting = new MetricCollector<long>(stack.Proxy.Services.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.rerank.share_waiting");

        var msearch = stack.SendAsync(HttpMethod.Post, "_msearch", Msearch("onion tears", "onion soup", "onion bread"), "application/x-ndjson");
        for (var i = 0; i < reachTheModel; i++)
        {
            await judge.Entered.WaitAsync(TestBounds.Hang); // a bound on a hang only
        }

        await WaitingAsync(waiting, 3 - reachTheModel);
        clock.Advance(TimeSpan.FromSeconds(3)); // the deadline: a search still waiting for the share is answered
        // Its wait has ended before the model calls are cut: a share given back while its cancellation was still being
        // handled would be taken (SemaphoreSlim lets a release win over a cancellation it has not handled yet).
        await WaitingAsync(waiting, 0);
        clock.Advance(TimeSpan.FromMilliseconds(500)); // Rank1:Proxy:DeadlineGrace: the model calls are cut
        var r = await msearch.WaitAsync(TestBounds.Hang); // the timeout only ends a broken run

        Assert.Equal(200, r.Status);
        Assert.Equal(reachTheModel, judge.Calls);
        var reasons = r.Json["responses"]!.AsArray().Select(x => x!["_rank1"]!["reason"]!.GetValue<string>()).ToArray();
        Assert.All(r.Json["responses"]!.AsArray(), x => Assert.Equal("fallback-timeout", x!["_rank1"]!["rerank"]!.GetValue<string>()));
        Assert.Equal(3 - reachTheModel, reasons.Count(x => x == "the deadline passed while the other searches of this request held its share of the model"));
        Assert.Equal(reachTheModel, reasons.Count(x => x == "the deadline passed while the model was still reading the window"));
        Assert.Equal(0, waiting.GetMeasurementSnapshot().Sum(m => m.Value)); // the waiting search counted itself out
        // Only a real wait is counted: each search that waited, +1 and -1; one that took its share at once, nothing.
        Assert.Equal(2 * (3 - reachTheModel), waiting.GetMeasurementSnapshot().Count);
    }

    // Waits until `searches` searches are waiting for their msearch's share (rank1.rerank.share_waiting). One snapshot per
    // look: a measurement between two snapshots would be waited for again, and never come.
    private static async Task WaitingAsync(MetricCollector<long> waiting, long searches)
    {
        while (waiting.GetMeasurementSnapshot() is var seen && seen.Sum(m => m.Value) != searches)
        {
            await waiting.WaitForMeasurementsAsync(seen.Count + 1, TestBounds.Hang); // a bound on a hang only
        }
    }

    /// <summary>A model that never answers: each call is held until the proxy cancels it.</summary>
    private sealed class HoldingJudge : IPassageJudge
    {
        private int _calls;

        /// <summary>Released once for each call, as it reaches the model.</summary>
        public SemaphoreSlim Entered { get; } = new(0);

        public string ModelId => "holding";

        public int Calls => Volatile.Read(ref _calls);

        public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            Entered.Release();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    /// <summary>The real engine, noting the <see cref="JudgeSettings.Caller"/> of every window it is asked to judge.</summary>
    private sealed class CallerRecordingJudge(Rank1Engine engine) : IPassageJudge
    {
        private readonly List<object?> _callers = [];

        public string ModelId => engine.ModelId;

        public string ModelFingerprint => engine.ModelFingerprint;

        public List<object?> Take()
        {
            lock (_callers)
            {
                var taken = _callers.ToList();
                _callers.Clear();
                return taken;
            }
        }

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            lock (_callers)
            {
                _callers.Add(settings?.Caller);
            }

            return engine.JudgeWindowAsync(query, instructions, passages, settings, cancellationToken);
        }
    }
}
