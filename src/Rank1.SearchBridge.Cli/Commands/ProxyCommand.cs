using System.CommandLine;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Http.Proxy;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge proxy</c>: the rerank proxy in front of a cluster (same configuration keys as the Proxy host).</summary>
internal sealed class ProxyCommand : CliCommand
{
    public override string Name => "proxy";

    public override string Summary => "Run the rerank proxy in front of an Elasticsearch/OpenSearch cluster (configuration: docs/configuration.md).";

    private readonly ServingOptions _options = new(defaultPort: 8080, "The cluster's URL (Rank1:Backend:Url).");

    public override IReadOnlyList<Option> Options => [_options.Backend, _options.Model, _options.Port, _options.Host, _options.Config, _options.RequireAccelerator];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var config = _options.ConfigFile(args);
        var settings = _options.Settings(args, context, config);
        var proxy = await HostSettings.StartAsync(config, () => ProxyServer.StartAsync(settings, config, loggerFactory: context.LoggerFactory, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await using (proxy.ConfigureAwait(false))
        {
            await context.Out.WriteLineAsync($"Rank1 proxy listening on {proxy.Url}. Point your Elasticsearch/OpenSearch client there. Ctrl+C stops it.").ConfigureAwait(false);
            await context.ServeUntilCancelledAsync(cancellationToken).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }
}
