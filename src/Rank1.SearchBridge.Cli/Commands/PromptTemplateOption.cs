using Rank1.Inference.Prompt;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>--prompt-template TEXT</c>, shared by rerank, eval and precompute: a dataset prompt wrapping the query.</summary>
internal static class PromptTemplateOption
{
    public static readonly OptionSpec Spec = new("prompt-template",
        "A dataset prompt wrapping the query, as the paper's BEIR/BRIGHT runs: text containing FILL_QUERY_HERE, replaced by the query (and instructions).", "TEXT");

    /// <summary>The template, or null; one without the placeholder is a usage error.</summary>
    public static string? Get(ParsedArgs args) => args.Get(Spec.Name) switch
    {
        null => null,
        var t when Rank1Prompt.IsValidTemplate(t) => t,
        _ => throw new UsageException($"--prompt-template: {Rank1Prompt.TemplateProblem}"),
    };
}
