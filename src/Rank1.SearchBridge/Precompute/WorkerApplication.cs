using System.Text.Json.Nodes;
using MassTransit;
using MassTransit.Middleware;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Precompute;

/// <summary>Wires the precompute worker into a web host: <c>AddRank1Worker</c>, then <c>MapRank1Worker</c>.</summary>
public static class WorkerApplication
{
    /// <summary>
    /// Where the worker serves its metrics and health when <c>Urls</c> is not set: OpenTelemetry's Prometheus port, on
    /// loopback only (the images set <c>Urls=http://0.0.0.0:9464</c> for the container network).
    /// </summary>
    public const string DefaultUrls = "http://127.0.0.1:9464";

    /// <summary>How long the bus waits, after its consumers were cancelled at the end of the shutdown grace period, for them to unwind.</summary>
    private static readonly TimeSpan ConsumerUnwind = TimeSpan.FromSeconds(3);

    /// <summary>Where the worker answers its health: the same path as the proxy's.</summary>
    public const string HealthPath = "/_rank1/health";

    /// <summary>
    /// Registers the worker: options from <c>Rank1:Worker</c>, <c>Rank1:Broker</c>, <c>Rank1:Proxy</c> (the backend),
    /// <c>Rank1:Store</c> and <c>Rank1:Model</c>, validated at start-up (the model is loaded then too). The workers'
    /// quorum queues (offline jobs, and hot-query jobs apart, each with its own concurrency) get the prefetch and concurrency limits, retries with exponential backoff held in the worker (no
    /// delayed-exchange plugin), overload (<see cref="Rank1OverloadedException"/>) retried with a back-off of its own
    /// until the engine takes the message, and an error queue for requests that fail for good (invalid requests and
    /// passages the model cannot read go there at once, without retries), with the reason in the message headers. On shutdown, in-flight requests finish within <see cref="WorkerOptions.ShutdownTimeout"/>; the rest are
    /// cancelled and, being unacknowledged, return to the queue.
    /// </summary>
    public static IServiceCollection AddRank1Worker(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<Configuration.ProxyOptions, Configuration.ProxyOptionsValidator>(configuration, Configuration.ProxyOptions.SectionName);
        var worker = services.AddValidatedOptions<WorkerOptions, WorkerOptionsValidator>(configuration, WorkerOptions.SectionName);
        services.AddSingleton<IValidateOptions<WorkerOptions>, WorkerRuleLimits>();
        services.AddRank1ModelBackendAndStore(configuration);
        services.TryAddSingleton<RerankExecutor>();
        services.TryAddSingleton<StoredWindowJudge>();
        services.AddSingleton<PrecomputeService>();
        // Room for the windows of every job in flight (each is retried in place, holding its slot): what a failed write left.
        services.AddSingleton(sp =>
        {
            var w = sp.GetRequiredService<IOptions<WorkerOptions>>().Value;
            return new Store.UnstoredJudgements((w.ConcurrentMessageLimit + w.HotQueryConcurrentMessageLimit) * w.MaxWindow);
        });
        var configured = services.AddRank1Broker(configuration, x =>
        {
            x.AddConsumer<PrecomputeConsumer>();
            x.AddConsumer<HotQueryConsumer>();
        }, (context, cfg) =>
        {
            var broker = context.GetRequiredService<IOptions<BrokerOptions>>().Value;
            var worker = context.GetRequiredService<IOptions<WorkerOptions>>().Value;
            var metrics = context.GetRequiredService<Rank1Metrics>();
            var gaveUp = context.GetRequiredService<BrokerGaveUp>();
            var logger = context.GetRequiredService<ILogger<MoveRefusal>>();
            // MassTransit's names for where it moves a failed message and one of no known type.
            (MoveRefusal Error, MoveRefusal Skipped) Refusals(string queue) =>
                (new(gaveUp, broker, queue + "_error", logger), new(gaveUp, broker, queue + "_skipped", logger));

            // Two queues, each with its own concurrency: offline jobs and hot-query jobs share the engine's batch, and a
            // flood queued on one never holds the other back.
            cfg.ReceiveEndpoint(broker.Queue, e =>
            {
                Configure(e, worker, worker.ConcurrentMessageLimit, metrics, "offline", Refusals(broker.Queue));
                e.ConfigureConsumer<PrecomputeConsumer>(context);
            });
            cfg.ReceiveEndpoint(broker.HotQueue, e =>
            {
                Configure(e, worker, worker.HotQueryConcurrentMessageLimit, metrics, "hot", Refusals(broker.HotQueue));
                e.ConfigureConsumer<HotQueryConsumer>(context);
            });
        });
        if (!configured)
        {
            worker.Validate(_ => false, $"{BrokerOptions.SectionName}:Url is required: the worker consumes precompute requests from RabbitMQ");
        }

        // StopTimeout only stops waiting for the bus: ConsumerStopTimeout is what cancels a consumer still judging, so
        // its message, unacknowledged, returns to the queue instead of being judged on while the host disposes the model.
        // The bus gets a little longer than its consumers (they unwind after the cancel), and the host longer still.
        services.AddOptions<MassTransitHostOptions>().Configure<IOptions<WorkerOptions>>((o, w) =>
        {
            o.ConsumerStopTimeout = w.Value.ShutdownTimeout;
            o.StopTimeout = w.Value.ShutdownTimeout + ConsumerUnwind;
        });
        services.AddOptions<HostOptions>().Configure<IOptions<WorkerOptions>>((o, w) => o.ShutdownTimeout = w.Value.ShutdownTimeout + ConsumerUnwind + TimeSpan.FromSeconds(5));
        services.AddSingleton<BrokerGaveUp>();
        services.AddSingleton<BrokerFaultLog>();
        services.AddReceiveEndpointObserver(p => p.GetRequiredService<BrokerFaultLog>());
        services.AddHostedService<WorkerStartup>();
        // MassTransit registers its bus and endpoint checks with these health checks.
        services.AddHealthChecks();
        return services;
    }

