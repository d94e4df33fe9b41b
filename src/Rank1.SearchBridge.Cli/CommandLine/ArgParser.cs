using System.Globalization;
using System.Text;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>An option of a command: <c>--name VALUE</c> or a <c>--flag</c>; a repeatable one may be given more than once.</summary>
internal sealed record OptionSpec(string Name, string Description, string? ValueName = null, bool Required = false, bool Repeatable = false)
{
    public bool IsFlag => ValueName is null;
}

/// <summary>A bad command line: printed as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The parsed options of one command.</summary>
internal sealed class ParsedArgs
{
    private readonly Dictionary<string, string?> _values;
    private readonly Dictionary<string, List<string>> _repeated;

    public ParsedArgs(Dictionary<string, string?> values, Dictionary<string, List<string>>? repeated = null)
    {
        _values = values;
        _repeated = repeated ?? [];
    }

    /// <summary>Every value of a repeatable option, in command-line order.</summary>
    public IReadOnlyList<string> GetAll(string name) => _repeated.TryGetValue(name, out var all) ? all : [];

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required");

    public int? GetInt(string name, int min, int max)
    {
        if (Get(name) is not { } raw)
        {
            return null;
        }

        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
        {
            throw new UsageException($"--{name} must be a whole number from {min} to {max} (got '{raw}')");
        }

        return v;
    }

    public TEnum? GetEnum<TEnum>(string name)
        where TEnum : struct, Enum
    {
        if (Get(name) is not { } raw)
        {
            return null;
        }

        return Enum.TryParse<TEnum>(raw, ignoreCase: true, out var v) && Enum.IsDefined(v)
            ? v
            : throw new UsageException($"--{name} must be one of {string.Join(", ", Enum.GetNames<TEnum>())} (got '{raw}')");
    }
}

/// <summary>
/// A deliberately small parser: <c>--name value</c>, <c>--name=value</c> and flags; unknown options, missing values
/// and missing required options are <see cref="UsageException"/>s (one line, exit code 2).
/// </summary>
internal static class ArgParser
{
    public static ParsedArgs Parse(IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var byName = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var repeated = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}' (options start with --)");
            }

            var name = arg[2..];
            string? inline = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }

            if (!byName.TryGetValue(name, out var spec))
            {
                throw new UsageException($"unknown option --{name}");
            }

            if (spec.IsFlag)
            {
                if (inline is not null)
                {
                    throw new UsageException($"--{name} takes no value");
                }

                values[name] = null;
                continue;
            }

            var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"--{name} needs a value ({spec.ValueName})"));
            values[name] = value;
            if (spec.Repeatable)
            {
                (repeated.TryGetValue(name, out var list) ? list : repeated[name] = []).Add(value);
            }
        }

        foreach (var spec in specs.Where(s => s.Required && !values.ContainsKey(s.Name)))
        {
            throw new UsageException($"--{spec.Name} is required");
        }

        return new ParsedArgs(values, repeated);
    }

    public static string Usage(string command, string summary, IReadOnlyList<OptionSpec> specs)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"rank1-bridge {command}");
        foreach (var s in specs)
        {
            var part = s.IsFlag ? $"--{s.Name}" : $"--{s.Name} {s.ValueName}";
            sb.Append(' ').Append(s.Required ? part : $"[{part}]");
        }

        sb.AppendLine().AppendLine().Append("  ").AppendLine(summary).AppendLine();
        var width = specs.Max(s => s.Name.Length + (s.ValueName?.Length + 1 ?? 0)) + 4;
        foreach (var s in specs)
        {
            var left = s.IsFlag ? $"--{s.Name}" : $"--{s.Name} {s.ValueName}";
            sb.Append("  ").Append(left.PadRight(width)).AppendLine(s.Description);
        }

        return sb.ToString();
    }
}
