using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// Runs a source-generated validator (Microsoft.Extensions.Options' <c>[OptionsValidator]</c>: data annotations, nested
/// sections through <c>[ValidateObjectMembers]</c> and <c>[ValidateEnumeratedItems]</c>, then the options' own
/// <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/> rules) so that every failure names the
/// configuration key a user must fix. This is the one place where the generator's member paths
/// (<c>Rank1:Proxy.Indices[0].Window</c>) become keys (<c>Rank1:Proxy:Indices:0:Window</c>).
/// </summary>
/// <typeparam name="TOptions">The options type.</typeparam>
/// <param name="sectionName">The options' configuration section (<c>Rank1:Proxy</c>).</param>
/// <param name="generated">The generated validator of <typeparamref name="TOptions"/>.</param>
public sealed partial class ConfigurationKeyValidator<TOptions>(string sectionName, IValidateOptions<TOptions> generated) : IValidateOptions<TOptions>
    where TOptions : class
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var failures = Failures(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The failures of <paramref name="options"/>, each naming configuration keys; empty when valid.</summary>
    public IReadOnlyList<string> Failures(TOptions options)
    {
        // The generator names members "<name>.<Member>" (or "<TypeName>.<Member>" without a name): given the section as
        // the name, every path starts with the section.
        var result = generated.Validate(sectionName, options);
        return result.Failed ? [.. result.Failures.Select(ToKeys)] : [];
    }

    private string ToKeys(string failure)
    {
        // "Member: message" (the builder's prefix for a result with member names): the message already names the path.
        var text = MemberPrefix().Match(failure) is { Success: true } m && failure.Contains($"{sectionName}.", StringComparison.Ordinal) ? failure[m.Length..] : failure;
        return Regex.Replace(text, $@"{Regex.Escape(sectionName)}((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])+)",
            p => sectionName + MemberStep().Replace(p.Groups[1].Value, s => ":" + (s.Groups["member"].Success ? s.Groups["member"].Value : s.Groups["index"].Value)),
            RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(?:, [A-Za-z_][A-Za-z0-9_]*)*: ", RegexOptions.CultureInvariant)]
    private static partial Regex MemberPrefix();

    [GeneratedRegex(@"\.(?<member>[A-Za-z_][A-Za-z0-9_]*)|\[(?<index>[0-9]+)\]", RegexOptions.CultureInvariant)]
    private static partial Regex MemberStep();
}

/// <summary>The generated validator of <see cref="BackendOptions"/> (<c>Rank1:Backend</c>), which lives in Rank1.Elastic without Microsoft.Extensions.Options.</summary>
[OptionsValidator]
public sealed partial class BackendOptionsValidator : IValidateOptions<BackendOptions>;

/// <summary>The generated validator of <see cref="Rank1EngineOptions"/> (<c>Rank1:Model</c>), which lives in Rank1.Inference without Microsoft.Extensions.Options.</summary>
[OptionsValidator]
public sealed partial class Rank1EngineOptionsValidator : IValidateOptions<Rank1EngineOptions>;
