using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntimeGenAI;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;

// Rank1 throughput benchmark: our engine next to Microsoft.ML.OnnxRuntimeGenAI 0.18 on the same model and threads,
// next to llama.cpp (LLamaSharp 0.30.0) on the same weights as GGUF (--gguf FILE,FILE...: one column each), and all
// next to the machine's memory-bandwidth ceiling. Prints a Markdown table.
//   dotnet run -c Release --project bench/Rank1.Benchmarks -- --model DIR [--threads N] [--passages 10] [--passage-tokens 150]
//     [--shared-prefix 40] [--decode 64] [--prefill 512] [--batches 4,8,16] [--sweep-prompt 64] [--alone 5] [--skip-peer]
//     [--gguf FILE,...]
// --quantize SRC.gguf DST.gguf q8_0|q4_0 quantizes with llama.cpp's own quantizer (./build.sh bench makes its GGUFs so).
// --execution-provider Cpu|Cuda|DirectML (default Cpu) runs our engine there (tools/gpu-check.sh: Cuda, with --skip-peer).
// --profile adds a per-operator profile of batch-1 decode (ONNX Runtime's profiler).
// --no-exact-batching loads our engine as Rank1:Model:ExactBatching=false does: a graph whose batched rows differ from
// the rows alone only by its kernels' rounding (MatMulNBits at blocks of 64 up) is batched too.
// On a graph with MatMulNBits (int4), the physical limits also give that kernel's own ceilings, timed alone on one node
// of the graph's shape (KernelCeiling): what bounds batch-1 decode's share of the bandwidth and batch decode's gain.
// --decode-only [--ort-config KEY=VALUE]... times batch-1 decode alone, under ONNX Runtime session settings (a probe).
// --kernel-only times ONNX Runtime's MatMulNBits alone on every distinct shape of the graph (KernelCeiling).
// --rows-apart says, for each such shape, how far a row's output lands from the same row alone when it runs with others.
// --window-only judges windows of --passages short passages through the engine, --decode reasoning tokens each, and
// prints the time and the managed memory allocated per window (WindowAllocations).
// --alternate times batch-1 decode of ours and of OnnxRuntimeGenAI in turns, five rounds in one process.
// One at a time, every passage is the same work, so the first --alone of them are timed (it keeps the whole run short).
NativeLibraryConfig.All.WithLogCallback((level, message) =>
{
    if (level == LLamaLogLevel.Error)
    {
        Console.Error.Write($"llama.cpp: {message}");
    }
});
if (args.Length == 4 && args[0] == "--quantize")
{
    LlamaCpp.Quantize(args[1], args[2], args[3], Environment.ProcessorCount);
    Console.Error.WriteLine($"quantized {args[1]} to {args[3]}: {args[2]}");
    return 0;
}

var options = Args.Parse(args);
var folder = ModelFolder.Open(options.Model);
var weightBytes = Directory.GetFiles(folder.FolderPath).Where(f => f.Contains(".onnx", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
// Bytes read per decoded token: every weight once, except an fp32 input embedding that only a Gather reads (one row per
// token) because the output layer has its own 4-bit copy (make-test-model.py's int4 graphs, as the builder's int4).
var configPath = Path.Combine(folder.FolderPath, "config.json");
var configJson = File.Exists(configPath) ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath)) : null;
var gatherOnlyBytes = configJson?["quantization"]?["output_layer"]?.GetValue<string>() == "int4"
    ? configJson["vocab_size"]!.GetValue<long>() * configJson["hidden_size"]!.GetValue<long>() * sizeof(float)
    : 0;
var readBytes = weightBytes - gatherOnlyBytes;
Console.Error.WriteLine($"model {folder.FolderPath}: {weightBytes / 1e9:0.00} GB of graph and weights, {readBytes / 1e9:0.00} GB read per token; threads {options.Threads}; our engine on {options.Provider}");

var rng = new Random(7);
int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(1000, 100_000)).ToArray();
var prefillPrompt = Tokens(options.PrefillTokens);
var decodePrompt = Tokens(options.PassageTokens);
// Every prompt of one query starts with the same instruction and query tokens, then its own passage.
var header = Tokens(options.SharedPrefix);
var passages = Enumerable.Range(0, options.Passages).Select(_ => header.Concat(Tokens(options.PassageTokens)).ToArray()).ToArray();

if (args.Contains("--decode-only"))
{
    // A quick probe of batch-1 decode under session settings (--ort-config KEY=VALUE, repeatable).
    var entries = args.Select((a, i) => (a, i)).Where(x => x.a == "--ort-config").Select(x => args[x.i + 1].Split('=', 2)).ToArray();
    using var lm = CausalLm.Load(folder, options.Provider, options.Threads, 0, null, so =>
    {
        foreach (var kv in entries)
        {
            so.AddSessionConfigEntry(kv[0], kv[1]);
        }
    });
    using var run = new RunOptions();
    var seconds = Ours.DecodeSeconds(lm, run, decodePrompt, options.DecodeTokens);
    Console.WriteLine($"decode batch 1: {options.DecodeTokens / seconds:0.00} tokens/s ({string.Join(", ", entries.Select(e => string.Join('=', e)))})");
    return 0;
}

