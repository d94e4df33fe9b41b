using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Messaging;

namespace Rank1.SearchBridge.Precompute;

/// <summary>
/// Logs why the worker cannot reach the broker, once for each new cause (MassTransit logs every attempt of every
/// endpoint, with the cause deep in an exception chain or, when TLS and the port disagree, not at all in plain words),
/// and once when the broker is reached again: when every endpoint that failed is ready. A failure MassTransit does not try again (a login the broker refused:
/// its <see cref="ConnectionException.IsTransient"/> is false) stops the worker, which then exits non-zero naming the
/// cause (<see cref="BrokerGaveUp"/>): it stayed up, unhealthy, never retrying, even once the broker took its login. So
/// does a declaration RabbitMQ refuses as inequivalent to what is there (PRECONDITION_FAILED), which no retry gets past.
/// A login refusal is told by RabbitMQ.Client's AuthenticationFailureException (<see cref="BrokerFailure.IsLoginRefused"/>),
/// not by IsTransient alone, which MassTransit also leaves false on the connection it refuses while the bus stops.
/// </summary>
internal sealed partial class BrokerFaultLog(IOptions<BrokerOptions> options, BrokerGaveUp gaveUp, ILogger<BrokerFaultLog> logger) : IReceiveEndpointObserver
{
    // The cause each failing endpoint last failed with, by its input address: the worker has two (the job queue and the
    // hot-query queue), and one can fail while the other is ready (a queue that another connection holds exclusively).
    // With one cause for both, the endpoint that came up logged "reached again" while the other still failed, and two
    // endpoints failing for two causes logged a warning at each retry of either.
    private readonly Lock _gate = new();
    private readonly Dictionary<Uri, string> _causes = [];
    private Uri? _lastFailed;

    /// <summary>
    /// The cause an endpoint last failed with while one still fails (without the broker's credentials or endpoint), for
    /// the health to name when MassTransit's latest failure is only RabbitMQ.Client's teardown
    /// (<see cref="BrokerFailure.IsTeardownArtefact"/>); null when none stands.
    /// </summary>
    public string? StandingCause
    {
        get
        {
            lock (_gate)
            {
                // The endpoint that failed last, while it still fails; else one that still does.
                return _lastFailed is not null && _causes.TryGetValue(_lastFailed, out var cause) ? cause : _causes.Values.FirstOrDefault();
            }
        }
    }

    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        // RabbitMQ.Client's teardown in place of the broker's reply names no cause: it is neither said nor kept, and the
        // cause that stands (or the next attempt's) is the one the log and the health name.
        if (faulted.Exception is null || BrokerFailure.IsTeardownArtefact(faulted.Exception))
        {
            return Task.CompletedTask;
        }

        var broker = options.Value;
        var address = BrokerAddress.Parsed(broker.Url);
        var cause = Rank1Services.WithoutBrokerCredentials(BrokerFailure.Cause(faulted.Exception, address), broker)!;
        var endpoint = address?.Endpoint ?? string.Empty;
        // MassTransit's own verdict ("ReceiveTransport Cannot Retry") for a login the broker refused: its
        // RabbitMqConnectionException is not transient, and the connection is never tried again. Not any exception that
        // is not transient: "The connection is stopping and cannot be used", at a shutdown while it reconnects, is one too.
        if (BrokerFailure.IsLoginRefused(faulted.Exception))
        {
            if (gaveUp.Stop(cause))
            {
                LogGaveUp(logger, endpoint, cause);
            }

            return Task.CompletedTask; // the worker stops: not the warning's "unhealthy until it connects"
        }

