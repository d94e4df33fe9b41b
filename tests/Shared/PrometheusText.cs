using System.Globalization;
using System.Text.RegularExpressions;

namespace Rank1.Testing;

/// <summary>
/// Reads samples out of a Prometheus text exposition (format 0.0.4), as a scraper does: a sample is picked by its name
/// and the labels a test cares about; other labels (the exporter's <c>otel_scope_*</c>) and timestamps are ignored.
/// </summary>
internal static partial class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>The value of the one sample named <paramref name="name"/> that carries <paramref name="labels"/>.</summary>
    public static double Value(string text, string name, params (string Name, string Value)[] labels)
    {
        var matches = Matching(text, name, labels);
        return matches.Count == 1
            ? matches[0].Value
            : throw new Xunit.Sdk.XunitException($"{matches.Count} samples named {name} with {Describe(labels)} (one expected) in:\n{Lines(text, name)}");
    }

    /// <summary>The sum of every sample named <paramref name="name"/> that carries <paramref name="labels"/> (0 when none).</summary>
    public static double Sum(string text, string name, params (string Name, string Value)[] labels) => Matching(text, name, labels).Sum(s => s.Value);

    public static IEnumerable<Sample> Samples(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var match = SampleLine().Match(line);
            if (!match.Success)
            {
                throw new Xunit.Sdk.XunitException($"not a Prometheus sample line: {line}");
            }

            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups[1].Value, m => Regex.Unescape(m.Groups[2].Value), StringComparer.Ordinal);
            yield return new Sample(match.Groups["name"].Value, labels, match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            });
        }
    }

    private static List<Sample> Matching(string text, string name, (string Name, string Value)[] labels) =>
        [.. Samples(text).Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value))];

    private static string Describe((string Name, string Value)[] labels) => "{" + string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value}\"")) + "}";

    private static string Lines(string text, string name) => string.Join('\n', text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal)));

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+-?\d+)?\s*$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
