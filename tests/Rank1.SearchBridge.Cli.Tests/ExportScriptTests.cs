using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// tools/export-model.sh's arguments, run as a user runs it (bash, --dry-run: it prints the export commands instead of
/// downloading anything). The export itself needs the internet and the model hub, which this machine has not.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed class ExportScriptTests
{
    private static string Script => Path.Combine(TestPaths.RepoRoot, "tools", "export-model.sh");

    private static Task<TestProcess.Result> RunAsync(params string[] args) =>
        TestProcess.RunAsync(TestProcess.StartInfo("bash", [Script, "--venv", Path.Combine(Path.GetTempPath(), "rank1-export-venv-test"), .. args]));

    /// <summary>
    /// Optimum exports fp32 whatever the precision asked: `--precision int4` with it used to give an fp32 model without
    /// a word (#15: the int4 export with a 4-bit output layer is the builder's).
    /// </summary>
    [Theory]
    [InlineData("--precision", "int4")]
    [InlineData("--ep", "dml")]
    public async Task BuilderOnlyOption_WithOptimum_IsRefusedNamingTheMethodToUse(string option, string value)
    {
        var r = await RunAsync("--dry-run", option, value, "jhu-clsp/rank1-0.5b", "out");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"export-model.sh: {option} is for --method builder (--method optimum exports fp32); for an int4 or fp16 model use --method builder {option} ...", r.Error.Trim());
        Assert.Empty(r.Out);
    }

    [Fact]
    public async Task Builder_Int4_RunsTheBuilderWithThatPrecisionAndProvider()
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "--precision", "int4", "--ep", "cpu", "jhu-clsp/rank1-0.5b", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("-m onnxruntime_genai.models.builder -m jhu-clsp/rank1-0.5b -o out -p int4 -e cpu", r.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("--precision", "fp32")]
    public async Task Optimum_ByDefault_RunsOptimumCli(params string[] precision)
    {
        var r = await RunAsync(["--dry-run", .. precision, "jhu-clsp/rank1-0.5b", "out"]);

        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("optimum-cli export onnx --model jhu-clsp/rank1-0.5b --task text-generation-with-past out", r.Out, StringComparison.Ordinal);
    }
}
