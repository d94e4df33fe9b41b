using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Http.Proxy;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge demo</c>: the main job on the embedded default. It starts the embedded search backend with the
/// sample corpus and the Rank1 proxy in front of it (the test model unless --model / RANK1_MODEL_DIR name a real
/// one), prints the proxy URL and a ready curl, runs a sample query, and shows the backend's BM25 order next to the
/// proxy's Rank1 order with the reasoning of the top hit. It then keeps serving until Ctrl+C (or exits with --once).
/// </summary>
internal sealed class DemoCommand : CliCommand
{
    public override string Name => "demo";

    public override string Summary => "Start the embedded search with the sample corpus and the Rank1 proxy in front of it, run a sample query, show BM25 order vs Rank1 order with the top reasoning.";

    private readonly Option<string?> _model = ModelLocator.Option();
    private readonly Option<string?> _query = CliOptions.Text("--query", "Query to run instead of the first sample query.", "TEXT");
    private readonly Option<int?> _port = CliOptions.Int("--port", "Port of the proxy (default: a free one).", 0, 65535, "P");
    private readonly Option<int?> _window = CliOptions.Int("--window", "How many BM25 hits Rank1 reranks (default 10).", 1, 1000);
    private readonly Option<int?> _maxThinkTokens = CliOptions.Int("--max-think-tokens", "Reasoning budget per passage (default 64 for the demo).", 0, Rank1EngineOptions.MaxThinkTokensLimit);
    private readonly Option<bool> _once = CliOptions.Flag("--once", "Exit after the sample query instead of serving until Ctrl+C.");

    public override IReadOnlyList<Option> Options => [_model, _query, _port, _window, _maxThinkTokens, _once];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var budget = args.GetValue(_maxThinkTokens) ?? 64;
        var window = args.GetValue(_window) ?? 10;
        var port = args.GetValue(_port) ?? 0;
        var query = args.GetValue(_query)
            ?? (await File.ReadAllLinesAsync(Path.Combine(SampleCorpus.Folder, "queries.tsv"), cancellationToken).ConfigureAwait(false))[0].Split('\t')[1];
        var modelPath = ModelLocator.Resolve(args.GetValue(_model), context);
        var started = context.Time.GetTimestamp();

