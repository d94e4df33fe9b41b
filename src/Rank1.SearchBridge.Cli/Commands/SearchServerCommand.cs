using System.CommandLine;
using Rank1.EmbeddedSearch;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge search-server</c>: the embedded Elasticsearch-compatible backend, standalone.</summary>
internal sealed class SearchServerCommand : CliCommand
{
    /// <summary>Index that <c>--sample</c> loads the sample corpus into.</summary>
    public const string SampleIndex = "rank1-sample";

    public override string Name => "search-server";

    public override string Summary => "Run the embedded Elasticsearch-compatible search backend (BM25 on Lucene.Net; for demos and tests, not production).";

    private readonly Option<int?> _port = CliOptions.Int("--port", "Port to listen on (default 9200; 0 picks a free one).", 0, 65535, "P");
    private readonly Option<string?> _host = ListenAddress.Option();
    private readonly Option<string?> _data = CliOptions.Text("--data", "Folder that keeps the indices across restarts (default: in memory).", "DIR");
    private readonly Option<SearchFlavor?> _flavor = CliOptions.Enum<SearchFlavor>("--flavor", "elasticsearch or opensearch: what GET / reports (default elasticsearch).", "NAME");
    private readonly Option<bool> _sample = CliOptions.Flag("--sample", $"Load the sample corpus into the index '{SampleIndex}'.");

    public override IReadOnlyList<Option> Options => [_port, _host, _data, _flavor, _sample];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var options = new EmbeddedSearchOptions
        {
            Port = args.GetValue(_port) ?? 9200,
            Host = ListenAddress.Parse(args.GetValue(_host)).ToString(),
            DataPath = DataFolder(args.GetValue(_data)),
            Flavor = args.GetValue(_flavor) ?? SearchFlavor.Elasticsearch,
        };
        EmbeddedSearchServer server;
        try
        {
            server = await EmbeddedSearchServer.StartAsync(options, context.LoggerFactory, context.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new CliException($"cannot listen on {options.Host}:{options.Port}: {ex.Message}", ExitCodes.Failure);
        }

        await using (server.ConfigureAwait(false))
        {
            if (args.GetValue(_sample))
            {
                var count = await SampleCorpus.LoadAsync(server, SampleIndex, cancellationToken).ConfigureAwait(false);
                await context.Out.WriteLineAsync($"Loaded {count} sample passages into '{SampleIndex}'.").ConfigureAwait(false);
            }

            await context.Out.WriteLineAsync($"Embedded search ({options.Flavor}) listening on {server.Url} {(options.DataPath is null ? "(in memory)" : $"(data in {options.DataPath})")}. Ctrl+C stops it.").ConfigureAwait(false);
            await context.ServeUntilCancelledAsync(cancellationToken).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary><c>--data</c>: a folder, made when missing; a file there is a one-line bad input, not a failure to listen.</summary>
    private static string? DataFolder(string? path) =>
        path is not null && File.Exists(path) ? throw new CliException($"{path}: --data is a file, not a folder (give the folder that keeps the indices)", ExitCodes.BadInput) : path;
}

/// <summary>The shipped sample corpus (samples/corpus): passages, queries and judgments.</summary>
internal static class SampleCorpus
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "samples", "corpus");

    public static Task<int> LoadAsync(EmbeddedSearchServer server, string index, CancellationToken cancellationToken) =>
        server.LoadJsonLinesAsync(index, Path.Combine(Folder, "passages.jsonl"), Mapping(), cancellationToken);

    /// <summary>The sample index's mapping: title and text as text, topic as keyword.</summary>
    public static System.Text.Json.Nodes.JsonObject Mapping() => new()
    {
        ["properties"] = new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "keyword" },
            ["title"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "text" },
            ["text"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "text" },
            ["topic"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "keyword" },
        },
    };
}
