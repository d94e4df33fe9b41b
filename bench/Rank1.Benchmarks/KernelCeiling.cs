using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

/// <summary>
/// What ONNX Runtime's <c>MatMulNBits</c> kernel can do on this machine by itself, next to what our decode gets out of
/// it: the ceilings that bound two targets of #15 whatever the engine around the kernel does. Every distinct shape of
/// the graph's <c>MatMulNBits</c> nodes (with its bits, block size and accuracy level) is timed alone, in a graph of
/// its own, at 1 row and at the batch's rows: with one node, whose weights stay in cache (its compute rate), and with
/// as many independent nodes as read 128 MB of weights per run (its rate when the weights come from memory, as a
/// model's do). Weighted by each shape's share of the graph, that is the time the graph's <c>MatMulNBits</c> nodes
/// take per token when nothing else runs.
/// </summary>
internal static class KernelCeiling
{
    private const long StreamedBytes = 128L << 20; // four times this machine's 32 MB L3: the weights come from memory
    private const long CachedBytesMax = 8L << 20;
    private const int MaxNodes = 256;

    /// <summary>A MatMulNBits node of the graph: its shape and how it computes.</summary>
    public sealed record Shape(long K, long N, long Bits, long BlockSize, long AccuracyLevel)
    {
        public long WeightBytes => (N * ((K + BlockSize - 1) / BlockSize) * BlockSize * Bits / 8) + (N * ((K + BlockSize - 1) / BlockSize) * sizeof(float));
    }

    /// <summary>Multiply-adds per second: in cache (NaN for weights larger than the cache) and streamed from memory.</summary>
    public sealed record Rates(Shape Shape, int Rows, int StreamedNodes, double CachedOneRow, double CachedRows, double StreamedOneRow, double StreamedRows)
    {
        /// <summary>Weight bytes per second the kernel reads at one row with its weights streamed from memory.</summary>
        public double StreamedOneRowBytesPerSecond => StreamedOneRow / (Shape.K * Shape.N) * Shape.WeightBytes;
    }

    /// <summary>Every MatMulNBits node of the ONNX graph at <paramref name="graphPath"/> (its weights are not read).</summary>
    public static List<Shape> MatMulNBitsOf(string graphPath)
    {
        var shapes = new List<Shape>();
        using var file = File.OpenRead(graphPath);
        var model = new CodedInputStream(file);
        for (var tag = model.ReadTag(); tag != 0; tag = model.ReadTag())
        {
            if (WireFormat.GetTagFieldNumber(tag) != 7 || WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited)
            {
                model.SkipLastField();
                continue;
            }

            var graph = new CodedInputStream(model.ReadBytes().ToByteArray());
            for (var g = graph.ReadTag(); g != 0; g = graph.ReadTag())
            {
                if (WireFormat.GetTagFieldNumber(g) == 1 && WireFormat.GetTagWireType(g) == WireFormat.WireType.LengthDelimited
                    && Node(graph.ReadBytes()) is { } shape)
                {
                    shapes.Add(shape);
                }
                else if (WireFormat.GetTagFieldNumber(g) != 1)
                {
                    graph.SkipLastField();
                }
            }
        }

        return shapes;
    }