        await using var search = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 }, context.LoggerFactory, context.Time, cancellationToken).ConfigureAwait(false);
        var loaded = await SampleCorpus.LoadAsync(search, SearchServerCommand.SampleIndex, cancellationToken).ConfigureAwait(false);
        await using var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["Rank1:Backend:Url"] = search.Url.ToString(),
            ["Rank1:Model:Path"] = modelPath,
            ["Rank1:Proxy:Default:Fields:0"] = "text",
            ["Rank1:Proxy:Default:TitleField"] = "title",
            ["Rank1:Proxy:Default:Window"] = window.ToString(CultureInfo.InvariantCulture),
            ["Rank1:Proxy:Default:MaxThinkTokens"] = budget.ToString(CultureInfo.InvariantCulture),
            ["Rank1:Proxy:Default:Deadline"] = "00:05:00",
        }.Concat(HostSettings.OwnCallerCaps()).ToDictionary(), loggerFactory: context.LoggerFactory, cancellationToken: cancellationToken).ConfigureAwait(false);

        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        var health = await http.GetFromJsonAsync<JsonObject>(new Uri(proxy.Url, "_rank1/health"), cancellationToken).ConfigureAwait(false);
        var w = context.Out;
        await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Embedded search (BM25): {search.Url} with {loaded} sample passages in '{SearchServerCommand.SampleIndex}'.")).ConfigureAwait(false);
        await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Rank1 proxy:             {proxy.Url} (model {modelPath} on {health?["model"]?["provider"]}), ready in {context.Time.GetElapsedTime(started).TotalSeconds:0.0} s.")).ConfigureAwait(false);
        if (health?["model"]?["random_weights"]?.GetValue<bool>() == true)
        {
            await w.WriteLineAsync(
                "NOTE: this is the random-weight TEST model: its scores and reasoning are meaningless noise; it shows the " +
                "machinery, not the quality. For real judgements export jhu-clsp/rank1-0.5b with tools/export-model.sh and " +
                "pass --model DIR (or set RANK1_MODEL_DIR).").ConfigureAwait(false);
        }

        var body = new JsonObject
        {
            ["size"] = window,
            ["_source"] = new JsonArray("title"),
            ["query"] = new JsonObject { ["multi_match"] = new JsonObject { ["query"] = query, ["fields"] = new JsonArray("title", "text") } },
        };
        var searchPath = $"{SearchServerCommand.SampleIndex}/_search";
        var bm25 = await PostAsync(http, new Uri(search.Url, searchPath), body, cancellationToken).ConfigureAwait(false);
        var rerankStarted = context.Time.GetTimestamp();
        var (reranked, status) = await PostWithStatusAsync(http, new Uri(proxy.Url, searchPath), body, cancellationToken).ConfigureAwait(false);
        var elapsed = context.Time.GetElapsedTime(rerankStarted);

        var left = Hits(bm25);
        var right = Hits(reranked);
        await w.WriteLineAsync().ConfigureAwait(false);
        await w.WriteLineAsync($"Query: {ConsoleText.Visible(query)}    (X-Rank1-Rerank: {status})").ConfigureAwait(false);
        await w.WriteLineAsync().ConfigureAwait(false);
        await w.WriteLineAsync($"  {"BM25 order (backend)",-36}  {"Rank1 order (proxy)",-36}  score").ConfigureAwait(false);
        for (var i = 0; i < Math.Max(left.Count, right.Count); i++)
        {
            var l = i < left.Count ? ConsoleText.Visible(left[i]["_id"]!.GetValue<string>()) : string.Empty;
            var r = i < right.Count ? ConsoleText.Visible(right[i]["_id"]!.GetValue<string>()) : string.Empty;
            var score = i < right.Count ? right[i]["_score"]?.ToJsonString() ?? "-" : string.Empty;
            await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {i + 1,2}. {l,-32}  {i + 1,2}. {r,-32}  {Trim(score)}")).ConfigureAwait(false);
        }

        if (right.Count > 0)
        {
            var top = right[0];
            var fields = top["fields"];
            await w.WriteLineAsync().ConfigureAwait(false);
            await w.WriteLineAsync($"Top hit: {ConsoleText.Visible(top["_id"]?.ToString())} \"{ConsoleText.Visible(top["_source"]?["title"]?.ToString())}\" ({fields?["_rank1.ended"]?[0]} after {fields?["_rank1.reasoning_tokens"]?[0]} tokens)").ConfigureAwait(false);
            await w.WriteLineAsync($"Reasoning: {ConsoleText.Visible(fields?["_rank1.reasoning"]?[0]?.ToString())}").ConfigureAwait(false);
        }

        await w.WriteLineAsync().ConfigureAwait(false);
        await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Reranked {Math.Min(window, right.Count)} hits in {elapsed.TotalSeconds:0.00} s (budget {budget} tokens per passage).")).ConfigureAwait(false);
        await w.WriteLineAsync("Try it (any Elasticsearch client works the same way, pointed at the proxy):").ConfigureAwait(false);
        await w.WriteLineAsync($"  curl -s '{proxy.Url}{searchPath}?pretty' -H 'Content-Type: application/json' \\").ConfigureAwait(false);
        await w.WriteLineAsync("    -d '{\"query\":{\"match\":{\"text\":\"why do onions make people cry\"}},\"_source\":[\"title\"]}'").ConfigureAwait(false);
        await w.WriteLineAsync($"Rank1 rerank service:    {proxy.Url} (Cohere v1/rerank and v2/rerank, TEI rerank; docs/rerank-service.md):").ConfigureAwait(false);
        await w.WriteLineAsync("  " + ServeCommand.ServiceCurl(proxy.Url)).ConfigureAwait(false);
        if (args.GetValue(_once))
        {
            return ExitCodes.Ok;
        }

        await w.WriteLineAsync("The demo keeps serving; Ctrl+C stops it.").ConfigureAwait(false);
        await context.ServeUntilCancelledAsync(cancellationToken).ConfigureAwait(false);

        return ExitCodes.Ok;
    }

    private static string Trim(string score) =>
        double.TryParse(score, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d.ToString("0.0000", CultureInfo.InvariantCulture) : score;

    private static IReadOnlyList<JsonNode> Hits(JsonObject response) => response["hits"]?["hits"]?.AsArray().OfType<JsonNode>().ToArray() ?? [];

    private static async Task<JsonObject> PostAsync(HttpClient http, Uri url, JsonObject body, CancellationToken cancellationToken) =>
        (await PostWithStatusAsync(http, url, body, cancellationToken).ConfigureAwait(false)).Json;

    private static async Task<(JsonObject Json, string Status)> PostWithStatusAsync(HttpClient http, Uri url, JsonObject body, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(url, body, cancellationToken).ConfigureAwait(false);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false) ?? new JsonObject();
        if (!response.IsSuccessStatusCode)
        {
            throw new CliException($"{url} answered {(int)response.StatusCode}: {json.ToJsonString()}", ExitCodes.Failure);
        }

        return (json, response.Headers.TryGetValues("X-Rank1-Rerank", out var v) ? string.Join(", ", v) : "-");
    }
}
