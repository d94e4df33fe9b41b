using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge demo</c>: the main job on the embedded default. It starts the embedded search backend with the
/// sample corpus, runs a sample query through BM25 over real HTTP, reranks the top passages with Rank1 (the test
/// model unless --model / RANK1_MODEL_DIR name a real one), and shows BM25 order next to Rank1 order with the
/// reasoning of the top passage.
/// </summary>
internal sealed class DemoCommand : CliCommand
{
    public override string Name => "demo";

    public override string Summary => "Start the embedded search with the sample corpus, run a query through BM25, rerank the top hits with Rank1, show both orders and the top reasoning.";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("model", "Model folder (default: RANK1_MODEL_DIR, else the generated test model).", "DIR"),
        new("query", "Query to run instead of the first sample query.", "TEXT"),
        new("port", "Port of the embedded search (default: a free one).", "P"),
        new("window", "How many BM25 hits Rank1 reranks (default 10).", "N"),
        new("max-think-tokens", "Reasoning budget per passage (default 64 for the demo).", "N"),
    ];

    public override async Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken)
    {
        var budget = args.GetInt("max-think-tokens", 0, 32_768) ?? 64;
        var window = args.GetInt("window", 1, 100) ?? 10;
        var port = args.GetInt("port", 0, 65535) ?? 0;
        var query = args.Get("query")
            ?? (await File.ReadAllLinesAsync(Path.Combine(SampleCorpus.Folder, "queries.tsv"), cancellationToken).ConfigureAwait(false))[0].Split('\t')[1];
        var modelPath = ModelLocator.Resolve(args, context);

        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = port }, context.LoggerFactory, context.Time, cancellationToken).ConfigureAwait(false);
        var loaded = await SampleCorpus.LoadAsync(server, SearchServerCommand.SampleIndex, cancellationToken).ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Embedded search (BM25) at {server.Url} with {loaded} sample passages in '{SearchServerCommand.SampleIndex}'.").ConfigureAwait(false);

        var loadStarted = context.Time.GetTimestamp();
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = modelPath }, context.LoggerFactory.CreateLogger("Rank1.Inference"), context.Time);
        await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Model {modelPath} loaded on {engine.Provider} in {context.Time.GetElapsedTime(loadStarted).TotalSeconds:0.0} s.")).ConfigureAwait(false);
        if (engine.IsRandomTestModel)
        {
            await context.Out.WriteLineAsync(
                "NOTE: this is the random-weight TEST model: its scores and reasoning are meaningless noise; it shows the " +
                "machinery, not the quality. For real judgements export jhu-clsp/rank1-0.5b with tools/export-model.sh and " +
                "pass --model DIR (or set RANK1_MODEL_DIR).").ConfigureAwait(false);
        }

        // First stage: BM25 over real HTTP, as an application would ask its cluster.
        using var http = new HttpClient { BaseAddress = server.Url };
        var search = new JsonObject
        {
            ["size"] = window,
            ["query"] = new JsonObject { ["multi_match"] = new JsonObject { ["query"] = query, ["fields"] = new JsonArray("title", "text") } },
        };
        using var response = await http.PostAsJsonAsync($"{SearchServerCommand.SampleIndex}/_search", search, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false);
        var hits = body?["hits"]?["hits"]?.AsArray().Select(h => new PassageRecord(h!["_id"]!.GetValue<string>(), h["_source"]?["title"]?.GetValue<string>(), h["_source"]!["text"]!.GetValue<string>())).ToArray() ?? [];
        if (hits.Length == 0)
        {
            throw new CliException($"the query '{query}' matched nothing in the sample corpus: try another --query", ExitCodes.BadInput);
        }

        var started = context.Time.GetTimestamp();
        var ranked = await engine.RerankAsync(query, hits.Select(p => (p.Title, p.Text)).ToArray(), settings: new JudgeSettings { MaxThinkTokens = budget },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        var elapsed = context.Time.GetElapsedTime(started);

        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Query: {query}").ConfigureAwait(false);
        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync($"  {"BM25 order",-32}  {"Rank1 order",-32}  score").ConfigureAwait(false);
        for (var i = 0; i < hits.Length; i++)
        {
            var p = hits[ranked[i].Index];
            await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {i + 1,2}. {hits[i].Id,-28}  {i + 1,2}. {p.Id,-28}  {ranked[i].Judgement.Score:0.0000}")).ConfigureAwait(false);
        }

        var top = ranked[0];
        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Top passage: {hits[top.Index].Id} \"{hits[top.Index].Title}\" ({RerankOutput.End(top.Judgement.End)} after {top.Judgement.ReasoningTokens} tokens)").ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Reasoning: {top.Judgement.Reasoning}").ConfigureAwait(false);
        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Judged {hits.Length} passages in {elapsed.TotalSeconds:0.00} s ({hits.Length / Math.Max(elapsed.TotalSeconds, 1e-9):0.0} passages/s, budget {budget} tokens).")).ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Try it yourself: rank1-bridge search-server --sample, then curl -s 'localhost:9200/{SearchServerCommand.SampleIndex}/_search?q=onions&pretty'").ConfigureAwait(false);
        return ExitCodes.Ok;
    }
}
