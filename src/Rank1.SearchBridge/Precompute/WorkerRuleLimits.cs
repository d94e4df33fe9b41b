using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Configuration;

namespace Rank1.SearchBridge.Precompute;

/// <summary>
/// At the worker's start-up: a rerank rule whose window is above <see cref="WorkerOptions.MaxWindow"/> is an error
/// naming the rule and the cap, since every hot-query job of that rule would otherwise end in the error queue.
/// </summary>
internal sealed class WorkerRuleLimits(IOptions<ProxyOptions> proxy) : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var rules = proxy.Value.Indices.Select((r, i) => (Rule: r, Key: $"{ProxyOptions.SectionName}:Indices:{i}")).Append((Rule: proxy.Value.Default, Key: $"{ProxyOptions.SectionName}:Default"));
        var failures = rules.Where(r => r.Rule.Window > options.MaxWindow)
            .Select(r => $"{r.Key}:{nameof(RerankRule.Window)} ({r.Rule.Window}) is above the worker's cap {WorkerOptions.SectionName}:{nameof(WorkerOptions.MaxWindow)} ({options.MaxWindow}): its hot-query jobs would all be refused; lower the rule or raise the cap.")
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