if (args.Contains("--alternate"))
{
    // Batch-1 decode of ours and OnnxRuntimeGenAI's generator in turns, in one process, on the same prompt: the two
    // engines share the machine's state round by round, so the paired ratio says more than two separate runs.
    using var handle = new OgaHandle();
    using var config = Peer.CpuConfig(folder, options.Threads);
    using var peerModel = new Model(config);
    using var lm = CausalLm.Load(folder, options.Provider, options.Threads);
    using var run = new RunOptions();
    var ratios = new List<double>();
    Console.WriteLine($"| round ({options.Threads} threads, {options.DecodeTokens} steps after a {options.PassageTokens}-token prompt) | ours, tokens/s | OnnxRuntimeGenAI, tokens/s | ours / GenAI |");
    Console.WriteLine("| ---: | ---: | ---: | ---: |");
    for (var round = 1; round <= 5; round++)
    {
        var oursTps = options.DecodeTokens / Ours.DecodeSeconds(lm, run, decodePrompt, options.DecodeTokens);
        var peerTps = options.DecodeTokens / Peer.DecodeSeconds(peerModel, decodePrompt, options.DecodeTokens);

        ratios.Add(oursTps / peerTps);
        Console.WriteLine($"| {round} | {oursTps:0.0} | {peerTps:0.0} | {oursTps / peerTps:0.00}x |");
    }

    Console.WriteLine($"| median | | | {ratios.Order().ElementAt(ratios.Count / 2):0.00}x |");
    return 0;
}

if (args.Contains("--rows-apart"))
{
    // Whether ONNX Runtime's MatMulNBits gives a row the result it gives that row alone when it runs with others, on each
    // distinct shape of the graph (KvLayoutProbe refuses to batch a graph where it does not, unless ExactBatching is off).
    (int Rows, int At)[] cases = [(2, 0), (2, 1), (3, 0), (3, 2), (4, 3), (5, 4), (16, 0), (16, 9), (17, 16)];
    Console.WriteLine($"| MatMulNBits shape (K x N, bits, block, accuracy_level; {options.Threads} threads) | " + string.Join(" | ", cases.Select(c => $"row {c.At} of {c.Rows}")) + " | largest output |");
    Console.WriteLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", cases.Length + 1)));
    foreach (var k in KernelCeiling.MatMulNBitsOf(folder.GraphPath).Distinct())
    {
        var apart = KernelCeiling.RowsApart(k, options.Threads, cases);
        Console.WriteLine($"| {k.K} x {k.N}, {k.Bits}, {k.BlockSize}, {k.AccuracyLevel} | " + string.Join(" | ", apart.Select(x => $"{x.Apart:g2}")) + $" | {apart[0].Magnitude:g3} |");
    }

    return 0;
}

if (args.Contains("--kernel-only"))
{
    // ONNX Runtime's MatMulNBits alone on each distinct shape of the graph (KernelCeiling), with its share of the work.
    var graph = KernelCeiling.MeasureGraph(KernelCeiling.MatMulNBitsOf(folder.GraphPath), options.Batches.Max(), options.Threads)
        ?? throw new ArgumentException($"{folder.GraphPath} has no MatMulNBits node");
    Console.WriteLine($"| MatMulNBits shape (K x N, bits, block, accuracy_level; {options.Threads} threads) | nodes | share of multiply-adds | in cache: 1 / {graph.Rows} rows, G/s | streamed: 1 / {graph.Rows} rows, G/s | streamed at 1 row, GB/s |");
    Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
    foreach (var (r, nodes) in graph.Shapes)
    {
        var k = r.Shape;
        Console.WriteLine($"| {k.K} x {k.N}, {k.Bits}, {k.BlockSize}, {k.AccuracyLevel} | {nodes} | {nodes * k.K * k.N / graph.MultiplyAddsPerToken * 100:0}% | "
            + (double.IsNaN(r.CachedOneRow) ? "- (larger than the cache)" : $"{r.CachedOneRow / 1e9:0.0} / {r.CachedRows / 1e9:0.0}")
            + $" | {r.StreamedOneRow / 1e9:0.0} / {r.StreamedRows / 1e9:0.0} | {r.StreamedOneRowBytesPerSecond / 1e9:0.0} |");
    }

    Console.WriteLine($"| all {graph.Shapes.Sum(s => s.Nodes)} nodes, weighted by their share | | 100% | | {graph.MultiplyAddsPerToken / graph.StreamedOneRowSeconds / 1e9:0.0} / {graph.MultiplyAddsPerToken / graph.StreamedRowsSeconds / 1e9:0.0} | {graph.WeightBytesPerToken / graph.StreamedOneRowSeconds / 1e9:0.0} |");
    return 0;
}

if (args.Contains("--window-only"))
{
    await WindowAllocations.RunAsync(options);
    return 0;
}

if (args.Contains("--profile-only"))
{
    foreach (var (name, ms) in Profiler.DecodeProfile(folder, options, decodePrompt, options.ProfileRows))
    {
        Console.WriteLine($"| {name} | {ms:0.00} |");
    }

    return 0;
}

// The batch sweep decodes from short prompts of equal length (no padding): it measures decode steps, not prefill.
var sweep = Enumerable.Range(0, options.Batches.Max()).Select(_ => Tokens(options.SweepPrompt)).ToArray();
var ours = Ours.Run(folder, options, prefillPrompt, decodePrompt, passages, sweep);
var oursPeak = Process.GetCurrentProcess().PeakWorkingSet64;
var peer = options.SkipPeer ? null : Peer.Run(folder, options, prefillPrompt, decodePrompt, passages, sweep);
var llama = options.Gguf.Select(g => (Name: LlamaCpp.Label(g), Result: LlamaCpp.Run(g, options, prefillPrompt, decodePrompt, passages, sweep))).ToArray();
var totalPeak = Process.GetCurrentProcess().PeakWorkingSet64;

