using System.CommandLine;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge rerank</c>: judge passages for one query and print them best first.</summary>
internal sealed class RerankCommand : CliCommand
{
    public override string Name => "rerank";

    public override string Summary => "Rerank the passages of a JSON Lines file for one query with a Rank1 model; best first, with score, verdict and reasoning.";

    private readonly Option<string?> _model = ModelLocator.Option();
    private readonly Option<string> _query = CliOptions.Required("--query", "The query text.", "TEXT");
    private readonly Option<string> _passages = CliOptions.Required("--passages", "JSON Lines file: one {\"id\":..,\"title\":..,\"text\":..} per line.", "FILE");
    // "" is none; other blank instructions are a usage error, as precompute's (before, " " was appended to the query).
    private readonly Option<string?> _instructions = CliOptions.Checked(CliOptions.Text("--instructions", "Instructions appended to the query (\"\": none).", "TEXT"),
        v => PrecomputeReasoning.TryInstructionsOrNone(v, out _) ? null : "--instructions must not be blank");
    private readonly Option<string?> _template = PromptTemplateOption.Create();
    private readonly Option<int?> _maxThinkTokens = CliOptions.Int("--max-think-tokens", "Reasoning budget per passage (default 1024).", 0, Rank1EngineOptions.MaxThinkTokensLimit);
    private readonly Option<ExecutionProviderKind?> _provider = CliOptions.Enum<ExecutionProviderKind>("--execution-provider", "Auto, Cpu, Cuda or DirectML (default Auto).", "EP");
    private readonly Option<bool> _requireAccelerator = CliOptions.Flag("--require-accelerator", "Refuse to run on the CPU: exit 5 when no GPU provider can run the model (Rank1:Model:RequireAccelerator).");
    private readonly Option<int?> _threads = CliOptions.Int("--threads", "ONNX Runtime intra-op threads (default: ONNX Runtime's choice).", 1, 1024);
    private readonly Option<bool> _noExactBatching = CliOptions.Flag("--no-exact-batching",
        "Also batch a model whose batched rows differ from the rows alone only by its kernels' rounding (Rank1:Model:ExactBatching=false).");
    private readonly Option<bool> _json = CliOptions.Flag("--json", "Print one JSON document instead of the list.");

    public override IReadOnlyList<Option> Options => [_model, _query, _passages, _instructions, _template, _maxThinkTokens, _provider, _requireAccelerator, _threads, _noExactBatching, _json];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var query = args.GetRequiredValue(_query);
        if (string.IsNullOrWhiteSpace(query))
        {
            throw new UsageException("--query must not be empty");
        }

        var budget = args.GetValue(_maxThinkTokens);
        var provider = args.GetValue(_provider) ?? ExecutionProviderKind.Auto;
        var threads = args.GetValue(_threads) ?? 0;
        var instructions = args.GetValue(_instructions) is { Length: > 0 } given ? given : null; // "" is none; blank was refused at parsing
        var template = args.GetValue(_template);
        var passages = await PassageFile.ReadAsync(args.GetRequiredValue(_passages), cancellationToken).ConfigureAwait(false);

        var options = new Rank1EngineOptions { Path = ModelLocator.Resolve(args.GetValue(_model), context), ExecutionProvider = provider, IntraOpThreads = threads, RequireAccelerator = args.GetValue(_requireAccelerator),
            ExactBatching = !args.GetValue(_noExactBatching) };
        using var engine = Rank1Engine.Load(options, context.LoggerFactory.CreateLogger("Rank1.Inference"), context.Time);
        if (engine.IsRandomTestModel && !args.GetValue(_json))
        {
            await context.Error.WriteLineAsync("note: this is a random-weight test model: scores and reasoning are meaningless (export a real Rank1 checkpoint with tools/export-model.sh).").ConfigureAwait(false);
        }

        var ranked = await engine.RerankAsync(query, passages.Select(p => (p.Title, p.Text)).ToArray(), instructions,
            new JudgeSettings { MaxThinkTokens = budget, PromptTemplate = template }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (args.GetValue(_json))
        {
            await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            await RerankOutput.WriteJsonAsync(buffer, query, instructions, engine.ModelId, engine.IsRandomTestModel, engine.ProviderChoice, passages, ranked, cancellationToken).ConfigureAwait(false);
            await context.Out.WriteAsync(System.Text.Encoding.UTF8.GetString(buffer.ToArray())).ConfigureAwait(false);
        }
        else
        {
            await RerankOutput.WriteTextAsync(context.Out, query, engine.ProviderChoice, passages, ranked).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }
}
