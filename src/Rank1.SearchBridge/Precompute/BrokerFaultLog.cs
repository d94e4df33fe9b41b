using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Messaging;

namespace Rank1.SearchBridge.Precompute;

/// <summary>
/// Logs why the worker cannot reach the broker, once for each new cause (MassTransit logs every attempt of every
/// endpoint, with the cause deep in an exception chain or, when TLS and the port disagree, not at all in plain words),
/// and once when the broker is reached again.
/// </summary>
internal sealed partial class BrokerFaultLog(IOptions<BrokerOptions> options, ILogger<BrokerFaultLog> logger) : IReceiveEndpointObserver
{
    private readonly Lock _gate = new();
    private string? _cause;

    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        if (faulted.Exception is null)
        {
            return Task.CompletedTask;
        }

        var broker = options.Value;
        var address = BrokerAddress.Parsed(broker.Url);
        var cause = Rank1Services.WithoutBrokerCredentials(BrokerFailure.Cause(faulted.Exception, address), broker)!;
        lock (_gate)
        {
            if (cause == _cause)
            {
                return Task.CompletedTask;
            }

            _cause = cause;
        }

        LogFailed(logger, address?.Endpoint ?? string.Empty, cause);
        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        lock (_gate)
        {
            if (_cause is null)
            {
                return Task.CompletedTask;
            }

            _cause = null;
        }

        LogReconnected(logger, ready.InputAddress);
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    [LoggerMessage(EventId = 2404, Level = LogLevel.Warning, Message = "Cannot use the broker at {Broker}; the worker's health is unhealthy, with this cause, until it connects: {Cause}")]
    private static partial void LogFailed(ILogger logger, string broker, string cause);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Information, Message = "The broker is reached again: {Endpoint} is ready")]
    private static partial void LogReconnected(ILogger logger, Uri endpoint);
}
