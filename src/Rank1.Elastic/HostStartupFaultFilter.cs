using Microsoft.Extensions.Logging;

namespace Rank1.Elastic;

/// <summary>
/// The logger factory an in-process host is given, less the host's own "Hosting failed to start" error (event 11 of
/// <c>Microsoft.Extensions.Hosting.Internal.Host</c>). The in-process hosts (the proxy's and service's <c>InProcessHost</c>,
/// the embedded search server) throw that exception to their caller, which reports it (the CLI as one line), so logged
/// as well it would be said twice, the first time with a stack trace.
/// Every other event, of that category too (a background service that faults later), passes.
/// </summary>
internal sealed class HostStartupFaultFilter(ILoggerFactory inner) : ILoggerFactory
{
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    /// <summary>Microsoft.Extensions.Hosting's <c>LoggerEventIds.HostedServiceStartupFaulted</c>.</summary>
    private const int HostedServiceStartupFaulted = 11;

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName == HostCategory ? new WithoutStartupFault(logger) : logger;
    }

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>Nothing to dispose: the caller owns the factory it passed.</summary>
    public void Dispose()
    {
    }

    private sealed class WithoutStartupFault(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != HostedServiceStartupFaulted)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
