using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Tests.Reranking;

/// <summary>
/// The executor's own logic (deadline, late-call cancellation, model circuit, queue limits) with an in-memory judge on a
/// <see cref="FakeTimeProvider"/>: time moves only when a test moves it, so every outcome is the one the logic decides.
/// </summary>
public sealed class RerankExecutorTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(100);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _meters.Dispose();

    private RerankExecutor Executor(IPassageJudge judge, Action<ProxyOptions>? configure = null)
    {
        var options = new ProxyOptions { DeadlineGrace = TimeSpan.FromMilliseconds(500), ModelFailuresBeforeBreak = 2, ModelBreakDuration = TimeSpan.FromSeconds(30) };
        configure?.Invoke(options);
        return new RerankExecutor(judge, Options.Create(options), _time, new Rank1Metrics(_meters.GetRequiredService<IMeterFactory>()), NullLogger<RerankExecutor>.Instance);
    }

    private static PassageToJudge[] Window(params string[] texts) => texts.Select((t, i) => new PassageToJudge(i, null, t)).ToArray();

    private Task<RerankOutcome> Rerank(RerankExecutor executor, PassageToJudge[] window, CancellationToken cancellationToken = default) =>
        executor.RerankAsync("q", null, window, new JudgeSettings { MaxThinkTokens = 8 }, Deadline, judgedAlready: 0, cancellationToken);

    [Fact]
    public async Task CallsTheirCallersAbandoned_DoNotShortenTheDrainTimeAnOverloadIsTold()
    {
        // Retry-After is the backlog's drain time at the recent pace of the model's windows. The 0.1 s holds of callers
        // who left counted as windows: three of them took a 10 s pace to 6.7 s.
        var entered = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        var release = new SemaphoreSlim(0);
        var judge = new ScriptedJudge(_time, async (input, _, ct) =>
        {
            await entered.Writer.WriteAsync(true, ct);
            await release.WaitAsync(ct);
            return await ScriptedJudge.ByText(input);
        });
        await using var executor = Executor(judge, o => { o.MaxConcurrentReranks = 1; o.MaxQueuedReranks = 0; });
        Task<RerankOutcome> Long(CancellationToken ct = default) =>
            executor.RerankAsync("q", null, Window("0.5"), new JudgeSettings { MaxThinkTokens = 8 }, TimeSpan.FromMinutes(5), judgedAlready: 0, ct);

        var first = Long();
        await entered.Reader.ReadAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        release.Release();
        Assert.Equal(RerankStatus.Applied, (await first).Status);

        for (var i = 0; i < 3; i++)
        {
            using var gone = new CancellationTokenSource();
            var abandoned = Long(gone.Token);
            await entered.Reader.ReadAsync();
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await gone.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        }

        var holding = Long();
        await entered.Reader.ReadAsync();
        var refused = await Long();
        Assert.Equal((RerankStatus.FallbackOverload, TimeSpan.FromSeconds(10)), (refused.Status, refused.DrainsIn));
        release.Release();
        Assert.Equal(RerankStatus.Applied, (await holding).Status);
    }

    [Fact]
    public async Task Deadline_PassagesNotStartedByIt_AreLeftOut_Partial()
    {
        // Each model call takes 40 ms of (fake) time: passages start at 0, 40 and 80 ms; at 120 ms the deadline has passed.
        var judge = new ScriptedJudge(_time, (input, _, _) =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(40));
            return ScriptedJudge.ByText(input);
        });
        await using var executor = Executor(judge);
        var started = _time.GetUtcNow();

        var outcome = await Rerank(executor, Window("0.1", "0.9", "0.5", "0.7", "0.3"));

        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Equal(3, judge.Calls);
        Assert.Equal([0, 1, 2], outcome.Verdicts.Select(v => v.Index));
        Assert.Equal([0.1, 0.9, 0.5], outcome.Verdicts.Select(v => v.Judgement.Score));
        Assert.All(outcome.Verdicts, v => Assert.Equal(PassageSource.Computed, v.Source));
        Assert.Equal(started + Deadline, judge.LastSettings!.Deadline); // the engine is told the same deadline
        Assert.Equal(8, judge.LastSettings.MaxThinkTokens);
        Assert.Equal(TimeSpan.FromMilliseconds(120), outcome.Elapsed);
    }

    [Fact]
    public async Task EveryPassageJudgedInTime_Applied_AndAPassageCutByTheDeadline_MakesItPartial()
    {
        await using var executor = Executor(new ScriptedJudge(_time, (input, _, _) => ScriptedJudge.ByText(input)));
        var all = await Rerank(executor, Window("0.2", "0.8"));
        Assert.Equal(RerankStatus.Applied, all.Status);
        Assert.Null(all.Reason);

        await using var cut = Executor(new ScriptedJudge(_time, (input, _, _) =>
            Task.FromResult(ScriptedJudge.Judgement(0.6, input.Text == "b" ? ReasoningEnd.Deadline : ReasoningEnd.Finished))));
        var outcome = await Rerank(cut, Window("a", "b"));
        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Equal(["computed", "forced"], outcome.Verdicts.Select(v => v.Source.Name()));
    }

    [Fact]
    public async Task ModelCallStillRunningPastDeadlineAndGrace_IsCancelled_FallbackTimeout()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DateTimeOffset? cancelledAt = null;
        var judge = new ScriptedJudge(_time, async (_, _, ct) =>
        {
            _ = ct.Register(() => cancelledAt = _time.GetUtcNow()); // runs inside the Advance that cancels
            entered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct); // a prefill that does not look at the deadline
            throw new InvalidOperationException("unreachable");
        });
        await using var executor = Executor(judge);
        var started = _time.GetUtcNow();

        var rerank = Rerank(executor, Window("a", "b"));
        await entered.Task;
        _time.Advance(Deadline);
        Assert.False(rerank.IsCompleted); // the deadline alone does not cancel a running call: the engine answers at it
        _time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(rerank.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1)); // deadline + Rank1:Proxy:DeadlineGrace

        var outcome = await rerank;
        Assert.Equal(RerankStatus.FallbackTimeout, outcome.Status);
        Assert.Equal("the deadline passed while the model was still reading the window", outcome.Reason);
        Assert.False(outcome.TimedOutWaiting);
        Assert.Empty(outcome.Verdicts);
        Assert.Equal(started + Deadline + TimeSpan.FromMilliseconds(500), cancelledAt);
    }

    [Fact]
    public async Task ModelCallStillRunningPastDeadlineAndGrace_AfterWaitingForTheModel_IsCancelledAtDeadlinePlusGrace_NotLater()
    {
        // The second rerank waits 60 ms of its 100 ms for the model (one rerank at a time), then its call does not end:
        // it is cut at its own deadline + grace, not 60 ms later (the cut once counted from the lease).
        var firstEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DateTimeOffset? cancelledAt = null;
        var judge = new ScriptedJudge(_time, async (input, _, ct) =>
        {
            if (input.Text == "0.5")
            {
                firstEntered.TrySetResult();
                await release.Task.WaitAsync(ct);
                return ScriptedJudge.Judgement(0.5);
            }

            using var registration = ct.Register(() => cancelledAt = _time.GetUtcNow()); // runs inside the Advance that cancels
            secondEntered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            throw new InvalidOperationException("unreachable");
        });
        await using var executor = Executor(judge, o => { o.MaxConcurrentReranks = 1; o.MaxQueuedReranks = 1; });

        var running = Rerank(executor, Window("0.5"));
        await firstEntered.Task;
        var started = _time.GetUtcNow();
        var waiting = Rerank(executor, Window("second"));
        _time.Advance(TimeSpan.FromMilliseconds(60));
        release.SetResult();
        Assert.Equal(RerankStatus.Applied, (await running).Status);
        await secondEntered.Task;
        _time.Advance(Deadline - TimeSpan.FromMilliseconds(60) + TimeSpan.FromMilliseconds(499));
        Assert.Null(cancelledAt);
        _time.Advance(TimeSpan.FromMilliseconds(1)); // the second's deadline + Rank1:Proxy:DeadlineGrace

        Assert.Equal(started + Deadline + TimeSpan.FromMilliseconds(500), cancelledAt);
        var outcome = await waiting;
        Assert.Equal(RerankStatus.FallbackTimeout, outcome.Status);
        Assert.Equal("the deadline passed while the model was still reading the window", outcome.Reason);
        Assert.False(outcome.TimedOutWaiting);
    }

    [Fact]
    public async Task CallerCancelling_IsNotAFallback_ItIsCancelled()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var judge = new ScriptedJudge(_time, async (_, _, ct) =>
        {
            entered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            throw new InvalidOperationException("unreachable");
        });
        await using var executor = Executor(judge);
        using var caller = new CancellationTokenSource();

        var rerank = Rerank(executor, Window("a"), caller.Token);
        await entered.Task;
        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rerank);
    }

    [Fact]
    public async Task ModelCircuit_OpensAfterTheFailures_RefusesWithoutCalling_HalfOpensAfterTheBreak_AndCloses()
    {
        var failing = true;
        var judge = new ScriptedJudge(_time, (input, _, _) => failing ? throw new InvalidOperationException("model exploded") : ScriptedJudge.ByText(input));
        await using var executor = Executor(judge);

        // Two failed calls (Rank1:Proxy:ModelFailuresBeforeBreak = 2), each answered in backend order with the reason.
        for (var i = 1; i <= 2; i++)
        {
            var failed = await Rerank(executor, Window("0.4"));
            Assert.Equal(RerankStatus.FallbackError, failed.Status);
            Assert.Equal("the model failed: model exploded", failed.Reason);
            Assert.Equal(i, judge.Calls);
        }

        // Open: refused without calling the model, until the break (30 s) is over.
        var refused = await Rerank(executor, Window("0.4"));
        Assert.Equal(RerankStatus.FallbackError, refused.Status);
        Assert.Equal("the model circuit is open after repeated failures", refused.Reason);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal("the model circuit is open after repeated failures", (await Rerank(executor, Window("0.4"))).Reason);
        Assert.Equal(2, judge.Calls);

        // Half-open after the break: one trial call reaches the model; it succeeds, so the circuit closes.
        _time.Advance(TimeSpan.FromSeconds(1));
        failing = false;
        Assert.Equal(RerankStatus.Applied, (await Rerank(executor, Window("0.4"))).Status);
        Assert.Equal(3, judge.Calls);
        Assert.Equal(RerankStatus.Applied, (await Rerank(executor, Window("0.6"))).Status);
        Assert.Equal(4, judge.Calls);
    }

    [Fact]
    public async Task ModelCircuit_HalfOpenTrialFailing_OpensItAgainForAnotherBreak()
    {
        var judge = new ScriptedJudge(_time, (_, _, _) => throw new InvalidOperationException("still broken"));
        await using var executor = Executor(judge);
        await Rerank(executor, Window("a"));
        await Rerank(executor, Window("a"));
        Assert.Equal("the model circuit is open after repeated failures", (await Rerank(executor, Window("a"))).Reason);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("the model failed: still broken", (await Rerank(executor, Window("a"))).Reason); // the trial call
        Assert.Equal(3, judge.Calls);
        Assert.Equal("the model circuit is open after repeated failures", (await Rerank(executor, Window("a"))).Reason);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal("the model circuit is open after repeated failures", (await Rerank(executor, Window("a"))).Reason);
        Assert.Equal(3, judge.Calls);
    }

    [Fact]
    public async Task InputErrors_AndAFullEngineQueue_NeverOpenTheModelCircuit()
    {
        var judge = new ScriptedJudge(_time, (input, _, _) => input.Text == "too long"
            ? throw new Rank1InputException("the passage is too long")
            : throw new Rank1OverloadedException("the engine queue is full"));
        await using var executor = Executor(judge);

        // Four in a row of each (the circuit opens after 2 counted failures): every call reaches the model.
        for (var i = 1; i <= 4; i++)
        {
            var input = await Rerank(executor, Window("too long"));
            Assert.Equal(RerankStatus.FallbackError, input.Status);
            Assert.Equal("no passage of the window could be judged: the passage is too long", input.Reason);
            Assert.Equal([0], input.Failures.Select(f => f.Index));
            Assert.Equal(i, judge.Calls);
        }

        await using var second = Executor(judge); // a circuit of its own, with no input errors counted as successes in it
        for (var i = 1; i <= 4; i++)
        {
            var overloaded = await Rerank(second, Window("anything"));
            Assert.Equal(RerankStatus.FallbackOverload, overloaded.Status);
            Assert.Equal("the engine queue is full", overloaded.Reason);
            Assert.Equal(4 + i, judge.Calls);
        }
    }

    [Fact]
    public async Task OnePassageFailingOnItsInput_TheRestAreJudged_Partial()
    {
        var judge = new ScriptedJudge(_time, (input, _, _) => input.Text == "bad" ? throw new Rank1InputException("unreadable") : ScriptedJudge.ByText(input));
        await using var executor = Executor(judge);

        var outcome = await Rerank(executor, Window("0.3", "bad", "0.9"));

        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Equal([0, 2], outcome.Verdicts.Select(v => v.Index));
        Assert.Equal(new PassageFailure(1, "unreadable"), Assert.Single(outcome.Failures));
    }

    /// <summary>A judge whose calls say they have started, then wait until the test releases them.</summary>
    private (ScriptedJudge Judge, TaskCompletionSource Entered, TaskCompletionSource Release) GatedJudge()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var judge = new ScriptedJudge(_time, async (input, _, ct) =>
        {
            entered.TrySetResult();
            await release.Task.WaitAsync(ct);
            return await ScriptedJudge.ByText(input);
        });
        return (judge, entered, release);
    }

    [Fact]
    public async Task QueueFull_FallbackOverloadAtOnce_WhileTheRunningRerankCompletes()
    {
        var (judge, entered, release) = GatedJudge();
        await using var executor = Executor(judge, o => { o.MaxConcurrentReranks = 1; o.MaxQueuedReranks = 0; });

        var running = Rerank(executor, Window("0.5"));
        await entered.Task;
        var refusing = Rerank(executor, Window("0.5"));
        Assert.True(refusing.IsCompleted, "a rerank that finds the queue full must not wait"); // the limiter refuses synchronously
        var refused = await refusing;
        Assert.Equal(RerankStatus.FallbackOverload, refused.Status);
        Assert.Equal("the rerank queue is full", refused.Reason);

        release.SetResult();
        Assert.Equal(RerankStatus.Applied, (await running).Status);
        Assert.Equal(1, judge.Calls);
    }

    [Fact]
    public async Task QueuedRerank_StillWaitingAtItsDeadline_FallbackTimeout_WithoutCallingTheModel()
    {
        var (judge, entered, release) = GatedJudge();
        await using var executor = Executor(judge, o => { o.MaxConcurrentReranks = 1; o.MaxQueuedReranks = 1; o.DeadlineGrace = TimeSpan.FromMinutes(1); });

        var running = Rerank(executor, Window("0.5"));
        await entered.Task;
        var queued = Rerank(executor, Window("0.5"));
        Assert.False(queued.IsCompleted);
        _time.Advance(Deadline);

        var outcome = await queued;
        Assert.Equal(RerankStatus.FallbackTimeout, outcome.Status);
        Assert.Equal("the deadline passed while waiting for the model", outcome.Reason);
        Assert.True(outcome.TimedOutWaiting); // overload: the rerank service answers 429, not 504
        release.SetResult();
        await running;
        Assert.Equal(1, judge.Calls);
    }

    [Fact]
    public async Task BatchJudge_GetsTheWholeWindowOnce_NotStartedKeepBackendOrder_FailuresReported()
    {
        var judge = new ScriptedBatchJudge((passages, _) =>
            [PassageResult.Judged(ScriptedJudge.Judgement(0.8)), PassageResult.NotStarted, PassageResult.Failed("too long"), PassageResult.Judged(ScriptedJudge.Judgement(0.2, ReasoningEnd.Deadline))]);
        await using var executor = Executor(judge);

        var outcome = await Rerank(executor, Window("a", "b", "c", "d"));

        Assert.Equal(1, judge.WindowCalls);
        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Equal([(0, "computed"), (3, "forced")], outcome.Verdicts.Select(v => (v.Index, v.Source.Name())));
        Assert.Equal(new PassageFailure(2, "too long"), Assert.Single(outcome.Failures));
    }

    [Fact]
    public async Task BatchJudge_NothingStartedByTheDeadline_FallbackTimeout()
    {
        var judge = new ScriptedBatchJudge((passages, _) => passages.Select(_ => PassageResult.NotStarted).ToArray());
        await using var executor = Executor(judge);

        var outcome = await Rerank(executor, Window("a", "b"));

        Assert.Equal(RerankStatus.FallbackTimeout, outcome.Status);
        Assert.Equal("the deadline passed before any passage was judged", outcome.Reason);
        Assert.False(outcome.TimedOutWaiting); // alone in an idle model: the deadline was too short, not overload (the service's 504)
    }

    [Fact]
    public async Task NothingStartedByTheDeadline_BehindAnotherWindowInTheModel_OrAfterWaitingForASlot_IsTimedOutWaiting()
    {
        var judge = new HoldingJudge();
        await using var executor = Executor(judge, o => { o.MaxConcurrentReranks = 2; o.MaxQueuedReranks = 1; });

        // Another window is in the model: this one's rows queued behind its rows, none started by the deadline.
        var running = Rerank(executor, Window("hold"));
        await judge.Entered.Task;
        var behind = await Rerank(executor, Window("a", "b"));
        Assert.Equal(RerankStatus.FallbackTimeout, behind.Status);
        Assert.Equal("the deadline passed before any passage was judged", behind.Reason);
        Assert.True(behind.TimedOutWaiting);
        judge.Release.SetResult();
        Assert.Equal(RerankStatus.Applied, (await running).Status);

        // Alone in the model afterwards: the same outcome is a deadline too short, not overload.
        var alone = await Rerank(executor, Window("a", "b"));
        Assert.Equal(RerankStatus.FallbackTimeout, alone.Status);
        Assert.False(alone.TimedOutWaiting);

        // One rerank at a time: a window that waited for the slot, then had nothing started, waited for capacity.
        var judge2 = new HoldingJudge();
        await using var single = Executor(judge2, o => { o.MaxConcurrentReranks = 1; o.MaxQueuedReranks = 1; });
        var first = Rerank(single, Window("hold"));
        await judge2.Entered.Task;
        var queued = Rerank(single, Window("a"));
        Assert.False(queued.IsCompleted);
        judge2.Release.SetResult();
        Assert.Equal(RerankStatus.Applied, (await first).Status);
        var waited = await queued;
        Assert.Equal(RerankStatus.FallbackTimeout, waited.Status);
        Assert.True(waited.TimedOutWaiting);
    }

    /// <summary>Holds a window whose first passage is "hold" until released (then judges it 0.5); any other window comes back not started.</summary>
    private sealed class HoldingJudge : IPassageJudge
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string ModelId => "holding-model";

        public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            if (passages[0].Text != "hold")
            {
                return passages.Select(_ => PassageResult.NotStarted).ToArray();
            }

            Entered.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
            return passages.Select(_ => PassageResult.Judged(ScriptedJudge.Judgement(0.5))).ToArray();
        }
    }
}
