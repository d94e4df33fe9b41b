using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// The options the serving commands (<c>proxy</c>, <c>serve</c>) share, and what they become: <c>--host</c>/<c>--port</c>
/// as <c>Urls</c>, <c>--backend</c> as <c>Rank1:Backend:Url</c>, <c>--require-accelerator</c> and <c>--model</c> as
/// <c>Rank1:Model</c> keys, <c>--config</c> as the configuration file.
/// </summary>
internal sealed class ServingOptions(int defaultPort, string backendDescription)
{
    public Option<string?> Backend { get; } = CliOptions.Text("--backend", backendDescription, "URL");

    public Option<string?> Model { get; } = ModelLocator.Option("Model folder (Rank1:Model:Path; default: RANK1_MODEL_DIR, else the generated test model).");

    public Option<int?> Port { get; } = CliOptions.Int("--port", $"Port to listen on (default {defaultPort}; 0 picks a free one).", 0, 65535, "P");

    public Option<string?> Host { get; } = ListenAddress.Option();

    public Option<string?> Config { get; } = CliOptions.Text("--config", "JSON configuration file (appsettings.json layout).", "FILE");

    public Option<bool> RequireAccelerator { get; } = CliOptions.Flag("--require-accelerator",
        "Refuse to start on the CPU: exit 5 when no GPU provider can run the model (Rank1:Model:RequireAccelerator).");

    /// <summary>
    /// The options as configuration keys. A flag wins over everything; a key the <c>--config</c> file or the environment
    /// sets (<c>Urls</c>, <c>Rank1:Model:Path</c>) wins over the flags' defaults: a production file's model was replaced by
    /// the generated test model, and its <c>Urls</c> by port <paramref name="args"/>'s default.
    /// </summary>
    public Dictionary<string, string?> Settings(ParseResult args, CliContext context, string? configFile)
    {
        var configured = Configured(configFile);
        var settings = new Dictionary<string, string?>();
        if (args.GetValue(Host) is not null || args.GetValue(Port) is not null || configured("Urls") is null)
        {
            settings["Urls"] = $"http://{ListenAddress.UrlHost(ListenAddress.Parse(args.GetValue(Host)))}:{args.GetValue(Port) ?? defaultPort}";
        }

        if (args.GetValue(Backend) is { } backend)
        {
            settings["Rank1:Backend:Url"] = backend;
        }

        if (args.GetValue(RequireAccelerator))
        {
            settings["Rank1:Model:RequireAccelerator"] = "true";
        }

        if (args.GetValue(Model) is not null || configured("Rank1:Model:Path") is null)
        {
            settings["Rank1:Model:Path"] = ModelLocator.Resolve(args.GetValue(Model), context);
        }

        return settings;
    }

    /// <summary>
    /// What the <c>--config</c> file and the environment set for a key, if anything, read as the host reads them: its
    /// <c>DOTNET_</c> and <c>ASPNETCORE_</c> variables (<c>ASPNETCORE_URLS</c>), the file, then every variable, with
    /// keys in any case (<c>URLS</c>, <c>RANK1__MODEL__PATH</c>).
    /// </summary>
    private static Func<string, string?> Configured(string? configFile)
    {
        var sources = new ConfigurationBuilder().AddEnvironmentVariables("DOTNET_").AddEnvironmentVariables("ASPNETCORE_");
        if (configFile is not null)
        {
            sources.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        IConfiguration configuration;
        try
        {
            configuration = sources.AddEnvironmentVariables().Build();
        }
        catch (InvalidDataException ex) when (configFile is not null)
        {
            throw HostSettings.NotJson(configFile, ex);
        }

        return key => configuration[key] is { Length: > 0 } value ? value : null;
    }

    /// <summary>The <c>--config</c> file, which must exist when given.</summary>
    public string? ConfigFile(ParseResult args)
    {
        var config = args.GetValue(Config);
        return config is not null && !File.Exists(config) ? throw new CliException($"{config}: configuration file not found", ExitCodes.BadInput) : config;
    }
}

/// <summary>What the commands that host the proxy or the service share: the caps of in-process proxies, and start-up errors as exit codes.</summary>
internal static class HostSettings
{
    /// <summary>
    /// The in-process proxies of <c>demo</c> and <c>eval</c> answer only the command's own searches, never an anonymous
    /// caller, so their operator caps (<c>Rank1:Proxy:Caps</c>) are the hard limits rather than the serving defaults.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> OwnCallerCaps() =>
    [
        new("Rank1:Proxy:Caps:Window", "1000"),
        new("Rank1:Proxy:Caps:MaxThinkTokens", Rank1EngineOptions.MaxThinkTokensLimit.ToString(CultureInfo.InvariantCulture)),
        new("Rank1:Proxy:Caps:Deadline", "00:10:00"),
    ];

    /// <summary>A <c>--config</c> file that is not JSON: one line naming the file, with the parser's reason and position.</summary>
    public static CliException NotJson(string configFile, InvalidDataException error) =>
        // The JSON provider's "Failed to load configuration from file" wraps the parser's own reason (with its position).
        new($"{configFile}: not a valid JSON configuration file ({error.GetBaseException().Message})", ExitCodes.BadInput);

    /// <summary>
    /// Starts a host; bad configuration becomes a one-line usage error naming the key, a <c>--config</c> file that
    /// is not valid JSON a one-line bad-input error naming the file, and an address it cannot listen on (a port in
    /// use) a one-line failure (exit code 1).
    /// </summary>
    /// <param name="configFile">The <c>--config</c> file the host reads, if any.</param>
    /// <param name="start">Starts the host.</param>
    public static async Task<T> StartAsync<T>(string? configFile, Func<Task<T>> start)
    {
        try
        {
            return await start().ConfigureAwait(false);
        }
        catch (InvalidDataException ex) when (configFile is not null)
        {
            throw NotJson(configFile, ex);
        }
        catch (Exception ex) when (HostExit.Classify(ex) is { } failure)
        {
            // The hosts' one classification: bad configuration (2), a model that does not load (3), an address it
            // cannot listen on (1), no accelerator (5).
            throw new CliException(failure.Message, failure.Code);
        }
    }
}
