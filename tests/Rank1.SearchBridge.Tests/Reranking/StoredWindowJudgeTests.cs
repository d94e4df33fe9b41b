using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Tests.Reranking;

/// <summary>An in-memory reasoning store: what it holds, what was looked up, what was queued for writing and what was written at once.</summary>
internal sealed class InMemoryJudgementStore : IJudgementStore
{
    public Dictionary<string, StoredJudgement> Stored { get; } = new(StringComparer.Ordinal);

    public List<JudgementToStore> Written { get; } = [];

    public List<IReadOnlyList<string>> Lookups { get; } = [];

    public Task<IReadOnlyDictionary<string, StoredJudgement>> LookupAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        Lookups.Add(ids);
        return Task.FromResult<IReadOnlyDictionary<string, StoredJudgement>>(ids.Where(Stored.ContainsKey).ToDictionary(id => id, id => Stored[id], StringComparer.Ordinal));
    }

    public void Enqueue(JudgementToStore judgement) => Written.Add(judgement);

    /// <summary>Judgements written at once (the worker's way), by write call; <see cref="AlreadyHeld"/> of them count as already stored.</summary>
    public List<IReadOnlyList<JudgementToStore>> WrittenNow { get; } = [];

    public int AlreadyHeld { get; set; }

    /// <summary>What the next write throws instead of writing, once.</summary>
    public Exception? FailNextWrite { get; set; }

    public Task<StoreWriteResult> WriteAsync(IReadOnlyList<JudgementToStore> batch, CancellationToken cancellationToken)
    {
        if (FailNextWrite is { } failure)
        {
            FailNextWrite = null;
            throw failure;
        }

        WrittenNow.Add(batch);
        return Task.FromResult(new StoreWriteResult(batch.Count - AlreadyHeld, AlreadyHeld));
    }
}

/// <summary>
/// "Look the window up in the store, judge only the misses" with an in-memory store and judge on a
/// <see cref="FakeTimeProvider"/>: which stored judgements are reused, which passages reach the model, what is written back.
/// </summary>
public sealed class StoredWindowJudgeTests : IDisposable
{
    private const string Fingerprint = "fp-1";
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(100);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Rank1Metrics _metrics;
    private readonly MetricCollector<long> _cacheHits;
    private readonly MetricCollector<long> _fallbacks;
    private readonly InMemoryJudgementStore _store = new();

    public StoredWindowJudgeTests()
    {
        var factory = _meters.GetRequiredService<IMeterFactory>();
        _metrics = new Rank1Metrics(factory);
        _cacheHits = new MetricCollector<long>(factory, Rank1Metrics.MeterName, "rank1.reasoning_cache.hits");
        _fallbacks = new MetricCollector<long>(factory, Rank1Metrics.MeterName, "rank1.fallbacks");
    }

    public void Dispose()
    {
        _cacheHits.Dispose();
        _fallbacks.Dispose();
        _meters.Dispose();
    }

    private StoredWindowJudge WindowJudge(IPassageJudge judge, bool withStore = true) =>
        new(new RerankExecutor(judge, Options.Create(new ProxyOptions()), _time, _metrics, NullLogger<RerankExecutor>.Instance), _metrics, _time, withStore ? _store : null);

    private static KeyedPassage[] Window(params string[] texts) => Window(new JudgingModel("fake-model", string.Empty), texts);

    private static KeyedPassage[] Window(JudgingModel model, params string[] texts) =>
        texts.Select((t, i) => new KeyedPassage(new PassageToJudge(i, null, t), JudgementRecords.Key("docs", $"d{i}", model, Fingerprint, null, t))).ToArray();

    private static WindowQuery Query => new("onions", null, new JudgeSettings { MaxThinkTokens = 8 }, Deadline, Fingerprint);

    private void Store(KeyedPassage p, double score, string modelId = "fake-model", string? passageHash = null) =>
        _store.Stored[p.Key.Id] = new StoredJudgement(p.Key.Id, modelId, passageHash ?? p.Key.PassageHash, score, score >= 0.5, "stored reasoning", 5, ReasoningEnd.Finished);

