using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// The README's and docs' synopses of each command (<c>rank1-bridge COMMAND [--option VALUE] ...</c>, in a code block
/// or inline code) read against the command tree: together they name every option the command's <c>--help</c> lists
/// and no other, and an optional value they show (<c>[--port 8080]</c>) is the default the help states.
/// </summary>
public sealed partial class CommandLineReferenceTests
{
    [Fact]
    public void Synopses_NameEveryOptionOfEachCommand_AndNoOther()
    {
        var synopses = Synopses();
        var failures = new List<string>();
        foreach (var command in CliApp.CreateCommands())
        {
            var options = command.Options.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
            var documented = synopses.Where(s => s.Command == command.Name).SelectMany(s => OptionName().Matches(s.Text).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
            failures.AddRange(options.Except(documented).Order(StringComparer.Ordinal).Select(o => $"rank1-bridge {command.Name} {o}: in --help, in no synopsis of the README or docs"));
            failures.AddRange(documented.Except(options).Order(StringComparer.Ordinal).Select(o => $"rank1-bridge {command.Name} {o}: in a synopsis, not an option of the command"));
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void OptionalValuesShownInSynopses_AreTheDefaultsTheHelpStates()
    {
        var failures = new List<string>();
        var commands = CliApp.CreateCommands().ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var (command, text, file) in Synopses())
        {
            foreach (Match shown in OptionalValue().Matches(text))
            {
                var (name, value) = (shown.Groups["name"].Value, shown.Groups["value"].Value);
                if (Placeholder().IsMatch(value) || commands[command].Options.FirstOrDefault(o => o.Name == name) is not { Description: { } description }
                    || StatedDefault().Match(description) is not { Success: true } stated)
                {
                    continue;
                }

                var fallback = stated.Groups["value"].Value.TrimEnd(',', ':', '.');
                if (fallback != value)
                {
                    failures.Add($"{file}: rank1-bridge {command} [{name} {value}], but --help says the default is {fallback}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>Each synopsis: a line of a code block that starts with <c>rank1-bridge COMMAND</c> (with its continuation lines), or inline code that does.</summary>
    private static List<(string Command, string Text, string File)> Synopses()
    {
        var commands = CliApp.CreateCommands().Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var files = new[] { "README.md", "compose/README.md" }.Concat(Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "docs"), "*.md").Select(f => Path.GetRelativePath(TestPaths.RepoRoot, f)));
        var synopses = new List<(string, string, string)>();
        foreach (var file in files)
        {
            var fenced = false;
            string? continued = null;
            foreach (var line in File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, file)))
            {
                if (line.StartsWith("```", StringComparison.Ordinal))
                {
                    (fenced, continued) = (!fenced, null);
                    continue;
                }

                if (fenced)
                {
                    var text = line.Split(" # ")[0];
                    var command = continued;
                    if (CodeLine().Match(text) is { Success: true } start && commands.Contains(start.Groups["command"].Value))
                    {
                        (command, text) = (start.Groups["command"].Value, start.Groups["rest"].Value);
                    }

                    if (command is not null)
                    {
                        synopses.Add((command, text, file));
                    }

                    continued = line.TrimEnd().EndsWith('\\') ? command : null;
                }
                else
                {
                    synopses.AddRange(InlineCode().Matches(line).Where(m => commands.Contains(m.Groups["command"].Value)).Select(m => (m.Groups["command"].Value, m.Groups["rest"].Value, file)));
                }
            }
        }

        return synopses;
    }

    [GeneratedRegex(@"^\s*rank1-bridge (?<command>[a-z-]+)\b(?<rest>.*)$")]
    private static partial Regex CodeLine();

    [GeneratedRegex(@"`rank1-bridge (?<command>[a-z-]+)(?<rest>[^`]*)`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"--[a-z][a-z-]*")]
    private static partial Regex OptionName();

    [GeneratedRegex(@"\[(?<name>--[a-z][a-z-]*) (?<value>[^\[\]]+)\]")]
    private static partial Regex OptionalValue();

    [GeneratedRegex(@"^[A-Z][A-Z0-9_]*$|\||\.\.\.")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"\(default (?<value>[^;)\s]+)")]
    private static partial Regex StatedDefault();
}
