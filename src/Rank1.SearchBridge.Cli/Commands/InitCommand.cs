using System.CommandLine;
using Rank1.Elastic;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge init</c>: installs the reasoning index (template and index) on the cluster; running it again changes nothing.</summary>
internal sealed class InitCommand : CliCommand
{
    public override string Name => "init";

    public override string Summary => "Install the reasoning index (mappings/) on the cluster: index template where supported, and the index. Idempotent.";

    private readonly Option<string?> _backend = CliOptions.HttpUrl("--backend", $"The cluster (default {ClusterAccess.DefaultUrl}).");
    private readonly Option<string?> _index = ClusterAccess.IndexOption("--index", "Reasoning index name (default rank1-reasoning).");
    private readonly Option<string?> _authorization = ClusterAccess.AuthorizationOption();

    public override IReadOnlyList<Option> Options => [_backend, _index, _authorization];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var backendUrl = args.GetValue(_backend) ?? ClusterAccess.DefaultUrl;
        var index = args.GetValue(_index) ?? "rank1-reasoning";
        using var backend = ClusterAccess.Client(backendUrl, context);
        if (await backend.ProbeAsync(cancellationToken).ConfigureAwait(false) == BackendFlavor.Unknown)
        {
            throw new CliException($"cannot reach the cluster at {backendUrl} (GET / failed)", ExitCodes.Failure);
        }

        await ClusterAccess.InstallReasoningIndexAsync(backend, backendUrl, index, ClusterRequest.Headers(args.GetValue(_authorization)), context, cancellationToken).ConfigureAwait(false);
        return ExitCodes.Ok;
    }
}
