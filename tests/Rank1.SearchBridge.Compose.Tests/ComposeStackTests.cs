using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Precompute;
using Rank1.SearchBridge.Store;
using Rank1.Testing;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>The compose stack checked without a container engine: lint, schema, drift against the code, files, ports.</summary>
public sealed class ComposeStackTests
{
    private static readonly string NodeFolder = Path.Combine(TestPaths.RepoRoot, "tests", "node");

    private static string Dclint
    {
        get
        {
            var path = Path.Combine(NodeFolder, "node_modules", "dclint", "bin", "dclint.cjs");
            Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh setup (npm ci in tests/node)");
            return path;
        }
    }

    private static string BrokenComposeFile()
    {
        var path = TestTemp.File($"rank1-broken-compose-{Guid.NewGuid():N}.yml");
        File.WriteAllText(path, "name: broken\nservices:\n  app:\n    image: app:1\n    ports: {web: 8080}\n");
        return path;
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task ComposeFiles_PassTheDclintLinter()
    {
        var result = await TestProcess.RunAsync(TestProcess.StartInfo("node", [Dclint, .. ComposeFiles.All]));
        Assert.True(result.ExitCode == 0, $"dclint found problems:\n{result.Out}\n{result.Error}");

        // The linter really runs (a broken file fails it), so a pass above means something.
        var broken = await TestProcess.RunAsync(TestProcess.StartInfo("node", [Dclint, BrokenComposeFile()]));
        Assert.NotEqual(0, broken.ExitCode);
        Assert.Contains("must be array", broken.Out + broken.Error, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task ComposeFiles_ValidateAgainstTheComposeSpecificationSchema()
    {
        var results = await TestProcess.RunNodeAsync("compose-schema.mjs", [.. ComposeFiles.All, BrokenComposeFile()]);
        var files = results.AsArray();
        foreach (var r in files.Take(ComposeFiles.All.Count))
        {
            Assert.True(r!["valid"]!.GetValue<bool>(), $"{r["file"]}: {r["errors"]!.ToJsonString()}");
        }

        Assert.False(files[^1]!["valid"]!.GetValue<bool>());
    }

    [Fact]
    public void EveryVariable_IsSetInDotEnv_AndEveryDotEnvKnob_IsUsed()
    {
        var env = ComposeFiles.Env();
        var used = ComposeFiles.All.SelectMany(f => ComposeFiles.Strings(ComposeFiles.Load(f))).SelectMany(ComposeFiles.Variables).ToHashSet(StringComparer.Ordinal);
        var unset = used.Where(v => !env.ContainsKey(v)).ToArray();
        var unused = env.Keys.Where(k => !used.Contains(k)).ToArray();
        Assert.True(unset.Length == 0, $"not set in compose/.env: {string.Join(", ", unset)}");
        Assert.True(unused.Length == 0, $"set in compose/.env but used nowhere: {string.Join(", ", unused)}");
    }

    /// <summary>The sections each .NET service binds (AddRank1Proxy / AddRank1Worker).</summary>
    public static TheoryData<string, string> DotNetServices => new() { { "proxy", "proxy" }, { "worker", "worker" } };

    [Theory]
    [MemberData(nameof(DotNetServices))]
    public void DotNetService_SetsOnlySettingsItsApplicationReads_AndTheyPassStartupValidation(string service, string target)
    {
        var settings = ServiceSettings(service, target);
        Assert.Null(StartupProblem(service, settings));
    }

    [Theory]
    [InlineData("proxy", "Rank1__Proxy__Default__Windw", "10", "Windw")]
    [InlineData("proxy", "Rank1__Proxy__Default__Window", "0", "Window")]
    [InlineData("proxy", "Rank1__Worker__PrefetchCount", "2", "Rank1:Worker")]
    [InlineData("worker", "Rank1__Worker__PrefetchCount", "many", "PrefetchCount")]
    [InlineData("worker", "Rank1__Broker__Url", "rabbitmq:5672", "amqp://")]
    [InlineData("worker", "Rank1__HotQueries__Threshold", "3", "Rank1:HotQueries")]
    [InlineData("worker", "Rank1__Model__Pth", "/models", "Pth")]
    [InlineData("worker", "Rank1__Proxy__Backend", "http://search:9200", "set Rank1:Backend:Url (Rank1__Backend__Url) instead")]
    [InlineData("proxy", "Rank1__Proxy__BackendTimeout", "00:00:05", "set Rank1:Backend:Timeout (Rank1__Backend__Timeout) instead")]
    public void TheDriftCheck_CatchesWhatItShould(string service, string key, string value, string named)
    {
        // The same check as above on a compose environment with one deliberate mistake: it must fail, naming it.
        var settings = ServiceSettings(service, service);
        settings[key.Replace("__", ":", StringComparison.Ordinal)] = value;
        var problem = StartupProblem(service, settings);
        Assert.NotNull(problem);
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ReferencedFiles_Exist()
    {
        var compose = ComposeFiles.Load(ComposeFiles.Main);
        var cuda = ComposeFiles.Load(ComposeFiles.Cuda);
        foreach (var (name, service) in Services(compose).Concat(Services(cuda)))
        {
            if (service["build"] is JsonObject build)
            {
                var context = Path.GetFullPath(Path.Combine(ComposeFiles.Folder, build["context"]!.GetValue<string>()));
                Assert.True(Directory.Exists(context), $"{name}: build context {context} is missing");
                var dockerfile = Path.Combine(context, build["dockerfile"]!.GetValue<string>());
                Assert.True(File.Exists(dockerfile), $"{name}: {dockerfile} is missing");
                Assert.Contains(Dockerfiles.Parse(dockerfile), s => s.Name == build["target"]!.GetValue<string>());
                Assert.True(File.Exists(Path.Combine(context, ".dockerignore")), $"{name}: the build context has no .dockerignore");
            }

            foreach (var volume in (service["volumes"] as JsonArray ?? []).Select(v => v!.GetValue<string>()))
            {
                var source = volume.Split(':')[0];
                if (source.StartsWith('.') || source.StartsWith('/'))
                {
                    var path = Path.GetFullPath(Path.Combine(ComposeFiles.Folder, source));
                    Assert.True(Directory.Exists(path) || File.Exists(path), $"{name}: bind mount source {path} is missing");
                }
                else
                {
                    Assert.True(compose["volumes"]?.AsObject().ContainsKey(source) == true, $"{name}: named volume {source} is not declared");
                }
            }
        }

        // The model job runs the export script from the mounted tools folder.
        var model = Services(compose).Single(s => s.Name == "model").Service;
        Assert.Contains("/tools/export-model.sh", model["command"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, "tools", "export-model.sh")));

        // Every project a Dockerfile publishes exists.
        foreach (var dockerfile in Dockerfiles.All)
        {
            foreach (var run in Dockerfiles.Parse(dockerfile).SelectMany(s => s.Run))
            {
                foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(run, @"dotnet publish (\S+\.csproj)"))
                {
                    Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, m.Groups[1].Value)), $"{Path.GetFileName(dockerfile)} publishes {m.Groups[1].Value}, which does not exist");
                }
            }
        }
    }

    [Fact]
    public void Ports_AgreeWithTheApplicationsAndImages()
    {
        var env = ComposeFiles.Env();
        var compose = ComposeFiles.Load(ComposeFiles.Main);
        var services = Services(compose).ToDictionary(s => s.Name, s => s.Service);
        int ContainerPort(string service, int index = 0) => int.Parse(services[service]["ports"]![index]!.GetValue<string>().Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);

        // The proxy: the compose mapping, the image's Urls and EXPOSE, and the host's own appsettings.json agree.
        var proxyStage = Dockerfiles.Parse(Path.Combine(ComposeFiles.Folder, "Dockerfile")).Single(s => s.Name == "proxy");
        var imageUrl = new Uri(proxyStage.Env["Urls"]);
        Assert.Equal(ContainerPort("proxy"), imageUrl.Port);
        Assert.Equal(imageUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), proxyStage.Single("EXPOSE"));
        var appsettings = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", "Rank1.SearchBridge.Proxy", "appsettings.json")))!;
        Assert.Equal(imageUrl.Port, new Uri(appsettings["Urls"]!.GetValue<string>().Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port);
        Assert.Contains(imageUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), proxyStage.Single("HEALTHCHECK"), StringComparison.Ordinal);

        // The worker: its images listen on the container network on the port of its (loopback-only) default, and expose it.
        var workerDefault = new Uri(WorkerApplication.DefaultUrls);
        Assert.True(System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(workerDefault.Host)), workerDefault.ToString());
        foreach (var dockerfile in Dockerfiles.All)
        {
            var workerStage = Dockerfiles.Parse(dockerfile).Single(s => s.Name == "worker");
            Assert.Equal($"http://0.0.0.0:{workerDefault.Port}", workerStage.Env["Urls"]);
            Assert.Equal(workerDefault.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), workerStage.Single("EXPOSE"));

            // Its HEALTHCHECK is the worker binary's own probe: the image's entry point with --health-check (no curl needed).
            var probe = "[" + string.Join(", ", workerStage.Entrypoint.Append(WorkerHealthProbe.Switch).Select(a => $"\"{a}\"")) + "]";
            Assert.EndsWith("CMD " + probe, workerStage.Single("HEALTHCHECK"), StringComparison.Ordinal);
        }

        // The seed job talks to the proxy on that port; the proxy's public address is the host port.
        var seed = services["seed"]["command"]!.AsArray().Select(x => x!.GetValue<string>()).ToArray();
        Assert.Equal(imageUrl.Port, new Uri(seed[Array.IndexOf(seed, "--backend") + 1]).Port);
        var proxyEnv = ComposeFiles.Environment(services["proxy"]);
        Assert.Equal($"localhost:{env["PROXY_PORT"]}", ComposeFiles.Interpolate(proxyEnv["Rank1__Proxy__PublicAddress"], env));

        // The backend URL and broker URL of both .NET services point at the ports those containers serve.
        foreach (var app in new[] { "proxy", "worker" })
        {
            var appEnv = ComposeFiles.Environment(services[app]);
            var backend = new Uri(ComposeFiles.Interpolate(appEnv["Rank1__Backend__Url"], env));
            Assert.Equal(ContainerPort("elasticsearch"), backend.Port);
            Assert.Equal(ContainerPort("opensearch"), backend.Port);
            Assert.Contains(backend.Host, services["elasticsearch"]["networks"]!["default"]!["aliases"]!.AsArray().Select(a => a!.GetValue<string>()));
            Assert.Contains(backend.Host, services["opensearch"]["networks"]!["default"]!["aliases"]!.AsArray().Select(a => a!.GetValue<string>()));
            var broker = new Uri(ComposeFiles.Interpolate(appEnv["Rank1__Broker__Url"], env));
            Assert.Contains(services["rabbitmq"]["ports"]!.AsArray(), p => p!.GetValue<string>().EndsWith($":{broker.Port}", StringComparison.Ordinal));
            Assert.Equal("rabbitmq", broker.Host);
            Assert.Equal($"{env["RABBITMQ_USER"]}:{env["RABBITMQ_PASSWORD"]}", broker.UserInfo);
        }

        // Every published port listens on loopback only, and every host port comes from .env.
        foreach (var (name, service) in services)
        {
            foreach (var port in (service["ports"] as JsonArray ?? []).Select(p => p!.GetValue<string>()))
            {
                Assert.StartsWith("127.0.0.1:${", port, StringComparison.Ordinal);
                Assert.True(int.TryParse(ComposeFiles.Interpolate(port, env).Split(':')[1], out _), $"{name}: {port}");
            }
        }
    }

    [Fact]
    public void Images_RunAsNonRoot_WithHealthChecks_AndNoSecretsBakedIn()
    {
        foreach (var dockerfile in Dockerfiles.All)
        {
            var stages = Dockerfiles.Parse(dockerfile);
            foreach (var stage in stages.Where(s => s.Name is "proxy" or "worker" or "cli"))
            {
                var where = $"{Path.GetFileName(dockerfile)} stage {stage.Name}";
                Assert.True(stage.Single("USER") is { } user && user is not ("root" or "0"), $"{where} runs as root");
                Assert.True(stage.Single("HEALTHCHECK") is { } hc && (stage.Name == "cli" ? hc == "NONE" : hc.Contains("CMD", StringComparison.Ordinal)), $"{where}: HEALTHCHECK");
                Assert.Equal("dotnet", stage.Entrypoint.FirstOrDefault());
                Assert.DoesNotContain(stage.Env.Keys, k => k.Contains("Password", StringComparison.OrdinalIgnoreCase) || k.EndsWith("__Authorization", StringComparison.Ordinal) || k.EndsWith("__Url", StringComparison.Ordinal));
            }

            Assert.Contains(stages, s => s.Name == "proxy");
            Assert.Contains(stages, s => s.Name == "worker");
        }

        var ignore = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, ".dockerignore"));
        Assert.Contains("**/.env", ignore);
    }

    private static IEnumerable<(string Name, JsonObject Service)> Services(JsonObject compose) =>
        compose["services"]!.AsObject().Select(s => (s.Key, (JsonObject)s.Value!));

    /// <summary>
    /// What a .NET service reads: its image stage's ENV, then the compose environment (interpolated from .env) on top,
    /// as configuration keys (<c>__</c> becomes <c>:</c>).
    /// </summary>
    private static Dictionary<string, string?> ServiceSettings(string service, string target)
    {
        var env = ComposeFiles.Env();
        var stage = Dockerfiles.Parse(Path.Combine(ComposeFiles.Folder, "Dockerfile")).Single(s => s.Name == target);
        var compose = Services(ComposeFiles.Load(ComposeFiles.Main)).Single(s => s.Name == service).Service;
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in stage.Env.Concat(ComposeFiles.Environment(compose)))
        {
            settings[k.Replace("__", ":", StringComparison.Ordinal)] = ComposeFiles.Interpolate(v, env);
        }

        // The host's own appsettings.json is read first, as in the container.
        var appsettings = Path.Combine(TestPaths.RepoRoot, "src", service == "proxy" ? "Rank1.SearchBridge.Proxy" : "Rank1.SearchBridge.Worker", "appsettings.json");
        var fromFile = new ConfigurationBuilder().AddJsonFile(appsettings).Build().AsEnumerable().Where(p => p.Value is not null);
        foreach (var (k, v) in fromFile)
        {
            settings.TryAdd(k, v);
        }

        return settings;
    }

    /// <summary>
    /// Registers the service's application exactly as its host does and resolves every options class, which binds with
    /// unknown keys as errors and validates; also rejects Rank1 sections the application does not read. Null: fine.
    /// </summary>
    private static string? StartupProblem(string service, Dictionary<string, string?> settings)
    {
        string[] reads = service == "proxy" ? ["Backend", "Proxy", "Model", "Store", "HotQueries", "Broker"] : ["Backend", "Proxy", "Model", "Store", "Broker", "Worker"];
        foreach (var key in settings.Keys.Where(k => k.StartsWith("Rank1:", StringComparison.OrdinalIgnoreCase)))
        {
            var section = key.Split(':')[1];
            if (!reads.Contains(section, StringComparer.OrdinalIgnoreCase))
            {
                return $"{service} sets {key}, but it does not read Rank1:{section}";
            }
        }

        foreach (var key in settings.Keys.Where(k => !k.StartsWith("Rank1:", StringComparison.OrdinalIgnoreCase)))
        {
            if (!(key.Equals("Urls", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Logging:", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) || key.StartsWith("DOTNET_", StringComparison.OrdinalIgnoreCase)))
            {
                return $"{service} sets {key}, which no .NET host reads";
            }
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging(b => b.ClearProviders());
        try
        {
            if (service == "proxy")
            {
                services.AddRank1Proxy(configuration);
            }
            else
            {
                services.AddRank1Worker(configuration);
            }

            using var provider = services.BuildServiceProvider();
            _ = provider.GetRequiredService<IOptions<BackendOptions>>().Value;
            _ = provider.GetRequiredService<IOptions<ProxyOptions>>().Value;
            _ = provider.GetRequiredService<IOptions<ReasoningStoreOptions>>().Value;
            _ = provider.GetRequiredService<IOptions<BrokerOptions>>().Value;
            if (service == "proxy")
            {
                _ = provider.GetRequiredService<IOptions<HotQueryOptions>>().Value;
            }
            else
            {
                _ = provider.GetRequiredService<IOptions<WorkerOptions>>().Value;
            }

            var model = configuration.GetSection(Rank1EngineOptions.SectionName).Get<Rank1EngineOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new Rank1EngineOptions();
            var errors = new ConfigurationKeyValidator<Rank1EngineOptions>(Rank1EngineOptions.SectionName, new Rank1EngineOptionsValidator()).Failures(model);
            if (errors.Count > 0)
            {
                return string.Join("; ", errors);
            }
        }
        catch (Exception e) when (e is OptionsValidationException or InvalidOperationException)
        {
            return e.Message;
        }

        return null;
    }
}
