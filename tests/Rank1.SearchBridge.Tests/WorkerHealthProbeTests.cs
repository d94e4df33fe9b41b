using Rank1.SearchBridge.Precompute;

namespace Rank1.SearchBridge.Tests;

/// <summary>Where the worker's <c>--health-check</c> asks, from the worker's own <c>Urls</c> setting.</summary>
public sealed class WorkerHealthProbeTests
{
    [Theory]
    [InlineData(null, "http://127.0.0.1:9464/_rank1/health")] // the worker's default, loopback only
    [InlineData("http://0.0.0.0:9464", "http://127.0.0.1:9464/_rank1/health")] // the images' setting
    [InlineData("http://*:8081", "http://127.0.0.1:8081/_rank1/health")]
    [InlineData("http://+:8082", "http://127.0.0.1:8082/_rank1/health")]
    [InlineData("http://[::]:8083", "http://[::1]:8083/_rank1/health")]
    [InlineData("https://localhost:8443; http://10.1.2.3:8084", "http://10.1.2.3:8084/_rank1/health")] // the http address first
    public void Target_AsksTheWorkersPort_OnLoopbackForAWildcardHost(string? urls, string expected) =>
        Assert.Equal(new Uri(expected), WorkerHealthProbe.Target(urls));

    [Fact]
    public void Target_RefusesPortZero_NamingUrls()
    {
        var e = Assert.Throws<FormatException>(() => WorkerHealthProbe.Target("http://127.0.0.1:0"));
        Assert.Contains("set Urls to the address the worker listens on", e.Message, StringComparison.Ordinal);
    }
}
