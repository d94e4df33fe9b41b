using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// tools/export-model.sh's arguments, run as a user runs it (bash, --dry-run: it prints the export commands instead of
/// downloading anything). The export itself needs the internet and the model hub, which this machine has not; the
/// check of a checkpoint's config.json runs for real against a stand-in venv whose download writes a given config.json.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed class ExportScriptTests
{
    /// <summary>The script's cache root in the dry runs ($XDG_CACHE_HOME): a dry run writes nothing there.</summary>
    private static readonly string CacheRoot = Path.Combine(Path.GetTempPath(), "rank1-export-cache-test");

    private static string Script => Path.Combine(TestPaths.RepoRoot, "tools", "export-model.sh");

    private static string Snapshot(string slug) => Path.Combine(CacheRoot, "rank1-export", "models", slug);

    private static Task<TestProcess.Result> RunAsync(params string[] args) =>
        RunWithAsync(Path.Combine(Path.GetTempPath(), "rank1-export-venv-test"), CacheRoot, args);

    private static Task<TestProcess.Result> RunWithAsync(string venv, string cacheRoot, string[] args) =>
        TestProcess.RunAsync(TestProcess.StartInfo("bash", [Script, "--venv", venv, .. args],
            environment: new Dictionary<string, string> { ["XDG_CACHE_HOME"] = cacheRoot }));

    /// <summary>An argument error: exit 2, one line saying what to do instead, and nothing run (nothing printed to run).</summary>
    private static void AssertRefusedAtArguments(TestProcess.Result r, string message)
    {
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(message, r.Error.Trim());
        Assert.Empty(r.Out);
    }

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

        AssertRefusedAtArguments(r, $"export-model.sh: {option} is for --method builder (--method optimum exports fp32); for an int4 or fp16 model use --method builder {option} ...");
    }

    [Fact]
    public async Task Builder_Int4_RunsTheBuilderWithThatPrecisionAndProvider()
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "--precision", "int4", "--ep", "cpu", "jhu-clsp/rank1-0.5b", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains($"-m onnxruntime_genai.models.builder -i {Snapshot("jhu-clsp--rank1-0.5b")} -o out -p int4 -e cpu -c ", r.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// The builder's quantized (AWQ) path reads the checkpoint's safetensors from the folder given with -i and downloads
    /// nothing itself: with -m alone it listed "" and failed. The snapshot is downloaded first, outside OUT_DIR, and the
    /// builder and the config.json saving read it.
    /// </summary>
    [Fact]
    public async Task Builder_DryRun_DownloadsTheSnapshotOutsideTheOutputFolderAndBuildsFromIt()
    {
        var snapshot = Snapshot("jhu-clsp--rank1-0.5b");

        var r = await RunAsync("--dry-run", "--method", "builder", "jhu-clsp/rank1-0.5b", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        var lines = r.Out.Split('\n');
        var download = Array.FindIndex(lines, l => l.Contains("snapshot_download(sys.argv[1], local_dir=sys.argv[2])", StringComparison.Ordinal));
        var builder = Array.FindIndex(lines, l => l.Contains("-m onnxruntime_genai.models.builder", StringComparison.Ordinal));
        var config = Array.FindIndex(lines, l => l.Contains("AutoConfig.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])", StringComparison.Ordinal));
        Assert.True(download >= 0 && download < builder && builder < config, r.Out);
        Assert.EndsWith($" jhu-clsp/rank1-0.5b {snapshot}", lines[download], StringComparison.Ordinal);
        Assert.Contains($" -i {snapshot} -o out ", lines[builder], StringComparison.Ordinal);
        Assert.DoesNotContain(" -m jhu-clsp/rank1-0.5b", lines[builder], StringComparison.Ordinal);
        Assert.EndsWith($" {snapshot} out", lines[config], StringComparison.Ordinal);
    }

    /// <summary>
    /// The builder's -c folder holds its downloads and temporary files and is deleted only when empty: inside OUT_DIR
    /// (it was out/.hf-cache) it left the whole Hugging Face checkpoint in the model folder.
    /// </summary>
    [Fact]
    public async Task Builder_DryRun_KeepsTheBuilderCacheOutOfTheOutputFolder()
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "jhu-clsp/rank1-0.5b", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        var cache = Regex.Match(r.Out, @"-m onnxruntime_genai\.models\.builder .* -c (\S+)$", RegexOptions.Multiline);
        Assert.True(cache.Success, r.Out);
        Assert.Equal(Path.Combine(CacheRoot, "rank1-export", "builder-cache", "jhu-clsp--rank1-0.5b"), cache.Groups[1].Value);
    }

    /// <summary>
    /// The builder's own list of valid precision and provider pairs (builder.py) lacks fp16 for cpu (it falls back to an
    /// fp16 MultiHeadAttention the CPU provider does not run); cpu is the default --ep. The pairs named are those the
    /// script goes on with (dml is refused whatever the precision: Builder_ForDirectML_IsRefusedNamingOptimum).
    /// </summary>
    [Theory]
    [InlineData("--precision", "fp16", "--ep", "cpu")]
    [InlineData("--precision", "fp16")]
    public async Task Builder_PrecisionTheProviderHasNoBuildFor_IsRefusedNamingTheValidPairs(params string[] options)
    {
        var r = await RunAsync(["--dry-run", "--method", "builder", .. options, "jhu-clsp/rank1-0.5b", "out"]);

        AssertRefusedAtArguments(r, "export-model.sh: the builder does not build fp16 for --ep cpu; it builds fp32 or int4 for cpu, and fp32, fp16 or int4 for cuda");
    }

    [Theory]
    [InlineData("fp32", "cpu")]
    [InlineData("fp32", "cuda")]
    [InlineData("fp16", "cuda")]
    [InlineData("int4", "cpu")]
    [InlineData("int4", "cuda")]
    public async Task Builder_ValidPrecisionAndProvider_RunsTheBuilder(string precision, string ep)
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "--precision", precision, "--ep", ep, "jhu-clsp/rank1-0.5b", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains($" -o out -p {precision} -e {ep} -c ", r.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// The builder's DirectML graphs (GroupQueryAttention) read their past from a KV cache kept on the device, which the
    /// engine does not keep and refuses at load (BuilderGraphProviderTests): the export is refused before it runs, naming
    /// the method that works on DirectML.
    /// </summary>
    [Theory]
    [InlineData("fp16")]
    [InlineData("int4")]
    [InlineData("fp32")]
    public async Task Builder_ForDirectML_IsRefusedNamingOptimum(string precision)
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "--precision", precision, "--ep", "dml", "jhu-clsp/rank1-0.5b", "out");

        AssertRefusedAtArguments(r, "export-model.sh: --ep dml builder graphs use GroupQueryAttention, whose DirectML kernel reads the past from a KV cache kept on the device, which Rank1.SearchBridge does not keep (it refuses them at load); for DirectML use --method optimum");
    }

    /// <summary>Optimum has no path for an already-quantized checkpoint; a model id that says so is refused up front.</summary>
    [Theory]
    [InlineData("jhu-clsp/Rank1-7B-awq", "AWQ")]
    [InlineData("someone/Rank1-32B-AWQ", "AWQ")]
    [InlineData("someone/rank1-7b-gptq", "GPTQ")]
    public async Task QuantizedModelId_WithOptimum_IsRefusedNamingTheBuilder(string model, string kind)
    {
        var r = await RunAsync("--dry-run", model, "out");

        AssertRefusedAtArguments(r, $"export-model.sh: {model} is already quantized ({kind}), which --method optimum cannot export; use --method builder (int4)");
    }

    /// <summary>
    /// The builder writes a quantized checkpoint's layers as MatMulNBits at int4 only; at fp16/fp32 it asks them for a
    /// float weight they do not have.
    /// </summary>
    [Theory]
    [InlineData("fp16", "cuda")]
    [InlineData("fp32", "cpu")]
    public async Task QuantizedModelId_WithBuilderAtFloatPrecision_IsRefused(string precision, string ep)
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "--precision", precision, "--ep", ep, "jhu-clsp/Rank1-7B-awq", "out");

        AssertRefusedAtArguments(r, "export-model.sh: jhu-clsp/Rank1-7B-awq is already quantized (AWQ), which the builder exports as int4 only; use --precision int4");
    }

    [Fact]
    public async Task QuantizedModelId_WithBuilderInt4_BuildsFromTheSnapshot()
    {
        var r = await RunAsync("--dry-run", "--method", "builder", "--ep", "cuda", "jhu-clsp/Rank1-7B-awq", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains($"-m onnxruntime_genai.models.builder -i {Snapshot("jhu-clsp--Rank1-7B-awq")} -o out -p int4 -e cuda -c ", r.Out, StringComparison.Ordinal);
    }

    /// <summary>A dry run downloads nothing, so it says which check of config.json would come before the export.</summary>
    [Theory]
    [InlineData("optimum", "optimum-cli export onnx", "with --method optimum")]
    [InlineData("builder", "snapshot_download(", "unless --precision int4")]
    public async Task DryRun_ChecksTheConfigBeforeTheExport(string method, string export, string refusedWhen)
    {
        var snapshot = Snapshot("jhu-clsp--rank1-0.5b");

        var r = await RunAsync("--dry-run", "--method", method, "jhu-clsp/rank1-0.5b", "out");

        Assert.True(r.ExitCode == 0, r.Error);
        var lines = r.Out.Split('\n');
        var config = Array.FindIndex(lines, l => l.Contains("hf_hub_download(sys.argv[1], \"config.json\", local_dir=sys.argv[2])", StringComparison.Ordinal));
        var check = Array.IndexOf(lines, $"+ check {snapshot}/config.json: a quantization_config (AWQ, GPTQ) is refused {refusedWhen}");
        var exported = Array.FindIndex(lines, l => l.Contains(export, StringComparison.Ordinal));
        Assert.True(config >= 0 && config < check && check < exported, r.Out);
        Assert.EndsWith($" jhu-clsp/rank1-0.5b {snapshot}", lines[config], StringComparison.Ordinal);
    }

    /// <summary>
    /// A quantized checkpoint whose name does not say so is refused once its config.json is read, before the export
    /// (optimum) or the checkpoint's download (builder) starts.
    /// </summary>
    [Theory]
    [InlineData("optimum", "fp32", "which --method optimum cannot export; use --method builder (int4)", "optimum-cli export")]
    [InlineData("builder", "fp16", "which the builder exports as int4 only; use --precision int4", "snapshot_download(")]
    public async Task QuantizedConfig_MethodCannotExportIt_IsRefusedBeforeTheExport(string method, string precision, string refusal, string export)
    {
        var r = await RunWithConfigAsync("""{"architectures": ["Qwen2ForCausalLM"], "quantization_config": {"quant_method": "awq", "bits": 4}}""",
            ["--method", method, "--precision", precision, .. method == "builder" ? ["--ep", "cuda"] : Array.Empty<string>(), "someone/rank1-7b-4bit", "out"]);

        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"export-model.sh: someone/rank1-7b-4bit is already quantized (awq, says its config.json), {refusal}", r.Error.Trim());
        Assert.Contains("hf_hub_download(", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(export, r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnquantizedConfig_WithOptimum_GoesOnToTheExport()
    {
        var r = await RunWithConfigAsync("""{"architectures": ["Qwen2ForCausalLM"]}""", ["someone/rank1-7b-4bit", "out"]);

        Assert.Contains("optimum-cli export onnx --model someone/rank1-7b-4bit --task text-generation-with-past out", r.Out, StringComparison.Ordinal);
        Assert.Contains("fake optimum-cli ran", r.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the script for real with a stand-in venv: pip does nothing, the config.json download writes
    /// <paramref name="config"/>, optimum-cli says it ran, everything else is this machine's python3.
    /// </summary>
    private static async Task<TestProcess.Result> RunWithConfigAsync(string config, string[] args)
    {
        var folder = TestTemp.Folder("rank1-export-");
        try
        {
            var bin = Directory.CreateDirectory(Path.Combine(folder, "venv", "bin")).FullName;
            File.WriteAllText(Path.Combine(folder, "config.json"), config);
            WriteExecutable(Path.Combine(bin, "python"), $$"""
                #!/usr/bin/env bash
                case "$1 $2" in
                  "-m pip") exit 0 ;;
                  "-c "*hf_hub_download*) mkdir -p "$4" && cp '{{Path.Combine(folder, "config.json")}}' "$4/config.json"; exit ;;
                esac
                exec python3 "$@"
                """);
            WriteExecutable(Path.Combine(bin, "optimum-cli"), "#!/usr/bin/env bash\necho fake optimum-cli ran\n");
            return await RunWithAsync(Path.Combine(folder, "venv"), Path.Combine(folder, "cache"), args);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void WriteExecutable(string path, string text)
    {
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        // Windows has no execute bit (Git Bash takes a file that starts with #! as executable).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
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