var profile = options.Profile ? Profiler.DecodeProfile(folder, options, decodePrompt, options.ProfileRows) : null;

// After the engines, so that its models do not count in their peak memory: what ONNX Runtime's MatMulNBits does alone.
var kernel = KernelCeiling.MeasureGraph(KernelCeiling.MatMulNBitsOf(folder.GraphPath), options.Batches.Max(), options.Threads);
if (kernel is not null)
{
    Console.Error.WriteLine($"MatMulNBits alone, the graph's {kernel.Shapes.Sum(s => s.Nodes)} nodes: {1 / kernel.StreamedOneRowSeconds:0.0} / {1 / kernel.StreamedRowsSeconds:0.0} tokens/s at 1 / {kernel.Rows} rows");
}

// The same at the k-passage batch's rows (when the sweep's largest batch is another): how fast its steps could be.
var kernelAtPassages = kernel is null || ours.BatchedPassagesPerSecond is null ? null
    : options.Passages == kernel.Rows ? kernel
    : KernelCeiling.MeasureGraph(KernelCeiling.MatMulNBitsOf(folder.GraphPath), options.Passages, options.Threads);
if (kernelAtPassages is not null && !ReferenceEquals(kernelAtPassages, kernel))
{
    Console.Error.WriteLine($"MatMulNBits alone at {kernelAtPassages.Rows} rows: {1 / kernelAtPassages.StreamedRowsSeconds:0.0} tokens/s aggregate");
}

// Last, so that its 1 GiB buffer does not count in the engines' peak memory.
var bandwidth = Bandwidth.MeasureGBps(options.Threads);
Console.Error.WriteLine($"memory read bandwidth: {bandwidth:0.0} GB/s");

var ceiling = bandwidth * 1e9 / readBytes;
string R(double? a, double? b) => a is { } x && b is { } y && y > 0 ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";
string N(double? v) => v is { } x ? x.ToString(x >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture) : "-";
// One row per workload: ours, the GenAI peer and each llama.cpp file, with ours / each of them.
void Row(string workload, Func<Result, double?> value, double? oursValue = null)
{
    var o = oursValue ?? value(ours);
    var cells = new List<string> { N(o), N(peer is null ? null : value(peer)), R(o, peer is null ? null : value(peer)) };
    foreach (var (_, result) in llama)
    {
        cells.Add(N(value(result)));
        cells.Add(R(o, value(result)));
    }

    Console.WriteLine($"| {workload} | {string.Join(" | ", cells)} |");
}

Console.WriteLine($"| workload ({Path.GetFileName(folder.FolderPath)}, {options.Threads} threads, ours on {options.Provider}) | Rank1.Inference | OnnxRuntimeGenAI 0.18.0 | ours / GenAI |"
    + string.Concat(llama.Select(l => $" llama.cpp {l.Name} | ours / {l.Name} |")));
Console.WriteLine("| --- | ---: | ---: | ---: |" + string.Concat(llama.Select(_ => " ---: | ---: |")));
Row($"prefill tokens/s ({options.PrefillTokens}-token prompt)", r => r.PrefillTps);
Row("decode tokens/s, batch 1", r => r.DecodeTps);
foreach (var (batch, tps) in ours.BatchDecode ?? [])
{
    Row($"aggregate decode tokens/s, batch {batch} ({options.SweepPrompt}-token prompts; ours {tps / ours.DecodeTps:0.0}x batch 1)",
        r => r.BatchDecode?.Where(x => x.Batch == batch).Select(x => (double?)x.Tps).FirstOrDefault());
}

Row($"passages/s: k = {options.Passages} x ({options.SharedPrefix} shared + {options.PassageTokens}) prompt tokens, {options.DecodeTokens} forced reasoning tokens each, one at a time (timed over {Math.Min(options.Alone, options.Passages)})", r => r.PassagesPerSecond);
Row("the same k passages as one batch (ours and llama.cpp: shared prefix computed once)", r => r.BatchedPassagesPerSecond);
if (ours.BatchedPassagesPerSecond is not null)
{
    Row("ours as one batch / the peers one at a time", r => r.PassagesPerSecond, ours.BatchedPassagesPerSecond);
}

Console.WriteLine();
Console.WriteLine("| physical limit | value |");
Console.WriteLine("| --- | ---: |");
Console.WriteLine($"| measured memory read bandwidth | {bandwidth:0.0} GB/s |");
Console.WriteLine(gatherOnlyBytes > 0
    ? $"| bytes read per decoded token (all weights but the fp32 input embedding, which a Gather reads one row of) | {readBytes / 1e9:0.00} GB |"
    : $"| bytes read per decoded token (all weights) | {readBytes / 1e9:0.00} GB |");
