using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Precompute;

namespace Rank1.SearchBridge.Tests.Precompute;

/// <summary>
/// What stops the worker for good (<see cref="BrokerGaveUp"/>, exit code 1): a login the broker refused, never the
/// exceptions MassTransit 8.5.12 raises as the bus stops, nor anything while the host is stopping anyway; and what
/// <see cref="BrokerFaultLog"/> names as the cause while the worker retries.
/// </summary>
public sealed class BrokerGaveUpTests
{
    private const string Url = "amqp://guest:s3cret-pw@127.0.0.1:5672/";

    [Fact]
    public async Task TheConnectionMassTransitRefusesWhileTheBusStops_DoesNotStopTheWorkerAsARefusedLogin()
    {
        // MassTransit's ConnectionContextFactory.CreateConnection, once its supervisor is stopping: a message-only
        // RabbitMqConnectionException, whose ConnectionException(string, bool isTransient = false) makes it not transient.
        var stopping = new RabbitMqConnectionException("The connection is stopping and cannot be used: guest@127.0.0.1:5672/");
        Assert.False(stopping.IsTransient);
        var (gaveUp, lifetime) = await FaultAsync(stopping, stopped: false);
        Assert.Null(gaveUp.Cause);
        Assert.False(lifetime.Stopped);
    }

    [Fact]
    public async Task ARefusedLogin_StopsTheWorker_NamingTheBrokerWithoutItsCredentials()
    {
        var (gaveUp, lifetime) = await FaultAsync(LoginRefused(), stopped: false);
        Assert.Equal("amqp://127.0.0.1:5672/: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.", gaveUp.Cause);
        Assert.True(lifetime.Stopped);
    }

    [Fact]
    public async Task ARefusedLogin_SeenWhileTheHostIsStoppingAnyway_LeavesTheExitClean()
    {
        // A SIGTERM while the endpoint reconnects: what fails then is the stop's doing, and the worker exits 0.
        var (gaveUp, _) = await FaultAsync(LoginRefused(), stopped: true);
        Assert.Null(gaveUp.Cause);
    }

    [Theory]
    [InlineData("PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'q_error' in vhost '/': received 'fanout' but current is 'direct'", true)]
    [InlineData("Connection is already closed: AMQP close-reason, initiated by Peer, code=406, text='PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'q_error' in vhost '/': received 'fanout' but current is 'direct'', classId=40, methodId=10", true)]
    // RabbitMQ closes a channel with 406 for these too: a consumer_timeout, and an ack of a tag the channel never delivered.
    [InlineData("PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms. This timeout value can be configured, see consumers doc guide to learn more", false)]
    [InlineData("PRECONDITION_FAILED - unknown delivery tag 1", false)]
    public void OnlyADeclarationInequivalentToWhatIsThere_IsAPreconditionNoRetryGetsPast(string reply, bool expected)
    {
        var closed = new OperationInterruptedException(new ShutdownEventArgs(ShutdownInitiator.Peer, Constants.PreconditionFailed, reply));
        Assert.Equal(expected, BrokerFailure.IsPreconditionFailed(new InvalidOperationException("move failed", closed)));
    }

