using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>
/// The engine runs each graph with its output layer on the last position only (<see cref="LastPositionLogits"/>). The
/// oracle is the graph as exported, loaded beside it: its logits at the prompt's last position.
/// </summary>
public sealed class LastPositionLogitsTests
{
    public static TheoryData<string> Graphs => new()
    {
        "tiny", "tiny-fp16", "tiny-int4", "ort-genai-tiny-qwen2", "tiny-builder", "tiny-genai", "tiny-genai-int4", "tiny-genai-fp16",
    };

    /// <summary>
    /// A 37-token prompt on every graph convention the engine loads (Optimum fp32, fp16 and int4 with a 4-bit output
    /// layer; the model builder's own fixture with its weights inside the graph; the builder-faithful fp32, int4 and
    /// fp16 graphs): the rewritten graph returns one position of logits where the exported one returns 37, and that
    /// position's logits are the exported graph's last.
    /// </summary>
    [Theory]
    [MemberData(nameof(Graphs))]
    public void PromptLogits_ComeForTheLastPositionOnly_AndEqualTheExportedGraphsLastPosition(string graph)
    {
        var folder = ModelFolder.Open(graph switch
        {
            "tiny" => TestPaths.TinyModel,
            "tiny-fp16" => TestPaths.TinyFp16Model,
            "tiny-int4" => TestPaths.TinyInt4Model,
            "tiny-builder" => TestPaths.TinyBuilderModel,
            "tiny-genai" => TestPaths.TinyGenAiModel,
            "tiny-genai-int4" => TestPaths.TinyGenAiInt4Model,
            "tiny-genai-fp16" => TestPaths.TinyGenAiFp16Model,
            _ => TestPaths.Fixture(graph),
        });
        using var rewritten = CausalLm.Load(folder, ExecutionProviderKind.Cpu, 0, 0, null, null);
        using var exported = CausalLm.Load(folder, ExecutionProviderKind.Cpu, 0, 0, null, null, everyPositionLogits: true);
        var vocab = rewritten.Signature.VocabularySize ?? 1000;
        var prompt = Enumerable.Range(0, 37).Select(i => 3 + (i * 7919 % (vocab - 3))).ToArray();

        var (lastShape, last) = Prefill(rewritten, prompt);
        var (everyShape, every) = Prefill(exported, prompt);

        Assert.Equal([1, prompt.Length, every.Length], everyShape);
        Assert.Equal([1, 1, every.Length], lastShape);
        var precision = (rewritten.Signature.LogitsType == TensorElementType.Float16 || rewritten.Signature.KvType == TensorElementType.Float16 ? 2e-2f : 1e-4f) * (1 + every.Max(MathF.Abs));
        var worst = last.Zip(every, (a, b) => MathF.Abs(a - b)).Max();
        Assert.True(worst <= precision, $"{graph}: the last position's logits are {worst} apart (allowed {precision})");
    }

