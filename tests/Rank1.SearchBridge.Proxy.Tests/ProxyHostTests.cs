using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Proxy.Tests;

/// <summary>The Rank1.SearchBridge.Proxy host as a real process, configured the ASP.NET Core way (environment variables).</summary>
public sealed partial class ProxyHostTests
{
    private static string HostDll()
    {
        // Same configuration (Debug/Release) as this test assembly.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = Path.Combine(TestPaths.RepoRoot, "src", "Rank1.SearchBridge.Proxy", "bin", configuration, "net10.0", "Rank1.SearchBridge.Proxy.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution");
        return dll;
    }

    private static Process Start(Dictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(HostDll())! };
        psi.ArgumentList.Add(HostDll());
        psi.Environment["Urls"] = "http://127.0.0.1:0";
        psi.Environment["Rank1__Model__Path"] = TestPaths.TinyModel;
        psi.Environment["Rank1__Model__ExecutionProvider"] = "Cpu";
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        return Process.Start(psi)!;
    }

    [Fact]
    public async Task BadBackendSetting_HostStopsAtBootNamingTheKey()
    {
        using var process = Start(new() { ["Rank1__Proxy__Backend"] = "not-a-url" });
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("Rank1:Proxy:Backend", await output + await error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GoodConfiguration_ServesHealthAndRerankedSearches()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var seed = new HttpClient { BaseAddress = backend.Url })
        {
            (await seed.PutAsync("notes/_doc/1?refresh=true", new StringContent("""{"text":"onions make eyes water"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        using var process = Start(new() { ["Rank1__Proxy__Backend"] = backend.Url.ToString(), ["Rank1__Proxy__Default__MaxThinkTokens"] = "2" });
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            string? url = null;
            while (url is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("host exited: " + await process.StandardError.ReadToEndAsync());
                url = Listening().Match(line) is { Success: true } m ? m.Groups[1].Value : null;
            }

            using var http = new HttpClient { BaseAddress = new Uri(url + "/") };
            var health = JsonNode.Parse(await http.GetStringAsync("_rank1/health"))!;
            Assert.Equal("green", health["status"]!.GetValue<string>());
            using var response = await http.PostAsync("notes/_search", new StringContent("""{"query":{"match":{"text":"onions"}}}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [GeneratedRegex("Now listening on: (http://\\S+)")]
    private static partial Regex Listening();
}
