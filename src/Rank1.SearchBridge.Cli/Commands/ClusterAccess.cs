using Microsoft.Extensions.Logging.Abstractions;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>What the commands that talk to a cluster share: its URL, index names, headers, the reasoning index.</summary>
internal static class ClusterAccess
{
    public const string DefaultUrl = "http://127.0.0.1:9200";

    /// <summary>The http(s) URL given to <paramref name="option"/>, or a usage error.</summary>
    public static string Url(ParsedArgs args, string option = "backend")
    {
        var url = args.Get(option) ?? DefaultUrl;
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? url
            : throw new UsageException($"--{option} must be an http(s) URL (got '{url}')");
    }

    /// <summary>The index name given to <paramref name="option"/> (or its default), checked as the reasoning store checks names.</summary>
    public static string IndexName(ParsedArgs args, string option, string defaultName)
    {
        var name = args.Get(option) ?? defaultName;
        var check = new ReasoningStoreOptions { Index = name };
        var problems = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        return System.ComponentModel.DataAnnotations.Validator.TryValidateObject(check, new(check), problems, validateAllProperties: true)
            ? name
            : throw new UsageException($"--{option} {problems[0].ErrorMessage}");
    }

    /// <summary>JSON content type, plus <c>--authorization</c> when given.</summary>
    public static List<KeyValuePair<string, string[]>> Headers(ParsedArgs args)
    {
        List<KeyValuePair<string, string[]>> headers = [new("Content-Type", ["application/json"])];
        if (args.Get("authorization") is { } auth)
        {
            headers.Add(new("Authorization", [auth]));
        }

        return headers;
    }

    public static BackendClient Client(string url, CliContext context) =>
        new(Microsoft.Extensions.Options.Options.Create(new ProxyOptions { Backend = url }), context.Time, new ProxyMetrics(), NullLogger<BackendClient>.Instance);

    /// <summary>Installs the reasoning index (idempotent) and prints what happened.</summary>
    public static async Task InstallReasoningIndexAsync(BackendClient backend, string url, string index, IEnumerable<KeyValuePair<string, string[]>> headers, CliContext context, CancellationToken cancellationToken)
    {
        try
        {
            var report = await ReasoningStore.EnsureIndexAsync(backend, index, headers, cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"{backend.Flavor} at {url}: {report}.").ConfigureAwait(false);
        }
        catch (EsException e)
        {
            throw new CliException(e.Message, ExitCodes.Failure);
        }
    }
}
