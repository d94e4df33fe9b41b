using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge seed</c>: installs the reasoning index (as <c>init</c>) and bulk-loads passages (by default the
/// sample corpus) into an index, through any Elasticsearch-compatible URL: the cluster, or the proxy, which passes
/// these requests through. Idempotent: documents keep their ids, so running it again changes nothing.
/// </summary>
internal sealed class SeedCommand : CliCommand
{
    private const int BulkSize = 500;

    public override string Name => "seed";

    public override string Summary => "Install the reasoning index and bulk-load passages (default: the sample corpus) into a cluster or through the proxy. Idempotent.";

    private readonly Option<string?> _backend = CliOptions.HttpUrl("--backend", $"The cluster, or the proxy in front of it (default {ClusterAccess.DefaultUrl}).");
    private readonly Option<string?> _index = ClusterAccess.IndexOption("--index", $"Index to load the passages into (default {SearchServerCommand.SampleIndex}).");
    private readonly Option<string?> _file = CliOptions.Text("--file", "JSON Lines passages {\"id\":..,\"title\":..,\"text\":..} (default: the shipped sample corpus).", "FILE");
    private readonly Option<string?> _reasoningIndex = ClusterAccess.IndexOption("--reasoning-index", "Reasoning index name (default rank1-reasoning).");
    private readonly Option<string?> _authorization = ClusterAccess.AuthorizationOption();
    private readonly Option<int?> _wait = CliOptions.Int("--wait", "Seconds to wait for the cluster to answer before giving up (default 0: try once).", 0, 3600, "SECONDS");

    public override IReadOnlyList<Option> Options => [_backend, _index, _file, _reasoningIndex, _authorization, _wait];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var backendUrl = args.GetValue(_backend) ?? ClusterAccess.DefaultUrl;
        var index = args.GetValue(_index) ?? SearchServerCommand.SampleIndex;
        var reasoningIndex = args.GetValue(_reasoningIndex) ?? "rank1-reasoning";
        var file = args.GetValue(_file) ?? Path.Combine(SampleCorpus.Folder, "passages.jsonl");
        var passages = await ReadPassagesAsync(file, cancellationToken).ConfigureAwait(false);
        var wait = TimeSpan.FromSeconds(args.GetValue(_wait) ?? 0);

        using var backend = ClusterAccess.Client(backendUrl, context);
        var started = context.Time.GetTimestamp();
        while (await backend.ProbeAsync(cancellationToken).ConfigureAwait(false) == BackendFlavor.Unknown)
        {
            if (context.Time.GetElapsedTime(started) >= wait)
            {
                throw new CliException($"cannot reach the cluster at {backendUrl} (GET / failed{(wait > TimeSpan.Zero ? $" for {wait.TotalSeconds:0} s" : string.Empty)})", ExitCodes.Failure);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), context.Time, cancellationToken).ConfigureAwait(false);
        }

        var headers = ClusterRequest.Headers(args.GetValue(_authorization));
        await ClusterAccess.InstallReasoningIndexAsync(backend, backendUrl, reasoningIndex, headers, context, cancellationToken).ConfigureAwait(false);

        var exists = await backend.SendAsync(HttpMethod.Head, Uri.EscapeDataString(index), null, headers, cancellationToken).ConfigureAwait(false);
        if (exists.Status == 404)
        {
            var create = await backend.SendAsync(HttpMethod.Put, Uri.EscapeDataString(index), Encoding.UTF8.GetBytes(new JsonObject { ["mappings"] = SampleCorpus.Mapping() }.ToJsonString()), headers, cancellationToken).ConfigureAwait(false);
            if (create.Status is not (200 or 201) && !Encoding.UTF8.GetString(create.Body).Contains("resource_already_exists_exception", StringComparison.Ordinal))
            {
                throw new CliException($"could not create index {index}: HTTP {create.Status} {Encoding.UTF8.GetString(create.Body)}", ExitCodes.Failure);
            }
        }

        var ndjsonHeaders = ClusterRequest.Headers(args.GetValue(_authorization), ClusterRequest.Ndjson);
        foreach (var chunk in passages.Chunk(BulkSize))
        {
            var bulk = new StringBuilder();
            foreach (var (id, doc) in chunk)
            {
                bulk.Append(new JsonObject { ["index"] = new JsonObject { ["_index"] = index, ["_id"] = id } }.ToJsonString()).Append('\n');
                bulk.Append(doc.ToJsonString()).Append('\n');
            }

            var response = await backend.SendAsync(HttpMethod.Post, "_bulk", Encoding.UTF8.GetBytes(bulk.ToString()), ndjsonHeaders, cancellationToken).ConfigureAwait(false);
            // A gateway in front of the cluster may answer anything (an HTML page, an empty body): the cluster's failure in
            // one line, as eval reports it (ClusterAnswer), never a JSON exception's stack trace.
            var (answer, text) = ClusterAnswer.Read(response.Body);
            if (response.Status != 200 || answer?["errors"] is not JsonValue errors || errors.GetValueKind() != JsonValueKind.False)
            {
                var item = (answer?["items"] as JsonArray)?.Select(i => (i as JsonObject)?["index"] as JsonObject).FirstOrDefault(i => i?["error"] is not null);
                throw new CliException($"loading {index} failed: HTTP {response.Status} {(item is not null ? ClusterAnswer.Reason(item, text) : ClusterAnswer.Reason(answer, text))}", ExitCodes.Failure);
            }
        }

        await backend.SendAsync(HttpMethod.Post, $"{Uri.EscapeDataString(index)}/_refresh", null, headers, cancellationToken).ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Loaded {passages.Count} passages from {file} into '{index}'.").ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task<List<(string Id, JsonObject Doc)>> ReadPassagesAsync(string file, CancellationToken cancellationToken)
    {
        InputFile.Check(file);
        try
        {
            return await ParsePassagesAsync(file, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (InputFile.IsReadError(ex))
        {
            throw InputFile.Unreadable(file, ex);
        }
    }

    private static async Task<List<(string Id, JsonObject Doc)>> ParsePassagesAsync(string file, CancellationToken cancellationToken)
    {
        var passages = new List<(string, JsonObject)>();
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        var lineNumber = 0;
        await foreach (var line in Utf8Lines.ReadAsync(file, (number, reason) => new CliException($"{file}:{number}: {reason}", ExitCodes.BadInput), cancellationToken).ConfigureAwait(false))
        {
            lineNumber++;
            if (line.Trim().Length == 0)
            {
                continue;
            }

            // Strict, as eval and rerank read their JSON Lines: a field given twice is refused, not one of its values picked;
            // a string with a lone surrogate escape is a bad input naming the line, not an unhandled exception.
            var where = $"{file}:{lineNumber}";
            JsonObject doc;
            string id;
            try
            {
                using var parsed = JsonDocument.Parse(line, JsonLineText.Strict);
                var root = parsed.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new CliException($"{where}: expected a JSON object", ExitCodes.BadInput);
                }

                var idValue = root.TryGetProperty("id", out var given) ? given : default;
                id = idValue.ValueKind switch
                {
                    JsonValueKind.String => JsonLineText.Of(idValue, where, "id"),
                    JsonValueKind.Number => idValue.GetRawText(),
                    _ => throw new CliException($"{where}: \"id\" must be a string or a number", ExitCodes.BadInput),
                };
                if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    throw new CliException($"{where}: \"text\" must be a string", ExitCodes.BadInput);
                }

                _ = JsonLineText.Of(text, where, "text");
                if (root.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String)
                {
                    _ = JsonLineText.Of(title, where, "title");
                }

                doc = JsonObject.Create(root.Clone())!;
            }
            catch (JsonException e)
            {
                throw JsonLineText.NotValidJson(where, e, file, lineNumber);
            }

            // A repeated id would replace the earlier passage in the index: one passage lost, and a count that overstates.
            if (!firstLine.TryAdd(id, lineNumber))
            {
                throw new CliException($"{file}:{lineNumber}: id \"{id}\" repeats line {firstLine[id]} (the index would keep only the later passage)", ExitCodes.BadInput);
            }

            passages.Add((id, doc));
        }

        return passages.Count > 0 ? passages : throw new CliException($"{file}: no passages", ExitCodes.BadInput);
    }
}
