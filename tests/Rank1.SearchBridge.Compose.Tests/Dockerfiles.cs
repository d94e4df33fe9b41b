using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>One Dockerfile instruction (continuation lines joined).</summary>
internal sealed record Instruction(string Keyword, string Arguments);

/// <summary>One build stage: its name (the <c>AS</c> name) and instructions.</summary>
internal sealed record Stage(string Name, string From, IReadOnlyList<Instruction> Instructions)
{
    public IEnumerable<string> Run => Instructions.Where(i => i.Keyword == "RUN").Select(i => i.Arguments);

    public IReadOnlyDictionary<string, string> Env
    {
        get
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var i in Instructions.Where(i => i.Keyword == "ENV"))
            {
                foreach (Match m in Regex.Matches(i.Arguments, @"(?<k>[A-Za-z_][A-Za-z0-9_]*)=(?<v>""[^""]*""|\S+)"))
                {
                    env[m.Groups["k"].Value] = m.Groups["v"].Value.Trim('"');
                }
            }

            return env;
        }
    }

    public string? Single(string keyword) => Instructions.LastOrDefault(i => i.Keyword == keyword)?.Arguments;

    /// <summary>The ENTRYPOINT as its JSON array.</summary>
    public string[] Entrypoint => Single("ENTRYPOINT") is { } e ? JsonNode.Parse(e)!.AsArray().Select(x => x!.GetValue<string>()).ToArray() : [];
}

/// <summary>A parsed Dockerfile: enough of the syntax for the checks (FROM ... AS, continuation lines, comments).</summary>
internal static class Dockerfiles
{
    public static IReadOnlyList<string> All => Directory.GetFiles(ComposeFiles.Folder, "Dockerfile*").Order(StringComparer.Ordinal).ToArray();

    public static IReadOnlyList<Stage> Parse(string path)
    {
        var logical = new List<string>();
        var current = string.Empty;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.TrimEnd();
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }

            logical.Add(current + line);
            current = string.Empty;
        }

        var stages = new List<Stage>();
        string? name = null, from = null;
        var instructions = new List<Instruction>();
        foreach (var line in logical)
        {
            var trimmed = line.Trim();
            var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
            var keyword = (space < 0 ? trimmed : trimmed[..space]).ToUpperInvariant();
            var args = space < 0 ? string.Empty : Regex.Replace(trimmed[(space + 1)..].Trim(), @"\s+", " ");
            if (keyword == "FROM")
            {
                if (from is not null)
                {
                    stages.Add(new Stage(name ?? $"stage{stages.Count}", from, instructions));
                }

                var m = Regex.Match(args, @"^(?:--\S+\s+)*(?<image>\S+)(?:\s+AS\s+(?<name>\S+))?$", RegexOptions.IgnoreCase);
                from = m.Groups["image"].Value;
                name = m.Groups["name"].Success ? m.Groups["name"].Value : null;
                instructions = [];
            }
            else if (from is not null)
            {
                instructions.Add(new Instruction(keyword, args));
            }
        }

        if (from is not null)
        {
            stages.Add(new Stage(name ?? $"stage{stages.Count}", from, instructions));
        }

        return stages;
    }
}
