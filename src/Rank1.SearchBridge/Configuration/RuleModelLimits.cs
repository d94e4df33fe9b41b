using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Rank1.Inference;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// Checks every rerank rule's token limits against the model's caps (<c>Rank1:Model:MaxQueryTokens</c> and
/// <c>MaxPassageTokens</c>) at start-up: a rule asking for more than the model allows is an error naming the rule and
/// the cap, instead of being cut down to the cap without a word.
/// </summary>
internal sealed class RuleModelLimits(IConfiguration configuration) : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        var model = configuration.GetSection(Rank1EngineOptions.SectionName).Get<Rank1EngineOptions>() ?? new Rank1EngineOptions();
        var failures = new List<string>();
        var rules = options.Indices.Select((r, i) => (Rule: r, Key: $"{ProxyOptions.SectionName}:Indices:{i}")).Append((Rule: options.Default, Key: $"{ProxyOptions.SectionName}:Default"));
        foreach (var (rule, key) in rules)
        {
            Check(failures, $"{key}:{nameof(RerankRule.MaxQueryTokens)}", rule.MaxQueryTokens, $"{Rank1EngineOptions.SectionName}:{nameof(Rank1EngineOptions.MaxQueryTokens)}", model.MaxQueryTokens);
            Check(failures, $"{key}:{nameof(RerankRule.MaxPassageTokens)}", rule.MaxPassageTokens, $"{Rank1EngineOptions.SectionName}:{nameof(Rank1EngineOptions.MaxPassageTokens)}", model.MaxPassageTokens);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string key, int? value, string capKey, int cap)
    {
        if (value > cap)
        {
            failures.Add($"{key} ({value}) is above the model's cap {capKey} ({cap}): lower the rule's limit or raise the cap.");
        }
    }
}
