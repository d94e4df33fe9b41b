using System.CommandLine;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>What the commands that talk to a cluster share: its URL, index names, headers, the reasoning index.</summary>
internal static class ClusterAccess
{
    public const string DefaultUrl = "http://127.0.0.1:9200";

    /// <summary>An index name option, checked as the reasoning store checks names.</summary>
    public static Option<string?> IndexOption(string name, string description) => CliOptions.Checked(CliOptions.Text(name, description, "NAME"), index =>
    {
        var problems = new ConfigurationKeyValidator<ReasoningStoreOptions>(ReasoningStoreOptions.SectionName, new ReasoningStoreOptionsValidator())
            .Failures(new ReasoningStoreOptions { Index = index });
        return problems.Count == 0 ? null : problems[0].Replace($"{ReasoningStoreOptions.SectionName}:{nameof(ReasoningStoreOptions.Index)}", name, StringComparison.Ordinal);
    });

    /// <summary><c>--authorization VALUE</c>: the Authorization header for the cluster.</summary>
    public static Option<string?> AuthorizationOption() =>
        CliOptions.Text("--authorization", "Authorization header value for the cluster (for example 'ApiKey ...').", "VALUE");

    public static ClusterClient Client(string url, CliContext context) => new(url, context.Time);

    /// <summary>Installs the reasoning index (idempotent) and prints what happened.</summary>
    public static async Task InstallReasoningIndexAsync(ClusterClient backend, string url, string index, IEnumerable<KeyValuePair<string, string[]>> headers, CliContext context, CancellationToken cancellationToken)
    {
        try
        {
            var report = await backend.EnsureReasoningIndexAsync(index, headers, cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"{backend.Flavor} at {url}: {report}.").ConfigureAwait(false);
        }
        catch (EsException e)
        {
            throw new CliException(e.Message, ExitCodes.Failure);
        }
    }
}
