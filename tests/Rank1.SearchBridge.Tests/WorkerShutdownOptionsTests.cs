using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Precompute;

namespace Rank1.SearchBridge.Tests;

/// <summary>How the worker's <c>Rank1:Worker:ShutdownTimeout</c> reaches MassTransit and the host.</summary>
public sealed class WorkerShutdownOptionsTests
{
    [Fact]
    public void ShutdownTimeout_CancelsConsumersStillRunning_NotOnlyTheWaitForTheBus()
    {
        // MassTransit's StopTimeout only cancels the wait for the bus to stop ("the bus is still stopped, only the wait is
        // canceled"); ConsumerStopTimeout cancels ConsumeContext.CancellationToken. With StopTimeout alone, a job still
        // being judged when the grace period ended went on judging while the host disposed the model.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Rank1:Worker:ShutdownTimeout"] = "00:00:07", ["Rank1:Broker:Url"] = "amqp://127.0.0.1:5672" }).Build();
        using var provider = new ServiceCollection().AddLogging(b => b.ClearProviders()).AddRank1Worker(configuration).BuildServiceProvider();
        var bus = provider.GetRequiredService<IOptions<MassTransitHostOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(7), bus.ConsumerStopTimeout);
        // The bus waits longer than its consumers run, so a cancelled consumer unwinds before the host disposes the model;
        // the host waits longer than the bus.
        Assert.True(bus.StopTimeout > bus.ConsumerStopTimeout, $"{bus.StopTimeout}");
        Assert.True(provider.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout > bus.StopTimeout);
    }
}
