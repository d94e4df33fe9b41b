using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// Keys that moved or were renamed: a host given one stops at start-up naming the new key (in configuration and
/// environment-variable form) rather than an unknown key, and never runs with the setting silently ignored.
/// </summary>
internal static class MovedSettings
{
    private const string ClusterMoved = $"the cluster has its own section {BackendOptions.SectionName}";
    private const string DeadlineIsATimeSpan = "a deadline is a time span like the other durations";

    // The backend served the worker as well as the proxy, so it left Rank1:Proxy. The deadlines in milliseconds became
    // time spans. In Old, '*' stands for one segment (a rule's index), carried into New.
    private static readonly Move[] Moves =
    [
        new(ProxyOptions.SectionName, "Backend", $"{BackendOptions.SectionName}:{nameof(BackendOptions.Url)}", ClusterMoved),
        new(ProxyOptions.SectionName, "BackendTimeout", $"{BackendOptions.SectionName}:{nameof(BackendOptions.Timeout)}", ClusterMoved),
        new(ProxyOptions.SectionName, "BackendMaxConnections", $"{BackendOptions.SectionName}:{nameof(BackendOptions.MaxConnections)}", ClusterMoved),
        new(ProxyOptions.SectionName, "BreakerFailureRatio", $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerFailureRatio)}", ClusterMoved),
        new(ProxyOptions.SectionName, "BreakerMinimumThroughput", $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerMinimumThroughput)}", ClusterMoved),
        new(ProxyOptions.SectionName, "BreakerSamplingDuration", $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerSamplingDuration)}", ClusterMoved),
        new(ProxyOptions.SectionName, "BreakerBreakDuration", $"{BackendOptions.SectionName}:{nameof(BackendOptions.BreakerBreakDuration)}", ClusterMoved),
        new(ProxyOptions.SectionName, "Default:DeadlineMs", $"{ProxyOptions.SectionName}:Default:{nameof(RerankRule.Deadline)}", DeadlineIsATimeSpan),
        new(ProxyOptions.SectionName, "Indices:*:DeadlineMs", $"{ProxyOptions.SectionName}:Indices:*:{nameof(RerankRule.Deadline)}", DeadlineIsATimeSpan),
        new(ProxyOptions.SectionName, "Caps:DeadlineMs", $"{ProxyOptions.SectionName}:Caps:{nameof(RerankCaps.Deadline)}", DeadlineIsATimeSpan),
        new("Rank1:Service", "DeadlineMs", "Rank1:Service:Deadline", DeadlineIsATimeSpan),
    ];

    /// <summary>
    /// Throws <see cref="OptionsValidationException"/> naming each moved key that <paramref name="configuration"/> sets
    /// under <paramref name="sectionName"/> (as a value or as a section of its own), with the key that replaces it.
    /// </summary>
    public static void ThrowIfUsed<TOptions>(IConfiguration configuration, string sectionName)
    {
        var moves = Moves.Where(m => m.Section.Equals(sectionName, StringComparison.OrdinalIgnoreCase)).ToList();
        if (moves.Count == 0)
        {
            return;
        }

        var section = configuration.GetSection(sectionName);
        var failures = section.AsEnumerable(makePathsRelative: true)
            .Select(k => (Key: k.Key, k.Value, Move: moves.FirstOrDefault(m => m.Matches(k.Key))))
            .Where(k => k.Move is not null)
            .OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase)
            .Select(k => Failure($"{sectionName}:{k.Key}", k.Move!.NewKey(k.Key), k.Move.Why, k.Value))
            .ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(sectionName, typeof(TOptions), failures);
        }
    }

    private static string Failure(string old, string replacement, string why, string? value)
    {
        // A whole number of milliseconds given to a deadline: say what to write instead.
        var example = why == DeadlineIsATimeSpan && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? $" ({ms} ms is {TimeSpan.FromMilliseconds(ms):c})"
            : string.Empty;
        return $"{old} ({UnknownSettings.EnvironmentName(old)}) is no longer read: {why}; set {replacement} ({UnknownSettings.EnvironmentName(replacement)}) instead{example}";
    }

    private sealed record Move(string Section, string Old, string New, string Why)
    {
        private string[] OldSegments => Old.Split(':');

        public bool Matches(string relativeKey)
        {
            var segments = relativeKey.Split(':');
            return segments.Length == OldSegments.Length
                && segments.Zip(OldSegments).All(p => p.Second == "*" || p.First.Equals(p.Second, StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The new key, with the segments that '*' stood for in the old one.</summary>
        public string NewKey(string relativeKey)
        {
            var wild = relativeKey.Split(':').Zip(OldSegments).Where(p => p.Second == "*").Select(p => p.First);
            return wild.Aggregate(New, (key, segment) => ReplaceFirst(key, "*", segment));
        }

        private static string ReplaceFirst(string text, string what, string with)
        {
            var i = text.IndexOf(what, StringComparison.Ordinal);
            return text[..i] + with + text[(i + what.Length)..];
        }
    }
}