Console.WriteLine($"| batch-1 decode ceiling (bandwidth / bytes read per token) | {ceiling:0.00} tokens/s |");
Console.WriteLine($"| our batch-1 decode / ceiling | {ours.DecodeTps / ceiling * 100:0}% |");
if (kernel is not null)
{
    // The kernel's own limits: a batch-1 step made of it reads no faster than its nodes do alone from memory, and a
    // batch step computes no faster than they do alone at the batch's rows.
    var (largest, _) = kernel.Shapes.FirstOrDefault(s => !double.IsNaN(s.Rates.CachedOneRow));
    var alone = 1 / kernel.StreamedOneRowSeconds;
    var aloneRows = 1 / kernel.StreamedRowsSeconds;
    Console.WriteLine($"| ONNX Runtime's MatMulNBits alone: the graph's {kernel.Shapes.Sum(s => s.Nodes)} nodes ({kernel.Shapes.Count} shapes, {kernel.Quantization}, {options.Threads} threads), each shape timed on its own, weights streamed from memory: tokens/s at 1 row / aggregate at {kernel.Rows} rows | {N(alone)} / {N(aloneRows)} |");
    Console.WriteLine($"| its weight reading at 1 row / measured memory read bandwidth: the most a batch-1 step made of it reaches | {kernel.WeightBytesPerToken / kernel.StreamedOneRowSeconds / 1e9:0.0} GB/s ({kernel.WeightBytesPerToken / kernel.StreamedOneRowSeconds / (bandwidth * 1e9) * 100:0}%) |");
    Console.WriteLine($"| our batch-1 decode / the kernel alone at 1 row | {ours.DecodeTps / alone * 100:0}% |");
    Console.WriteLine($"| batch {kernel.Rows} over our batch 1 at most with this kernel (its aggregate at {kernel.Rows} rows / our batch 1) | {aloneRows / ours.DecodeTps:0.0}x |");
    if (largest is not null)
    {
        Console.WriteLine($"| the kernel's compute alone, weights in cache ({largest.Shape.K} x {largest.Shape.N}, the largest share that fits): multiply-adds per second at 1 / {kernel.Rows} rows | {largest.CachedOneRow / 1e9:0.0} G / {largest.CachedRows / 1e9:0.0} G |");
    }
}

if (ours.BatchedPassagesPerSecond is not null)
{
    Console.WriteLine($"| KV cache of the k passages as one batch, at its widest (rows x positions x layers x K/V x kv heads x head size x element) | {ours.KvBytes / 1e6:0.0} MB |");
    // The k-passage batch's time split: its admission (the shared prefix once, then each passage's own prompt tokens: prefill)
    // and its decode steps; and the most the batch could gain over one at a time if its steps took no time at all.
    Console.WriteLine($"| our k passages as one batch: admission (shared prefix once, then each passage's own prompt tokens) / the whole batch | {ours.BatchAdmissionSeconds:0.00} s / {ours.BatchSeconds:0.00} s ({ours.BatchAdmissionSeconds / ours.BatchSeconds * 100:0}%) |");
    Console.WriteLine($"| ours as one batch / ours one at a time, if the batch's decode steps took no time (k / passages per second one at a time / admission) | {options.Passages / ours.PassagesPerSecond / ours.BatchAdmissionSeconds:0.00}x |");
    if (kernelAtPassages is not null)
    {
        // A tighter bound: the batch's steps no faster than MatMulNBits alone at k rows (its admission as measured, one at a time as measured).
        var steps = options.DecodeTokens + 1;
        var stepsSeconds = steps * options.Passages * kernelAtPassages.StreamedRowsSeconds;
        Console.WriteLine($"| ours as one batch / ours one at a time, if the batch's {steps} steps took only MatMulNBits' time alone at {options.Passages} rows (k / passages per second one at a time / (admission + {stepsSeconds:0.00} s)) | {options.Passages / ours.PassagesPerSecond / (ours.BatchAdmissionSeconds + stepsSeconds):0.00}x |");
    }
}

Console.WriteLine($"| peak working set: after our runs / after all engines | {oursPeak / 1e9:0.00} GB / {totalPeak / 1e9:0.00} GB |");
if (profile is not null)
{
    Console.WriteLine();
    Console.WriteLine($"| decode profile, batch {options.ProfileRows} (ONNX Runtime, {Profiler.Steps} steps after a {options.PassageTokens}-token prompt) | ms per step | share |");
    Console.WriteLine("| --- | ---: | ---: |");
    foreach (var (name, ms) in profile)
    {
        Console.WriteLine($"| {name} | {ms:0.00} | {ms / profile[0].Ms * 100:0}% |");
    }
}

return 0;

internal sealed record Result(double PrefillTps, double DecodeTps, double PassagesPerSecond, IReadOnlyList<(int Batch, double Tps)>? BatchDecode = null, double? BatchedPassagesPerSecond = null,
    long KvBytes = 0, double BatchAdmissionSeconds = 0, double BatchSeconds = 0);

internal sealed record Args(string Model, int Threads, int PrefillTokens, int PassageTokens, int DecodeTokens, int Passages, int SharedPrefix, int[] Batches, int SweepPrompt,
    int Alone, bool SkipPeer, bool Profile, int ProfileRows, ExecutionProviderKind Provider, string[] Gguf, bool ExactBatching)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) => args.SkipWhile(a => a != $"--{name}").Skip(1).FirstOrDefault();
        int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var model = Get("model") ?? throw new ArgumentException("--model DIR is required");
        return new Args(model, Int("threads", Environment.ProcessorCount), Int("prefill", 512), Int("passage-tokens", 150), Int("decode", 64), Int("passages", 10),
            Int("shared-prefix", 40), (Get("batches") ?? "4,8,16").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray(), Int("sweep-prompt", 64),
            Int("alone", 5), args.Contains("--skip-peer"), args.Contains("--profile") || Get("profile-rows") is not null,
            Int("profile-rows", 1), Enum.Parse<ExecutionProviderKind>(Get("execution-provider") ?? "Cpu", ignoreCase: true),
            (Get("gguf") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(g => File.Exists(g) ? g : throw new ArgumentException($"--gguf: {g} not found")).ToArray(),
            !args.Contains("--no-exact-batching"));
    }
}

