using System.CommandLine;
using Rank1.Inference.Prompt;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary><c>--prompt-template TEXT</c>, shared by rerank, eval and precompute: a dataset prompt wrapping the query.</summary>
internal static class PromptTemplateOption
{
    /// <summary>The option; a template without the placeholder is a parse error.</summary>
    public static Option<string?> Create() => CliOptions.Checked(
        CliOptions.Text("--prompt-template",
            "A dataset prompt wrapping the query, as the paper's BEIR/BRIGHT runs: text containing FILL_QUERY_HERE, replaced by the query (and instructions).", "TEXT"),
        t => Rank1Prompt.IsValidTemplate(t) ? null : $"--prompt-template: {Rank1Prompt.TemplateProblem}");
}