    /// <summary>
    /// Maps the worker's HTTP endpoints: <c>GET /_rank1/metrics</c> (Prometheus text of the same meter as the proxy's)
    /// and <c>GET /_rank1/health</c> (the broker connection's health checks: 200 when healthy or degraded, 503 when not,
    /// with the latest connection failure's cause while there is one, without the broker's credentials; and the model, as the proxy's health shows it), both behind <see cref="Configuration.ProxyOptions.AdminApiKey"/> when it is set.
    /// </summary>
    public static IEndpointRouteBuilder MapRank1Worker(this WebApplication app)
    {
        AdminApiKey.Use(app, app.Services.GetRequiredService<IOptions<Configuration.ProxyOptions>>().Value.AdminApiKey);
        app.MapRank1Metrics();
        app.MapHealthChecks(HealthPath, new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        return app;
    }

    /// <summary>
    /// Runs the worker until it stops; a stop for a broker failure no retry can get past (a refused login, an error
    /// exchange declared with other arguments: <see cref="BrokerGaveUp"/>) ends in
    /// <see cref="HostExit"/>'s exit code 1 and one line naming the cause, not a clean exit 0.
    /// </summary>
    public static async Task RunWorkerAsync(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var gaveUp = app.Services.GetRequiredService<BrokerGaveUp>();
        try
        {
            await app.RunAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (gaveUp.Cause is not null)
        {
            // Stopped while the host was still starting (the bus starts before the model and the backend probe end).
        }
        catch (Exception) when (gaveUp.Cause is { } stopped)
        {
            // What failed while the host stopped for it (a hosted service's start or stop) is its consequence: the cause is
            // the broker's, not a defect to write with its stack trace.
            throw new BrokerGaveUpException(stopped);
        }

        if (gaveUp.Cause is { } cause)
        {
            throw new BrokerGaveUpException(cause);
        }
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var broker = context.RequestServices.GetRequiredService<IOptions<BrokerOptions>>().Value;
        var address = BrokerAddress.Parsed(broker.Url);
        var checks = new JsonObject();
        foreach (var (name, entry) in report.Entries)
        {
            // MassTransit's descriptions may name the broker as user@host: anyone who can reach the port reads this.
            var check = new JsonObject { ["status"] = Name(entry.Status), ["description"] = Rank1Services.WithoutBrokerCredentials(entry.Description, broker) };
            if (entry.Exception is { } failure)
            {
                // MassTransit's description says only "Not ready: not started" while it retries the connection: the
                // latest failure says why (connection refused, ACCESS_REFUSED, a vhost not found, TLS and port at odds).
                // RabbitMQ.Client's teardown in place of the broker's reply names the cause the log said instead.
                var cause = BrokerFailure.IsTeardownArtefact(failure) && context.RequestServices.GetRequiredService<BrokerFaultLog>().StandingCause is { } standing
                    ? standing
                    : BrokerFailure.Cause(failure, address);
                check["cause"] = Rank1Services.WithoutBrokerCredentials(address is null ? cause : $"{address.Endpoint}: {cause}", broker);
            }

            checks[name] = check;
        }

        // The model, as the proxy's health shows it: a worker must run the proxy's (its fingerprint), or it refuses the
        // proxy's jobs (PrecomputeService.CheckKeys).
        return context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["status"] = Name(report.Status),
            ["checks"] = checks,
            ["model"] = ModelHealth.Describe(context.RequestServices.GetRequiredService<IPassageJudge>()),
        }, context.RequestAborted);
    }

