using System.Globalization;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge demo</c>: the main job on the embedded default. Today it reranks the shipped sample passages for
/// the sample query with the model (the test model unless --model / RANK1_MODEL_DIR name a real one) and shows the
/// input order next to the Rank1 order with the reasoning of the top passage.
/// </summary>
internal sealed class DemoCommand : CliCommand
{
    public override string Name => "demo";

    public override string Summary => "Run the sample query over the sample passages and show input order vs Rank1 order with the top reasoning.";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("model", "Model folder (default: RANK1_MODEL_DIR, else the generated test model).", "DIR"),
        new("query", "Query to run instead of the sample query.", "TEXT"),
        new("max-think-tokens", "Reasoning budget per passage (default 64 for the demo).", "N"),
    ];

    public override async Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken)
    {
        var samples = Path.Combine(AppContext.BaseDirectory, "samples", "demo");
        var passages = await PassageFile.ReadAsync(Path.Combine(samples, "passages.jsonl"), cancellationToken).ConfigureAwait(false);
        var query = args.Get("query") ?? (await File.ReadAllLinesAsync(Path.Combine(samples, "queries.tsv"), cancellationToken).ConfigureAwait(false))[0].Split('\t')[1];
        var budget = args.GetInt("max-think-tokens", 0, 32_768) ?? 64;

        var modelPath = ModelLocator.Resolve(args, context);
        await context.Out.WriteLineAsync($"Model: {modelPath}").ConfigureAwait(false);
        var loadStarted = context.Time.GetTimestamp();
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = modelPath }, context.LoggerFactory.CreateLogger("Rank1.Inference"), context.Time);
        await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Loaded on {engine.Provider} in {context.Time.GetElapsedTime(loadStarted).TotalSeconds:0.0} s.")).ConfigureAwait(false);
        if (engine.IsRandomTestModel)
        {
            await context.Out.WriteLineAsync(
                "NOTE: this is the random-weight TEST model: its scores and reasoning are meaningless noise; it shows the " +
                "machinery, not the quality. For real judgements export jhu-clsp/rank1-0.5b with tools/export-model.sh and " +
                "pass --model DIR (or set RANK1_MODEL_DIR).").ConfigureAwait(false);
        }

        await context.Out.WriteLineAsync().ConfigureAwait(false);
        var started = context.Time.GetTimestamp();
        var ranked = await engine.RerankAsync(query, passages.Select(p => (p.Title, p.Text)).ToArray(), settings: new JudgeSettings { MaxThinkTokens = budget },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        var elapsed = context.Time.GetElapsedTime(started);

        await context.Out.WriteLineAsync($"Query: {query}").ConfigureAwait(false);
        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync($"  {"input order",-32}  {"Rank1 order",-32}  score").ConfigureAwait(false);
        for (var i = 0; i < passages.Count; i++)
        {
            var p = passages[ranked[i].Index];
            await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {i + 1,2}. {passages[i].Id,-28}  {i + 1,2}. {p.Id,-28}  {ranked[i].Judgement.Score:0.0000}")).ConfigureAwait(false);
        }

        var top = ranked[0];
        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Top passage: {passages[top.Index].Id} ({RerankOutput.End(top.Judgement.End)} after {top.Judgement.ReasoningTokens} tokens)").ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Reasoning: {top.Judgement.Reasoning}").ConfigureAwait(false);
        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Judged {passages.Count} passages in {elapsed.TotalSeconds:0.00} s ({passages.Count / Math.Max(elapsed.TotalSeconds, 1e-9):0.0} passages/s, budget {budget} tokens).")).ConfigureAwait(false);
        await context.Out.WriteLineAsync("Try: rank1-bridge rerank --query \"...\" --passages samples/demo/passages.jsonl").ConfigureAwait(false);
        return ExitCodes.Ok;
    }
}