internal static class Bandwidth
{
    // Streams a 1 GiB buffer with SIMD sums on every thread; the best of five passes.
    public static double MeasureGBps(int threads)
    {
        var data = new float[256 * 1024 * 1024];
        data.AsSpan().Fill(1f); // touch every page before timing
        var best = 0.0;
        for (var pass = 0; pass < 5; pass++)
        {
            var sw = Stopwatch.StartNew();
            var chunk = data.Length / threads;
            var sums = new float[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                sums[t] = TensorPrimitives.Sum<float>(data.AsSpan(t * chunk, chunk));
            });
            best = Math.Max(best, data.Length * 4.0 / sw.Elapsed.TotalSeconds / 1e9);
            GC.KeepAlive(sums);
        }

        return best;
    }
}

internal static class Ours
{
    /// <summary>Seconds of <paramref name="steps"/> greedy batch-1 decode steps after <paramref name="prompt"/> and one warm-up step.</summary>
    public static double DecodeSeconds(CausalLm lm, RunOptions run, int[] prompt, int steps)
    {
        using var s = lm.Begin(run);
        s.Step(prompt);
        s.Step([s.Greedy]); // warm-up step
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < steps; i++)
        {
            s.Step([s.Greedy]);
        }

        return sw.Elapsed.TotalSeconds;
    }

    public static Result Run(ModelFolder folder, Args o, int[] prefill, int[] decodePrompt, int[][] passages, int[][] sweep)
    {
        using var lm = CausalLm.Load(folder, o.Provider, o.Threads, exactBatching: o.ExactBatching);
        using var run = new RunOptions();
        double Time(Action a)
        {
            var sw = Stopwatch.StartNew();
            a();
            return sw.Elapsed.TotalSeconds;
        }

        void Prefill()
        {
            using var s = lm.Begin(run);
            s.Step(prefill);
        }

        Prefill(); // warm-up
        var prefillSeconds = Enumerable.Range(0, 3).Select(_ => Time(Prefill)).Order().ElementAt(1);

        var decodeSeconds = DecodeSeconds(lm, run, decodePrompt, o.DecodeTokens);

        // The work of judging one passage: prefill, forced greedy reasoning, one scoring step.
        var passagesSeconds = Time(() =>
        {
            foreach (var p in passages.Take(o.Alone))
            {
                using var s = lm.Begin(run);
                s.Step(p);
                for (var i = 0; i < o.DecodeTokens; i++)
                {
                    s.Step([s.Greedy]);
                }

                s.Step([1]);
            }
        });
        Console.Error.WriteLine($"ours: prefill {prefillSeconds:0.000} s, decode {decodeSeconds:0.000} s, passages {passagesSeconds:0.000} s");
        if (lm.BatchLayout is null)
        {
            // The load found no batch layout it could prove (CausalLm.Load's probe): the engine judges one row at a time.
            Console.Error.WriteLine($"ours: {folder.GraphPath} decodes one row at a time (no batch layout): no batch rows");
            return new Result(prefill.Length / prefillSeconds, o.DecodeTokens / decodeSeconds, Math.Min(o.Alone, passages.Length) / passagesSeconds);
        }

        // Batched decoding: B prompts prefilled together, then DecodeTokens steps of B tokens each.
        var batchDecode = new List<(int, double)>();
        foreach (var b in o.Batches)
        {
            var prompts = sweep[..b];
            using var batch = new BatchDecodeState(lm, run, prefixPositions: 0); // no shared prefix: nothing to keep
            batch.Admit(prompts, 0);
            var next = new int[b];
            void Greedy()
            {
                for (var r = 0; r < b; r++)
                {
                    next[r] = batch.Greedy[r];
                }

                batch.Step(next);
            }

            Greedy(); // warm-up step
            var seconds = Time(() =>
            {
                for (var i = 0; i < o.DecodeTokens; i++)
                {
                    Greedy();
                }
            });
            batchDecode.Add((b, b * o.DecodeTokens / seconds));
            Console.Error.WriteLine($"ours: batch {b} decode {seconds:0.000} s");
        }

        // The passages workload as one batch: padded prefill, forced greedy reasoning for every row, one scoring step.
        long kvBytes = 0;
        var admitSeconds = 0.0;
        var batchedSeconds = Time(() =>
        {
            using var batch = new BatchDecodeState(lm, run, prefixPositions: o.SharedPrefix); // the prefix cache keeps the shared prefix, as the engine's keeps a window's
            admitSeconds = Time(() => batch.Admit(passages, o.SharedPrefix));
            var next = new int[passages.Length];
            for (var i = 0; i <= o.DecodeTokens; i++)
            {
                for (var r = 0; r < next.Length; r++)
                {
                    next[r] = i == o.DecodeTokens ? 1 : batch.Greedy[r];
                }

                batch.Step(next);
            }

            kvBytes = batch.CacheBytes;
        });
        // Where the batch's time goes: the admission (the shared prefix once, then the passages' own tokens) and the steps.
        Console.Error.WriteLine($"ours: passages as one batch {batchedSeconds:0.000} s (admission {admitSeconds:0.000} s, {o.DecodeTokens + 1} steps {batchedSeconds - admitSeconds:0.000} s)");
        return new Result(prefill.Length / prefillSeconds, o.DecodeTokens / decodeSeconds, Math.Min(o.Alone, passages.Length) / passagesSeconds, batchDecode, passages.Length / batchedSeconds, kvBytes,
            admitSeconds, batchedSeconds);
    }
}