    [Fact]
    public async Task StoredJudgementOfTheSameModelAndText_IsReused_OthersAreJudged_AndOnlyThoseWritten()
    {
        var judged = new List<string>();
        var judge = new ScriptedJudge(_time, (input, _, _) =>
        {
            judged.Add(input.Text);
            return ScriptedJudge.ByText(input);
        });
        var windowJudge = WindowJudge(judge);
        var window = Window("0.1", "0.2", "0.3", "0.4");
        Store(window[0], 0.9, modelId: "another-model");           // another model's judgement: a miss
        Store(window[1], 0.8);                                     // same model, same text: a hit
        Store(window[2], 0.7, passageHash: "the-text-has-changed"); // the document changed since: a miss
        var started = _time.GetTimestamp();

        var lookup = await windowJudge.LookupAsync(window, CancellationToken.None);

        Assert.Equal(window.Select(k => k.Key.Id), Assert.Single(_store.Lookups)); // one read for the window
        var cached = Assert.Single(lookup.Cached);
        Assert.Equal((1, 0.8, "stored reasoning", "cached"), (cached.Index, cached.Judgement.Score, cached.Judgement.Reasoning, cached.Source.Name()));
        Assert.Equal([0, 2, 3], lookup.Misses.Select(m => m.Passage.Index));
        Assert.Equal(1, _cacheHits.GetMeasurementSnapshot().Sum(m => m.Value));

        _time.Advance(TimeSpan.FromMilliseconds(7));
        var outcome = await windowJudge.JudgeAsync(Query, lookup, started, CancellationToken.None);

        Assert.Equal(["0.1", "0.3", "0.4"], judged);
        Assert.Equal(RerankStatus.Applied, outcome.Status);
        Assert.Equal([(0, 0.1, "computed"), (1, 0.8, "cached"), (2, 0.3, "computed"), (3, 0.4, "computed")],
            outcome.Verdicts.OrderBy(v => v.Index).Select(v => (v.Index, v.Judgement.Score, v.Source.Name())));
        Assert.Equal([window[0].Key.Id, window[2].Key.Id, window[3].Key.Id], _store.Written.Select(w => w.Id));
        Assert.All(_store.Written, w => Assert.Equal("fake-model", w.Document["model_id"]!.GetValue<string>()));
        Assert.Equal(window[0].Key.PassageHash, _store.Written[0].Document["passage_hash"]!.GetValue<string>());
        Assert.Equal(TimeSpan.FromMilliseconds(7), outcome.Elapsed); // from the search's start, lookup included
    }

    [Fact]
    public async Task StoredJudgementOfAnotherModelUnderTheSameId_IsNotLookedUp()
    {
        // One model id ("fake-model"), two contents: a model swapped at the same path.
        var before = WindowJudge(new ScriptedJudge(_time, (input, _, _) => ScriptedJudge.ByText(input)) { ModelFingerprint = "weights-a" });
        var after = WindowJudge(new ScriptedJudge(_time, (input, _, _) => ScriptedJudge.ByText(input)) { ModelFingerprint = "weights-b" });
        Assert.Equal(new JudgingModel("fake-model", "weights-b"), after.Model);
        var stored = Window(before.Model, "0.1", "0.2");
        Store(stored[0], 0.9);
        Store(stored[1], 0.8);

        var bySame = await before.LookupAsync(Window(before.Model, "0.1", "0.2"), CancellationToken.None);
        var byOther = await after.LookupAsync(Window(after.Model, "0.1", "0.2"), CancellationToken.None);

        Assert.Equal([0, 1], bySame.Cached.Select(c => c.Index).Order());
        Assert.Empty(byOther.Cached);
        Assert.Equal([0, 1], byOther.Misses.Select(m => m.Passage.Index));
        Assert.Empty(_store.Lookups[1].Intersect(stored.Select(k => k.Key.Id)));
    }

    [Fact]
    public async Task EveryPassageStored_Cached_WithoutAModelCall()
    {
        var judge = new ScriptedJudge(_time, (input, _, _) => ScriptedJudge.ByText(input));
        var windowJudge = WindowJudge(judge);
        var window = Window("0.1", "0.2");
        Store(window[0], 0.6);
        Store(window[1], 0.4);

        var outcome = await windowJudge.JudgeAsync(Query, await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal(RerankStatus.Cached, outcome.Status);
        Assert.Equal([(0, 0.6), (1, 0.4)], outcome.Verdicts.OrderBy(v => v.Index).Select(v => (v.Index, v.Judgement.Score)));
        Assert.Equal(0, judge.Calls);
        Assert.Empty(_store.Written);
    }

    [Fact]
    public async Task MissesPastTheDeadline_StayUnjudged_AndForcedJudgementsAreNeverStored()
    {
        // Each model call takes 60 ms: the first miss finishes, the second is cut at the deadline (forced), the third never starts.
        var judge = new ScriptedJudge(_time, (input, settings, _) =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(60));
            return Task.FromResult(ScriptedJudge.Judgement(0.5, _time.GetUtcNow() >= settings.Deadline ? ReasoningEnd.Deadline : ReasoningEnd.Finished));
        });
        var windowJudge = WindowJudge(judge);
        var window = Window("a", "b", "c", "d");
        Store(window[3], 0.9);

