using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Http.Service;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Precompute;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;
using Rank1.Testing;

namespace Rank1.SearchBridge.Tests;

/// <summary>
/// docs/configuration.md read against the code: every key of its tables is a setting of the options class its section
/// names, every setting is in the tables, and each documented default and range is the class's own (the defaults of a
/// new instance, its <c>[Range]</c>/<c>[MinLength]</c> attributes); the metrics table names every instrument of
/// <see cref="Rank1Metrics"/> with its kind, unit and Prometheus name. A setting added, renamed or re-ranged without its
/// line in the reference fails here.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    private static readonly Dictionary<string, Type> SectionTypes = new(StringComparer.Ordinal)
    {
        [Rank1EngineOptions.SectionName] = typeof(Rank1EngineOptions),
        [BackendOptions.SectionName] = typeof(BackendOptions),
        [ProxyOptions.SectionName] = typeof(ProxyOptions),
        [RerankServiceOptions.SectionName] = typeof(RerankServiceOptions),
        [ReasoningStoreOptions.SectionName] = typeof(ReasoningStoreOptions),
        [HotQueryOptions.SectionName] = typeof(HotQueryOptions),
        [BrokerOptions.SectionName] = typeof(BrokerOptions),
        [WorkerOptions.SectionName] = typeof(WorkerOptions),
    };

    private static string Reference => File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "configuration.md"));

    [Fact]
    public void EverySection_HasItsHeading_NamingItsOptionsClass()
    {
        Assert.Equal(UnknownSettings.Sections.Order(StringComparer.Ordinal), SectionTypes.Keys.Order(StringComparer.Ordinal));
        var headings = Headings().ToDictionary(h => h.Section, h => h.TypeName, StringComparer.Ordinal);
        Assert.Equal(SectionTypes.Keys.Order(StringComparer.Ordinal), headings.Keys.Order(StringComparer.Ordinal));
        Assert.All(SectionTypes, s => Assert.Equal(s.Value.Name, headings[s.Key]));

        // The error a misspelt section gets lists the sections; the reference quotes it.
        var known = string.Join(", ", UnknownSettings.Sections.Select(s => s[(UnknownSettings.Root.Length + 1)..]).Order(StringComparer.Ordinal));
        Assert.Contains($"the sections under Rank1 are {known}`", Reference, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryDocumentedKey_IsASetting_AndEverySettingIsDocumented()
    {
        var failures = new List<string>();
        foreach (var (type, rows) in Tables())
        {
            var documented = rows.Select(r => r.Key).ToList();
            var settings = Settings(type).Select(p => p.Name).ToList();
            failures.AddRange(documented.Except(settings, StringComparer.Ordinal).Select(k => $"{type.Name}: '{k}' is documented but is not a setting"));
            failures.AddRange(settings.Except(documented, StringComparer.Ordinal).Select(k => $"{type.Name}: '{k}' is a setting but is not documented"));
            failures.AddRange(documented.GroupBy(k => k, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"{type.Name}: '{g.Key}' is documented twice"));
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void EveryDocumentedDefault_IsTheOptionsDefault()
    {
        var failures = new List<string>();
        foreach (var (type, rows) in Tables())
        {
            var instance = Activator.CreateInstance(type)!;
            foreach (var row in rows)
            {
                if (type.GetProperty(row.Key) is { } property && DefaultMismatch(instance, property, row.Default) is { } why)
                {
                    failures.Add($"{type.Name}.{row.Key}: documented default '{row.Default}', {why}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void EveryDocumentedRange_IsTheValidatedRange()
    {
        var failures = new List<string>();
        foreach (var (type, rows) in Tables())
        {
            foreach (var row in rows)
            {
                if (type.GetProperty(row.Key) is { } property && RangeMismatch(property, row.Type) is { } why)
                {
                    failures.Add($"{type.Name}.{row.Key}: documented type '{row.Type}', {why}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void MetricsTable_NamesEveryInstrument_WithItsKindUnitAndPrometheusName()
    {
        var instruments = new Dictionary<string, Instrument>(StringComparer.Ordinal);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == Rank1Metrics.MeterName && instrument.Meter.Scope == factory)
                {
                    lock (instruments)
                    {
                        instruments[instrument.Name] = instrument;
                    }
                }
            },
        };
        listener.Start();
        _ = new Rank1Metrics(factory);

        var rows = TableRows(Reference, "| Instrument (kind, unit) |")
            .Select(cells => (Instrument: InstrumentCell().Match(cells[0]), Prometheus: cells[1].Trim('`')))
            .ToList();
        Assert.All(rows, r => Assert.True(r.Instrument.Success, r.Prometheus));
        Assert.Equal(instruments.Keys.Order(StringComparer.Ordinal), rows.Select(r => r.Instrument.Groups["name"].Value).Order(StringComparer.Ordinal));

        var failures = new List<string>();
        foreach (var (cell, prometheus) in rows)
        {
            var instrument = instruments[cell.Groups["name"].Value];
            var (kind, monotonic) = Kind(instrument);
            var unit = cell.Groups["unit"].Success ? cell.Groups["unit"].Value : null;
            if (kind != cell.Groups["kind"].Value || unit != instrument.Unit)
            {
                failures.Add($"{instrument.Name}: documented ({cell.Groups["kind"].Value}, {unit}), the code's ({kind}, {instrument.Unit})");
            }

            // OpenTelemetry's Prometheus exporter: dots become underscores, the unit a suffix, a counter's total.
            var suffix = instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", null => string.Empty, var u => "_" + u };
            var expected = instrument.Name.Replace('.', '_') + suffix + (monotonic ? "_total" : string.Empty);
            if (expected != prometheus)
            {
                failures.Add($"{instrument.Name}: documented as {prometheus}, scraped as {expected}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static (string Kind, bool Monotonic) Kind(Instrument instrument)
    {
        var definition = instrument.GetType().GetGenericTypeDefinition();
        return definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>) ? ("counter", true)
            : definition == typeof(UpDownCounter<>) || definition == typeof(ObservableUpDownCounter<>) ? ("up-down counter", false)
            : definition == typeof(Histogram<>) ? ("histogram", false)
            : definition == typeof(Gauge<>) || definition == typeof(ObservableGauge<>) ? ("gauge", false)
            : (definition.Name, false);
    }

    private sealed record Row(string Key, string Type, string Default);

    /// <summary>The key tables of each section, by the options class they document (a rule's and the caps' included).</summary>
    private static IEnumerable<(Type Type, List<Row> Rows)> Tables()
    {
        var text = Reference;
        var headings = Headings().ToList();
        for (var i = 0; i < headings.Count; i++)
        {
            var end = i + 1 < headings.Count ? headings[i + 1].Index : text.IndexOf("\n## ", headings[i].Index + 1, StringComparison.Ordinal);
            var body = text[headings[i].Index..(end < 0 ? text.Length : end)];
            var type = SectionTypes[headings[i].Section];
            var tables = Split(body, "| Key | Type | Default | Meaning |").ToList();
            var rows = TableRows(tables[0], "| Key | Type | Default | Meaning |").Select(c => new Row(c[0].Trim('`'), c[1], c[2])).ToList();
            if (type == typeof(ProxyOptions))
            {
                Assert.Equal(2, tables.Count);
                yield return (typeof(ProxyOptions), rows.Where(r => !r.Key.Contains(':', StringComparison.Ordinal))
                    .Concat(rows.Where(r => r.Key is "Indices:N:..." or "Default:..." or "Caps:...").Select(r => r with { Key = r.Key.Split(':')[0] }))
                    .Concat(rows.Any(r => r.Key.StartsWith("Caps:", StringComparison.Ordinal)) ? [new Row(nameof(ProxyOptions.Caps), "caps", "")] : [])
                    .ToList());
                yield return (typeof(RerankCaps), rows.Where(r => r.Key.StartsWith("Caps:", StringComparison.Ordinal)).Select(r => r with { Key = r.Key["Caps:".Length..] }).ToList());
                yield return (typeof(RerankRule), TableRows(tables[1], "| Key | Type | Default | Meaning |").Select(c => new Row(c[0].Trim('`'), c[1], c[2])).ToList());
            }
            else
            {
                Assert.Single(tables);
                yield return (type, rows);
            }
        }
    }

    private static IEnumerable<string> Split(string body, string header)
    {
        var at = body.IndexOf(header, StringComparison.Ordinal);
        while (at >= 0)
        {
            var next = body.IndexOf(header, at + header.Length, StringComparison.Ordinal);
            yield return body[at..(next < 0 ? body.Length : next)];
            at = next;
        }
    }

    private static IEnumerable<(string Section, string TypeName, int Index)> Headings() =>
        SectionHeading().Matches(Reference).Select(m => (m.Groups["section"].Value, m.Groups["type"].Value, m.Index));

    /// <summary>The cells of the table that starts with <paramref name="header"/>, without the header and rule lines.</summary>
    private static IEnumerable<string[]> TableRows(string text, string header)
    {
        var start = text.IndexOf(header, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no table {header}");
        return text[start..].Split('\n').Skip(2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Trim().Trim('|').Split(" | ").Select(c => c.Trim()).ToArray());
    }

    /// <summary>What configuration binds: public settable properties, and collections filled in place.</summary>
    private static IEnumerable<PropertyInfo> Settings(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod?.IsPublic == true
            || (p.PropertyType.IsGenericType && p.PropertyType.GetGenericTypeDefinition() == typeof(IList<>)));

    private static string? DefaultMismatch(object instance, PropertyInfo property, string documented)
    {
        var value = property.GetValue(instance);
        var text = documented.Replace("`", string.Empty, StringComparison.Ordinal).Trim();
        var none = text is "required" or "none" or "empty" || text.StartsWith("unset", StringComparison.Ordinal) || text.StartsWith("none ", StringComparison.Ordinal);
        switch (value)
        {
            case null when property.Name == nameof(ProxyOptions.PublicAddress) && text == "the request's Host":
                return null;
            case null or "" or System.Collections.ICollection { Count: 0 }:
                if (property.Name == nameof(RerankRule.Fields) && instance is RerankRule rule)
                {
                    return JsonSerializer.Serialize(rule.EffectiveFields) == text ? null : $"the rule's fields default to {JsonSerializer.Serialize(rule.EffectiveFields)}";
                }

                return none ? null : "the code has none";
            case RerankRule defaultRule:
                return text == $"Pattern {defaultRule.Pattern}" ? null : $"the code's default rule has Pattern {defaultRule.Pattern}";
            case RerankCaps:
                return null;
            case bool b:
                return text == (b ? "true" : "false") ? null : $"the code's is {b}";
            case Enum e:
                return text == e.ToString() ? null : $"the code's is {e}";
            case TimeSpan t:
                return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var parsed) && parsed == t ? null : $"the code's is {t:c}";
            case int or long or double:
                return double.TryParse(text.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                    && number == Convert.ToDouble(value, CultureInfo.InvariantCulture) ? null : $"the code's is {value}";
            case string s:
                return text == s ? null : $"the code's is '{s}'";
            default:
                return $"no rule to compare a {value.GetType().Name}";
        }
    }

    private static string? RangeMismatch(PropertyInfo property, string documented)
    {
        var range = property.GetCustomAttribute<RangeAttribute>();
        var minLength = property.GetCustomAttribute<MinLengthAttribute>();
        if (property.Name == nameof(RerankRule.Fields))
        {
            return null; // A list: [MinLength(1)] is "not empty", which the reference does not spell out.
        }

        if (minLength is not null)
        {
            return documented.Contains($"{minLength.Length}+ characters", StringComparison.Ordinal) ? null : $"the code asks for at least {minLength.Length} characters";
        }

        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        var between = DocumentedRange().Match(documented);
        var atLeast = DocumentedMinimum().Match(documented);
        if (range is null)
        {
            return between.Success || atLeast.Success ? "the code validates no range" : null;
        }

        var (min, max) = (Bound(range.Minimum, type), Bound(range.Maximum, type));
        if (between.Success)
        {
            var (documentedMin, documentedMax) = (Documented(between.Groups["min"].Value, type), Documented(between.Groups["max"].Value, type));
            return documentedMin == min && documentedMax == max ? null : $"the code's range is {range.Minimum}–{range.Maximum}";
        }

        if (atLeast.Success)
        {
            return Documented(atLeast.Groups["min"].Value, type) == min && max == (type == typeof(long) ? long.MaxValue : int.MaxValue)
                ? null : $"the code's range is {range.Minimum}–{range.Maximum}";
        }

        return $"the range {range.Minimum}–{range.Maximum} is not documented";
    }

    private static decimal Bound(object bound, Type type) => type == typeof(TimeSpan)
        ? (decimal)TimeSpan.Parse((string)bound, CultureInfo.InvariantCulture).TotalMilliseconds
        : Convert.ToDecimal(bound is string s ? decimal.Parse(s, CultureInfo.InvariantCulture) : bound, CultureInfo.InvariantCulture);

    private static decimal Documented(string value, Type type)
    {
        var parts = value.Trim().Split(' ', 2);
        var number = decimal.Parse(parts[0], CultureInfo.InvariantCulture);
        if (type != typeof(TimeSpan))
        {
            Assert.Single(parts);
            return number;
        }

        if (number == 0)
        {
            return 0;
        }

        Assert.Equal(2, parts.Length);
        return number * parts[1] switch
        {
            "ms" => 1,
            "s" => 1000,
            "min" => 60_000,
            "h" => 3_600_000,
            "days" or "day" => 86_400_000,
            var unit => throw new FormatException($"unit '{unit}' in '{value}'"),
        };
    }

    [GeneratedRegex(@"^## `(?<section>Rank1:[A-Za-z]+)` — .*\(`(?<type>[A-Za-z0-9]+)`\)\s*$", RegexOptions.Multiline)]
    private static partial Regex SectionHeading();

    [GeneratedRegex(@"(?<min>\d[\d.]*(?: (?:ms|s|min|h|days?))?)–(?<max>\d[\d.]*(?: (?:ms|s|min|h|days?))?)")]
    private static partial Regex DocumentedRange();

    [GeneratedRegex(@"(?:≥ (?<min>\d+)|(?<min>\d+) or more)")]
    private static partial Regex DocumentedMinimum();

    [GeneratedRegex(@"^`(?<name>[a-z0-9_.]+)` \((?<kind>[a-z -]+?)(?:, `(?<unit>[^`]+)`)?\)$")]
    private static partial Regex InstrumentCell();
}