internal static class Peer
{
    /// <summary>OnnxRuntimeGenAI's configuration of <paramref name="folder"/>: the CPU, <paramref name="threads"/> intra-op threads.</summary>
    public static Config CpuConfig(ModelFolder folder, int threads)
    {
        var config = new Config(folder.FolderPath);
        config.ClearProviders();
        config.Overlay("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + threads.ToString(CultureInfo.InvariantCulture) + "}}}}");
        return config;
    }

    /// <summary>Seconds of <paramref name="steps"/> greedy tokens after <paramref name="prompt"/> and one warm-up token.</summary>
    public static double DecodeSeconds(Model model, int[] prompt, int steps)
    {
        using var g = Greedy(model, prompt.Length + steps + 8);
        g.AppendTokens(prompt);
        g.GenerateNextToken(); // warm-up token
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < steps; i++)
        {
            g.GenerateNextToken();
        }

        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>A greedy generator of at most <paramref name="maxLength"/> tokens.</summary>
    public static Generator Greedy(Model model, int maxLength)
    {
        using var p = new GeneratorParams(model);
        p.SetSearchOption("max_length", maxLength);
        p.SetSearchOption("do_sample", false);
        return new Generator(model, p);
    }

    public static Result Run(ModelFolder folder, Args o, int[] prefill, int[] decodePrompt, int[][] passages, int[][] sweep)
    {
        using var handle = new OgaHandle();
        using var config = CpuConfig(folder, o.Threads);
        using var model = new Model(config);
        Generator NewGenerator(int maxLength) => Greedy(model, maxLength);

        double Time(Action a)
        {
            var sw = Stopwatch.StartNew();
            a();
            return sw.Elapsed.TotalSeconds;
        }

        void Prefill()
        {
            using var g = NewGenerator(prefill.Length + 8);
            g.AppendTokens(prefill);
        }

        Prefill();
        var prefillSeconds = Enumerable.Range(0, 3).Select(_ => Time(Prefill)).Order().ElementAt(1);

        var decodeSeconds = DecodeSeconds(model, decodePrompt, o.DecodeTokens);

        var passagesSeconds = Time(() =>
        {
            foreach (var p in passages.Take(o.Alone))
            {
                using var g = NewGenerator(p.Length + o.DecodeTokens + 8);
                g.AppendTokens(p);
                for (var i = 0; i < o.DecodeTokens + 1; i++)
                {
                    g.GenerateNextToken();
                }
            }
        });
        Console.Error.WriteLine($"peer: prefill {prefillSeconds:0.000} s, decode {decodeSeconds:0.000} s, passages {passagesSeconds:0.000} s");

        // The peer's own batching: batch_size rows of equal length (so no padding is involved), prefilled together,
        // then one GenerateNextToken per step for all rows.
        (double Prefill, double Decode)? Batched(int[][] prompts)
        {
            try
            {
                using var p = new GeneratorParams(model);
                p.SetSearchOption("max_length", prompts[0].Length + o.DecodeTokens + 8);
                p.SetSearchOption("do_sample", false);
                p.SetSearchOption("batch_size", prompts.Length);
                using var g = new Generator(model, p);
                var prefillTime = Time(() => g.AppendTokens(prompts.SelectMany(t => t).ToArray()));
                g.GenerateNextToken(); // the first token comes from the prompt's logits
                return (prefillTime, Time(() =>
                {
                    for (var i = 0; i < o.DecodeTokens; i++)
                    {
                        g.GenerateNextToken();
                    }
                }));
            }
            catch (OnnxRuntimeGenAIException ex)
            {
                Console.Error.WriteLine($"peer: batch of {prompts.Length} failed: {ex.Message}");
                return null;
            }
        }

        var batchDecode = new List<(int, double)>();
        foreach (var b in o.Batches)
        {
            if (Batched(sweep[..b]) is { } t)
            {
                batchDecode.Add((b, b * o.DecodeTokens / t.Decode));
                Console.Error.WriteLine($"peer: batch {b} decode {t.Decode:0.000} s");
            }
        }

        double? batchedPassages = Batched(passages) is { } all ? passages.Length / (all.Prefill + all.Decode) : null;
        return new Result(prefill.Length / prefillSeconds, o.DecodeTokens / decodeSeconds, Math.Min(o.Alone, passages.Length) / passagesSeconds, batchDecode, batchedPassages);
    }
}

