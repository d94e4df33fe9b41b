using System.CommandLine;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>Finds the model folder: <c>--model</c>, else <c>RANK1_MODEL_DIR</c>, else the test model that <c>./build.sh</c> generates.</summary>
internal static class ModelLocator
{
    /// <summary>Where <c>./build.sh setup</c> writes the tiny random-weight test model, relative to the repository root.</summary>
    public const string TestModelRelativePath = ".rank1/models/tiny";

    /// <summary>The <c>--model DIR</c> option, described as each command uses it.</summary>
    public static Option<string?> Option(string description = "Model folder (default: RANK1_MODEL_DIR, else the generated test model).") =>
        CliOptions.Text("--model", description, "DIR");

    public static string Resolve(string? explicitPath, CliContext context)
    {
        if (explicitPath is not null)
        {
            return explicitPath;
        }

        if (context.GetEnvironmentVariable("RANK1_MODEL_DIR") is { Length: > 0 } env)
        {
            return env;
        }

        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, TestModelRelativePath);
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new CliException(
            $"no model: pass --model DIR or set RANK1_MODEL_DIR (a real Rank1 export: tools/export-model.sh), or run ./build.sh setup to generate the test model into {TestModelRelativePath}",
            ExitCodes.BadModel);
    }
}
