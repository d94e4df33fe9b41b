using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge init</c>: installs the reasoning index (template and index) on the cluster; running it again changes nothing.</summary>
internal sealed class InitCommand : CliCommand
{
    public override string Name => "init";

    public override string Summary => "Install the reasoning index (mappings/) on the cluster: index template where supported, and the index. Idempotent.";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("backend", "The cluster (default http://127.0.0.1:9200).", "URL"),
        new("index", "Reasoning index name (default rank1-reasoning).", "NAME"),
        new("authorization", "Authorization header value for the cluster (for example 'ApiKey ...').", "VALUE"),
    ];

    public override async Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken)
    {
        var backendUrl = ClusterAccess.Url(args);
        var index = ClusterAccess.IndexName(args, "index", "rank1-reasoning");
        using var backend = ClusterAccess.Client(backendUrl, context);
        if (await backend.ProbeAsync(cancellationToken).ConfigureAwait(false) == BackendFlavor.Unknown)
        {
            throw new CliException($"cannot reach the cluster at {backendUrl} (GET / failed)", ExitCodes.Failure);
        }

        await ClusterAccess.InstallReasoningIndexAsync(backend, backendUrl, index, ClusterAccess.Headers(args), context, cancellationToken).ConfigureAwait(false);
        return ExitCodes.Ok;
    }
}
