using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Worker.Tests;

/// <summary>The Rank1.SearchBridge.Worker host as a real process, configured the .NET way (environment variables).</summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed class WorkerHostTests
{
    // The broker connection's users in the worker: the bus's own endpoint and the two receive endpoints.
    private const int ConnectionUsers = 3;

    private const string AdminKey = "a-worker-admin-key-24-ch";

    private static string HostDll() => TestPaths.Built("Rank1.SearchBridge.Worker");

    internal static ProcessStartInfo Host(Dictionary<string, string> environment, params string[] args)
    {
        var env = new Dictionary<string, string>
        {
            ["Rank1__Model__Path"] = TestPaths.TinyModel,
            ["Rank1__Model__ExecutionProvider"] = "Cpu",
            ["Rank1__Backend__Url"] = "http://127.0.0.1:9/",
            ["Urls"] = "http://127.0.0.1:0",
        };
        foreach (var (k, v) in environment)
        {
            env[k] = v;
        }

        return TestProcess.StartInfo("dotnet", [HostDll(), .. args], Path.GetDirectoryName(HostDll()), env);
    }

    [Theory]
    [InlineData("Rank1__Broker__Url", "", "Rank1:Broker:Url is required", 2)]
    [InlineData("Rank1__Broker__Url", "http://localhost:5672", "must be an amqp:// or amqps:// URL", 2)]
    [InlineData("Rank1__Worker__PrefetchCount", "0", "PrefetchCount", 2)]
    [InlineData("Rank1__Worker__ConcurrentMessageLimit", "-1", "ConcurrentMessageLimit", 2)]
    [InlineData("Rank1__Worker__RetryLimit", "many", "Rank1:Worker:RetryLimit", 2)]
    [InlineData("Rank1__Worker__Prefetch", "4", "Rank1:Worker:Prefetch (Rank1__Worker__Prefetch) is not a setting", 2)]
    [InlineData("Rank1__Proxy__Indices__0__Windw", "4", "Rank1:Proxy:Indices:0:Windw (Rank1__Proxy__Indices__0__Windw) is not a setting", 2)]
    [InlineData("Rank1__Wroker__PrefetchCount", "4", "Rank1:Wroker:PrefetchCount (Rank1__Wroker__PrefetchCount) is not a setting: the sections under Rank1 are", 2)]
    [InlineData("Rank1__Model__Path", "/nonexistent/model", "/nonexistent/model", 3)]
    [InlineData("Rank1__Worker__MaxWindow", "5", "Rank1:Proxy:Default:Window (10) is above the worker's cap Rank1:Worker:MaxWindow (5)", 2)]
    [InlineData("Rank1__Proxy__Caps__Window", "5", "Rank1:Proxy:Default:Window (10) is above the operator's cap Rank1:Proxy:Caps:Window (5)", 2)]
    [InlineData("Rank1__Proxy__Backend", "http://127.0.0.1:9/", "Rank1:Proxy:Backend (Rank1__Proxy__Backend) is no longer read: the cluster has its own section Rank1:Backend; set Rank1:Backend:Url (Rank1__Backend__Url) instead", 2)]
    [InlineData("Rank1__Proxy__Default__MaxPassageTokens", "4096", "Rank1:Proxy:Default:MaxPassageTokens (4096) is above the model's cap Rank1:Model:MaxPassageTokens (2048)", 2)]
    [InlineData("Urls", "notaurl", "Urls: 'notaurl' is not an address to listen on (http://ADDRESS:PORT, for example http://127.0.0.1:8080)", 2)]
    [InlineData("Urls", "http://worker.example:0", "Urls: 'http://worker.example:0' names the host 'worker.example', which Kestrel would take as every interface", 2)]
    public async Task BadConfiguration_StopsTheWorkerAtBoot_NamingTheProblem(string key, string value, string named, int exitCode)
    {
        // The worker ended with an unhandled exception: the runtime's SIGABRT (exit 134) and a stack trace on stderr.
        var result = await TestProcess.RunAsync(Host(new() { [key] = value }));
        Assert.Equal(exitCode, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(exitCode == 3 ? "rank1: model: " : "rank1: bad configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    /// <summary>
    /// With standard error closed (<c>2&gt;&amp;-</c>) the host cannot say why it stops, and ends with the exit code that
    /// says it (2, bad configuration), as GNU coreutils do; writing that line threw (EBADF), and the runtime aborted the
    /// worker (SIGABRT, exit 134, a core dump). The Proxy host ends through the same HostExit.
    /// </summary>
    [Fact]
    public async Task BadConfiguration_StandardErrorClosed_TheExitCodeStill_NeverAnAbort()
    {
        var host = Host(new() { ["Rank1__Worker__RetryLimit"] = "many" });
        var psi = TestProcess.StartInfo("sh", ["-c", "exec dotnet \"$@\" 2>&-", "sh", .. host.ArgumentList], host.WorkingDirectory,
            host.Environment.Where(e => e.Key.StartsWith("Rank1__", StringComparison.Ordinal) || e.Key == "Urls").ToDictionary(e => e.Key, e => e.Value!));
        var result = await TestProcess.RunAsync(psi);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task AddressInUse_StopsTheWorkerWithOneLine_AndExitCode1()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var result = await TestProcess.RunAsync(Host(new() { ["Urls"] = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}", ["Rank1__Broker__Url"] = "amqp://127.0.0.1:9/" }));
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("rank1: Failed to bind to address", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokerDown_TheWorkerStartsAnyway_ItsHealthCheckFails_AndStopsCleanlyOnSigterm()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var environment = new Dictionary<string, string>
        {
            ["Rank1__Backend__Url"] = backend.Url.ToString(),
            ["Rank1__Broker__Url"] = "amqp://broker-user:broker-secret@127.0.0.1:9/",
            ["Rank1__Proxy__AdminApiKey"] = AdminKey,
        };
        using var worker = WorkerProcess.Start(Host(environment));
        var process = worker.Process;

        // Started, then more failed connections to the broker than one attempt can log: it keeps retrying instead of
        // exiting. Each user of the broker connection (the bus's own endpoint, the CLI queue and <Queue>-hot) logs
        // "Connection Failed" at most once per attempt, so the fourth line is a reconnect attempt. The worker's own line
        // names the cause, once.
        await worker.WaitForAsync(lines => lines.Any(l => l.Contains("Application started", StringComparison.Ordinal))
            && lines.Count(l => l.Contains("Connection Failed: rabbitmq://127.0.0.1:9/", StringComparison.Ordinal)) > ConnectionUsers,
            "start and retry the broker", TestBounds.Hang);
        var lines = worker.Lines;
        Assert.False(process.HasExited, worker.Output);
        var causeLine = lines.SkipWhile(l => !l.Contains("BrokerFaultLog[2404]", StringComparison.Ordinal)).Skip(1).First();
        Assert.Equal("      Cannot use the broker at amqp://127.0.0.1:9/; the worker's health is unhealthy, with this cause, until it connects: Connection refused", causeLine);
        Assert.Single(lines, l => l.Contains("BrokerFaultLog[2404]", StringComparison.Ordinal));

        // Its HTTP: /_rank1/* asks for the admin key (Elasticsearch's 401 without it), and the health answer, unhealthy
        // while the broker is down, names neither the broker's user nor its password.
        var listening = worker.Listening;
        using (var http = new HttpClient { BaseAddress = new Uri(listening) })
        {
            using var refused = await http.GetAsync("_rank1/health");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("security_exception", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!["type"]!.GetValue<string>());
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", AdminKey);
            using var health = await http.GetAsync("_rank1/health");
            var text = await health.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal("unhealthy", JsonNode.Parse(text)!["status"]!.GetValue<string>());
            // MassTransit says only "Not ready: not started" while it retries: the cause says why, naming the broker.
            Assert.Equal("amqp://127.0.0.1:9/: Connection refused", JsonNode.Parse(text)!["checks"]!["masstransit-bus"]!["cause"]!.GetValue<string>());
            Assert.DoesNotContain("broker-user", text, StringComparison.Ordinal);
            Assert.DoesNotContain("broker-secret", text, StringComparison.Ordinal);

            // Its flags read as the proxy's /_rank1/* read them, the cluster's on any route: pretty=maybe was taken as off
            // (a 503 here, a 200 once connected); now the cluster's own 400 on its _cluster/health, after the admin key.
            using var cluster = new HttpClient { BaseAddress = backend.Url };
            foreach (var query in new[] { "pretty=maybe", "human=yes", "error_trace=yes" })
            {
                using var flagged = await http.GetAsync("_rank1/health?" + query);
                using var clusters = await cluster.GetAsync("_cluster/health?" + query);
                Assert.Equal(((int)clusters.StatusCode, await clusters.Content.ReadAsStringAsync()), ((int)flagged.StatusCode, await flagged.Content.ReadAsStringAsync()));
                Assert.Equal(HttpStatusCode.BadRequest, flagged.StatusCode);
            }
        }

        // The image's HEALTHCHECK: the worker binary's --health-check, a second process with the worker's configuration
        // (the images' Urls=http://0.0.0.0:PORT, asked on loopback; the admin key sent), fails on the unhealthy answer.
        var port = new Uri(listening).Port;
        var probeEnvironment = new Dictionary<string, string>(environment) { ["Urls"] = $"http://0.0.0.0:{port}" };
        // A bound on a hang only (TestProcess.RunAsync's TestBounds.Hang, as every process run here): the probe's own 3 s is
        // WorkerHealthProbe.Timeout, inside it, and a dotnet start on a saturated host can take longer than the 30 s this was.
        var unhealthy = await TestProcess.RunAsync(Host(probeEnvironment, "--health-check"));
        Assert.True(unhealthy.ExitCode == 1, $"exit {unhealthy.ExitCode}: {unhealthy.Out}{unhealthy.Error}");
        Assert.Contains($"http://127.0.0.1:{port}/_rank1/health: 503 ", unhealthy.Out, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"unhealthy\"", unhealthy.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Application started", unhealthy.Out, StringComparison.Ordinal);

        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))!)
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, process.ExitCode);

        // Nothing listens on the port: the probe says so and fails, within its own timeout. Not the worker's old port,
        // which any process may take once it is free (a CI run saw another test's server answer 400 on it): a port held
        // bound and not listening, which refuses every connection and which no one else can take meanwhile.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var closedPort = ((IPEndPoint)closed.LocalEndPoint!).Port;
        var goneEnvironment = new Dictionary<string, string>(environment) { ["Urls"] = $"http://0.0.0.0:{closedPort}" };
        var gone = await TestProcess.RunAsync(Host(goneEnvironment, "--health-check"));
        Assert.True(gone.ExitCode == 1, $"exit {gone.ExitCode}: {gone.Out}{gone.Error}");
        Assert.Contains($"http://127.0.0.1:{closedPort}/_rank1/health: no answer", gone.Out, StringComparison.Ordinal);
    }
}
