using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Model;

namespace Rank1.Inference.Decoding;

/// <summary>
/// A loaded KV-cached causal LM: one ONNX Runtime session (thread-safe; each decode has its own state) and the
/// signature discovered from it. Decoding happens in a <see cref="DecodeState"/>.
/// </summary>
internal sealed class CausalLm : IDisposable
{
    private readonly InferenceSession _session;
    private readonly long[] _onesInt64;
    private readonly int[] _onesInt32;
    private long _rowsCopied;

    private CausalLm(InferenceSession session, ModelFolder folder, ModelSignature signature, ExecutionProviderChoice provider, int contextLength)
    {
        _session = session;
        Folder = folder;
        Signature = signature;
        ProviderChoice = provider;
        ContextLength = contextLength;
        // One all-ones buffer serves every attention mask (B = 1, no padding): each step wraps a prefix of it
        // without allocating or copying.
        _onesInt64 = signature.AttentionMaskType == TensorElementType.Int64 ? Enumerable.Repeat(1L, contextLength).ToArray() : [];
        _onesInt32 = signature.AttentionMaskType == TensorElementType.Int32 ? Enumerable.Repeat(1, contextLength).ToArray() : [];
    }

    /// <summary>The model folder.</summary>
    public ModelFolder Folder { get; }

    /// <summary>Inputs and outputs of the graph.</summary>
    public ModelSignature Signature { get; }

    /// <summary>The execution provider in use.</summary>
    public ExecutionProviderKind Provider => ProviderChoice.Actual;

    /// <summary>The provider asked for, the one in use, and why <c>Auto</c> fell back to the CPU (when it did).</summary>
    public ExecutionProviderChoice ProviderChoice { get; }

    /// <summary>
    /// Most token positions one prefill call feeds (over all rows of a batch). A graph run as exported returns logits
    /// for every fed position, so this bounds that output at PrefillChunk × vocabulary floats (78 MB for Qwen's 151,936)
    /// whatever the prompt's length (a rewritten graph returns one position per row); longer prompts are fed in several
    /// calls, each continuing from the previous one's cache.
    /// </summary>
    internal const int PrefillChunk = 128;

    /// <summary>Longest sequence (prompt + generated) one decode may reach.</summary>
    public int ContextLength { get; }

    /// <summary>How batched rows sit in the KV cache for this graph (<see cref="KvLayoutProbe"/>); null: it decodes one row at a time.</summary>
    public KvLayout? BatchLayout { get; private set; }

    internal InferenceSession Session => _session;

    /// <summary>Ends ONNX Runtime profiling (when the session options enabled it) and returns the trace file.</summary>
    internal string EndProfiling() => _session.EndProfiling();

    /// <summary>Opens the graph of <paramref name="folder"/> on the requested execution provider.</summary>
    /// <remarks>
    /// With <paramref name="requireAccelerator"/>, a model that would run on the CPU throws <see cref="AcceleratorUnavailableException"/> instead.
    /// Without <paramref name="exactBatching"/>, a graph whose batched rows differ from the rows alone only by its kernels' rounding batches (<see cref="Rank1EngineOptions.ExactBatching"/>).
    /// </remarks>
    public static CausalLm Load(ModelFolder folder, ExecutionProviderKind provider = ExecutionProviderKind.Auto, int intraOpThreads = 0, int deviceId = 0, ILogger? logger = null,
        bool requireAccelerator = false, bool exactBatching = true) =>
        Load(folder, provider, intraOpThreads, deviceId, logger, null, requireAccelerator, exactBatching: exactBatching);

