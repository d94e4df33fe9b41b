using System.CommandLine;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Http.Service;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge serve</c>: the rerank service alone (Cohere <c>/v1/rerank</c>, <c>/v2/rerank</c>, TEI's or Jina's <c>/rerank</c> and <c>/reranking</c>), no cluster needed.</summary>
internal sealed class ServeCommand : CliCommand
{
    public override string Name => "serve";

    public override string Summary => "Run the rerank service alone: Cohere /v1/rerank and /v2/rerank, TEI /rerank (docs/rerank-service.md).";

    private readonly ServingOptions _options = new(defaultPort: 8081, "A cluster to keep the reasoning store on (Rank1:Backend:Url; default: none, no store).");

    public override IReadOnlyList<Option> Options => [_options.Model, _options.Port, _options.Host, _options.Backend, _options.Config, _options.RequireAccelerator];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var config = _options.ConfigFile(args);
        var settings = _options.Settings(args, context, config);
        var service = await HostSettings.StartAsync(config, () => RerankServiceServer.StartAsync(settings, config, loggerFactory: context.LoggerFactory, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await using (service.ConfigureAwait(false))
        {
            await context.Out.WriteLineAsync($"Rank1 rerank service listening on {service.Url} (POST v1/rerank, v2/rerank, rerank, reranking). Ctrl+C stops it.").ConfigureAwait(false);
            await context.Out.WriteLineAsync(ServiceCurl(service.Url)).ConfigureAwait(false);
            await context.ServeUntilCancelledAsync(cancellationToken).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>A ready curl for the service (also printed by <c>demo</c>).</summary>
    public static string ServiceCurl(Uri url) =>
        $"curl -s {new Uri(url, "v1/rerank")} -H 'Content-Type: application/json' -d '{{\"query\":\"why do onions make you cry\",\"documents\":[\"Cutting onions releases a gas that irritates the eyes.\",\"Onion soup is made with beef stock.\"]}}'";
}
