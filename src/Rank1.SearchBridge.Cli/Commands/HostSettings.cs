using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>What the serving commands (<c>proxy</c>, <c>serve</c>) share: their common flags as settings, the config file, and start-up errors as exit codes.</summary>
internal static class HostSettings
{
    /// <summary><c>--host</c>/<c>--port</c> as <c>Urls</c>, <c>--backend</c> as <c>Rank1:Proxy:Backend</c>, <c>--require-accelerator</c> and <c>--model</c> as <c>Rank1:Model</c> keys.</summary>
    public static Dictionary<string, string?> FromArgs(ParsedArgs args, CliContext context, int defaultPort)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = $"http://{args.Get("host") ?? "127.0.0.1"}:{args.GetInt("port", 0, 65535) ?? defaultPort}",
        };
        if (args.Get("backend") is { } backend)
        {
            settings["Rank1:Proxy:Backend"] = backend;
        }

        if (args.Has("require-accelerator"))
        {
            settings["Rank1:Model:RequireAccelerator"] = "true";
        }

        if (args.Has("model") || context.GetEnvironmentVariable("Rank1__Model__Path") is null)
        {
            settings["Rank1:Model:Path"] = ModelLocator.Resolve(args, context);
        }

        return settings;
    }

    /// <summary>
    /// The in-process proxies of <c>demo</c> and <c>eval</c> answer only the command's own searches, never an anonymous
    /// caller, so their operator caps (<c>Rank1:Proxy:Caps</c>) are the hard limits rather than the serving defaults.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> OwnCallerCaps() =>
    [
        new("Rank1:Proxy:Caps:Window", "1000"),
        new("Rank1:Proxy:Caps:MaxThinkTokens", "32768"),
        new("Rank1:Proxy:Caps:DeadlineMs", "600000"),
    ];

    /// <summary>The <c>--config</c> file, which must exist when given.</summary>
    public static string? ConfigFile(ParsedArgs args)
    {
        var config = args.Get("config");
        return config is not null && !File.Exists(config) ? throw new CliException($"{config}: configuration file not found", ExitCodes.BadInput) : config;
    }

    /// <summary>Starts a host; bad configuration becomes a one-line usage error naming the key.</summary>
    public static async Task<T> StartAsync<T>(Func<Task<T>> start)
    {
        try
        {
            return await start().ConfigureAwait(false);
        }
        catch (OptionsValidationException ex)
        {
            throw new CliException($"bad configuration: {string.Join("; ", ex.Failures)}", ExitCodes.Usage);
        }
        catch (InvalidOperationException ex) when (ex.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase))
        {
            throw new CliException($"bad configuration: {ex.Message}", ExitCodes.Usage);
        }
    }
}
