using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Store;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>Real processes around a broker: the worker host and the rank1-bridge tool, as built by the solution.</summary>
internal static class BrokerProcesses
{
    public static string WorkerDll => TestPaths.Built("Rank1.SearchBridge.Worker");

    public static string CliDll => TestPaths.Built("Rank1.SearchBridge.Cli");

    /// <summary>Starts a worker process against the backend and broker; its output is kept for diagnostics.</summary>
    public static WorkerProcess StartWorker(Uri backend, string brokerUrl, string queue, Dictionary<string, string>? more = null)
    {
        var env = new Dictionary<string, string>
        {
            ["Rank1__Backend__Url"] = backend.ToString(),
            ["Rank1__Broker__Url"] = brokerUrl,
            ["Rank1__Broker__Queue"] = queue,
            ["Rank1__Model__Path"] = TestPaths.TinyModel,
            ["Rank1__Model__ExecutionProvider"] = "Cpu",
            ["Rank1__Worker__RetryMinInterval"] = "00:00:00.200",
            ["Rank1__Worker__RetryMaxInterval"] = "00:00:02",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__MassTransit"] = "Information",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Urls"] = "http://127.0.0.1:0", // metrics and health on a free port: several workers run at once
        };
        foreach (var (k, v) in more ?? [])
        {
            env[k] = v;
        }

        var psi = TestProcess.StartInfo("dotnet", [WorkerDll], Path.GetDirectoryName(WorkerDll), env);
        return new WorkerProcess(Process.Start(psi)!);
    }

    /// <summary>Starts <c>rank1-bridge precompute</c> with these arguments (the caller awaits it).</summary>
    public static Task<TestProcess.Result> PrecomputeAsync(params string[] args) =>
        TestProcess.RunAsync(TestProcess.StartInfo("dotnet", [CliDll, "precompute", .. args]), TimeSpan.FromMinutes(5));

    /// <summary>Writes a query log and returns its path.</summary>
    public static string QueryLog(IEnumerable<string> queries)
    {
        var path = TestTemp.File($"rank1-queries-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, queries);
        return path;
    }

    /// <summary>Distinct two-word queries built from the test corpus' words, each with hits.</summary>
    public static string[] CorpusQueries(int count)
    {
        var words = ProxyStack.Corpus.SelectMany(d => d.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(w => w.Trim('.', ',').ToLowerInvariant()).Where(w => w.Length > 3).Distinct().ToArray();
        var queries = (from a in words from b in words where a != b select $"{a} {b}").Take(count).ToArray();
        Assert.True(queries.Length == count, $"the corpus has words for only {queries.Length} queries");
        return queries;
    }

    /// <summary>The reasoning-store ids that precomputing <paramref name="queries"/> must produce: one per hit of each query's window.</summary>
    public static async Task<HashSet<string>> ExpectedIdsAsync(Uri backend, IEnumerable<string> queries, int window, int maxThinkTokens, JudgingModel model)
    {
        using var http = new HttpClient { BaseAddress = backend };
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var q in queries)
        {
            var body = new JsonObject { ["size"] = window, ["query"] = new JsonObject { ["multi_match"] = new JsonObject { ["query"] = q, ["fields"] = new JsonArray("text") } } };
            var r = await http.PostAsync($"{ProxyStack.Index}/_search", ProxyStack.Json(body.ToJsonString()));
            var fingerprint = ReasoningKeys.Fingerprint(q, null, maxThinkTokens, ["text"], "title");
            foreach (var hit in JsonNode.Parse(await r.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray())
            {
                // The key as the worker and the proxy compute it (the passage hash is part of the id).
                var (title, text) = SearchHits.Passage(hit!.AsObject(), ["text"], "title");
                ids.Add(JudgementRecords.Key(ProxyStack.Index, hit["_id"]!.GetValue<string>(), model, fingerprint, title, text).Id);
            }
        }

        return ids;
    }

    /// <summary>The ids in the reasoning index (after a refresh); an absent index is empty.</summary>
    public static async Task<string[]> StoredIdsAsync(Uri backend, string index = "rank1-reasoning")
    {
        using var http = new HttpClient { BaseAddress = backend };
        await http.PostAsync($"{index}/_refresh", null);
        var r = await http.PostAsync($"{index}/_search", ProxyStack.Json("""{"size":10000,"_source":false,"query":{"match_all":{}}}"""));
        if (r.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return []; // index_not_found_exception: nothing stored yet
        }

        Assert.True(r.IsSuccessStatusCode, $"the reasoning index could not be searched: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return (await r.Content.ReadFromJsonAsync<JsonObject>())!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray();
    }

    /// <summary>Polls until <paramref name="done"/> holds, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> done, TimeSpan timeout, Func<string> what)
    {
        var clock = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(clock.Elapsed < timeout, $"timed out after {timeout.TotalSeconds:0} s: {what()}");
            await Task.Delay(100);
        }
    }
}

/// <summary>A running worker process.</summary>
internal sealed partial class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;

    public WorkerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Output.Enqueue(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Output.Enqueue(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public ConcurrentQueue<string> Output { get; } = new();

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Waits until the worker has exited and its output has been read to its end (<see cref="HasExited"/> may be true
    /// while its last lines are still on their way to <see cref="Output"/>: Process.WaitForExitAsync waits for them);
    /// fails with <paramref name="what"/> past <paramref name="within"/>.
    /// </summary>
    public async Task ExitedAsync(TimeSpan within, string what)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"timed out after {within.TotalSeconds:0} s: {what}:\n{Log}");
        }
    }

    public int ExitCode => _process.ExitCode;

    public string Log => string.Join('\n', Output.TakeLast(60));

    /// <summary>Where the worker serves metrics and health, from its "Now listening on" line.</summary>
    public async Task<Uri> UrlAsync()
    {
        Uri? url = null;
        await BrokerProcesses.WaitUntilAsync(() => Task.FromResult((url = Listening()) is not null), TestBounds.Hang, () => "the worker serves no HTTP:\n" + Log);
        return url!;
    }

    private Uri? Listening() => Output.Select(l => ListeningLine().Match(l)).FirstOrDefault(m => m.Success) is { } m ? new Uri(m.Groups[1].Value + "/") : null;

    [System.Text.RegularExpressions.GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial System.Text.RegularExpressions.Regex ListeningLine();

    /// <summary>SIGKILL: no chance to finish, acknowledge or clean up.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an orchestrator stops a container; waits for the process to exit.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }
}