internal static class LlamaCpp
{
    // llama.cpp through LLamaSharp, on the same weights written as GGUF (tools/write-gguf.py, quantized by llama.cpp's
    // own quantizer): the same token sequences and threads as our engine, llama.cpp's default context settings (f16 KV
    // cache, flash attention chosen by llama.cpp) as a user of LLamaSharp, Ollama or LM Studio gets them.
    public static Result Run(string gguf, Args o, int[] prefill, int[] decodePrompt, int[][] passages, int[][] sweep)
    {
        var rows = Math.Max(o.Batches.Max(), passages.Length);
        var cells = new[]
        {
            prefill.Length, decodePrompt.Length + o.DecodeTokens, o.Batches.Max() * (sweep[0].Length + o.DecodeTokens),
            passages.Length * (passages[0].Length + o.DecodeTokens) + o.SharedPrefix,
        }.Max() + 64;
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)cells, BatchSize = (uint)cells, UBatchSize = 512, SeqMax = (uint)rows, KVUnified = true,
            Threads = o.Threads, BatchThreads = o.Threads, GpuLayerCount = 0,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var memory = context.NativeHandle;
        var batch = new LLamaBatch();
        double Time(Action a)
        {
            var sw = Stopwatch.StartNew();
            a();
            return sw.Elapsed.TotalSeconds;
        }

        void Decode()
        {
            var result = context.Decode(batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama.cpp decode of {batch.TokenCount} tokens: {result}");
            }
        }

        // One sequence: the prompt from position start, logits for its last token only.
        void Prompt(int[] tokens, int start = 0, int seq = 0)
        {
            batch.Clear();
            for (var i = 0; i < tokens.Length; i++)
            {
                batch.Add(tokens[i], start + i, (LLamaSeqId)seq, i == tokens.Length - 1);
            }

            Decode();
        }

        int Greedy(int index) => TensorPrimitives.IndexOfMax<float>(memory.GetLogitsIth(index));

        void Prefill()
        {
            memory.MemoryClear(true);
            Prompt(prefill);
        }

        Prefill(); // warm-up
        var prefillSeconds = Enumerable.Range(0, 3).Select(_ => Time(Prefill)).Order().ElementAt(1);

        // One sequence decoding greedily: steps single-token decodes after a prompt of length position.
        void Steps(int position, int steps, int lastToken = -1)
        {
            for (var i = 0; i < steps; i++)
            {
                var next = Greedy(batch.TokenCount - 1);
                batch.Clear();
                batch.Add(i == steps - 1 && lastToken >= 0 ? lastToken : next, position++, LLamaSeqId.Zero, true);
                Decode();
            }
        }

        memory.MemoryClear(true);
        Prompt(decodePrompt);
        Steps(decodePrompt.Length, 1); // warm-up step
        var decodeSeconds = Time(() => Steps(decodePrompt.Length + 1, o.DecodeTokens));

        var passagesSeconds = Time(() =>
        {
            foreach (var p in passages.Take(o.Alone))
            {
                memory.MemoryClear(true);
                Prompt(p);
                Steps(p.Length, o.DecodeTokens + 1, lastToken: 1); // forced reasoning, then one scoring step
            }
        });
        Console.Error.WriteLine($"llama.cpp {Path.GetFileName(gguf)}: prefill {prefillSeconds:0.000} s, decode {decodeSeconds:0.000} s, passages {passagesSeconds:0.000} s");

        // Where in the last decoded batch each row's logits are: after a prompt, at the row's last prompt token.
        int[] logitIndex = [];

        // B sequences in one batch per step: llama.cpp's batched decoding (one token per sequence id).
        void BatchedSteps(int rowCount, int[] positions, int steps, bool scoreLast)
        {
            for (var i = 0; i < steps; i++)
            {
                var next = new int[rowCount];
                for (var r = 0; r < rowCount; r++)
                {
                    next[r] = i == steps - 1 && scoreLast ? 1 : Greedy(logitIndex[r]);
                }

                batch.Clear();
                for (var r = 0; r < rowCount; r++)
                {
                    batch.Add(next[r], positions[r]++, (LLamaSeqId)r, true);
                }

                Decode();
                logitIndex = Enumerable.Range(0, rowCount).ToArray(); // row r's logits are the batch's r-th
            }
        }


        var batchDecode = new List<(int, double)>();
        foreach (var b in o.Batches)
        {
            memory.MemoryClear(true);
            batch.Clear();
            logitIndex = new int[b];
            for (var r = 0; r < b; r++)
            {
                for (var i = 0; i < sweep[r].Length; i++)
                {
                    batch.Add(sweep[r][i], i, (LLamaSeqId)r, i == sweep[r].Length - 1);
                }

                logitIndex[r] = batch.TokenCount - 1;
            }

            Decode(); // prefill, not timed
            var positions = Enumerable.Repeat(sweep[0].Length, b).ToArray();
            BatchedSteps(b, positions, 1, scoreLast: false); // warm-up step
            var seconds = Time(() => BatchedSteps(b, positions, o.DecodeTokens, scoreLast: false));
            batchDecode.Add((b, b * o.DecodeTokens / seconds));
            Console.Error.WriteLine($"llama.cpp {Path.GetFileName(gguf)}: batch {b} decode {seconds:0.000} s");
        }

