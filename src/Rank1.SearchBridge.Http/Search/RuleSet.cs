using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Configuration;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>Picks the rerank rule for a search's index expression: the first rule whose pattern covers every index it names.</summary>
internal sealed class RuleSet
{
    private readonly (Regex[] Patterns, RerankRule Rule)[] _rules;
    private readonly RerankRule _default;

    public RuleSet(IOptions<ProxyOptions> options)
    {
        _rules = options.Value.Indices.Select(r => (r.Pattern.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(JsonPaths.Wildcard).ToArray(), r)).ToArray();
        _default = options.Value.Default;
    }

    public RerankRule Resolve(string? indexExpression)
    {
        var names = string.IsNullOrEmpty(indexExpression) ? ["_all"] : indexExpression.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var (patterns, rule) in _rules)
        {
            if (names.All(n => patterns.Any(p => p.IsMatch(n))))
            {
                return rule;
            }
        }

        return _default;
    }

}