        var outcome = await windowJudge.JudgeAsync(Query, await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Equal([(0, "computed"), (1, "forced"), (3, "cached")], outcome.Verdicts.OrderBy(v => v.Index).Select(v => (v.Index, v.Source.Name())));
        Assert.Equal(2, judge.Calls);
        Assert.Equal([window[0].Key.Id], _store.Written.Select(w => w.Id));
    }

    [Fact]
    public async Task ModelFailing_FallsBackWithNoVerdicts_CachedOnesIncluded_AndWritesNothing()
    {
        var windowJudge = WindowJudge(new ScriptedJudge(_time, (_, _, _) => throw new InvalidOperationException("no model")));
        var window = Window("a", "b");
        Store(window[0], 0.9);

        var outcome = await windowJudge.JudgeAsync(Query, await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal(RerankStatus.FallbackError, outcome.Status);
        Assert.Equal("the model failed: no model", outcome.Reason);
        Assert.Empty(outcome.Verdicts);
        Assert.Empty(_store.Written);
    }

    [Fact]
    public async Task WithoutAStore_EveryPassageIsAMiss_AndIsJudged()
    {
        var judge = new ScriptedJudge(_time, (input, _, _) => ScriptedJudge.ByText(input));
        var windowJudge = WindowJudge(judge, withStore: false);
        var window = Window("0.3", "0.7");
        Store(window[0], 0.9); // in the in-memory store, which this judge does not have

        var lookup = await windowJudge.LookupAsync(window, CancellationToken.None);
        var outcome = await windowJudge.JudgeAsync(Query, lookup, _time.GetTimestamp(), CancellationToken.None);

        Assert.Empty(lookup.Cached);
        Assert.Empty(_store.Lookups);
        Assert.Equal(RerankStatus.Applied, outcome.Status);
        Assert.Equal(2, judge.Calls);
        Assert.Equal(0, _cacheHits.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task JudgeAndStore_NoDeadline_JudgesEveryMiss_AndWritesThemBeforeReturning_NotInTheBackground()
    {
        var seen = new List<JudgeSettings>();
        var judge = new ScriptedJudge(_time, (input, settings, _) =>
        {
            seen.Add(settings);
            _time.Advance(TimeSpan.FromSeconds(10)); // far past any search deadline: the worker has none
            return ScriptedJudge.ByText(input);
        });
        var windowJudge = WindowJudge(judge);
        var window = Window("0.1", "0.2", "0.3");
        Store(window[1], 0.8);
        _store.AlreadyHeld = 1;

        var (outcome, written, already) = await windowJudge.JudgeAndStoreAsync(Query with { Deadline = null },
            await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal(RerankStatus.Applied, outcome.Status);
        Assert.Equal([(0, PassageSource.Computed), (1, PassageSource.Cached), (2, PassageSource.Computed)], outcome.Verdicts.OrderBy(v => v.Index).Select(v => (v.Index, v.Source)));
        Assert.All(seen, s => Assert.Null(s.Deadline));
        Assert.Equal([window[0].Key.Id, window[2].Key.Id], Assert.Single(_store.WrittenNow).Select(w => w.Id));
        Assert.Empty(_store.Written);
        // Of the two written, the store already held one (a racing worker stored it first): counted once, as already
        // stored, so a job's judged + already stored + cached never exceed its window (2 + 1 + 1 of 3 did).
        Assert.Equal((1, 1), (written, already));
    }

    [Theory]
    // Judgements an attempt made but did not store are kept for the next attempt, whatever ended it: the store refusing
    // the write, or the worker stopping (only the store's refusal kept them; a cancelled write lost them, and the
    // message's next delivery paid the model time again).
    [InlineData(false)]
    [InlineData(true)]
    public async Task JudgeAndStore_AnAttemptEndedBeforeItsJudgementsAreStored_KeepsThem_TheNextWritesThemWithoutJudgingAgain(bool cancelled)
    {
        var judged = 0;
        var judge = new ScriptedJudge(_time, (input, _, _) =>
        {
            Interlocked.Increment(ref judged);
            return ScriptedJudge.ByText(input);
        });
        var windowJudge = WindowJudge(judge);
        var window = Window("0.1", "0.2");
        var unstored = new UnstoredJudgements(16);
        _store.FailNextWrite = cancelled ? new OperationCanceledException("the worker is stopping") : new ReasoningStoreException("the index is down", 2);

        var first = await Record.ExceptionAsync(async () => await windowJudge.JudgeAndStoreAsync(Query with { Deadline = null },
            await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None, unstored));
        Assert.IsType(cancelled ? typeof(OperationCanceledException) : typeof(ReasoningStoreException), first);
        Assert.Equal(2, judged);

        var (outcome, written, _) = await windowJudge.JudgeAndStoreAsync(Query with { Deadline = null },
            await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None, unstored);
        Assert.Equal(2, judged);
        Assert.Equal((RerankStatus.Applied, 2), (outcome.Status, written));
        Assert.Equal(window.Select(w => w.Key.Id).Order(StringComparer.Ordinal), Assert.Single(_store.WrittenNow).Select(w => w.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task JudgeAndStore_APassageFailingOnItsInput_WritesTheOthersBeforeReturning()
    {
        // The worker sends such a window to the error queue without a retry: the judged passages are stored now or never.
        var judge = new ScriptedJudge(_time, (input, _, _) => input.Text == "bad" ? throw new Rank1InputException("unreadable") : ScriptedJudge.ByText(input));
        var windowJudge = WindowJudge(judge);
        var window = Window("0.4", "bad", "0.6");

        var (outcome, written, _) = await windowJudge.JudgeAndStoreAsync(Query with { Deadline = null },
            await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Equal(new PassageFailure(1, "unreadable"), Assert.Single(outcome.Failures));
        Assert.Equal(2, written);
        Assert.Equal([window[0].Key.Id, window[2].Key.Id], Assert.Single(_store.WrittenNow).Select(w => w.Id));
        Assert.Empty(_store.Written);
    }

    [Fact]
    public async Task EveryMissFailingOnItsInput_LeavesTheStoredJudgementsRankingTheWindow()
    {
        // Nothing is wrong with the model: a passage it cannot read must not throw away the stored reasoning of the others
        // (before, the window fell back to the backend's order, as on a model failure).
        var judge = new ScriptedJudge(_time, (_, _, _) => throw new Rank1InputException("unreadable"));
        var windowJudge = WindowJudge(judge);
        var window = Window("a", "bad", "c");
        Store(window[0], 0.2);
        Store(window[2], 0.9);

        var outcome = await windowJudge.JudgeAsync(Query, await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal(RerankStatus.Partial, outcome.Status);
        Assert.Null(outcome.Reason);
        Assert.Equal(new PassageFailure(1, "unreadable"), Assert.Single(outcome.Failures));
        Assert.Equal([(0, 0.2, PassageSource.Cached), (2, 0.9, PassageSource.Cached)], outcome.Verdicts.OrderBy(v => v.Index).Select(v => (v.Index, v.Judgement.Score, v.Source)));
        Assert.Empty(_store.Written);
        // Answered partly reranked, so not counted as a search answered in backend order (before, rank1.fallbacks counted it
        // as fallback-error).
        Assert.Empty(_fallbacks.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task EveryPassageFailingOnItsInput_NothingStored_FallsBackAndIsCountedAsOne()
    {
        var windowJudge = WindowJudge(new ScriptedJudge(_time, (_, _, _) => throw new Rank1InputException("unreadable")));
        var window = Window("a", "bad");

        var outcome = await windowJudge.JudgeAsync(Query, await windowJudge.LookupAsync(window, CancellationToken.None), _time.GetTimestamp(), CancellationToken.None);

        Assert.Equal((RerankStatus.FallbackError, "no passage of the window could be judged: unreadable"), (outcome.Status, outcome.Reason));
        Assert.Empty(outcome.Verdicts);
        Assert.Equal([new PassageFailure(0, "unreadable"), new PassageFailure(1, "unreadable")], outcome.Failures);
        var fallback = Assert.Single(_fallbacks.GetMeasurementSnapshot());
        Assert.Equal((1, "fallback-error"), (fallback.Value, fallback.Tags["reason"]));
    }
}