        // A queue or exchange of the endpoint declared before with other arguments (an operator's classic queue where the
        // worker declares a quorum one): RabbitMQ refuses it the same way at every retry, and the worker stayed up,
        // unhealthy, retrying for ever with a stack trace each time, its jobs never taken.
        if (BrokerFailure.IsPreconditionFailed(faulted.Exception))
        {
            var refused = $"{cause}: {BrokerFailure.DeclaredBefore("the worker declares its endpoint", faulted.InputAddress.Segments[^1])}, then start the worker again";
            if (gaveUp.Stop(refused))
            {
                LogDeclarationRefused(logger, endpoint, refused);
            }

            return Task.CompletedTask;
        }

        lock (_gate)
        {
            _lastFailed = faulted.InputAddress;
            // A cause already said for this endpoint or another (a broker down fails both alike) is not said again.
            var said = _causes.ContainsValue(cause);
            _causes[faulted.InputAddress] = cause;
            if (said)
            {
                return Task.CompletedTask;
            }
        }

        LogFailed(logger, endpoint, cause);
        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        lock (_gate)
        {
            // Reached again once no endpoint fails any more, not while the other one still does.
            if (!_causes.Remove(ready.InputAddress) || _causes.Count > 0)
            {
                return Task.CompletedTask;
            }
        }

        LogReconnected(logger, ready.InputAddress);
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    [LoggerMessage(EventId = 2404, Level = LogLevel.Warning, Message = "Cannot use the broker at {Broker}; the worker's health is unhealthy, with this cause, until it connects: {Cause}")]
    private static partial void LogFailed(ILogger logger, string broker, string cause);

    [LoggerMessage(EventId = 2408, Level = LogLevel.Critical, Message = "The broker at {Broker} refused the worker, and MassTransit does not try again: the worker stops, exiting 1, to be started again once the broker takes it: {Cause}")]
    private static partial void LogGaveUp(ILogger logger, string broker, string cause);

    [LoggerMessage(EventId = 2410, Level = LogLevel.Critical, Message = "The broker at {Broker} refuses the worker's declaration of its queue, the same way at every retry: the worker stops, exiting 1: {Cause}")]
    private static partial void LogDeclarationRefused(ILogger logger, string broker, string cause);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Information, Message = "The broker is reached again: {Endpoint} is ready")]
    private static partial void LogReconnected(ILogger logger, Uri endpoint);
}

/// <summary>
/// The broker failure that stopped the worker, one no retry can get past (a login MassTransit will not try again, seen
/// by <see cref="BrokerFaultLog"/>; a queue of its endpoints that RabbitMQ will not declare as the worker does, an operator's
/// classic queue, seen there too; an <c>_error</c> or <c>_skipped</c> exchange RabbitMQ will not declare, seen by
/// <see cref="MoveRefusal"/>): the host then ends with exit code 1 and
/// this cause on one line (<see cref="HostExit"/>), so that its supervisor (Kubernetes, a compose restart policy) starts
/// it again, as it would a worker that could not start.
/// </summary>
internal sealed class BrokerGaveUp(IHostApplicationLifetime lifetime, IOptions<BrokerOptions> options)
{
    private string? _cause;

    /// <summary>The cause, once the worker was stopped for it: <c>amqp://host:port/: cause</c>.</summary>
    public string? Cause => Volatile.Read(ref _cause);

    /// <summary>
    /// Stops the host for <paramref name="cause"/> (without the broker's credentials), which is kept with the broker's
    /// endpoint in front; false when it was already stopped for one, or is stopping anyway (a SIGTERM: what fails
    /// then is the stop's doing, and the exit stays 0).
    /// </summary>
    public bool Stop(string cause)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return false;
        }

        var endpoint = BrokerAddress.Parsed(options.Value.Url)?.Endpoint;
        if (Interlocked.CompareExchange(ref _cause, endpoint is null ? cause : $"{endpoint}: {cause}", null) is not null)
        {
            return false;
        }

        lifetime.StopApplication();
        return true;
    }
}

/// <summary>The worker stopped for a broker failure no retry can get past (<see cref="BrokerGaveUp"/>).</summary>
internal sealed class BrokerGaveUpException(string cause) : Exception($"broker: {cause}");