    /// <summary>
    /// As the public overload; <paramref name="configure"/> adjusts the session options (the benchmark's profiler).
    /// With <paramref name="everyPositionLogits"/> the graph is run as exported, its output layer on every fed position,
    /// instead of on each row's last position only (<see cref="LastPositionLogits"/>); the tests' and the benchmark's control.
    /// </summary>
    internal static CausalLm Load(ModelFolder folder, ExecutionProviderKind provider, int intraOpThreads, int deviceId, ILogger? logger, Action<SessionOptions>? configure,
        bool requireAccelerator = false, bool everyPositionLogits = false, long inMemoryGraphBytes = InMemoryGraphBytes, bool exactBatching = true)
    {
        logger ??= NullLogger.Instance;
        var started = Stopwatch.GetTimestamp();
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        InferenceSession? session = null;
        try
        {
            configure?.Invoke(options);
            if (intraOpThreads > 0)
            {
                options.IntraOpNumThreads = intraOpThreads;
            }

            var used = ExecutionProviderSelector.Configure(options, provider, deviceId, logger, requireAccelerator);
            if (used.Actual == ExecutionProviderKind.DirectML && OperatorTypes(folder) is { } operators && DirectMlRefusal(operators) is { } refusal)
            {
                throw new ModelLoadException($"{folder.GraphPath}: {refusal}");
            }

            session = everyPositionLogits ? null : OpenLastPositionOnly(folder, options, logger, inMemoryGraphBytes);
            try
            {
                session ??= new InferenceSession(folder.GraphPath, options);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new ModelLoadException($"{folder.GraphPath}: ONNX Runtime cannot load this graph ({ex.Message}).", ex);
            }

            var signature = ModelSignature.Discover(session, folder);
            if (used.Actual == ExecutionProviderKind.Cuda && OperatorTypes(folder) is { } graphOperators
                && CudaFallback(graphOperators, signature.KvType) is { } fallback)
            {
                Log.BuiltForAnotherProvider(logger, folder.GraphPath, used.Actual.ToString(), fallback);
            }

            var context = Math.Clamp(folder.ContextLength ?? 32_768, 16, 131_072);
            var lm = new CausalLm(session, folder, signature, used, context);
            (lm.BatchLayout, var whyNot, var rounding) = BatchLayoutOf(lm, exactBatching);
            if (whyNot is not null)
            {
                Log.OneRowAtATime(logger, folder.GraphPath, whyNot);
            }

            if (rounding is not null)
            {
                Log.BatchesWithinRounding(logger, folder.GraphPath, rounding);
            }

            Log.ModelLoaded(logger, folder.ModelId, folder.GraphPath, signature.Layers, signature.KvHeads, signature.HeadSize, signature.KvType.ToString(),
                signature.InputIdsType.ToString(), signature.PositionIds is not null, lm.BatchLayout?.ToString() ?? "none (one row at a time)",
                (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            session = null;
            return lm;
        }
        finally
        {
            session?.Dispose();
            options.Dispose();
        }
    }

    /// <summary>
    /// The graph with its output layer on each row's last position only (<see cref="LastPositionLogits"/>), or null
    /// (logged) when the rewrite does not know the graph's shape, the rewritten graph cannot be written, or ONNX Runtime
    /// refuses it; the caller then opens the graph as exported. The rewritten graph refers to the weights where they
    /// are (inside the exported graph file, or beside it; through links, where the links lead) and is handed to ONNX
    /// Runtime from memory with the real graph file's folder as its external-data folder: the weights are not copied to
    /// a temporary file or held twice. A rewritten
    /// graph still over <paramref name="inMemoryGraphBytes"/> (weights held in some form other than raw bytes) is run
    /// as exported.
    /// </summary>
    private static InferenceSession? OpenLastPositionOnly(ModelFolder folder, SessionOptions options, ILogger logger, long inMemoryGraphBytes)
    {
        var name = folder.GenAiNames.TryGetValue("logits", out var n) ? n : "logits";
        using var file = OpenGraph(folder, logger);
        if (file is null)
        {
            return null;
        }

        // The weights are named from the real graph file's folder: in a folder of links to files elsewhere (a Hugging Face
        // cache snapshot), ONNX Runtime resolves the links and refuses external data outside the folder it is given.
        var graphPath = Path.GetFullPath(folder.GraphPath);
        var graphFolder = Path.GetDirectoryName(graphPath)!;
        var realGraph = RealPath(graphPath);
        var weightsFolder = Path.GetDirectoryName(realGraph)!;
        var files = new LastPositionLogits.WeightFiles(Path.GetFileName(realGraph),
            location => Path.GetRelativePath(weightsFolder, RealPath(Path.IsPathRooted(location) ? location : Path.Join(graphFolder, location))));
        var plan = LastPositionLogits.Plan(new LastPositionLogits.FileSource(file), name, files, out var reason);
        if (plan is null)
        {
            Log.EveryPositionLogits(logger, folder.GraphPath, reason);
            return null;
        }

        if (plan.Length > inMemoryGraphBytes)
        {
            Log.EveryPositionLogits(logger, folder.GraphPath, $"the rewritten graph would still hold {plan.Length / (1 << 20)} MB, in a form other than raw bytes");
            return null;
        }

        byte[] bytes;
        try
        {
            var stream = new MemoryStream(checked((int)plan.Length));
            plan.WriteTo(stream);
            bytes = stream.Length == plan.Length
                ? stream.GetBuffer()
                : throw new InvalidOperationException($"The rewritten graph is {stream.Length} bytes where {plan.Length} were planned.");
        }
        catch (IOException ex)
        {
            Log.EveryPositionLogits(logger, folder.GraphPath, $"the graph could not be read ({ex.Message})");
            return null;
        }

        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", weightsFolder);
        try
        {
            var session = new InferenceSession(bytes, options);
            Log.LastPositionLogits(logger, folder.GraphPath, reason);
            return session;
        }
        catch (OnnxRuntimeException ex)
        {
            // The graph is then opened as exported with these options, from its own folder: ONNX Runtime reads this entry
            // for a graph opened from a file too.
            options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", graphFolder);
            Log.EveryPositionLogits(logger, folder.GraphPath, $"ONNX Runtime refused the rewritten graph ({ex.Message})");
            return null;
        }
    }

    /// <summary>
    /// The path with every link on it resolved, its folders' as well as its file's, as realpath(3) resolves it (a link's
    /// target read relative to the link's real folder, <c>..</c> taken after the link before it is resolved); the path
    /// as given when it cannot be read (a loop, a link it may not read, a name the file system refuses).
    /// </summary>
    /// <param name="path">An absolute path, or one relative to the current folder.</param>
    private static string RealPath(string path)
    {
        try
        {
            return Resolve(Path.IsPathRooted(path) ? path : Path.Join(Environment.CurrentDirectory, path), 0);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return path;
        }

        static string Resolve(string path, int links)
        {
            var root = Path.GetPathRoot(path)!;
            var real = root;
            foreach (var part in path[root.Length..].Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == ".")
                {
                    continue;
                }

                if (part == "..")
                {
                    real = Path.GetDirectoryName(real) ?? real;
                    continue;
                }

                var next = Path.Join(real, part);
                if (new FileInfo(next).LinkTarget is { } target)
                {
                    if (++links > 40)
                    {
                        throw new IOException($"more than 40 links on the way to {path}");
                    }

                    next = Resolve(Path.IsPathRooted(target) ? target : Path.Join(real, target), links);
                }

                real = next;
            }

            return real;
        }
    }

    /// <summary>
    /// Why a graph with these operators cannot run on DirectML in this engine, or null. ONNX Runtime's DirectML
    /// <c>GroupQueryAttention</c> (the attention the onnxruntime-genai builder writes) binds no past inputs: it reads the
    /// past from its present outputs, a KV cache kept on the device and shared between steps, as onnxruntime-genai runs
    /// it (DmlOperatorGroupQueryAttention.cpp); with several new tokens it takes the past as empty. This engine keeps the
    /// cache in host memory and feeds it as the past, so every step would attend to no past: wrong scores, without an
    /// error. Refused at load instead, naming the export that works.
    /// </summary>
    /// <param name="operatorTypes">The graph's operator types (<see cref="LastPositionLogits.OperatorTypes"/>).</param>
    internal static string? DirectMlRefusal(IReadOnlySet<string> operatorTypes) =>
        operatorTypes.Contains("GroupQueryAttention")
            ? "its GroupQueryAttention cannot run on DirectML here: ONNX Runtime's DirectML kernel reads the past from a KV cache kept on the "
              + "device, which this engine does not keep, so it would score without the past. For DirectML, export with "
              + "tools/export-model.sh --method optimum (standard attention); builder graphs run on the CPU and CUDA providers."
            : null;

    /// <summary>
    /// Why a graph with these operators and this KV element type runs partly on the CPU under the CUDA provider, or
    /// null. ONNX Runtime's CUDA <c>GroupQueryAttention</c> takes fp16 and bf16 only (group_query_attention.cc), so the
    /// fp32 one the builder writes for <c>--ep cpu</c> (int4 or fp32) falls back to the CPU in every layer, its tensors
    /// copied between host and device at each step: correct, but slow. Logged at load, naming the export to use.
    /// </summary>
    /// <param name="operatorTypes">The graph's operator types.</param>
    /// <param name="kvType">The KV cache's element type, which is the attention's.</param>
    internal static string? CudaFallback(IReadOnlySet<string> operatorTypes, TensorElementType kvType) =>
        operatorTypes.Contains("GroupQueryAttention") && kvType == TensorElementType.Float
            ? "its GroupQueryAttention is fp32, which ONNX Runtime's CUDA provider does not run (fp16 and bf16 only), so every layer's "
              + "attention falls back to the CPU with copies between host and device at each step. For CUDA, export with "
              + "tools/export-model.sh --method builder --ep cuda (fp16 or int4)."
            : null;

    /// <summary>
    /// The graph's operator types, or null when its file cannot be read (not logged again: the last-position rewrite,
    /// which read it first, has said so, and ONNX Runtime says why in the load's own error).
    /// </summary>
    private static IReadOnlySet<string>? OperatorTypes(ModelFolder folder)
    {
        try
        {
            using var file = File.OpenHandle(folder.GraphPath);
            return LastPositionLogits.OperatorTypes(new LastPositionLogits.FileSource(file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The graph file opened for reading, or null (logged) when it cannot be: ONNX Runtime then says why in the load's own error.</summary>
    private static Microsoft.Win32.SafeHandles.SafeFileHandle? OpenGraph(ModelFolder folder, ILogger logger)
    {
        try
        {
            return File.OpenHandle(folder.GraphPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.EveryPositionLogits(logger, folder.GraphPath, $"the graph could not be opened ({ex.Message})");
            return null;
        }
    }

    /// <summary>
    /// Largest rewritten graph <see cref="OpenLastPositionOnly"/> hands to ONNX Runtime from memory: exports keep their
    /// weights beside the graph (model.onnx.data), leaving the graph itself well under a megabyte.
    /// </summary>
    internal const long InMemoryGraphBytes = 256L << 20;

    /// <summary>
    /// The layout batched rows take: what the graph does with a new token (<see cref="KvLayoutProbe"/>). A graph that
    /// appends after the past batches right-aligned only when it takes position ids: one that derives positions itself
    /// may not skip the left padding, so it decodes one row at a time. A graph that writes at the mask's count batches
    /// left-aligned only on the CPU provider (the one whose GroupQueryAttention the tests check; DirectML's takes every
    /// past as empty when several tokens are fed) and only when its logits keep that layout's contract
    /// (<see cref="KvLayoutProbe.KeepsLeftAlignedContract"/>); otherwise it decodes one row at a time, and
    /// <c>WhyNot</c> says why (the load logs it as a warning: batching is off for every passage of that model). A graph
    /// that takes position ids batches right-aligned when two rows so batched give the logits they give alone
    /// (<see cref="KvLayoutProbe.RightAlignedBatchBreach"/>). Without <paramref name="exactBatching"/> a graph whose
    /// batched rows differ from the rows alone only by its kernels' rounding batches too, and <c>Rounding</c> says how
    /// far they landed (the load logs it).
    /// </summary>
    private static (KvLayout? Layout, string? WhyNot, string? Rounding) BatchLayoutOf(CausalLm lm, bool exactBatching)
    {
        var detected = KvLayoutProbe.Detect(lm);
        if (detected == KvLayout.LeftAligned)
        {
            if (lm.Provider != ExecutionProviderKind.Cpu)
            {
                return (null, $"its attention writes a new token at the row's own length (GroupQueryAttention), a layout batched on the CPU provider only, not on {lm.Provider}", null);
            }

            return KvLayoutProbe.LeftAlignedContractBreach(lm, exactBatching, out var rounding) is { } breach
                ? (null, breach, null)
                : (KvLayout.LeftAligned, null, rounding);
        }

        if (lm.Signature.PositionIds is not null)
        {
            // Optimum graphs batch padded on the left, when two rows so batched give the logits they give alone.
            return KvLayoutProbe.RightAlignedBatchBreach(lm, exactBatching, out var rounding) is { } breach
                ? (null, breach, null)
                : (KvLayout.RightAligned, null, rounding);
        }

        return (null, detected == KvLayout.RightAligned
            ? "it appends a new token after the past and derives positions itself (no position_ids input), so a row padded on the left would be given its padding's positions"
            : "a probe step did not show where it writes a new token's keys (no attention mask, a mask with a hole refused, or both places written), and it takes no position_ids", null);
    }

    /// <summary>Starts a decode with an empty KV cache. <paramref name="runOptions"/> lets the caller terminate a running step.</summary>
    public DecodeState Begin(RunOptions runOptions) => new(this, runOptions);

    internal OrtValue AttentionMask(int length) => Signature.AttentionMaskType == TensorElementType.Int64
        ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _onesInt64.AsMemory(0, length), [1, length])
        : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _onesInt32.AsMemory(0, length), [1, length]);

    /// <summary>
    /// Binds <paramref name="past"/> as the past inputs and logits and presents as CPU outputs, runs the step (the
    /// other inputs are already bound), hands the logits to <paramref name="readLogits"/> and returns the presents:
    /// the next step's past. Shared by single and batched decoding. With <paramref name="inPlace"/>, the presents are
    /// bound to the past's own tensors and the past is returned: ONNX Runtime's GroupQueryAttention then writes only
    /// the new positions into it (its shared past/present buffer, as onnxruntime-genai runs the builder's graphs)
    /// instead of clearing a new cache and copying the whole past into it; the past must be as wide as the step's
    /// total sequence length or wider (the graph's present is as wide as the wider of the two).
    /// </summary>
    internal OrtValue[] RunStep(OrtIoBinding binding, RunOptions runOptions, OrtValue[] past, Action<OrtValue> readLogits, bool inPlace = false)
    {
        var sig = Signature;
        for (var l = 0; l < sig.Layers; l++)
        {
            binding.BindInput(sig.PastKeys[l], past[2 * l]);
            binding.BindInput(sig.PastValues[l], past[(2 * l) + 1]);
        }

        binding.BindOutputToDevice(sig.Logits, OrtMemoryInfo.DefaultInstance);
        for (var l = 0; l < sig.Layers; l++)
        {
            if (inPlace)
            {
                binding.BindOutput(sig.PresentKeys[l], past[2 * l]);
                binding.BindOutput(sig.PresentValues[l], past[(2 * l) + 1]);
            }
            else
            {
                binding.BindOutputToDevice(sig.PresentKeys[l], OrtMemoryInfo.DefaultInstance);
                binding.BindOutputToDevice(sig.PresentValues[l], OrtMemoryInfo.DefaultInstance);
            }
        }

        _session.RunWithBinding(runOptions, binding);

        // The collection owns the values only if disposed; we take them one by one instead.
        var outputs = binding.GetOutputValues();
        var handedOver = false;
        try
        {
            using (var logits = outputs[0])
            {
                readLogits(logits);
            }

            if (inPlace)
            {
                // The presents are handles on the past's own tensors (disposed below): the past stays the caller's.
                return past;
            }

            var presents = new OrtValue[past.Length];
            for (var i = 0; i < presents.Length; i++)
            {
                presents[i] = outputs[i + 1];
            }

            handedOver = true;
            return presents;
        }
        finally
        {
            // Not handed over: in place, or reading the logits failed (a cancelled caller, a shape the reader refuses).
            if (!handedOver)
            {
                for (var i = 1; i < outputs.Count; i++)
                {
                    outputs[i].Dispose();
                }
            }
        }
    }

    /// <summary>Tests: rows of logits copied out of ONNX Runtime's output so far (<see cref="CopyLogitsRow"/>), by every decode of this model.</summary>
    internal long LogitsRowsCopied => Interlocked.Read(ref _rowsCopied);

    /// <summary>
    /// Copies one row of <paramref name="vocab"/> logits starting at <paramref name="offset"/> (fp32 or fp16) into
    /// <paramref name="into"/> and returns the row's greedy token (<see cref="Rank1Scorer.Next"/>), taken here, from
    /// ONNX Runtime's output just written: the same argmax over the copy once the step has returned reads it three
    /// times slower (0.14 against 0.04 ms a row of 151,936 logits; docs/benchmarks.md, "The greedy token").
    /// </summary>
    internal int CopyLogitsRow(OrtValue logits, int offset, int vocab, float[] into)
    {
        Interlocked.Increment(ref _rowsCopied);
        var next = GreedyOfRow(logits, offset, vocab, into);
        if (Signature.LogitsType == TensorElementType.Float)
        {
            Fp32Row(logits, offset, vocab).CopyTo(into); // fp16 ones are in it already
        }

        return next;
    }

    /// <summary>
    /// The greedy token of one row of logits, as <see cref="CopyLogitsRow"/> gives it, read in place where the logits are
    /// fp32 (fp16 ones are converted into <paramref name="scratch"/> first): a batch step needs the full row only of the
    /// rows it scores, and copying every row (0.04 ms each, 151,936 logits) was 8% of the batch thread on the tiny model.
    /// </summary>
    internal int GreedyOfRow(OrtValue logits, int offset, int vocab, float[] scratch)
    {
        if (Signature.LogitsType == TensorElementType.Float)
        {
            return Rank1Scorer.Next(Fp32Row(logits, offset, vocab));
        }

        var half = logits.GetTensorDataAsSpan<Float16>().Slice(offset, vocab);
        for (var i = 0; i < vocab; i++)
        {
            scratch[i] = (float)half[i];
        }

        return Rank1Scorer.Next(scratch.AsSpan(0, vocab));
    }

    private static ReadOnlySpan<float> Fp32Row(OrtValue logits, int offset, int vocab) => logits.GetTensorDataAsSpan<float>().Slice(offset, vocab);

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
