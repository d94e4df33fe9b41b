using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// The long-running commands as real processes sent real signals (SIGTERM as docker stop, systemd and Kubernetes send
/// it; SIGINT as Ctrl+C does), with requests in flight held at a <see cref="GatedBackend"/>.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed partial class GracefulShutdownTests
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<(EmbeddedSearchServer Backend, GatedBackend Gate)> BackendAsync()
    {
        var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var seed = new HttpClient { BaseAddress = backend.Url };
        (await seed.PutAsync("kb/_doc/1?refresh=true", Json("""{"text":"tea leaves steep in hot water"}"""))).EnsureSuccessStatusCode();
        (await seed.PutAsync("kb/_doc/2?refresh=true", Json("""{"text":"green tea is brewed with water below boiling"}"""))).EnsureSuccessStatusCode();
        return (backend, await GatedBackend.StartAsync(backend.Url));
    }

    private static async Task<(Process Process, Uri Url)> StartProxyAsync(Uri backend, string shutdownTimeout)
    {
        var config = Path.Combine(TestTemp.Folder(), "proxy.json");
        await File.WriteAllTextAsync(config, "{\"Rank1\":{\"Proxy\":{\"ShutdownTimeout\":\"" + shutdownTimeout + "\",\"Default\":{\"MaxThinkTokens\":2,\"Window\":3}}}}");
        return await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "proxy", "--backend", backend.ToString(), "--model", TestPaths.TinyModel, "--port", "0", "--config", config]), Listening());
    }

    [Fact]
    public async Task Proxy_Sigterm_FinishesTheSearchInFlight_WritesTheQueuedJudgements_AndExits0()
    {
        var (backend, gate) = await BackendAsync();
        await using var _ = backend;
        await using var __ = gate;
        var (process, url) = await StartProxyAsync(gate.Url, "00:00:30");
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            // A first search's judgements are queued for the reasoning store; their write is held at the backend.
            gate.Hold(path => path.EndsWith("/_bulk", StringComparison.Ordinal));
            using (var first = await http.PostAsync("kb/_search", Json("""{"query":{"match":{"text":"tea"}}}""")))
            {
                Assert.Equal("applied", first.Headers.GetValues("X-Rank1-Rerank").Single());
            }

            Assert.Equal("/_bulk", await gate.Held.Reader.ReadAsync());

            // A second search is in flight, held at the backend, when SIGTERM comes.
            gate.Hold(path => path.EndsWith("/_bulk", StringComparison.Ordinal) || path == "/kb/_search");
            var second = http.PostAsync("kb/_search", Json("""{"query":{"match":{"text":"water"}}}"""));
            Assert.Equal("/kb/_search", await gate.Held.Reader.ReadAsync());
            await TestProcess.SignalAsync(process, "TERM");
            await TestProcess.ReadUntilAsync(process, "Stopping.");
            gate.Release();

            using (var answer = await second)
            {
                Assert.Equal(200, (int)answer.StatusCode);
                Assert.Equal("applied", answer.Headers.GetValues("X-Rank1-Rerank").Single());
                Assert.Equal(2, JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray().Count);
            }

            Assert.Equal(0, await TestProcess.WaitForExitAsync(process));

            // Both searches' judgements (two passages each) are in the store once the process is gone.
            using var store = new HttpClient { BaseAddress = backend.Url };
            (await store.PostAsync("rank1-reasoning/_refresh", null)).EnsureSuccessStatusCode();
            var count = JsonNode.Parse(await store.GetStringAsync("rank1-reasoning/_count"))!;
            Assert.Equal(4, count["count"]!.GetValue<int>());
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Theory]
    [InlineData("kb/_search", "application/json", """{"query":{"match":{"text":"tea"}}}""")]
    [InlineData("_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"kb\",\"_id\":\"3\"}}\n{\"text\":\"oolong\"}\n")] // pass-through
    public async Task Proxy_Sigterm_ARequestStillRunningAtTheEndOfTheGracePeriod_Gets503InElasticsearchShape_AndExits0(string path, string contentType, string body)
    {
        var (backend, gate) = await BackendAsync();
        await using var _ = backend;
        await using var __ = gate;
        var (process, url) = await StartProxyAsync(gate.Url, "00:00:01");
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            gate.Hold(p => p == "/" + path);
            var search = http.PostAsync(path, new StringContent(body, Encoding.UTF8, contentType));
            Assert.Equal("/" + path, await gate.Held.Reader.ReadAsync());
            await TestProcess.SignalAsync(process, "TERM");

            using var answer = await search;
            Assert.Equal(503, (int)answer.StatusCode);
            Assert.Equal("1", answer.Headers.GetValues("Retry-After").Single());
            Assert.Equal("Elasticsearch", answer.Headers.GetValues("X-Elastic-Product").Single());
            var error = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
            Assert.Equal(503, error["status"]!.GetValue<int>());
            Assert.Equal("rank1_shutting_down_exception", error["error"]!["type"]!.GetValue<string>());
            Assert.Contains("Rank1:Proxy:ShutdownTimeout", error["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(0, await TestProcess.WaitForExitAsync(process));
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Fact]
    public async Task Serve_Sigterm_ACallStillRunningAtTheEndOfTheGracePeriod_Gets503InCohereShape_AndExits0()
    {
        var (backend, gate) = await BackendAsync();
        await using var _ = backend;
        await using var __ = gate;
        var config = Path.Combine(TestTemp.Folder(), "serve.json");
        await File.WriteAllTextAsync(config, """{"Rank1":{"Proxy":{"ShutdownTimeout":"00:00:01"},"Service":{"MaxThinkTokens":2}}}""");
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "serve", "--backend", gate.Url.ToString(), "--model", TestPaths.TinyModel, "--port", "0", "--config", config]), Listening());
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            // The call's reasoning-store lookup is held at the backend when SIGTERM comes.
            gate.Hold(path => path.EndsWith("/_mget", StringComparison.Ordinal));
            var call = http.PostAsync("v1/rerank", Json("""{"query":"tea","documents":["tea leaves steep in hot water","a bicycle"]}"""));
            Assert.EndsWith("/_mget", await gate.Held.Reader.ReadAsync(), StringComparison.Ordinal);
            await TestProcess.SignalAsync(process, "TERM");

            using var answer = await call;
            Assert.Equal(503, (int)answer.StatusCode);
            Assert.Equal("1", answer.Headers.GetValues("Retry-After").Single());
            var error = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!.AsObject();
            Assert.Equal(["message"], error.Select(p => p.Key));
            Assert.Contains("shutting down", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(0, await TestProcess.WaitForExitAsync(process));
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    /// <summary>
    /// A second Ctrl+C during the shutdown stops the process at once, as the user pressing it again asks: before, it was
    /// ignored, and the proxy went on waiting for the search in flight for the whole grace period (30 s here), then
    /// answered it 503 and exited 0. The search in flight is cut (the process is gone), and the exit code is Ctrl+C's 130.
    /// </summary>
    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Proxy_ASecondSignalDuringTheShutdown_StopsAtOnce_Exit128PlusTheSignal(string signal)
    {
        var (backend, gate) = await BackendAsync();
        await using var _ = backend;
        await using var __ = gate;
        var (process, url) = await StartProxyAsync(gate.Url, "00:00:30");
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            gate.Hold(path => path == "/kb/_search");
            var search = http.PostAsync("kb/_search", Json("""{"query":{"match":{"text":"tea"}}}"""));
            Assert.Equal("/kb/_search", await gate.Held.Reader.ReadAsync());
            await TestProcess.SignalAsync(process, signal);
            await TestProcess.ReadUntilAsync(process, "Stopping.");
            await TestProcess.SignalAsync(process, signal);

            Assert.Equal(signal == "INT" ? 130 : 143, await TestProcess.WaitForExitAsync(process));
            await Assert.ThrowsAsync<HttpRequestException>(() => search);
        }
        finally
        {
            gate.Release();
            await TestProcess.StopAsync(process);
        }
    }

    /// <summary>
    /// Ctrl+C that lands between a server's "listening on" line and its wait (a user, or a supervisor, quick on the
    /// key) still stops it cleanly: the flush before the wait took the cancelled token and threw, and the command
    /// exited 130 instead of 0 (seen in a fresh-clone CI run of the test below).
    /// </summary>
    [Fact]
    public async Task CtrlCBeforeTheWait_StopsCleanly()
    {
        var output = new StringWriter();
        var context = new Rank1.SearchBridge.Cli.CommandLine.CliContext { Out = output, Error = TextWriter.Null, LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance };

        await context.ServeUntilCancelledAsync(new CancellationToken(canceled: true));

        Assert.Equal("Stopping." + Environment.NewLine, output.ToString());
    }

    [Theory]
    [InlineData("search-server", "listening on")]
    [InlineData("serve", "listening on")]
    [InlineData("demo", "keeps serving")]
    public async Task LongRunningCommand_CtrlC_StopsAndExits0(string command, string ready)
    {
        string[] args = command switch
        {
            "search-server" => [command, "--port", "0"],
            "serve" => [command, "--port", "0", "--model", TestPaths.TinyModel],
            _ => [command, "--model", TestPaths.TinyModel, "--max-think-tokens", "2", "--window", "3"],
        };
        using var process = Process.Start(TestProcess.StartInfo("dotnet", [CliRunner.Dll, .. args]))!;
        try
        {
            await TestProcess.ReadUntilAsync(process, ready);
            var (exitCode, output) = await TestProcess.TerminateAsync(process, "INT");
            Assert.Equal(0, exitCode);
            Assert.Contains("Stopping.", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [GeneratedRegex("listening on (http://\\S+)")]
    private static partial Regex Listening();
}
