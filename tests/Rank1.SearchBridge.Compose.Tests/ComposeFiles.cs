using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.Testing;
using YamlDotNet.RepresentationModel;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>compose/: the Compose files as parsed YAML, the .env values and Compose's interpolation of them.</summary>
internal static partial class ComposeFiles
{
    public static string Folder => Path.Combine(TestPaths.RepoRoot, "compose");

    public static string Main => Path.Combine(Folder, "docker-compose.yml");

    public static string Cuda => Path.Combine(Folder, "docker-compose.cuda.yml");

    public static IReadOnlyList<string> All => [Main, Cuda];

    /// <summary>The .env file: KEY=VALUE lines (comments and blank lines skipped).</summary>
    public static IReadOnlyDictionary<string, string> Env()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(Folder, ".env")))
        {
            var t = line.Trim();
            if (t.Length == 0 || t.StartsWith('#'))
            {
                continue;
            }

            var eq = t.IndexOf('=', StringComparison.Ordinal);
            Assert.True(eq > 0, $".env line is not KEY=VALUE: {line}");
            env[t[..eq]] = t[(eq + 1)..];
        }

        return env;
    }

    /// <summary>The file parsed into JSON nodes (scalars as strings), which is easier to walk than YAML nodes.</summary>
    public static JsonObject Load(string path)
    {
        using var reader = new StreamReader(path);
        var yaml = new YamlStream();
        yaml.Load(reader);
        return (JsonObject)ToJson(yaml.Documents[0].RootNode)!;
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
        YamlScalarNode v => v.Value is null ? null : JsonValue.Create(v.Value),
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    /// <summary>Variables a string refers to (<c>${NAME}</c>, <c>${NAME:-default}</c>, <c>$NAME</c>; <c>$$</c> is a literal dollar).</summary>
    public static IEnumerable<string> Variables(string text) =>
        Reference().Matches(text.Replace("$$", string.Empty, StringComparison.Ordinal)).Select(m => m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["bare"].Value);

    /// <summary>The string as Compose interpolates it with <paramref name="env"/>.</summary>
    public static string Interpolate(string text, IReadOnlyDictionary<string, string> env) =>
        string.Join("$", text.Split("$$").Select(part => Reference().Replace(part, m =>
        {
            var name = m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["bare"].Value;
            return env.TryGetValue(name, out var v) ? v : m.Groups["default"].Success ? m.Groups["default"].Value : throw new InvalidOperationException($"${{{name}}} is not set in .env");
        })));

    /// <summary>Every string scalar of the document, for variable checks.</summary>
    public static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v => [v.GetValue<string>()],
        _ => [],
    };

    /// <summary>A service's environment as a dictionary (map or KEY=VALUE list form).</summary>
    public static Dictionary<string, string> Environment(JsonObject service)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (service["environment"])
        {
            case JsonObject map:
                foreach (var (k, v) in map)
                {
                    result[k] = v?.GetValue<string>() ?? string.Empty;
                }

                break;
            case JsonArray list:
                foreach (var item in list.Select(i => i!.GetValue<string>()))
                {
                    var eq = item.IndexOf('=', StringComparison.Ordinal);
                    result[eq < 0 ? item : item[..eq]] = eq < 0 ? string.Empty : item[(eq + 1)..];
                }

                break;
        }

        return result;
    }

    [GeneratedRegex(@"\$(?:\{(?<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?<default>[^}]*))?\}|(?<bare>[A-Za-z_][A-Za-z0-9_]*))")]
    private static partial Regex Reference();
}
