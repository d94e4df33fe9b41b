using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Rank1.Elastic.Tests;

public sealed class HostStartupFaultFilterTests
{
    [Fact]
    public void CreateLogger_DropsOnlyTheHostsStartupFault_EveryOtherEventPasses()
    {
        var collector = new FakeLogCollector();
        using var inner = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)));
        using var factory = new HostStartupFaultFilter(inner);

        var host = factory.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host");
        host.Log(LogLevel.Error, new EventId(11, "HostedServiceStartupFaulted"), "Hosting failed to start");
        host.Log(LogLevel.Error, new EventId(9, "BackgroundServiceFaulted"), "BackgroundService failed");
        host.Log(LogLevel.Warning, new EventId(1), "a warning of the host");
        factory.CreateLogger("Rank1.SearchBridge.Other").Log(LogLevel.Error, new EventId(11), "another category's event 11");

        Assert.Equal(["BackgroundService failed", "a warning of the host", "another category's event 11"], collector.GetSnapshot().Select(r => r.Message));
    }
}