    /// <summary>
    /// A graph that keeps its weights inside the graph file (the model builder's fixtures here; an Optimum fp32 export
    /// of a 0.5B model, 2 GB) is rewritten without copying them: each initializer of the rewritten graph refers to
    /// its bytes where they are in the exported file, so the graph handed to ONNX Runtime is a fraction of the file, and the
    /// model loaded from it answers the exported graph's logits (the theory above checks them on every graph).
    /// </summary>
    [Theory]
    [InlineData("tiny-builder")]
    [InlineData("ort-genai-tiny-qwen2")]
    public void GraphWithItsWeightsInside_IsRewrittenToReferToThemInTheFile_NotToCopyThem(string graph)
    {
        var folder = ModelFolder.Open(graph == "tiny-builder" ? TestPaths.TinyBuilderModel : TestPaths.Fixture(graph));
        var exportedBytes = new FileInfo(folder.GraphPath).Length;
        using var file = File.OpenHandle(folder.GraphPath);

        var plan = LastPositionLogits.Plan(new LastPositionLogits.FileSource(file), "logits", new LastPositionLogits.WeightFiles(Path.GetFileName(folder.GraphPath), l => l), out var reason);

        Assert.NotNull(plan);
        Assert.True(plan.Length * 5 < exportedBytes, $"{graph}: the rewritten graph is {plan.Length} bytes of {exportedBytes}");
        Assert.True(plan.ReferredInitializers > 10, $"{graph}: {plan.ReferredInitializers} initializers referred to");
        Assert.Contains($"initializers read where they are in '{Path.GetFileName(folder.GraphPath)}'", reason, StringComparison.Ordinal);

        var log = new FakeLogger();
        using var rewritten = CausalLm.Load(folder, ExecutionProviderKind.Cpu, 0, 0, log, null);
        var loaded = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1010);
        Assert.Contains("initializers read where they are", loaded.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A model folder of links to files elsewhere, as a Hugging Face cache snapshot is (each file a link to a blob named
    /// by its hash): ONNX Runtime resolves the links and refuses external data outside the folder it is given ("External
    /// data path escapes model directory"), so the rewritten graph names the files where the links lead. Weights inside
    /// the graph file (`tiny-builder`, which ran as exported) and beside it (`tiny-genai`'s model.onnx.data, which did
    /// not load at all) load rewritten, with the logits of the same model opened from its own folder.
    /// </summary>
    /// <remarks>With <paramref name="throughAFolderLink"/> the model is opened through a link to the snapshot's folder
    /// (`rank1` → `snapshots/0123abc`, one level up from the snapshot), whose files' links (`../../blobs/...`) are
    /// relative to the snapshot's real folder, not to the link.</remarks>
    [Theory]
    [InlineData("tiny-builder", false)]
    [InlineData("tiny-genai", false)]
    [InlineData("tiny-builder", true)]
    [InlineData("tiny-genai", true)]
    public void FolderOfLinksToBlobsElsewhere_IsRewrittenWithItsWeightsWhereTheLinksLead(string graph, bool throughAFolderLink)
    {
        var source = graph == "tiny-builder" ? TestPaths.TinyBuilderModel : TestPaths.TinyGenAiModel;
        var root = TestTemp.Folder("rank1-hf-");
        try
        {
            var blobs = Directory.CreateDirectory(Path.Combine(root, "blobs")).FullName;
            var snapshot = Directory.CreateDirectory(Path.Combine(root, "snapshots", "0123abc")).FullName;
            foreach (var file in Directory.GetFiles(source))
            {
                var blob = $"sha-{Path.GetFileName(file)}";
                File.Copy(file, Path.Combine(blobs, blob));
                File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", blob));
            }

            var opened = snapshot;
            if (throughAFolderLink)
            {
                opened = Path.Combine(root, "rank1");
                Directory.CreateSymbolicLink(opened, Path.Combine("snapshots", "0123abc"));
            }

            var log = new FakeLogger();
            using var linked = CausalLm.Load(ModelFolder.Open(opened), ExecutionProviderKind.Cpu, 0, 0, log, null);
            using var own = CausalLm.Load(ModelFolder.Open(source), ExecutionProviderKind.Cpu, 0, 0, null, null);
            int[] prompt = [5, 9, 13, 17, 21, 25, 29];

            var (shape, viaLinks) = Prefill(linked, prompt);
            var (_, fromOwnFolder) = Prefill(own, prompt);

            Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id == 1011);
            Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1010);
            Assert.Equal([1, 1, fromOwnFolder.Length], shape);
            Assert.Equal(fromOwnFolder, viaLinks);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// A rewritten graph ONNX Runtime refuses is run as exported, from the graph's own folder: here the graph file is a
    /// link to a blob in another folder and its model.onnx.data a plain file beside the link, so the rewritten graph
    /// names that data outside the blob's folder ("escapes model directory"). The graph opened as exported must still
    /// find its data beside the link (before, it looked for it in the blob's folder and the model did not load).
    /// </summary>
    [Fact]
    public void RewrittenGraphRefused_RunsAsExportedFromItsOwnFolder()
    {
        var root = TestTemp.Folder("rank1-refused-");
        try
        {
            var blobs = Directory.CreateDirectory(Path.Combine(root, "blobs")).FullName;
            var model = Directory.CreateDirectory(Path.Combine(root, "model")).FullName;
            foreach (var file in Directory.GetFiles(TestPaths.TinyGenAiModel))
            {
                File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
            }

            File.Move(Path.Combine(model, "model.onnx"), Path.Combine(blobs, "sha-model.onnx"));
            File.CreateSymbolicLink(Path.Combine(model, "model.onnx"), Path.Combine("..", "blobs", "sha-model.onnx"));
            var log = new FakeLogger();

            using var lm = CausalLm.Load(ModelFolder.Open(model), ExecutionProviderKind.Cpu, 0, 0, log, null);
            using var own = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiModel), ExecutionProviderKind.Cpu, 0, 0, null, null, everyPositionLogits: true);
            int[] prompt = [5, 9, 13, 17, 21, 25, 29];

            var (shape, logits) = Prefill(lm, prompt);
            var (_, exported) = Prefill(own, prompt);

            var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1011);
            Assert.Contains("ONNX Runtime refused the rewritten graph", warning.Message, StringComparison.Ordinal);
            Assert.Equal([1, prompt.Length, exported.Length], shape);
            Assert.Equal(exported, logits);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// A rewritten graph that would still be larger than the engine hands over from memory (the limit lowered to
    /// nothing here; in use 256 MB, reached only by weights held in some form other than raw bytes) is run as exported,
    /// with a warning.
    /// </summary>
    [Fact]
    public void RewrittenGraphStillOverTheMemoryLimit_RunsAsExported_WithAWarning()
    {
        var log = new FakeLogger();
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyGenAiModel), ExecutionProviderKind.Cpu, 0, 0, log, null, inMemoryGraphBytes: 0);
        int[] prompt = [5, 9, 13, 17, 21, 25, 29];

