using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntimeGenAI;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;

// Rank1 throughput benchmark: our engine next to Microsoft.ML.OnnxRuntimeGenAI 0.18 on the same model and threads,
// and both next to the machine's memory-bandwidth ceiling. Prints a Markdown table.
//   dotnet run -c Release --project bench/Rank1.Benchmarks -- --model DIR [--threads N] [--passages 10] [--decode 64]
var options = Args.Parse(args);
var folder = ModelFolder.Open(options.Model);
var weightBytes = Directory.GetFiles(folder.FolderPath).Where(f => f.Contains(".onnx", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
Console.Error.WriteLine($"model {folder.FolderPath}: {weightBytes / 1e9:0.00} GB of graph and weights; threads {options.Threads}");

var rng = new Random(7);
int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(1000, 100_000)).ToArray();
var prefillPrompt = Tokens(options.PrefillTokens);
var decodePrompt = Tokens(options.PassageTokens);
var passages = Enumerable.Range(0, options.Passages).Select(_ => Tokens(options.PassageTokens)).ToArray();

var ours = Ours.Run(folder, options, prefillPrompt, decodePrompt, passages);
var oursPeak = Process.GetCurrentProcess().PeakWorkingSet64;
var peer = options.SkipPeer ? null : Peer.Run(folder, options, prefillPrompt, decodePrompt, passages);
var totalPeak = Process.GetCurrentProcess().PeakWorkingSet64;

// Last, so that its 1 GiB buffer does not count in the engines' peak memory.
var bandwidth = Bandwidth.MeasureGBps(options.Threads);
Console.Error.WriteLine($"memory read bandwidth: {bandwidth:0.0} GB/s");

var ceiling = bandwidth * 1e9 / weightBytes;
string R(double? a, double? b) => a is { } x && b is { } y && y > 0 ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";
string N(double? v) => v is { } x ? x.ToString(x >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture) : "-";
Console.WriteLine($"| workload ({Path.GetFileName(folder.FolderPath)}, {options.Threads} threads) | Rank1.Inference | OnnxRuntimeGenAI 0.18.0 | ours / peer |");
Console.WriteLine("| --- | ---: | ---: | ---: |");
Console.WriteLine($"| prefill tokens/s ({options.PrefillTokens}-token prompt) | {N(ours.PrefillTps)} | {N(peer?.PrefillTps)} | {R(ours.PrefillTps, peer?.PrefillTps)} |");
Console.WriteLine($"| decode tokens/s, batch 1 | {N(ours.DecodeTps)} | {N(peer?.DecodeTps)} | {R(ours.DecodeTps, peer?.DecodeTps)} |");
foreach (var (batch, tps) in ours.BatchDecode ?? [])
{
    Console.WriteLine($"| aggregate decode tokens/s, batch {batch} ({options.PassageTokens}-token prompts; {tps / ours.DecodeTps:0.0}x batch 1) | {N(tps)} | - | - |");
}

Console.WriteLine($"| passages/s: k = {options.Passages} x {options.PassageTokens} tokens, {options.DecodeTokens} forced reasoning tokens each, one at a time | {N(ours.PassagesPerSecond)} | {N(peer?.PassagesPerSecond)} | {R(ours.PassagesPerSecond, peer?.PassagesPerSecond)} |");
Console.WriteLine($"| the same k passages as one batch | {N(ours.BatchedPassagesPerSecond)} | - | {R(ours.BatchedPassagesPerSecond, peer?.PassagesPerSecond)} |");
Console.WriteLine();
Console.WriteLine("| physical limit | value |");
Console.WriteLine("| --- | ---: |");
Console.WriteLine($"| measured memory read bandwidth | {bandwidth:0.0} GB/s |");
Console.WriteLine($"| bytes read per decoded token (all weights) | {weightBytes / 1e9:0.00} GB |");
Console.WriteLine($"| batch-1 decode ceiling (bandwidth / weight bytes) | {ceiling:0.00} tokens/s |");
Console.WriteLine($"| our batch-1 decode / ceiling | {ours.DecodeTps / ceiling * 100:0}% |");
Console.WriteLine($"| peak working set: after our runs / after both | {oursPeak / 1e9:0.00} GB / {totalPeak / 1e9:0.00} GB |");
return 0;

internal sealed record Result(double PrefillTps, double DecodeTps, double PassagesPerSecond, IReadOnlyList<(int Batch, double Tps)>? BatchDecode = null, double? BatchedPassagesPerSecond = null);

internal sealed record Args(string Model, int Threads, int PrefillTokens, int PassageTokens, int DecodeTokens, int Passages, bool SkipPeer)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) => args.SkipWhile(a => a != $"--{name}").Skip(1).FirstOrDefault();
        int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var model = Get("model") ?? throw new ArgumentException("--model DIR is required");
        return new Args(model, Int("threads", Environment.ProcessorCount), Int("prefill", 512), Int("passage-tokens", 200), Int("decode", 64), Int("passages", 10), args.Contains("--skip-peer"));
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
    public static Result Run(ModelFolder folder, Args o, int[] prefill, int[] decodePrompt, int[][] passages)
    {
        using var lm = CausalLm.Load(folder, ExecutionProviderKind.Cpu, o.Threads);
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

        double decodeSeconds;
        using (var s = lm.Begin(run))
        {
            s.Step(decodePrompt);
            s.Step([TensorPrimitives.IndexOfMax<float>(s.Logits)]); // warm-up step
            decodeSeconds = Time(() =>
            {
                for (var i = 0; i < o.DecodeTokens; i++)
                {
                    s.Step([TensorPrimitives.IndexOfMax<float>(s.Logits)]);
                }
            });
        }

        // The work of judging one passage: prefill, forced greedy reasoning, one scoring step.
        var passagesSeconds = Time(() =>
        {
            foreach (var p in passages)
            {
                using var s = lm.Begin(run);
                s.Step(p);
                for (var i = 0; i < o.DecodeTokens; i++)
                {
                    s.Step([TensorPrimitives.IndexOfMax<float>(s.Logits)]);
                }

                s.Step([1]);
            }
        });
        Console.Error.WriteLine($"ours: prefill {prefillSeconds:0.000} s, decode {decodeSeconds:0.000} s, passages {passagesSeconds:0.000} s");

        // Batched decoding: B prompts prefilled together, then DecodeTokens steps of B tokens each.
        var batchDecode = new List<(int, double)>();
        foreach (var b in new[] { 4, 8, 16 })
        {
            var prompts = Enumerable.Range(0, b).Select(i => passages[i % passages.Length]).ToArray();
            using var batch = new BatchDecodeState(lm, run, b);
            batch.Prefill(prompts);
            var next = new int[b];
            void Greedy()
            {
                for (var r = 0; r < b; r++)
                {
                    next[r] = TensorPrimitives.IndexOfMax<float>(batch.Logits[r]);
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
        var batchedSeconds = Time(() =>
        {
            using var batch = new BatchDecodeState(lm, run, passages.Length);
            batch.Prefill(passages);
            var next = new int[passages.Length];
            for (var i = 0; i <= o.DecodeTokens; i++)
            {
                for (var r = 0; r < next.Length; r++)
                {
                    next[r] = i == o.DecodeTokens ? 1 : TensorPrimitives.IndexOfMax<float>(batch.Logits[r]);
                }

                batch.Step(next);
            }
        });
        Console.Error.WriteLine($"ours: passages as one batch {batchedSeconds:0.000} s");
        return new Result(prefill.Length / prefillSeconds, o.DecodeTokens / decodeSeconds, passages.Length / passagesSeconds, batchDecode, passages.Length / batchedSeconds);
    }
}

internal static class Peer
{
    public static Result Run(ModelFolder folder, Args o, int[] prefill, int[] decodePrompt, int[][] passages)
    {
        using var handle = new OgaHandle();
        using var config = new Config(folder.FolderPath);
        config.ClearProviders();
        config.Overlay("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + o.Threads.ToString(CultureInfo.InvariantCulture) + "}}}}");
        using var model = new Model(config);
        Generator NewGenerator(int maxLength)
        {
            using var p = new GeneratorParams(model);
            p.SetSearchOption("max_length", maxLength);
            p.SetSearchOption("do_sample", false);
            return new Generator(model, p);
        }

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

        double decodeSeconds;
        using (var g = NewGenerator(decodePrompt.Length + o.DecodeTokens + 8))
        {
            g.AppendTokens(decodePrompt);
            g.GenerateNextToken();
            decodeSeconds = Time(() =>
            {
                for (var i = 0; i < o.DecodeTokens; i++)
                {
                    g.GenerateNextToken();
                }
            });
        }

        var passagesSeconds = Time(() =>
        {
            foreach (var p in passages)
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
        return new Result(prefill.Length / prefillSeconds, o.DecodeTokens / decodeSeconds, passages.Length / passagesSeconds);
    }
}
