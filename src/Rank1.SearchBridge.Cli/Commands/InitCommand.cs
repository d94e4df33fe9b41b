using Microsoft.Extensions.Logging.Abstractions;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;

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
        var backendUrl = args.Get("backend") ?? "http://127.0.0.1:9200";
        if (!Uri.TryCreate(backendUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--backend must be an http(s) URL (got '{backendUrl}')");
        }

        var index = args.Get("index") ?? "rank1-reasoning";
        var validation = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        var storeOptions = new ReasoningStoreOptions { Index = index };
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(storeOptions, new(storeOptions), validation, validateAllProperties: true))
        {
            throw new UsageException($"--index {validation[0].ErrorMessage}");
        }

        using var backend = new BackendClient(Microsoft.Extensions.Options.Options.Create(new ProxyOptions { Backend = backendUrl }), context.Time, new ProxyMetrics(), NullLogger<BackendClient>.Instance);
        if (await backend.ProbeAsync(cancellationToken).ConfigureAwait(false) == BackendFlavor.Unknown)
        {
            throw new CliException($"cannot reach the cluster at {backendUrl} (GET / failed)", ExitCodes.Failure);
        }

        KeyValuePair<string, string[]>[] headers = args.Get("authorization") is { } auth
            ? [new("Authorization", [auth]), new("Content-Type", ["application/json"])]
            : [new("Content-Type", ["application/json"])];
        try
        {
            var report = await ReasoningStore.EnsureIndexAsync(backend, index, headers, cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"{backend.Flavor} at {backendUrl}: {report}.").ConfigureAwait(false);
        }
        catch (EsError e)
        {
            throw new CliException(e.Message, ExitCodes.Failure);
        }

        return ExitCodes.Ok;
    }
}