        // The k passages as one batch, sharing the prefix as llama.cpp can: the shared tokens decoded once in sequence
        // 0 and copied to the others' KV cells, then every suffix in one batch, the forced reasoning and the scoring step.
        var batchedSeconds = Time(() =>
        {
            memory.MemoryClear(true);
            Prompt(passages[0][..o.SharedPrefix]);
            for (var r = 1; r < passages.Length; r++)
            {
                memory.MemorySequenceCopy(LLamaSeqId.Zero, (LLamaSeqId)r, 0, o.SharedPrefix);
            }

            batch.Clear();
            logitIndex = new int[passages.Length];
            for (var r = 0; r < passages.Length; r++)
            {
                for (var i = o.SharedPrefix; i < passages[r].Length; i++)
                {
                    batch.Add(passages[r][i], i, (LLamaSeqId)r, i == passages[r].Length - 1);
                }

                logitIndex[r] = batch.TokenCount - 1;
            }

            Decode();
            var positions = passages.Select(p => p.Length).ToArray();
            BatchedSteps(passages.Length, positions, o.DecodeTokens + 1, scoreLast: true);
        });
        Console.Error.WriteLine($"llama.cpp {Path.GetFileName(gguf)}: passages as one batch {batchedSeconds:0.000} s");
        return new Result(prefill.Length / prefillSeconds, o.DecodeTokens / decodeSeconds, Math.Min(o.Alone, passages.Length) / passagesSeconds, batchDecode,
            passages.Length / batchedSeconds);
    }

    /// <summary>The column name of a GGUF file: its type, the last part of NAME-TYPE.gguf.</summary>
    public static string Label(string gguf) => Path.GetFileNameWithoutExtension(gguf).Split('-')[^1];

    /// <summary>Quantizes a GGUF with llama.cpp's own quantizer (as llama-quantize does, the output tensor included).</summary>
    public static void Quantize(string source, string destination, string type, int threads)
    {
        var ftype = type switch
        {
            "q8_0" => LLamaFtype.MOSTLY_Q8_0,
            "q4_0" => LLamaFtype.MOSTLY_Q4_0,
            _ => throw new ArgumentException($"--quantize: type must be q8_0 or q4_0, not {type}"),
        };
        NativeApi.llama_empty_call(); // loads the native library (LLamaQuantizer alone does not)
        if (!LLamaQuantizer.Quantize(source, destination, ftype, threads, allowRequantize: false, quantizeOutputTensor: true))
        {
            throw new InvalidOperationException($"llama.cpp could not quantize {source} to {type}");
        }
    }
}

internal static class Profiler
{
    public const int Steps = 16;

    /// <summary>
    /// Batch-1 decode under ONNX Runtime's profiler: per token, the wall time of our step, the time inside
    /// InferenceSession.Run, the kernels' total, and each operator type's share.
    /// </summary>
    public static List<(string Name, double Ms)> DecodeProfile(ModelFolder folder, Args o, int[] prompt, int rows)
    {
        var prefix = Path.Combine(Path.GetTempPath(), $"rank1-profile-{Environment.ProcessId}");
        using var lm = CausalLm.Load(folder, o.Provider, o.Threads, 0, null, s =>
        {
            s.EnableProfiling = true;
            s.ProfileOutputPathPrefix = prefix;
        });
        using var run = new RunOptions();
        double wall;
        if (rows == 1)
        {
            using var s = lm.Begin(run);
            s.Step(prompt);
            s.Step([s.Greedy]);
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < Steps; i++)
            {
                s.Step([s.Greedy]);
            }

            wall = sw.Elapsed.TotalMilliseconds / Steps;
        }
        else
        {
            using var batch = new BatchDecodeState(lm, run, prefixPositions: 0); // no shared prefix: nothing to keep
            batch.Admit(Enumerable.Repeat(prompt, rows).ToArray(), 0);
            var next = new int[rows];
            void Greedy()
            {
                for (var r = 0; r < rows; r++)
                {
                    next[r] = batch.Greedy[r];
                }

                batch.Step(next);
            }

            Greedy();
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < Steps; i++)
            {
                Greedy();
            }

            wall = sw.Elapsed.TotalMilliseconds / Steps;
        }

        var file = lm.EndProfiling();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        File.Delete(file);
        var events = doc.RootElement.EnumerateArray().ToArray();
        // The last Steps model runs are the timed decode steps; kernels are the node events inside them.
        var runs = events.Where(e => e.GetProperty("name").GetString() == "model_run").TakeLast(Steps)
            .Select(e => (Start: e.GetProperty("ts").GetInt64(), End: e.GetProperty("ts").GetInt64() + e.GetProperty("dur").GetInt64())).ToArray();
        var inRun = runs.Sum(r => r.End - r.Start) / 1000.0 / Steps;
        var kernels = events
            .Where(e => e.GetProperty("cat").GetString() == "Node" && e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out _)
                && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
            .Select(e => (Op: e.GetProperty("args").GetProperty("op_name").GetString()!, Ts: e.GetProperty("ts").GetInt64(), Dur: e.GetProperty("dur").GetInt64()))
            .Where(k => runs.Any(r => k.Ts >= r.Start && k.Ts <= r.End))
            .ToArray();
        var result = new List<(string, double)>
        {
            ("our step, wall", wall),
            ("inside InferenceSession.Run", inRun),
            ("kernels, all", kernels.Sum(k => k.Dur) / 1000.0 / Steps),
        };
        result.AddRange(kernels.GroupBy(k => k.Op).Select(g => ($"kernel {g.Key}", g.Sum(k => k.Dur) / 1000.0 / Steps)).OrderByDescending(x => x.Item2).Take(8));
        return result;
    }
}