        var (shape, _) = Prefill(lm, prompt);

        Assert.Equal(prompt.Length, shape[1]);
        var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1011);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("in a form other than raw bytes", warning.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A graph file the rewrite cannot read (a torn file here) is left to ONNX Runtime, whose refusal is the load's
    /// error, as before the rewrite: the user gets the clear error, the log says why the rewrite stepped aside.
    /// </summary>
    [Fact]
    public void TornGraph_FailsToLoadWithTheModelLoadError_AndTheLogSaysTheRewriteCouldNotRead()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var graph = Path.Combine(dir, "model.onnx");
        var bytes = File.ReadAllBytes(graph);
        File.WriteAllBytes(graph, bytes[..(bytes.Length / 2)]);
        var log = new FakeLogger();

        var ex = Assert.Throws<ModelLoadException>(() => CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu, 0, 0, log, null));

        Assert.Contains("ONNX Runtime cannot load this graph", ex.Message, StringComparison.Ordinal);
        var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 1011);
        Assert.Contains("could not be read", warning.Message, StringComparison.Ordinal);
    }

    /// <summary>The rewrite refuses, with its reason, a logits output not made by the output layer, and a graph it already rewrote.</summary>
    [Fact]
    public void Rewrite_RefusesWhatItDoesNotKnow_AndItsOwnOutput()
    {
        var bytes = File.ReadAllBytes(ModelFolder.Open(TestPaths.TinyGenAiModel).GraphPath);

        Assert.Null(Rewrite(bytes, "present.0.key", out var notMatMul));
        Assert.Contains("not made by a MatMul or MatMulNBits", notMatMul, StringComparison.Ordinal);

        var once = Rewrite(bytes, "logits", out var how);
        Assert.NotNull(once);
        Assert.Contains("/lm_head/MatMul", how, StringComparison.Ordinal);
        Assert.Null(Rewrite(once, "logits", out var twice));
        Assert.Contains("already", twice, StringComparison.Ordinal);

        Assert.Null(Rewrite([0x3a, 0x7f, 0x01], "logits", out var torn)); // a graph field longer than the file
        Assert.Contains("could not be read", torn, StringComparison.Ordinal);
    }

    /// <summary>The rewritten model in memory, checking that it is as long as planned (the graph field's header says so).</summary>
    private static byte[]? Rewrite(byte[] model, string logits, out string reason)
    {
        var plan = LastPositionLogits.Plan(new LastPositionLogits.ArraySource(model), logits, null, out reason);
        if (plan is null)
        {
            return null;
        }

        var written = new MemoryStream();
        plan.WriteTo(written);
        Assert.Equal(plan.Length, written.Length);
        return written.ToArray();
    }

    /// <summary>One prefill of <paramref name="prompt"/> from an empty cache: the logits' shape and their last position.</summary>
    private static (long[] Shape, float[] Last) Prefill(CausalLm lm, int[] prompt)
    {
        var sig = lm.Signature;
        using var runOptions = new RunOptions();
        using var binding = lm.Session.CreateIoBinding();
        var owned = new List<OrtValue>();
        OrtValue[]? presents = null;
        var past = KvTensors.Allocate(sig, 1, 0);
        try
        {
            long[] shape = [1, prompt.Length];
            owned.Add(sig.InputIdsType == TensorElementType.Int64
                ? OrtValue.CreateTensorValueFromMemory(prompt.Select(t => (long)t).ToArray(), shape)
                : OrtValue.CreateTensorValueFromMemory(prompt.ToArray(), shape));
            binding.BindInput(sig.InputIds, owned[^1]);
            if (sig.AttentionMask is not null)
            {
                owned.Add(sig.AttentionMaskType == TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, prompt.Length).ToArray(), shape)
                    : OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1, prompt.Length).ToArray(), shape));
                binding.BindInput(sig.AttentionMask, owned[^1]);
            }

            if (sig.PositionIds is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, prompt.Length).Select(p => (long)p).ToArray(), shape));
                binding.BindInput(sig.PositionIds, owned[^1]);
            }

            if (sig.UseCacheBranch is not null)
            {
                owned.Add(OrtValue.CreateTensorValueFromMemory(new[] { false }, [1]));
                binding.BindInput(sig.UseCacheBranch, owned[^1]);
            }

            long[] logitsShape = [];
            var last = Array.Empty<float>();
            presents = lm.RunStep(binding, runOptions, past, logits =>
            {
                logitsShape = logits.GetTensorTypeAndShape().Shape;
                var vocab = (int)logitsShape[^1];
                last = new float[vocab];
                lm.CopyLogitsRow(logits, (int)((logitsShape[1] - 1) * vocab), vocab, last);
            });
            return (logitsShape, last);
        }
        finally
        {
            KvTensors.Dispose(presents);
            KvTensors.Dispose(past);
            owned.ForEach(v => v.Dispose());
        }
    }
}
