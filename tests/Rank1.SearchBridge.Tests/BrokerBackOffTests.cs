using System.Diagnostics.Metrics;
using System.Reflection;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Http.Search;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Tests;

/// <summary>
/// The proxy's back-off after RabbitMQ refuses the hot queue's declaration (<see cref="BrokerPrecomputePublisher"/>),
/// over an in-memory bus whose publishes the test answers one by one, in the orders a real broker may answer them.
/// </summary>
public sealed class BrokerBackOffTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeLogger<BrokerPrecomputePublisher> _logger = new();
    private readonly HotQueryDetector _detector;
    private readonly BrokerPrecomputePublisher _publisher;
    private readonly FakeBus _bus;

    public BrokerBackOffTests()
    {
        _detector = new HotQueryDetector(Options.Create(new HotQueryOptions { Threshold = 1 }), _time);
        _bus = FakeBus.Create();
        _publisher = new BrokerPrecomputePublisher((IBus)(object)_bus, Options.Create(new BrokerOptions { Url = "amqp://127.0.0.1:47900" }), _detector, _time,
            new Rank1Metrics(_meters.GetRequiredService<IMeterFactory>()), _logger);
    }

    public void Dispose()
    {
        _publisher.Dispose();
        _meters.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="step"/> (an answer of the bus, a stop, a step of the clock) with no
    /// <see cref="SynchronizationContext"/>, so that the publisher's continuations it completes run before it returns. On
    /// a thread with xUnit's context (a test that has not yet yielded) the runtime would queue them to the thread pool
    /// instead, and the assertions after the step would race them.
    /// </summary>
    private static void Inline(Action step)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            step();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    private void Advance(TimeSpan by) => Inline(() => _time.Advance(by));

    private static PrecomputeReasoning Job(string fingerprint) =>
        new("docs", fingerprint, null, 10, ["text"], null, 64, PrecomputeReasoning.HotQuery, Fingerprint: fingerprint);

    /// <summary>What HotQueryPublisher does with a search whose query just turned hot: the detector marks it, then it is published.</summary>
    private Task Search(string fingerprint)
    {
        Assert.True(_detector.Observe(fingerprint, hasUnstoredHits: true), $"{fingerprint} did not turn hot");
        return _publisher.PublishAsync(Job(fingerprint), CancellationToken.None);
    }

    /// <summary>A search whose query turns hot and whose publish (the bus's publish number <paramref name="publish"/>) RabbitMQ refuses; HotQueryPublisher then tells the detector.</summary>
    private async Task SearchRefusedAsync(string fingerprint, int publish)
    {
        var search = Search(fingerprint);
        _bus.Refuse(publish);
        Assert.False((await Assert.ThrowsAsync<PublishRefusedException>(() => search)).HeldBack);
        _detector.PublishFailed(fingerprint);
    }

    [Fact]
    public async Task RetrysQuery_RefusedAfterANewSearchStartedAnotherBackOff_IsForgottenWhenThatBackOffEnds()
    {
        // R is refused: the first back-off. The detector forgets R (HotQueryPublisher's PublishFailed).
        await SearchRefusedAsync("R", 0);

        // J turns hot during the back-off: held (kept as sent by the detector).
        var held = await Assert.ThrowsAsync<PublishRefusedException>(() => Search("J"));
        Assert.True(held.HeldBack);

        // The back-off ends: the retry publishes J, which the broker has not answered yet.
        Advance(BrokerPrecomputePublisher.FirstBackOff);
        Assert.Equal(2, _bus.Publishes.Count);

        // S turns hot meanwhile and its publish is refused first: a second back-off, holding S.
        await SearchRefusedAsync("S", 2);

        // Then J's refusal arrives. It is not the query tried next (S is), so when that back-off ends J is forgotten:
        // its next search publishes it, rather than nothing for a whole DedupWindow.
        _bus.Refuse(1);
        Advance(BrokerPrecomputePublisher.FirstBackOff * 2);
        Assert.Equal(4, _bus.Publishes.Count);
        Assert.Equal("S", _bus.Publishes[3].Job.Fingerprint);
        Assert.True(_detector.Observe("J", hasUnstoredHits: true), "J was left marked as sent after its retry was refused");
    }

    [Fact]
    public async Task RefusedQuery_IsMarkedAsSentWhileItsRetryIsInFlight_AndHeldBackCountsItOnce()
    {
        await SearchRefusedAsync("R", 0);

        // R searched again during the back-off (the detector forgot it): held, but counted held_back only the first time.
        var first = await Assert.ThrowsAsync<PublishRefusedException>(() => Search("R"));
        _detector.PublishFailed("R");
        var second = await Assert.ThrowsAsync<PublishRefusedException>(() => Search("R"));
        Assert.Equal((true, false, false), (first.HeldBack, first.FirstHold, second.FirstHold));

        // Q's entry left the detector during the back-off (a DedupWindow shorter than the back-off): searched again, it is
        // held again, but counted once.
        var q = await Assert.ThrowsAsync<PublishRefusedException>(() => Search("Q"));
        _detector.PublishFailed("Q");
        var qAgain = await Assert.ThrowsAsync<PublishRefusedException>(() => Search("Q"));
        Assert.Equal((true, false), (q.FirstHold, qAgain.FirstHold));

        // The back-off ends: the retry publishes Q (held last). While it is in flight, Q is marked as sent.
        Advance(BrokerPrecomputePublisher.FirstBackOff);
        Assert.Equal("Q", _bus.Publishes[^1].Job.Fingerprint);
        Assert.False(_detector.Observe("Q", hasUnstoredHits: true), "a search of the query being retried would publish it a second time");
        _bus.Accept(_bus.Publishes.Count - 1);
        Assert.Contains(_logger.Collector.GetSnapshot(), e => e.Id.Id == 2204 && e.Message.Contains("(1 hot queries held back", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefusedQuery_RetriedAlone_IsMarkedAsSentWhileItsRetryIsInFlight_AndForgottenIfTheHostStops()
    {
        await SearchRefusedAsync("R", 0);

        // The back-off ends with nothing else held: the retry publishes R. A search of R meanwhile publishes nothing more.
        Advance(BrokerPrecomputePublisher.FirstBackOff);
        Assert.Equal(("R", 2), (_bus.Publishes[^1].Job.Fingerprint, _bus.Publishes.Count));
        Assert.False(_detector.Observe("R", hasUnstoredHits: true), "a search of the query being retried would publish it a second time");

        // The host stops during the retry: R was not sent, so its next search may publish it.
        Inline(_publisher.Dispose);
        Assert.True(_detector.Observe("R", hasUnstoredHits: true), "R stayed marked as sent after its retry was stopped");
    }

    /// <summary>
    /// One publish the test answers (<see cref="FakeBus.Refuse"/>, <see cref="FakeBus.Accept"/>): the publisher's
    /// continuations run on the test's thread before the answer returns (<see cref="Inline"/>), so what the answer leads
    /// to has happened then.
    /// </summary>
    internal sealed record Publish(PrecomputeHotQuery Message, IPublishObserver[] Observers, TaskCompletionSource Answer)
    {
        public PrecomputeReasoning Job => Message.Job;
    }

    /// <summary>An <see cref="IBus"/> whose <c>Publish</c> waits for the test's answer; nothing else of it is used.</summary>
    public class FakeBus : DispatchProxy
    {
        private readonly List<IPublishObserver> _observers = [];

        internal List<Publish> Publishes { get; } = [];

        internal static FakeBus Create() => (FakeBus)(object)DispatchProxy.Create<IBus, FakeBus>();

        internal void Refuse(int index) => Inline(() => RefuseInline(index));

        private void RefuseInline(int index)
        {
            var reply = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'rank1-precompute-hot' in vhost '/': received the value 'quorum' of type 'longstr' but current is none";
            var refused = new OperationInterruptedException(new ShutdownEventArgs(ShutdownInitiator.Peer, Constants.PreconditionFailed, reply));

            // As MassTransit does: the publish observers hear of the fault (DeclarationRefusal cancels the publish), then
            // the publish throws it.
            var publish = Publishes[index];
            foreach (var observer in publish.Observers)
            {
                observer.PublishFault(Context.Of(publish.Message), refused).GetAwaiter().GetResult();
            }

            publish.Answer.TrySetException(refused);
        }

        internal void Accept(int index) => Inline(Publishes[index].Answer.SetResult);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            switch (targetMethod?.Name)
            {
                case "ConnectPublishObserver":
                    var observer = (IPublishObserver)args![0]!;
                    lock (_observers)
                    {
                        _observers.Add(observer);
                    }

                    return new Handle(() =>
                    {
                        lock (_observers)
                        {
                            _observers.Remove(observer);
                        }
                    });
                case "Publish" when args is [PrecomputeHotQuery hot, CancellationToken token]:
                    IPublishObserver[] observers;
                    lock (_observers)
                    {
                        observers = [.. _observers];
                    }

                    var publish = new Publish(hot, observers, new TaskCompletionSource());
                    Publishes.Add(publish);
                    token.Register(() => publish.Answer.TrySetCanceled(token));
                    return publish.Answer.Task;
                default:
                    throw new NotSupportedException(targetMethod?.Name);
            }
        }
    }

    private sealed class Handle(Action disconnect) : ConnectHandle
    {
        public void Disconnect() => disconnect();

        public void Dispose() => disconnect();
    }

    /// <summary>A <see cref="PublishContext{T}"/> that only carries its message.</summary>
    public class Context : DispatchProxy
    {
        private object? _message;

        internal static PublishContext<PrecomputeHotQuery> Of(PrecomputeHotQuery message)
        {
            var context = DispatchProxy.Create<PublishContext<PrecomputeHotQuery>, Context>();
            ((Context)(object)context)._message = message;
            return context;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == "get_Message" ? _message : throw new NotSupportedException(targetMethod?.Name);
    }
}