    [Fact]
    public async Task AStartThatFails_AfterTheBrokerStoppedTheWorker_StillEndsInTheBrokersCause_NotAStackTrace()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddOptions<BrokerOptions>();
        builder.Services.AddSingleton<BrokerGaveUp>();
        builder.Services.AddHostedService<StoppedForTheBroker>();
        await using var app = builder.Build();
        var thrown = await Assert.ThrowsAsync<BrokerGaveUpException>(app.RunWorkerAsync);
        Assert.Equal("broker: ACCESS_REFUSED - Login was refused", thrown.Message);
        Assert.Equal((HostExit.Failure, "broker: ACCESS_REFUSED - Login was refused"), HostExit.Classify(thrown));
    }

    [Fact]
    public async Task ATeardownInPlaceOfTheBrokersReply_IsNeitherLoggedNorTheStandingCause_TheReplyIs()
    {
        // RabbitMQ.Client 7 can throw an ObjectDisposedException (a SemaphoreSlim) from a connection's open when the broker
        // closes the connection (a vhost not found) while the open still waits (rabbitmq-dotnet-client #1749, #1760): seen
        // in CI, where the worker logged, and its health named, "Cannot access a disposed object" instead of NOT_ALLOWED.
        var teardown = new RabbitMqConnectionException("Connect failed: 127.0.0.1:5672/no-such-vhost", new ObjectDisposedException("System.Threading.SemaphoreSlim"));
        var refused = new RabbitMqConnectionException("Connect failed: 127.0.0.1:5672/no-such-vhost",
            new OperationInterruptedException(new ShutdownEventArgs(ShutdownInitiator.Peer, Constants.NotAllowed, "NOT_ALLOWED - vhost no-such-vhost not found")));
        var logger = new FakeLogger<BrokerFaultLog>();
        var options = Options.Create(new BrokerOptions { Url = Url });
        var lifetime = new Lifetime();
        var log = new BrokerFaultLog(options, new BrokerGaveUp(lifetime, options), logger);

        await log.Faulted(new Faulted(teardown));
        Assert.Empty(logger.Collector.GetSnapshot());
        Assert.Null(log.StandingCause);

        await log.Faulted(new Faulted(refused));
        await log.Faulted(new Faulted(teardown));
        var said = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(2404, said.Id.Id);
        Assert.EndsWith("until it connects: NOT_ALLOWED - vhost no-such-vhost not found", said.Message, StringComparison.Ordinal);
        Assert.Equal("NOT_ALLOWED - vhost no-such-vhost not found", log.StandingCause);
        Assert.False(lifetime.Stopped);

        // The worker has two endpoints: once the other one, failing for another cause, is ready again, the cause that
        // stands is this one's, not the last said.
        var hot = new Uri("rabbitmq://127.0.0.1/rank1-precompute-hot");
        await log.Faulted(new Faulted(new InvalidOperationException("x", new IOException("exclusive queue held elsewhere"))) { InputAddress = hot });
        Assert.Equal("exclusive queue held elsewhere", log.StandingCause);
        await log.Ready(new Ready(hot));
        Assert.Equal("NOT_ALLOWED - vhost no-such-vhost not found", log.StandingCause);

        Assert.True(BrokerFailure.IsTeardownArtefact(teardown));
        Assert.False(BrokerFailure.IsTeardownArtefact(refused));
        // Checked before the login test: a refused login with a disposal in its chain still stops the worker.
        Assert.False(BrokerFailure.IsTeardownArtefact(new ObjectDisposedException("torn down", LoginRefused())));
        Assert.False(BrokerFailure.IsTeardownArtefact(new InvalidOperationException("x", new IOException("Connection refused"))));
    }

    // RabbitMQ.Client's refusal as MassTransit wraps it (RabbitMqConnectionException.IsExceptionTransient: false).
    private static RabbitMqConnectionException LoginRefused() => new("Broker unreachable: guest@127.0.0.1:5672/", new BrokerUnreachableException(
        new AuthenticationFailureException("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.")));

    private static async Task<(BrokerGaveUp GaveUp, Lifetime Lifetime)> FaultAsync(Exception failure, bool stopped)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Rank1:Broker:Url"] = Url }).Build();
        var lifetime = new Lifetime();
        if (stopped)
        {
            await lifetime.Stopping.CancelAsync();
        }

        var provider = new ServiceCollection().AddLogging(b => b.ClearProviders()).AddRank1Worker(configuration)
            .AddSingleton<IHostApplicationLifetime>(lifetime).BuildServiceProvider();
        await using (provider)
        {
            var log = ActivatorUtilities.CreateInstance<BrokerFaultLog>(provider);
            await log.Faulted(new Faulted(failure));
            return (provider.GetRequiredService<BrokerGaveUp>(), lifetime);
        }
    }

    private sealed class Faulted(Exception exception) : ReceiveEndpointFaulted
    {
        public Exception Exception => exception;

        public Uri InputAddress { get; init; } = new("rabbitmq://127.0.0.1/rank1-precompute");

        public IReceiveEndpoint ReceiveEndpoint => throw new NotSupportedException();
    }

    private sealed class Ready(Uri input) : ReceiveEndpointReady
    {
        public Uri InputAddress => input;

        public IReceiveEndpoint ReceiveEndpoint => throw new NotSupportedException();

        public bool IsStarted => true;
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationTokenSource Stopping { get; } = new();

        public bool Stopped { get; private set; }

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => Stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => Stopped = true;
    }

    // The bus stops the worker while the host is still starting, and the start then fails otherwise than by a
    // cancellation (a service that wraps the cancelled token's OperationCanceledException in its own exception).
    private sealed class StoppedForTheBroker(BrokerGaveUp gaveUp) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            gaveUp.Stop("ACCESS_REFUSED - Login was refused");
            throw new InvalidOperationException("a start that failed once the host was stopping");
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
