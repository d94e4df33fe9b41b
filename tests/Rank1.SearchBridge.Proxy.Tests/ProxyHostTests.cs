using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Proxy.Tests;

/// <summary>The Rank1.SearchBridge.Proxy host as a real process, configured the ASP.NET Core way (environment variables).</summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed partial class ProxyHostTests
{
    private static string HostDll() => TestPaths.Built("Rank1.SearchBridge.Proxy");

    private static System.Diagnostics.ProcessStartInfo Host(Dictionary<string, string> environment) =>
        TestProcess.StartInfo("dotnet", [HostDll()], Path.GetDirectoryName(HostDll()), new Dictionary<string, string>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1__Model__Path"] = TestPaths.TinyModel,
            ["Rank1__Model__ExecutionProvider"] = "Cpu",
        }.Concat(environment).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value));

    [Fact]
    public async Task RequireAccelerator_WithoutGpu_HostRefusesToStartWithExitCode5()
    {
        var result = await TestProcess.RunAsync(Host(new() { ["Rank1__Model__ExecutionProvider"] = "Auto", ["Rank1__Model__RequireAccelerator"] = "true" }));
        Assert.Equal(5, result.ExitCode);
        Assert.Contains("rank1: RequireAccelerator is set and no GPU provider can run the model (ExecutionProvider=Auto: Cuda: not in this build", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auto_OnCpuBuild_HealthAndMetricsShowTheProviderInUseAndTheFallback()
    {
        var (process, url) = await TestProcess.StartServerAsync(Host(new() { ["Rank1__Backend__Url"] = "http://127.0.0.1:9", ["Rank1__Model__ExecutionProvider"] = "Auto" }), Listening());
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            using var response = await http.GetAsync("_rank1/health");
            var provider = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["model"]!["execution_provider"]!;
            Assert.Equal("Auto", provider["requested"]!.GetValue<string>());
            Assert.Equal("Cpu", provider["actual"]!.GetValue<string>());
            Assert.StartsWith("Cuda: not in this build", provider["fallback"]!.GetValue<string>(), StringComparison.Ordinal);
            var metrics = await http.GetStringAsync("_rank1/metrics");
            Assert.Equal(1, PrometheusText.Value(metrics, "rank1_execution_provider", ("requested", "Auto"), ("actual", "Cpu"), ("fallback", "true")));
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Fact]
    public async Task BadBackendSetting_HostStopsAtBootNamingTheKey()
    {
        // The host ended with an unhandled exception: the runtime's SIGABRT (exit 134) and a stack trace on stderr.
        var result = await TestProcess.RunAsync(Host(new() { ["Rank1__Backend__Url"] = "not-a-url" }));
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("rank1: bad configuration: ", line, StringComparison.Ordinal);
        Assert.Contains("Rank1:Backend:Url", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("notaurl", "rank1: bad configuration: Urls: 'notaurl' is not an address to listen on (http://ADDRESS:PORT, for example http://127.0.0.1:8080)")]
    [InlineData("http://myhost.example:0",
        "rank1: bad configuration: Urls: 'http://myhost.example:0' names the host 'myhost.example', which Kestrel would take as every interface: give an IP address (0.0.0.0 or [::] for every interface) or localhost")]
    public async Task UrlsNotAnAddressToListenOn_HostStopsAtBootNamingUrls(string urls, string expected)
    {
        // Kestrel's FormatException ended the host as a defect (exit 1, a stack trace), and a host name was bound as
        // every interface (Kestrel: "Anything not recognized as a valid IP address or localhost binds to all IPv4 and IPv6 IPs").
        // A host that listened instead would run on until TestProcess.RunAsync's bound on a hang (two minutes, as every process
        // run here), which fails the test.
        var result = await TestProcess.RunAsync(Host(new() { ["Rank1__Backend__Url"] = "http://127.0.0.1:9", ["Urls"] = urls }));
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected, Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task OldBackendKeys_InTheEnvironment_HostStopsAtBootNamingTheNewOnes()
    {
        var result = await TestProcess.RunAsync(Host(new() { ["Rank1__Proxy__Backend"] = "http://127.0.0.1:9", ["Rank1__Proxy__BreakerMinimumThroughput"] = "4" }));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Rank1:Proxy:Backend (Rank1__Proxy__Backend) is no longer read: the cluster has its own section Rank1:Backend; set Rank1:Backend:Url (Rank1__Backend__Url) instead",
            result.Out + result.Error, StringComparison.Ordinal);
        Assert.Contains("set Rank1:Backend:BreakerMinimumThroughput (Rank1__Backend__BreakerMinimumThroughput) instead", result.Out + result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GoodConfiguration_ServesHealthAndRerankedSearches_AndStopsOnCtrlC()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var seed = new HttpClient { BaseAddress = backend.Url })
        {
            (await seed.PutAsync("notes/_doc/1?refresh=true", new StringContent("""{"text":"onions make eyes water"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        var (process, url) = await TestProcess.StartServerAsync(Host(new() { ["Rank1__Backend__Url"] = backend.Url.ToString(), ["Rank1__Proxy__Default__MaxThinkTokens"] = "2" }), Listening());
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            var health = JsonNode.Parse(await http.GetStringAsync("_rank1/health"))!;
            Assert.Equal("green", health["status"]!.GetValue<string>());
            using var response = await http.PostAsync("notes/_search", new StringContent("""{"query":{"match":{"text":"onions"}}}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());

            // Ctrl+C stops the host gracefully: exit code 0.
            var (exitCode, _) = await TestProcess.TerminateAsync(process, "INT");
            Assert.Equal(0, exitCode);
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [GeneratedRegex("Now listening on: (http://\\S+)")]
    private static partial Regex Listening();
}
