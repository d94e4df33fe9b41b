using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// Keys that moved to another section: a host given one stops at start-up naming the new key (in configuration and
/// environment-variable form) rather than an unknown key, and never runs with the setting silently ignored.
/// </summary>
internal static class MovedSettings
{
    // Section → (old key in it → new key). The backend served the worker as well as the proxy, so it left Rank1:Proxy.
    private static readonly Dictionary<string, Dictionary<string, string>> Moves = new(StringComparer.OrdinalIgnoreCase)
    {
        [ProxyOptions.SectionName] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["Backend"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.Url)}",
            ["BackendTimeout"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.Timeout)}",
            ["BackendMaxConnections"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.MaxConnections)}",
            ["BreakerFailureRatio"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerFailureRatio)}",
            ["BreakerMinimumThroughput"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerMinimumThroughput)}",
            ["BreakerSamplingDuration"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerSamplingDuration)}",
            ["BreakerBreakDuration"] = $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerBreakDuration)}",
        },
    };

    /// <summary>
    /// Throws <see cref="OptionsValidationException"/> naming each moved key that <paramref name="configuration"/> sets
    /// under <paramref name="sectionName"/> (as a value or as a section of its own), with the key that replaces it.
    /// </summary>
    public static void ThrowIfUsed<TOptions>(IConfiguration configuration, string sectionName)
    {
        if (!Moves.TryGetValue(sectionName, out var moves))
        {
            return;
        }

        var failures = configuration.GetSection(sectionName).GetChildren()
            .Where(c => moves.ContainsKey(c.Key))
            .Select(c => (Old: $"{sectionName}:{c.Key}", New: moves[c.Key]))
            .Select(m => $"{m.Old} ({EnvironmentName(m.Old)}) is no longer read: the cluster has its own section {BackendOptions.SectionName}; set {m.New} ({EnvironmentName(m.New)}) instead")
            .ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(sectionName, typeof(TOptions), failures);
        }
    }

    private static string EnvironmentName(string key) => key.Replace(":", "__", StringComparison.Ordinal);
}
