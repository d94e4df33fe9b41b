using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Proxy;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge proxy</c>: the rerank proxy in front of a cluster (same configuration keys as the Proxy host).</summary>
internal sealed class ProxyCommand : CliCommand
{
    public override string Name => "proxy";

    public override string Summary => "Run the rerank proxy in front of an Elasticsearch/OpenSearch cluster (configuration: docs/configuration.md).";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("backend", "The cluster's URL (Rank1:Proxy:Backend).", "URL"),
        new("model", "Model folder (Rank1:Model:Path; default: RANK1_MODEL_DIR, else the generated test model).", "DIR"),
        new("port", "Port to listen on (default 8080; 0 picks a free one).", "P"),
        new("host", "Address to listen on (default 127.0.0.1).", "ADDR"),
        new("config", "JSON configuration file (appsettings.json layout).", "FILE"),
        new("require-accelerator", "Refuse to start on the CPU: exit 5 when no GPU provider can run the model (Rank1:Model:RequireAccelerator)."),
    ];

    public override async Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken)
    {
        var settings = HostSettings.FromArgs(args, context, defaultPort: 8080);
        var config = HostSettings.ConfigFile(args);
        var proxy = await HostSettings.StartAsync(() => ProxyServer.StartAsync(settings, config, loggerFactory: context.LoggerFactory, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await using (proxy.ConfigureAwait(false))
        {
            await context.Out.WriteLineAsync($"Rank1 proxy listening on {proxy.Url}. Point your Elasticsearch/OpenSearch client there. Ctrl+C stops it.").ConfigureAwait(false);
            await context.ServeUntilCancelledAsync(cancellationToken).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }
}
