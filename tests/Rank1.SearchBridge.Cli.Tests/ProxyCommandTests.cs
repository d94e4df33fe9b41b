using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed partial class ProxyCommandTests
{
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Proxy_FromTheCommandLine_ServesRerankedSearchesAndStopsOnSigterm()
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var seed = new HttpClient { BaseAddress = backend.Url })
        {
            (await seed.PutAsync("kb/_doc/1?refresh=true", new StringContent("""{"text":"tea leaves steep in hot water"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        var config = Path.Combine(TestTemp.Folder(), "proxy.json");
        await File.WriteAllTextAsync(config, """{"Rank1":{"Proxy":{"Default":{"MaxThinkTokens":2,"Window":3}}}}""");
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "proxy", "--backend", backend.Url.ToString(), "--model", TestPaths.TinyModel, "--port", "0", "--config", config]), Listening());
        try
        {
            using var http = new HttpClient { BaseAddress = url };
            using var response = await http.PostAsync("kb/_search", new StringContent("""{"query":{"match":{"text":"tea"}}}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal("applied", response.Headers.GetValues("X-Rank1-Rerank").Single());
            var hit = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["hits"]!["hits"]![0]!;
            Assert.Equal(2, hit["fields"]!["_rank1.reasoning_tokens"]![0]!.GetValue<int>()); // the --config file's budget

            // docker stop / systemd / Kubernetes: SIGTERM stops it cleanly, exit code 0.
            var (exitCode, output) = await TestProcess.TerminateAsync(process);
            Assert.Equal(0, exitCode);
            Assert.Contains("Stopping.", output, StringComparison.Ordinal);
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    /// <summary>
    /// The tool's proxy runs on the workstation GC; without ConserveMemory its large object heap, fragmented by 1 MB
    /// bodies, took the soak's RSS to 1.2-1.4 GB (775 MB with it; docs/reliability.md). The setting travels in the built
    /// tool's runtimeconfig.json, as in the published one.
    /// </summary>
    [Fact]
    public void TheTool_CompactsTheLargeObjectHeapWhenFragmented()
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(CliRunner.Dll, ".runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.Equal("5", properties.GetProperty("System.GC.ConserveMemory").ToString());
    }

    [Fact]
    public async Task Proxy_BadBackend_FailsWithTheKeyName()
    {
        var result = await CliRunner.RunAsync("proxy", "--backend", "nonsense", "--model", TestPaths.TinyModel, "--port", "0");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Rank1:Backend:Url", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_RunInAFolderWithAnAppsettingsJson_DoesNotReadIt_OnlyItsConfigFile()
    {
        // ASP.NET Core's builder reads appsettings.json from the current directory: run in a folder holding another
        // app's, the proxy took its keys (here one it does not know, listed beside the real error).
        // The --config file's own bad value ends the run, with every failing key listed: the folder's must not be one.
        var folder = TestTemp.Folder();
        await File.WriteAllTextAsync(Path.Combine(folder, "appsettings.json"), """{"Rank1":{"HotQueries":{"Treshold":3}}}""");
        var config = Path.Combine(TestTemp.Folder(), "proxy.json");
        await File.WriteAllTextAsync(config, """{"Rank1":{"Store":{"BulkBatchSize":0}}}""");
        var r = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "proxy", "--backend", "http://127.0.0.1:9", "--model", TestPaths.TinyModel, "--port", "0", "--config", config], folder));
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("rank1-bridge proxy: bad configuration: The field Rank1:Store:BulkBatchSize must be between 1 and 10000.", line);
    }

    [Fact]
    public async Task Proxy_ConfigFileWithTheOldBackendKey_FailsNamingTheNewKey()
    {
        var config = Path.Combine(TestTemp.Folder(), "proxy.json");
        await File.WriteAllTextAsync(config, """{"Rank1":{"Proxy":{"Backend":"http://127.0.0.1:9"}}}""");
        var result = await CliRunner.RunAsync("proxy", "--model", TestPaths.TinyModel, "--port", "0", "--config", config);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Rank1:Proxy:Backend (Rank1__Proxy__Backend) is no longer read: the cluster has its own section Rank1:Backend; set Rank1:Backend:Url (Rank1__Backend__Url) instead",
            result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"Rank1":{"Proxy":{"Indices":[{"Pattern":"a*","Windw":5}]}}}""", "Rank1:Proxy:Indices:0:Windw (Rank1__Proxy__Indices__0__Windw) is not a setting")]
    [InlineData("""{"Rank1":{"HotQueries":{"Treshold":3}}}""", "Rank1:HotQueries:Treshold (Rank1__HotQueries__Treshold) is not a setting")]
    public async Task Proxy_ConfigFileWithAnUnknownKey_IsOneUsageErrorNamingTheKey(string json, string named)
    {
        var config = Path.Combine(TestTemp.Folder(), "proxy.json");
        await File.WriteAllTextAsync(config, json);
        var result = await CliRunner.RunAsync("proxy", "--backend", "http://127.0.0.1:9", "--model", TestPaths.TinyModel, "--port", "0", "--config", config);
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"rank1-bridge proxy: bad configuration: {named}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_SeveralBadSections_FailWithOneUsageErrorNamingEach()
    {
        var config = Path.Combine(TestTemp.Folder(), "proxy.json");
        await File.WriteAllTextAsync(config, """{"Rank1":{"Store":{"BulkBatchSize":0},"HotQueries":{"Capacity":0}}}""");
        var result = await CliRunner.RunAsync("proxy", "--backend", "http://127.0.0.1:9", "--model", TestPaths.TinyModel, "--port", "0", "--config", config);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("rank1-bridge proxy: bad configuration: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("BulkBatchSize", result.Error, StringComparison.Ordinal);
        Assert.Contains("Capacity", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_MissingConfigFile_IsABadInput()
    {
        var result = await CliRunner.RunAsync("proxy", "--backend", "http://127.0.0.1:9", "--model", TestPaths.TinyModel, "--config", "/nonexistent/proxy.json");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("/nonexistent/proxy.json: configuration file not found", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("proxy")]
    [InlineData("serve")]
    public async Task HostCommand_ConfigFileThatIsNotJson_IsABadInputInOneLineNamingTheFile(string command)
    {
        var config = Path.Combine(TestTemp.Folder(), "bad.json");
        await File.WriteAllTextAsync(config, "{bad json\n");
        var result = await CliRunner.RunAsync(command, "--backend", "http://127.0.0.1:9", "--model", TestPaths.TinyModel, "--port", "0", "--config", config);
        Assert.Equal(4, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"rank1-bridge {command}: {config}: not a valid JSON configuration file (", line, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Proxy_StartUpError_AsARealProcess_IsOneLineWithoutTheHostsOwnLogOfIt()
    {
        // The host used to log "Hosting failed to start" with a stack trace (at the tool's Warning level) before the
        // tool's own one-line error.
        var result = await CliRunner.RunProcessAsync("proxy", "--model", TestPaths.TinyModel, "--port", "0");
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("rank1-bridge proxy: bad configuration: Rank1:Backend:Url is required", line, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("proxy")]
    [InlineData("serve")]
    public async Task HostCommand_TheConfigFilesModelAndUrls_AreWhatItRuns_NotTheFlagsDefaults(string command)
    {
        // A production file naming its model and address: the model was replaced by RANK1_MODEL_DIR or the generated
        // test model (with a warning only), and the address by the --port default.
        // A loopback address no default binds (Linux answers all of 127.0.0.0/8), port 0: the address it listens on shows
        // the Urls were read, and no port is picked, given up and taken again (another process could take it in between).
        const string host = "127.0.0.2";

        var config = Path.Combine(TestTemp.Folder(), "host.json");
        await File.WriteAllTextAsync(config, new JsonObject
        {
            ["Urls"] = $"http://{host}:0",
            ["Rank1"] = new JsonObject { ["Model"] = new JsonObject { ["Path"] = TestPaths.TinyFp16Model } },
        }.ToJsonString());
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, command, "--backend", "http://127.0.0.1:9", "--config", config]), Listening());
        try
        {
            Assert.Equal(host, url.Host);
            using var http = new HttpClient { BaseAddress = url };
            using var health = await http.GetAsync("_rank1/health");
            var model = JsonNode.Parse(await health.Content.ReadAsStringAsync())!["model"]!;
            Assert.Equal(Path.GetFileName(TestPaths.TinyFp16Model), model["id"]!.GetValue<string>());
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Proxy_TheEnvironmentsModelAndUrls_InAnyCase_AreWhatItRuns()
    {
        // The host reads variables in any case (URLS, RANK1__MODEL__PATH); the command looked for "Urls" and
        // "Rank1__Model__Path" alone and put its own defaults over the others.
        // A loopback address no default binds (Linux answers all of 127.0.0.0/8), port 0: the address it listens on shows
        // the Urls were read, and no port is picked, given up and taken again (another process could take it in between).
        const string host = "127.0.0.2";

        var environment = new Dictionary<string, string> { ["URLS"] = $"http://{host}:0", ["RANK1__MODEL__PATH"] = TestPaths.TinyFp16Model };
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet", [CliRunner.Dll, "proxy", "--backend", "http://127.0.0.1:9"], null, environment), Listening());
        try
        {
            Assert.Equal(host, url.Host);
            using var http = new HttpClient { BaseAddress = url };
            using var health = await http.GetAsync("_rank1/health"); // 503: the backend is not there
            var model = JsonNode.Parse(await health.Content.ReadAsStringAsync())!["model"]!;
            Assert.Equal(Path.GetFileName(TestPaths.TinyFp16Model), model["id"]!.GetValue<string>());
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Theory]
    [InlineData("proxy")]
    [InlineData("serve")]
    public async Task HostCommand_ConfigFileNamingAMissingModel_IsABadModel_NotTheTestModel(string command)
    {
        var config = Path.Combine(TestTemp.Folder(), "host.json");
        var missing = Path.Combine(TestTemp.Folder(), "no-such-model");
        await File.WriteAllTextAsync(config, new JsonObject { ["Rank1"] = new JsonObject { ["Model"] = new JsonObject { ["Path"] = missing } } }.ToJsonString());
        var result = await CliRunner.RunAsync(command, "--backend", "http://127.0.0.1:9", "--port", "0", "--config", config);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains(missing, result.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex("listening on (http://\\S+)")]
    private static partial Regex Listening();
}
