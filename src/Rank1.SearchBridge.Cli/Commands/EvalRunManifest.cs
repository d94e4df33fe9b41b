using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Http;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// What the runs in an <c>eval</c> <c>--run-out</c> folder were made with, kept beside them as <c>manifest.json</c>:
/// every setting that changes what the searches answer (the backend, its corpus and index, the proxy, the model and
/// its reasoning budget, the fields, the depth, the window, the prompt template, and the topics themselves). It is
/// written when the folder holds no run yet; runs already there are resumed (or read) only by an evaluation with the
/// same settings, so runs made otherwise are never mixed into this one's numbers.
/// </summary>
internal static class EvalRunManifest
{
    /// <summary>The manifest's file name in the run folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The settings of one evaluation, as the manifest records them (a null value: not set, or not this command's to know).</summary>
    /// <param name="backend">The cluster searched: its URL, or <c>embedded</c> for the in-process search.</param>
    /// <param name="corpus">What was loaded into it: the sample corpus, a dataset's corpus file (path and size), or null (a cluster's own).</param>
    /// <param name="index">The index searched.</param>
    /// <param name="proxy">The proxy: its URL, or <c>in-process</c>.</param>
    /// <param name="model">The in-process proxy's model folder (full path), or null.</param>
    /// <param name="maxThinkTokens">The in-process proxy's reasoning budget per passage, or null.</param>
    /// <param name="fields">The fields the query searches.</param>
    /// <param name="depth">Hits per query.</param>
    /// <param name="window">The rerank window asked of the proxy, or null (the proxy's configuration).</param>
    /// <param name="promptTemplate">The prompt template asked of the proxy, or null.</param>
    /// <param name="topics">The topics, in order: their ids and query texts.</param>
    public static JsonObject Describe(string backend, string? corpus, string index, string proxy, string? model, int? maxThinkTokens,
        IReadOnlyList<string> fields, int depth, int? window, string? promptTemplate, IEnumerable<(string Id, string Query)> topics)
    {
        var text = new StringBuilder();
        var count = 0;
        foreach (var (id, query) in topics)
        {
            text.Append(id).Append('\t').Append(query).Append('\n');
            count++;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        return new JsonObject
        {
            ["backend"] = backend,
            ["corpus"] = corpus,
            ["index"] = index,
            ["proxy"] = proxy,
            ["model"] = model,
            ["max_think_tokens"] = maxThinkTokens,
            ["fields"] = string.Join(',', fields),
            ["depth"] = depth,
            ["window"] = window,
            ["prompt_template"] = promptTemplate,
            ["topics"] = $"{count} topics, sha256 {hash}",
        };
    }

    /// <summary>
    /// Checks <paramref name="settings"/> against the manifest in <paramref name="folder"/> when it holds runs
    /// (<paramref name="holdsRuns"/>), or writes it when it holds none. Runs without a manifest, or with one that
    /// differs, are a <see cref="CliException"/> naming the folder and the settings that differ.
    /// </summary>
    /// <param name="folder">The run folder.</param>
    /// <param name="settings">This evaluation's settings (<see cref="Describe"/>).</param>
    /// <param name="holdsRuns">True when a run or a partial run is already in the folder.</param>
    /// <param name="cancellationToken">Cancels the read or write.</param>
    public static async Task CheckOrWriteAsync(string folder, JsonObject settings, bool holdsRuns, CancellationToken cancellationToken)
    {
        var file = Path.Combine(folder, FileName);
        if (!holdsRuns)
        {
            await File.WriteAllTextAsync(file, OutputJson.Utf8(settings.ToJsonString(OutputJson.Indented)) + "\n", cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!File.Exists(file))
        {
            throw new CliException($"{folder} holds runs but no {FileName} saying what made them, so they cannot be resumed as this evaluation's: {Hint}", ExitCodes.BadInput);
        }

        JsonObject recorded;
        try
        {
            recorded = JsonNode.Parse(await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false)) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new CliException($"{file}: not a manifest ({ex.Message}): {Hint}", ExitCodes.BadInput);
        }

        var differences = settings.Select(s => s.Key).Union(recorded.Select(r => r.Key))
            .Where(key => !JsonNode.DeepEquals(recorded[key], settings[key]))
            .Select(key => $"{key} {Show(recorded[key])} there, {Show(settings[key])} now")
            .ToList();
        if (differences.Count > 0)
        {
            throw new CliException($"{folder} holds runs made with other settings ({string.Join("; ", differences)}): {Hint}", ExitCodes.BadInput);
        }
    }

    /// <summary>
    /// A complete run must hold every topic (a topic that retrieved nothing is written too): one that lacks some was
    /// not made for these topics, and as a complete run is never written to, it is refused rather than scored 0 on them.
    /// </summary>
    /// <param name="run">The run.</param>
    /// <param name="topicIds">The evaluation's topic ids.</param>
    public static void CheckCovers(EvalRunFile run, IReadOnlyList<string> topicIds)
    {
        var missing = topicIds.Where(q => !run.Has(q)).ToList();
        if (run.Complete && missing.Count > 0)
        {
            var named = string.Join(", ", missing.Take(5)) + (missing.Count > 5 ? ", ..." : string.Empty);
            throw new CliException($"{run.Path} lacks {missing.Count} of the {topicIds.Count} topics ({named}): a complete run is never written to: {Hint}", ExitCodes.BadInput);
        }
    }

    // What to do about runs that are not this evaluation's.
    private const string Hint = "pass another --run-out, or delete the folder to start afresh";

    private static string Show(JsonNode? value) => value switch
    {
        null => "unset",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => $"'{v.GetValue<string>()}'",
        _ => value.ToJsonString(),
    };
}
