using System.CommandLine;
using System.Globalization;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// The kinds of option the commands take, as System.CommandLine options whose parsers give the tool's one-line
/// messages (<c>--window must be a whole number from 1 to 1000 (got '0')</c>); a bad value is a parse error, exit 2.
/// </summary>
internal static class CliOptions
{
    /// <summary><c>--name VALUE</c>; null when not given.</summary>
    public static Option<string?> Text(string name, string description, string valueName) =>
        new(name) { Description = description, HelpName = valueName };

    /// <summary><c>--name VALUE</c> that must be given.</summary>
    public static Option<string> Required(string name, string description, string valueName) =>
        new(name) { Description = description, HelpName = valueName, Required = true };

    /// <summary>A <c>--flag</c>: true when given.</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    /// <summary><c>--name FILE</c>, given once per value (<c>--run A --run B</c>).</summary>
    public static Option<string[]> Repeated(string name, string description, string valueName) =>
        new(name) { Description = description, HelpName = valueName, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; null when not given.</summary>
    public static Option<int?> Int(string name, string description, int min, int max, string valueName = "N") =>
        new(name)
        {
            Description = description,
            HelpName = valueName,
            CustomParser = result =>
            {
                var raw = result.Tokens[0].Value;
                if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max)
                {
                    return v;
                }

                result.AddError($"{name} must be a whole number from {min} to {max} (got '{raw}')");
                return null;
            },
        };

    /// <summary>One of <typeparamref name="TEnum"/>'s names, any case; null when not given.</summary>
    public static Option<TEnum?> Enum<TEnum>(string name, string description, string valueName)
        where TEnum : struct, Enum =>
        new(name)
        {
            Description = description,
            HelpName = valueName,
            CustomParser = result =>
            {
                var raw = result.Tokens[0].Value;
                if (System.Enum.TryParse<TEnum>(raw, ignoreCase: true, out var v) && System.Enum.IsDefined(v))
                {
                    return v;
                }

                result.AddError($"{name} must be one of {string.Join(", ", System.Enum.GetNames<TEnum>())} (got '{raw}')");
                return null;
            },
        };

    /// <summary>An http(s) URL; null when not given.</summary>
    public static Option<string?> HttpUrl(string name, string description) =>
        Checked(Text(name, description, "URL"), url => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? null
            : $"{name} must be an http(s) URL (got '{url}')");

    /// <summary>
    /// Adds the check that an index option names an index: an empty or blank one made the search path <c>/_search</c>,
    /// which Elasticsearch reads as every index (the reasoning index included), and was taken without a word.
    /// </summary>
    public static TOption IndexExpression<TOption>(TOption option)
        where TOption : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens is [{ Value: var value }] && string.IsNullOrWhiteSpace(value))
            {
                result.AddError($"{option.Name} must name an index or index pattern (got '{value}'; an empty one searches every index)");
            }
        });
        return option;
    }

    /// <summary>Adds a check of the option's value: <paramref name="problem"/> returns the error message, or null when the value is fine.</summary>
    public static Option<string?> Checked(Option<string?> option, Func<string, string?> problem)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } value && problem(value) is { } message)
            {
                result.AddError(message);
            }
        });
        return option;
    }
}
