using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed partial class SearchServerCommandTests
{
    [Fact]
    public async Task SearchServer_WithSample_ServesTheCorpusOverHttpUntilStopped()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rank1-bridge.dll"));
        foreach (var a in new[] { "search-server", "--port", "0", "--sample" })
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            string? url = null;
            while (url is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("search-server exited: " + await process.StandardError.ReadToEndAsync());
                if (Listening().Match(line) is { Success: true } m)
                {
                    url = m.Groups[1].Value;
                }
            }

            using var http = new HttpClient { BaseAddress = new Uri(url) };
            var count = JsonNode.Parse(await http.GetStringAsync("rank1-sample/_count"))!;
            Assert.Equal(210, count["count"]!.GetValue<int>());
            var hits = JsonNode.Parse(await http.GetStringAsync("rank1-sample/_search?q=penguins"))!;
            Assert.Contains("penguin-01", hits["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task SearchServer_BadFlavor_OneLineUsageError()
    {
        var result = await CliRunner.RunAsync("search-server", "--flavor", "solr");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--flavor must be one of Elasticsearch, OpenSearch", result.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex("listening on (http://\\S+)")]
    private static partial Regex Listening();
}