    private static string Name(HealthStatus status) => status.ToString().ToLowerInvariant();

    private static void Configure(IRabbitMqReceiveEndpointConfigurator e, WorkerOptions worker, int concurrency, Rank1Metrics metrics, string queue, (MoveRefusal Error, MoveRefusal Skipped) refusals)
    {
        // MassTransit's own error and dead-letter pipes (ReceivePipeConfigurationExtensions.ConfigureDefaultErrorTransport,
        // ConfigureDefaultDeadLetterTransport), each behind a counter: a message that failed before any consumer saw it
        // (not JSON, not an envelope, a field of the wrong type) reached the error queue without being counted, and one
        // of an unknown message type reached _skipped unseen.
        e.ConfigureError(x =>
        {
            x.UseFilter(new UnreadableJobCounter(metrics, queue, refusals.Error));
            x.UseFilter(new GenerateFaultFilter());
            x.UseFilter(new ErrorTransportFilter());
        });
        e.ConfigureDeadLetter(x =>
        {
            x.UseFilter(new SkippedJobCounter(metrics, queue, refusals.Skipped));
            x.UseFilter(new DeadLetterTransportFilter());
        });
        e.SetQuorumQueue();
        // Jobs reach the queue through its own exchange only (Rank1Broker): binding the message exchange as well would
        // bring this queue the jobs of every deployment on the vhost.
        e.ConfigureConsumeTopology = false;
        e.PrefetchCount = worker.PrefetchCount;
        e.ConcurrentMessageLimit = concurrency;

        // Overload first (outermost): an engine whose queue is full is waited for with a long back-off, as often as it
        // takes; the inner policy's retries start afresh after each wait.
        e.UseMessageRetry(r =>
        {
            r.Exponential(int.MaxValue, worker.OverloadRetryMinInterval, worker.OverloadRetryMaxInterval, worker.OverloadRetryMinInterval);
            r.Handle<Rank1OverloadedException>();
        });
        if (worker.RetryLimit == 0)
        {
            // No retries: a transient failure goes to the error queue at once. MassTransit's exponential policy with a
            // limit of 0 has no interval to wait and faulted the message with its own IndexOutOfRangeException instead.
            return;
        }

        e.UseMessageRetry(r =>
        {
            r.Exponential(worker.RetryLimit, worker.RetryMinInterval, worker.RetryMaxInterval, worker.RetryMinInterval);
            // What fails the same way every time goes to the error queue at once; overload is the outer policy's.
            r.Ignore(PrecomputeFaults.Poison);
            r.Ignore<Rank1OverloadedException>();
        });
    }

    /// <summary>At start: load the model (a bad model folder stops the boot) and learn what the backend is.</summary>
    private sealed class WorkerStartup(IPassageJudge judge, BackendClient backend) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _ = judge.ModelId;
            await backend.ProbeAsync(cancellationToken).ConfigureAwait(false);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
