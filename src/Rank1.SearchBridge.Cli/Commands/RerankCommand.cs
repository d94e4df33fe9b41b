using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>rank1-bridge rerank</c>: judge passages for one query and print them best first.</summary>
internal sealed class RerankCommand : CliCommand
{
    public override string Name => "rerank";

    public override string Summary => "Rerank the passages of a JSON Lines file for one query with a Rank1 model; best first, with score, verdict and reasoning.";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("model", "Model folder (default: RANK1_MODEL_DIR, else the generated test model).", "DIR"),
        new("query", "The query text.", "TEXT", Required: true),
        new("passages", "JSON Lines file: one {\"id\":..,\"title\":..,\"text\":..} per line.", "FILE", Required: true),
        new("instructions", "Instructions appended to the query.", "TEXT"),
        PromptTemplateOption.Spec,
        new("max-think-tokens", "Reasoning budget per passage (default 1024).", "N"),
        new("execution-provider", "Auto, Cpu, Cuda or DirectML (default Auto).", "EP"),
        new("require-accelerator", "Refuse to run on the CPU: exit 5 when no GPU provider can run the model (Rank1:Model:RequireAccelerator)."),
        new("threads", "ONNX Runtime intra-op threads (default: ONNX Runtime's choice).", "N"),
        new("json", "Print one JSON document instead of the list."),
    ];

    public override async Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken)
    {
        var query = args.Require("query");
        if (string.IsNullOrWhiteSpace(query))
        {
            throw new UsageException("--query must not be empty");
        }

        var budget = args.GetInt("max-think-tokens", 0, 32_768);
        var provider = args.GetEnum<ExecutionProviderKind>("execution-provider") ?? ExecutionProviderKind.Auto;
        var threads = args.GetInt("threads", 1, 1024) ?? 0;
        var instructions = args.Get("instructions");
        var template = PromptTemplateOption.Get(args);
        var passages = await PassageFile.ReadAsync(args.Require("passages"), cancellationToken).ConfigureAwait(false);

        var options = new Rank1EngineOptions { Path = ModelLocator.Resolve(args, context), ExecutionProvider = provider, IntraOpThreads = threads, RequireAccelerator = args.Has("require-accelerator") };
        using var engine = Rank1Engine.Load(options, context.LoggerFactory.CreateLogger("Rank1.Inference"), context.Time);
        if (engine.IsRandomTestModel && !args.Has("json"))
        {
            await context.Error.WriteLineAsync("note: this is a random-weight test model: scores and reasoning are meaningless (export a real Rank1 checkpoint with tools/export-model.sh).").ConfigureAwait(false);
        }

        var ranked = await engine.RerankAsync(query, passages.Select(p => (p.Title, p.Text)).ToArray(), instructions,
            new JudgeSettings { MaxThinkTokens = budget, PromptTemplate = template }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (args.Has("json"))
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
