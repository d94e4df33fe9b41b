using Microsoft.Extensions.Logging.Abstractions;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

internal sealed record CliResult(int ExitCode, string Out, string Error);

internal static class CliRunner
{
    /// <summary>Runs the tool in-process with captured output.</summary>
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext { Out = output, Error = error, LoggerFactory = NullLoggerFactory.Instance, GetEnvironmentVariable = _ => null };
        var code = await CliApp.RunAsync(args, context, CancellationToken.None);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs the built rank1-bridge as a real process (so Program.cs, exit codes and streams are what a user sees).</summary>
    public static async Task<CliResult> RunProcessAsync(params string[] args)
    {
        var r = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet", [Dll, .. args]));
        return new CliResult(r.ExitCode, r.Out, r.Error);
    }

    /// <summary>The built tool, where the build wrote it.</summary>
    public static string Dll => TestPaths.Built("Rank1.SearchBridge.Cli");
}