    private static Shape? Node(ByteString bytes)
    {
        var node = new CodedInputStream(bytes.ToByteArray());
        string? op = null;
        var attributes = new Dictionary<string, long>();
        for (var tag = node.ReadTag(); tag != 0; tag = node.ReadTag())
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 4:
                    op = node.ReadString();
                    break;
                case 5:
                    var attribute = new CodedInputStream(node.ReadBytes().ToByteArray());
                    string? name = null;
                    long? value = null;
                    for (var a = attribute.ReadTag(); a != 0; a = attribute.ReadTag())
                    {
                        switch (WireFormat.GetTagFieldNumber(a))
                        {
                            case 1: name = attribute.ReadString(); break;
                            case 3: value = attribute.ReadInt64(); break;
                            default: attribute.SkipLastField(); break;
                        }
                    }

                    if (name is not null && value is { } v)
                    {
                        attributes[name] = v;
                    }

                    break;
                default:
                    node.SkipLastField();
                    break;
            }
        }

        return op == "MatMulNBits" && attributes.TryGetValue("K", out var k) && attributes.TryGetValue("N", out var n)
            && attributes.TryGetValue("block_size", out var block)
            ? new Shape(k, n, attributes.GetValueOrDefault("bits", 4), block, attributes.GetValueOrDefault("accuracy_level", 0))
            : null;
    }

    /// <summary>The graph's nodes alone: each distinct shape timed, with its count; null for a graph without MatMulNBits.</summary>
    public sealed record Graph(IReadOnlyList<(Rates Rates, int Nodes)> Shapes, int Rows)
    {
        public double MultiplyAddsPerToken => Shapes.Sum(s => (double)s.Nodes * s.Rates.Shape.K * s.Rates.Shape.N);

        public double WeightBytesPerToken => Shapes.Sum(s => (double)s.Nodes * s.Rates.Shape.WeightBytes);

        /// <summary>Seconds per token (per row) of all the nodes at 1 row / at <see cref="Rows"/> rows, weights streamed.</summary>
        public double StreamedOneRowSeconds => Shapes.Sum(s => s.Nodes * s.Rates.Shape.K * s.Rates.Shape.N / s.Rates.StreamedOneRow);

        public double StreamedRowsSeconds => Shapes.Sum(s => s.Nodes * s.Rates.Shape.K * s.Rates.Shape.N / s.Rates.StreamedRows);

        /// <summary>The shapes' common bits, block size and accuracy level, or "mixed".</summary>
        public string Quantization => Shapes.Select(s => $"{s.Rates.Shape.Bits}-bit, block {s.Rates.Shape.BlockSize}, accuracy_level {s.Rates.Shape.AccuracyLevel}").Distinct().ToList() is [var one] ? one : "mixed quantization";
    }

    /// <summary>Every distinct MatMulNBits shape of <paramref name="shapes"/> timed alone, the largest share of the work first.</summary>
    public static Graph? MeasureGraph(List<Shape> shapes, int rows, int threads) => shapes.Count == 0
        ? null
        : new Graph(
            shapes.GroupBy(s => s).OrderByDescending(g => g.Sum(s => (double)s.K * s.N)).Select(g => (Measure(g.Key, rows, threads), g.Count())).ToList(),
            rows);

    public static Rates Measure(Shape shape, int rows, int threads)
    {
        // At most MaxNodes: a run of a tiny shape then reads less than StreamedBytes, and its weights may stay in cache.
        var streamed = (int)Math.Clamp((StreamedBytes + shape.WeightBytes - 1) / shape.WeightBytes, 1, MaxNodes);
        var rng = new Random(11);
        var a = new float[rows * shape.K];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        // Weights too large for the cache have no in-cache rate: one node of them already streams.
        var (cachedOne, cachedRows) = shape.WeightBytes <= CachedBytesMax ? Time(shape, 1, rows, threads, a, rng) : (double.NaN, double.NaN);
        var (streamedOne, streamedRows) = Time(shape, streamed, rows, threads, a, rng);
        return new Rates(shape, rows, streamed, cachedOne, cachedRows, streamedOne, streamedRows);
    }

    /// <summary>
    /// How far one row's output lands from the same row run alone when it runs with others, on one node of
    /// <paramref name="shape"/>: for each (rows, position) of <paramref name="cases"/>, the input row is put at that
    /// position among other random rows, and the largest absolute difference of its outputs from the one-row run is
    /// given, next to the largest output magnitude. A kernel that computes every row alike gives 0 throughout.
    /// </summary>
    public static List<(int Rows, int At, double Apart, double Magnitude)> RowsApart(Shape shape, int threads, IReadOnlyList<(int Rows, int At)> cases)
    {
        var rng = new Random(11);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
        using var session = new InferenceSession(Model(shape, [RandomWeights(shape, rng)]), options);
        var most = cases.Max(c => c.Rows);
        var a = new float[(most + 1) * shape.K];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        float[] Row(int rows, int at)
        {
            // Row 0 of a is the row under test; the others fill the remaining positions in order.
            var input = new float[rows * shape.K];
            for (int r = 0, other = 1; r < rows; r++)
            {
                Array.Copy(a, (r == at ? 0 : other++) * shape.K, input, r * shape.K, shape.K);
            }

            using var value = OrtValue.CreateTensorValueFromMemory(input, [rows, shape.K]);
            using var run = new RunOptions();
            using var outputs = session.Run(run, ["A"], [value], ["Y0"]);
            return outputs[0].GetTensorDataAsSpan<float>().Slice(at * (int)shape.N, (int)shape.N).ToArray();
        }

        var alone = Row(1, 0);
        var magnitude = alone.Max(MathF.Abs);
        return cases.Select(c =>
        {
            var y = Row(c.Rows, c.At);
            return (c.Rows, c.At, (double)y.Zip(alone, (p, q) => MathF.Abs(p - q)).Max(), (double)magnitude);
        }).ToList();
    }

    /// <summary>Multiply-adds per second of <paramref name="nodes"/> independent nodes at 1 row and at <paramref name="rows"/>.</summary>
    private static (double OneRow, double Rows) Time(Shape shape, int nodes, int rows, int threads, float[] a, Random rng)
    {
        var weights = Enumerable.Range(0, nodes).Select(_ => RandomWeights(shape, rng)).ToArray();
        var model = Model(shape, weights);
        // As our engine opens its sessions (CausalLm.Load): every graph optimization, the given intra-op threads.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
        using var session = new InferenceSession(model, options);
        if (shape.Bits == 4)
        {
            Check(session, shape, a, weights[0]);
        }

        double Rate(int m)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(a.AsSpan(0, (int)(m * shape.K)).ToArray(), [m, shape.K]);
            var outputs = Enumerable.Range(0, nodes).Select(_ => OrtValue.CreateTensorValueFromMemory(new float[m * shape.N], [m, shape.N])).ToArray();
            try
            {
                using var binding = session.CreateIoBinding();
                binding.BindInput("A", input);
                for (var i = 0; i < nodes; i++)
                {
                    binding.BindOutput($"Y{i}", outputs[i]);
                }

                using var run = new RunOptions();
                session.RunWithBinding(run, binding); // warm-up: the packed weights, the caches
                var per = Stopwatch.StartNew();
                session.RunWithBinding(run, binding);
                var runs = (int)Math.Clamp(0.2 / per.Elapsed.TotalSeconds, 1, 2000);
                var best = double.MaxValue;
                for (var pass = 0; pass < 5; pass++)
                {
                    var sw = Stopwatch.StartNew();
                    for (var r = 0; r < runs; r++)
                    {
                        session.RunWithBinding(run, binding);
                    }

                    best = Math.Min(best, sw.Elapsed.TotalSeconds / runs);
                }

                return nodes * m * shape.K * shape.N / best;
            }
            finally
            {
                foreach (var o in outputs)
                {
                    o.Dispose();
                }
            }
        }

        return (Rate(1), Rate(rows));
    }

    /// <summary>
    /// The node computes what it is timed for: a few columns against the de-quantized weights (4-bit codes around 8,
    /// one scale per block), within the int8 rounding of the activations at accuracy_level 4.
    /// </summary>
    private static void Check(InferenceSession session, Shape shape, float[] a, (byte[] Codes, float[] Scales) w)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(a.AsSpan(0, (int)shape.K).ToArray(), [1, shape.K]);
        using var run = new RunOptions();
        using var outputs = session.Run(run, ["A"], [input], ["Y0"]);
        var y = outputs[0].GetTensorDataAsSpan<float>();
        var blocks = (shape.K + shape.BlockSize - 1) / shape.BlockSize;
        for (var n = 0; n < Math.Min(8, shape.N); n++)
        {
            double expected = 0, magnitude = 0;
            for (var k = 0; k < shape.K; k++)
            {
                long block = k / shape.BlockSize, within = k % shape.BlockSize;
                var b = w.Codes[(((n * blocks) + block) * shape.BlockSize / 2) + (within / 2)];
                var code = within % 2 == 0 ? b & 0x0F : b >> 4;
                var weight = (code - 8) * w.Scales[(n * blocks) + block];
                expected += a[k] * weight;
                magnitude += Math.Abs(a[k] * weight);
            }

            if (Math.Abs(y[n] - expected) > 0.02 * magnitude)
            {
                throw new InvalidOperationException($"MatMulNBits micro-model: column {n} is {y[n]}, de-quantized weights give {expected}: it does not compute what is timed");
            }
        }
    }

    /// <summary>One node's random 4-bit codes (every code equally likely) and per-block scales.</summary>
    private static (byte[] Codes, float[] Scales) RandomWeights(Shape shape, Random rng)
    {
        var blocks = (shape.K + shape.BlockSize - 1) / shape.BlockSize;
        var codes = new byte[shape.N * blocks * shape.BlockSize * shape.Bits / 8];
        rng.NextBytes(codes);
        var scales = new float[shape.N * blocks];
        for (var i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)(0.001 + (rng.NextDouble() * 0.02));
        }

        return (codes, scales);
    }

    /// <summary>A ModelProto of <paramref name="weights"/>.Length MatMulNBits nodes on one input A [M, K], outputs Y0, Y1, ...</summary>
    private static byte[] Model(Shape shape, (byte[] Codes, float[] Scales)[] weights)
    {
        var blocks = (shape.K + shape.BlockSize - 1) / shape.BlockSize;
        var graph = Message(o =>
        {
            for (var i = 0; i < weights.Length; i++)
            {
                var index = i;
                o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                o.WriteBytes(Message(n =>
                {
                    foreach (var input in new[] { "A", $"B{index}", $"S{index}" })
                    {
                        n.WriteTag(1, WireFormat.WireType.LengthDelimited);
                        n.WriteString(input);
                    }

                    n.WriteTag(2, WireFormat.WireType.LengthDelimited);
                    n.WriteString($"Y{index}");
                    n.WriteTag(3, WireFormat.WireType.LengthDelimited);
                    n.WriteString($"node{index}");
                    n.WriteTag(4, WireFormat.WireType.LengthDelimited);
                    n.WriteString("MatMulNBits");
                    foreach (var (name, value) in new[] { ("K", shape.K), ("N", shape.N), ("bits", shape.Bits), ("block_size", shape.BlockSize), ("accuracy_level", shape.AccuracyLevel) })
                    {
                        n.WriteTag(5, WireFormat.WireType.LengthDelimited);
                        n.WriteBytes(Message(at =>
                        {
                            at.WriteTag(1, WireFormat.WireType.LengthDelimited);
                            at.WriteString(name);
                            at.WriteTag(3, WireFormat.WireType.Varint);
                            at.WriteInt64(value);
                            at.WriteTag(20, WireFormat.WireType.Varint);
                            at.WriteInt32(2); // AttributeProto.INT
                        }));
                    }

                    n.WriteTag(7, WireFormat.WireType.LengthDelimited);
                    n.WriteString("com.microsoft");
                }));
            }

            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteString("kernel-ceiling");
            for (var i = 0; i < weights.Length; i++)
            {
                o.WriteTag(5, WireFormat.WireType.LengthDelimited);
                o.WriteBytes(Tensor($"B{i}", 2, [shape.N, blocks, shape.BlockSize * shape.Bits / 8], weights[i].Codes)); // uint8
                o.WriteTag(5, WireFormat.WireType.LengthDelimited);
                o.WriteBytes(Tensor($"S{i}", 1, [shape.N * blocks], System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights[i].Scales.AsSpan()).ToArray()));
            }

            o.WriteTag(11, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ValueInfo("A", shape.K));
            for (var i = 0; i < weights.Length; i++)
            {
                o.WriteTag(12, WireFormat.WireType.LengthDelimited);
                o.WriteBytes(ValueInfo($"Y{i}", shape.N));
            }
        });
        return Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteInt64(8); // ir_version
            foreach (var (domain, version) in new[] { ("", 17L), ("com.microsoft", 1L) })
            {
                o.WriteTag(8, WireFormat.WireType.LengthDelimited);
                o.WriteBytes(Message(op =>
                {
                    op.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    op.WriteString(domain);
                    op.WriteTag(2, WireFormat.WireType.Varint);
                    op.WriteInt64(version);
                }));
            }

            o.WriteTag(7, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(graph);
        }).ToByteArray();
    }

    private static ByteString Tensor(string name, int type, long[] dims, byte[] raw) => Message(t =>
    {
        foreach (var d in dims)
        {
            t.WriteTag(1, WireFormat.WireType.Varint);
            t.WriteInt64(d);
        }

        t.WriteTag(2, WireFormat.WireType.Varint);
        t.WriteInt32(type);
        t.WriteTag(8, WireFormat.WireType.LengthDelimited);
        t.WriteString(name);
        t.WriteTag(9, WireFormat.WireType.LengthDelimited);
        t.WriteBytes(ByteString.CopyFrom(raw));
    });

    /// <summary>A float tensor [M, <paramref name="columns"/>] with M symbolic.</summary>
    private static ByteString ValueInfo(string name, long columns) => Message(v =>
    {
        v.WriteTag(1, WireFormat.WireType.LengthDelimited);
        v.WriteString(name);
        v.WriteTag(2, WireFormat.WireType.LengthDelimited);
        v.WriteBytes(Message(type =>
        {
            type.WriteTag(1, WireFormat.WireType.LengthDelimited);
            type.WriteBytes(Message(tensor =>
            {
                tensor.WriteTag(1, WireFormat.WireType.Varint);
                tensor.WriteInt32(1); // float
                tensor.WriteTag(2, WireFormat.WireType.LengthDelimited);
                tensor.WriteBytes(Message(dims =>
                {
                    dims.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    dims.WriteBytes(Message(d =>
                    {
                        d.WriteTag(2, WireFormat.WireType.LengthDelimited);
                        d.WriteString("M");
                    }));
                    dims.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    dims.WriteBytes(Message(d =>
                    {
                        d.WriteTag(1, WireFormat.WireType.Varint);
                        d.WriteInt64(columns);
                    }));
                }));
            }));
        }));
    });

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        using (var output = new CodedOutputStream(stream, leaveOpen: true))
        {
            write(output);
        }

        return ByteString.CopyFrom(stream.GetBuffer(), 0, (int)stream.Length);
    }
}
